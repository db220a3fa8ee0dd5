"""Scores of a trained proxy: bits per byte per source on held-out shards (`bpb`) and multiple-choice tasks
(`cloze`), together in `evaluate_run`, which writes RUN/eval.json. Its `metrics` section is the flat view the
ablation reads: name -> value, standard error and the metric's declaration (`metrics.Metric`: which way is
better, the range):

    bpb_<source>   bits per byte on the source's held-out text (lower is better, >= 0)
    bpb_mean       their plain mean (derived: it repeats the per-source values; olmix's hand-off leaves it out)
    acc_<task>     accuracy on a task file (higher is better, in [0, 1])

    from curate.evaluate import evaluate_run
    scores = evaluate_run("runs/web70")          # the run's own data; a last-word cloze per source
    scores = evaluate_run("runs/web70", TokenShards.open("tokens/"))   # or opened token shards
"""

import json
import os
from pathlib import Path

from curate.evaluate.bpb import BPB, bits_per_byte, heldout_warnings
from curate.evaluate.cloze import (ACCURACY, build_lastword_task, evaluate_tasks, heldout_documents, load_task,
                                   score_task, write_task)
from curate.evaluate.metrics import Metric
from curate.io.files import sha256_file
from curate.tokenizer.shards import TokenShards

__all__ = ["evaluate_run", "bits_per_byte", "build_lastword_task", "load_task", "score_task", "write_task",
           "evaluate_tasks", "read_metrics", "Metric", "BPB", "ACCURACY"]


def metric_entries(bpb: dict, tasks: dict) -> dict:
    """eval.json's `metrics` from the detailed bits per byte (source -> details) and the task results."""
    out = {}
    for source, d in sorted(bpb.items()):
        out[f"bpb_{source}"] = {"value": d["bpb"], "se": d["se"], "tokens": d["tokens"], "documents": d["documents"],
                                **BPB.as_dict()}
    if bpb:
        out["bpb_mean"] = {"value": sum(d["bpb"] for d in bpb.values()) / len(bpb), "se": None, "derived": True,
                           "mean_of": [f"bpb_{s}" for s in sorted(bpb)], **BPB.as_dict()}
    for task, r in sorted(tasks.items()):
        out[f"acc_{task}"] = {"value": r["accuracy"], "se": r.get("se"), "n": r["n"], **ACCURACY.as_dict()}
    return out


def read_metrics(ev: dict) -> dict[str, dict]:
    """name -> {value, se, derived, mean_of, metric (a Metric)} from an eval.json (one written before the `metrics`
    section existed is read from its bpb and tasks sections, with the same declarations)."""
    if "metrics" not in ev:
        ev = {"metrics": metric_entries({s: {"bpb": v, "se": None, "tokens": None, "documents": None}
                                         for s, v in ev["bpb"].items()}, ev.get("tasks", {}))}
    return {name: {"value": float(e["value"]), "se": e.get("se"), "derived": bool(e.get("derived")),
                   "mean_of": e.get("mean_of"), "metric": Metric.from_dict(e)} for name, e in ev["metrics"].items()}


def evaluate_run(run_dir: str, data: "TokenShards | str | dict[str, str] | None" = None, tasks: list[str] | None = None,
                 max_tokens: int = 100_000, lastword_items: int = 200, seed: int = 0, device: str = "auto") -> dict:
    """Bits per byte per source (held-out shards of `data`, opened token shards or what `TokenShards.open`
    takes; default: the data the run trained on) and
    the accuracy of each task file in `tasks`; tasks=None builds a last-word cloze of `lastword_items` items
    per source from its held-out documents (seeded; written to RUN/tasks/lastword_<source>.jsonl) and scores
    those. Writes RUN/eval.json and returns it; the same checkpoint, data and seed give the same file.
    `warnings`: sources whose held-out text is under the minimum (bpb.heldout_warnings)."""
    from curate.train.loop import load_run

    run = Path(run_dir)
    model, card = load_run(str(run), device)
    data = TokenShards.open(card["args"]["data"] if data is None else data)
    if tasks is None:
        tasks = []
        tok = data.load_tokenizer()
        for source in data:
            path = run / "tasks" / f"lastword_{source}.jsonl"
            docs = heldout_documents(data[source], tok)
            write_task(build_lastword_task(docs, lastword_items, seed, where=str(data[source].folder)), str(path))
            tasks.append(str(path))
    result = {
        "run": str(run.resolve()), "checkpoint_sha256": sha256_file(run / "ckpt.pt"), "step": card.get("step"),
        "data": {s: str(Path(p).resolve()) for s, p in data.folders().items()}, "max_tokens": max_tokens, "seed": seed,
    }
    bpb = bits_per_byte(model, data, max_tokens=max_tokens, details=True)
    scores = evaluate_tasks(model, data, tasks)
    result.update(bpb={s: d["bpb"] for s, d in bpb.items()}, bpb_details=bpb, tasks=scores,
                  task_files=[str(Path(t).resolve()) for t in tasks], metrics=metric_entries(bpb, scores),
                  warnings=heldout_warnings(data, max_tokens))
    tmp = run / ".eval.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, run / "eval.json")
    return result
