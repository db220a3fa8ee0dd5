"""`curate ablate CONFIG`: the one-command data-mixture ablation.

    from curate.ablate import ablate
    summary = ablate("pipelines/ablation-demo.yaml", out_dir="abl", overrides={"tokens": "curate-demo/tokens"})

Plan (`plan`: config -> runs of (mixture, budget, seed), printed, with a check of the held-out text per
source), run proxies here or as Ray tasks with a resumable ledger (`run`), collect their eval.json files into
report.md, CSVs, the olmix hand-off and plots (`report`, `olmix`, `plots`), fit the mixing laws (`laws`) with
held-out checks and propose a mixture inside a trust region (`fit`); with verify=True, train the proposal with
fit.verify_seeds and report its predicted against its measured scores. A rerun of the same command skips the
finished runs; a run killed mid-training resumes from its checkpoint.
"""

import time
from pathlib import Path

import numpy as np

from curate.ablate.plan import (AblationConfig, RunSpec, format_plan, load_ablation_config, make_plan, mixture_label,
                                short_tokens, weights_key)
from curate.config import ConfigError

__all__ = ["ablate", "load_ablation_config", "make_plan", "AblationConfig", "RunSpec"]


def ablate(config_path: str, out_dir: str | None = None, executor: str = "local", ray_address: str | None = None,
           overrides: dict | None = None, max_runs: int | None = None, dry_run: bool = False,
           threads: int | None = None, verify: bool = False, log=print) -> dict:
    """Runs the ablation of `config_path` into out_dir (default: the config's `out_dir`, else
    <config folder>/ablations/<name>) and returns the summary (also ABLATE_DIR/summary.json).

    executor: "local" (one run after another) or "ray" (Ray tasks; `ray_address` joins a cluster).
    overrides: name -> value; a top-level key or dotted name ("proxy.tokens": "[100000]") sets that config
    key, any other name fills `{name}` placeholders in paths. max_runs: run at most that many missing runs
    (then report what is finished). dry_run: print the plan only. threads: torch threads per run (None:
    torch's default). verify: train the proposed mixture with fit.verify_seeds (once the plan is finished) and
    report predicted against measured."""
    t0 = time.perf_counter()
    cfg = load_ablation_config(config_path, overrides)
    runs = make_plan(cfg)
    log(format_plan(cfg, runs))
    from curate.evaluate.bpb import heldout_warnings

    ev = cfg.eval
    warnings = heldout_warnings(cfg.data, ev["max_tokens"], ev["min_heldout_tokens"], ev["min_heldout_documents"])
    for w in warnings:
        log(f"warning: {w}")
    if warnings and ev["heldout_check"] == "refuse":
        raise ConfigError(f"{cfg.path}: eval.heldout_check is refuse and {len(warnings)} source(s) have too little "
                          "held-out text (above); get more, or set eval.heldout_check: warn")
    out = Path(out_dir) if out_dir else (cfg.out_dir or cfg.path.parent / "ablations" / cfg.name)
    out = out.resolve()
    if dry_run:
        return {"name": cfg.name, "out_dir": str(out), "planned": len(runs), "runs": [r.id for r in runs]}
    out.mkdir(parents=True, exist_ok=True)
    from curate.ablate.report import write_report
    from curate.ablate.run import execute

    finished = execute(cfg, runs, out, executor=executor, ray_address=ray_address, max_runs=max_runs,
                       threads=threads, log=log)
    summary = write_report(cfg, runs, finished, out, warnings)
    if verify:
        summary = verify_proposal(cfg, runs, finished, summary, out, warnings, executor, ray_address, threads, log)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    log(summary["table"])
    if summary["fit"] and "proposal" in summary["fit"]:
        p = summary["fit"]["proposal"]
        log(f"proposed mixture for {p['metric']} ({p['basis']}, {p['law']} law): "
            + ", ".join(f"{s} {100 * w:.0f}%" for s, w in p["weights"].items()))
    log(f"report: {summary['files']['report.md']} ({summary['finished']}/{summary['planned']} runs, "
        f"{summary['seconds']} s)")
    return summary


def verify_proposal(cfg: AblationConfig, runs: list[RunSpec], finished: dict, summary: dict, out: Path,
                    warnings: list[str], executor: str, ray_address: str | None, threads: int | None, log) -> dict:
    """Trains the proposal at the fitted budget with fit.verify_seeds (a measured proposal is checked against
    its own runs) and writes the report again with predicted against measured; returns the new summary."""
    from curate.ablate.report import write_report
    from curate.ablate.run import execute

    fit = summary["fit"]
    if not summary["complete"] or not fit or "proposal" not in fit:
        log("verify: skipped (" + ("the plan is not finished" if not summary["complete"] else "no proposal") + ")")
        return summary
    p, budget = fit["proposal"], fit["tokens"]
    weights = {s: p["weights"].get(s, 0.0) for s in cfg.sources}
    if p["basis"] == "measured":
        label, extra = p["mixture"], []
    else:
        label = "proposal-" + mixture_label(weights)
        extra = [RunSpec(f"{label}_t{short_tokens(budget)}_s{seed}", "proposal", label, weights_key(weights), budget,
                         seed) for seed in cfg.fit["verify_seeds"]]
        log(f"verify: training the proposal {label} with seeds {cfg.fit['verify_seeds']}")
        finished = {**finished, **execute(cfg, extra, out, executor=executor, ray_address=ray_address,
                                          threads=threads, log=log)}
    mine = [finished[r.id] for r in runs + extra if r.mixture == label and r.tokens == budget and r.id in finished]
    base = next((row for row in summary["rows"] if row["tag"] == "baseline" and row["tokens"] == budget), None)
    result = {"mixture": label, "law": p["law"], "basis": p["basis"], "seeds": [e["seed"] for e in mine], "metrics": {}}
    for m, predicted in p["predicted"].items():
        values = [e["metrics"][m] for e in mine if m in e["metrics"]]
        if not values:
            continue
        cell = base["metrics"].get(m) if base else None
        floor = 2 * cell["std"] if cell and cell["n"] > 1 and cell["std"] > 0 else None
        mean = float(np.mean(values))
        result["metrics"][m] = {"predicted": predicted, "mean": mean,
                                "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                                "values": values, "error": mean - predicted, "floor": floor}
    return write_report(cfg, runs + extra, finished, out, warnings, verify=result)
