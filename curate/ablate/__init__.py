"""`curate ablate CONFIG`: the one-command data-mixture ablation.

    from curate.ablate import ablate
    summary = ablate("pipelines/ablation-demo.yaml", out_dir="abl", overrides={"tokens": "curate-demo/tokens"})

Plan (`plan`: config -> runs of (mixture, budget, seed), printed), run proxies here or as Ray tasks with a
resumable ledger (`run`), collect their eval.json files into report.md, CSVs and plots (`report`), and fit a
log-linear mixing law with a held-out check and a proposed mixture (`fit`). A rerun of the same command skips
the finished runs; a run killed mid-training resumes from its checkpoint.
"""

import time
from pathlib import Path

from curate.ablate.plan import AblationConfig, RunSpec, format_plan, load_ablation_config, make_plan

__all__ = ["ablate", "load_ablation_config", "make_plan", "AblationConfig", "RunSpec"]


def ablate(config_path: str, out_dir: str | None = None, executor: str = "local", ray_address: str | None = None,
           overrides: dict | None = None, max_runs: int | None = None, dry_run: bool = False,
           threads: int | None = None, log=print) -> dict:
    """Runs the ablation of `config_path` into out_dir (default: the config's `out_dir`, else
    <config folder>/ablations/<name>) and returns the summary (also ABLATE_DIR/summary.json).

    executor: "local" (one run after another) or "ray" (Ray tasks; `ray_address` joins a cluster).
    overrides: name -> value; a top-level key or dotted name ("proxy.tokens": "[100000]") sets that config
    key, any other name fills `{name}` placeholders in paths. max_runs: run at most that many missing runs
    (then report what is finished). dry_run: print the plan only. threads: torch threads per run (None:
    torch's default)."""
    t0 = time.perf_counter()
    cfg = load_ablation_config(config_path, overrides)
    runs = make_plan(cfg)
    log(format_plan(cfg, runs))
    out = Path(out_dir) if out_dir else (cfg.out_dir or cfg.path.parent / "ablations" / cfg.name)
    out = out.resolve()
    if dry_run:
        return {"name": cfg.name, "out_dir": str(out), "planned": len(runs), "runs": [r.id for r in runs]}
    out.mkdir(parents=True, exist_ok=True)
    from curate.ablate.report import write_report
    from curate.ablate.run import execute

    finished = execute(cfg, runs, out, executor=executor, ray_address=ray_address, max_runs=max_runs,
                       threads=threads, log=log)
    summary = write_report(cfg, runs, finished, out)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    log(summary["table"])
    if summary["fit"] and "proposal" in summary["fit"]:
        p = summary["fit"]["proposal"]
        log(f"proposed mixture for {p['metric']}: "
            + ", ".join(f"{s} {100 * w:.0f}%" for s, w in p["weights"].items()))
    log(f"report: {summary['files']['report.md']} ({summary['finished']}/{summary['planned']} runs, "
        f"{summary['seconds']} s)")
    return summary
