"""Running the plan: one proxy after another here, or as Ray tasks; the ledger makes a rerun skip what is done.

ABLATE_DIR/runs/<id>/      the run folder of `curate.train.train` (ckpt.pt, run.json, loss.csv) + eval.json
                           + fingerprint.json (what the run was asked to be)
ABLATE_DIR/ledger.jsonl    one line per finished run: id, fingerprint, metrics, final loss, seconds

A run is skipped when the ledger has its id with the same fingerprint (a hash of its weights, budget, seed,
proxy and eval settings and the token shards' meta.json). A run folder with a checkpoint but no ledger line
resumes training from the checkpoint (`train(resume=True)`); one whose fingerprint.json differs starts over.
"""

import hashlib
import json
import os
import time
from pathlib import Path

from curate.ablate.plan import EVAL_DEFAULTS, AblationConfig, RunSpec


# Bumped when evaluate_run scores differently (2: bits per byte read over many documents, standard errors).
EVAL_VERSION = 2


def fingerprint(cfg: AblationConfig, run: RunSpec) -> str:
    what = {"weights": [[s, w] for s, w in run.weights], "tokens": run.tokens, "seed": run.seed,
            "proxy": {k: v for k, v in cfg.proxy.items() if k != "tokens"}, "eval_version": EVAL_VERSION,
            "eval": {k: cfg.eval[k] for k in EVAL_DEFAULTS},
            "sources": {s: [f, cfg.data[s].meta_sha256] for s, f in cfg.sources.items()}}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def read_ledger(path: Path) -> dict[str, dict]:
    """id -> its last ledger entry (a later line replaces an earlier one). A torn last line is ignored."""
    out = {}
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and "id" in entry:
            out[entry["id"]] = entry
    return out


def append_ledger(path: Path, entry: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_one(job: dict) -> dict:
    """Trains and evaluates one proxy (job: the dict `jobs` builds); returns its ledger entry. Module-level, so
    Ray workers import it from the package."""
    import torch

    from curate.evaluate import evaluate_run, read_metrics
    from curate.train import train

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    t0 = time.perf_counter()
    run_dir = Path(job["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    fp_path = run_dir / "fingerprint.json"
    fresh = False
    if fp_path.is_file() and json.loads(fp_path.read_text()).get("fingerprint") != job["fingerprint"]:
        fresh = True  # the folder holds another run (the config changed): start over
        (run_dir / "eval.json").unlink(missing_ok=True)
    fp_path.write_text(json.dumps({"fingerprint": job["fingerprint"], "id": job["id"]}) + "\n")
    proxy = job["proxy"]
    card = train(job["data"], job["weights"], depth=proxy["depth"], tokens=job["tokens"], out_dir=str(run_dir),
                 seq_len=proxy["seq_len"], batch_size=proxy["batch_size"], grad_accum=proxy["grad_accum"],
                 seed=job["seed"], device=proxy["device"], resume=not fresh, lr=proxy["lr"],
                 max_epochs=proxy["max_epochs"], progress=False, command=["curate", "ablate", job["config"]])
    ev = job["eval"]
    result = evaluate_run(str(run_dir), job["data"], tasks=ev["tasks"] or None,
                          max_tokens=ev["max_tokens"], lastword_items=ev["lastword_items"], seed=ev["seed"],
                          device=proxy["device"])
    return {"id": job["id"], "fingerprint": job["fingerprint"], "tag": job["tag"], "mixture": job["mixture"],
            "weights": job["weights"], "tokens": job["tokens"], "seed": job["seed"],
            "metrics": {m: e["value"] for m, e in read_metrics(result).items()}, "final_loss": card["final_loss"], "steps": card["steps"],
            "params": card["derived"].get("params", card["derived"]), "device": card["device"],
            "seconds": round(time.perf_counter() - t0, 2), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def jobs(cfg: AblationConfig, runs: list[RunSpec], out_dir: Path, threads: int | None = None) -> list[dict]:
    return [{"id": r.id, "tag": r.tag, "mixture": r.mixture, "weights": r.weights_dict(), "tokens": r.tokens,
             "seed": r.seed, "fingerprint": fingerprint(cfg, r), "data": cfg.data,
             "proxy": cfg.proxy, "eval": {k: cfg.eval[k] for k in EVAL_DEFAULTS},
             "run_dir": str(out_dir / "runs" / r.id), "config": str(cfg.path), "threads": threads} for r in runs]


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def execute(cfg: AblationConfig, runs: list[RunSpec], out_dir: Path, executor: str = "local",
            ray_address: str | None = None, max_runs: int | None = None, threads: int | None = None,
            log=print) -> dict[str, dict]:
    """Runs what the ledger lacks (at most `max_runs` of them); returns id -> ledger entry for every planned
    run that is finished."""
    if executor not in ("local", "ray"):
        raise ValueError(f"executor: expected local or ray, got {executor!r}")
    ledger_path = out_dir / "ledger.jsonl"
    ledger = read_ledger(ledger_path)
    all_jobs = jobs(cfg, runs, out_dir, threads)
    done = {j["id"] for j in all_jobs if ledger.get(j["id"], {}).get("fingerprint") == j["fingerprint"]}
    todo = [j for j in all_jobs if j["id"] not in done]
    stale = [j["id"] for j in todo if j["id"] in ledger]
    log(f"ledger {ledger_path}: {len(done)}/{len(all_jobs)} runs finished, {len(todo)} to run"
        + (f" ({len(stale)} with a changed config: {', '.join(stale[:3])}{' ...' if len(stale) > 3 else ''})" if stale else ""))
    if max_runs is not None:
        todo = todo[:max_runs]
    total, t_start, durations = len(all_jobs), time.perf_counter(), []

    def finished(entry: dict, remaining: int, parallel: int = 1) -> None:
        append_ledger(ledger_path, entry)
        ledger[entry["id"]] = entry
        done.add(entry["id"])
        durations.append(entry["seconds"])
        elapsed = time.perf_counter() - t_start
        per_run = elapsed / len(durations) if parallel > 1 else sum(durations) / len(durations)
        eta = f", ETA {_fmt_s(per_run * remaining)}" if remaining else ""
        log(f"[{len(done)}/{total}] {entry['id']}: final loss {entry['final_loss']:.3f}, "
            f"{entry['seconds']:.1f} s{eta}")

    if executor == "local" or not todo:
        for k, job in enumerate(todo):
            log(f"running {job['id']} ({k + 1}/{len(todo)} of this session) -> {job['run_dir']}")
            try:
                entry = run_one(job)
            except Exception as e:
                raise RuntimeError(f"ablation run {job['id']} failed ({job['run_dir']}): {e}; the finished runs are "
                                   "in the ledger, rerun the same command to resume") from e
            finished(entry, len(todo) - k - 1)
    else:
        from curate.executors import start_ray

        ray = start_ray(ray_address)
        gpus = ray.cluster_resources().get("GPU", 0)
        remote = ray.remote(num_gpus=1 if gpus >= 1 else 0, num_cpus=1)(run_one)
        pending = {remote.remote(job): job for job in todo}
        parallel = max(1, int(gpus if gpus >= 1 else ray.cluster_resources().get("CPU", 1)))
        log(f"ray: {len(pending)} runs as tasks ({'1 GPU' if gpus >= 1 else '1 CPU'} each, {parallel} at once)")
        failures = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            try:
                entry = ray.get(ready[0])
            except Exception as e:
                failures.append(f"{job['id']}: {e}")
                continue
            finished(entry, len(pending), parallel)
        if failures:
            raise RuntimeError(f"{len(failures)} ablation run(s) failed; the finished ones are in the ledger, rerun "
                               "to resume: " + "; ".join(failures))
    return {j["id"]: ledger[j["id"]] for j in all_jobs if j["id"] in done}
