"""Scores of a trained proxy: bits per byte per source on held-out shards (`bpb`) and multiple-choice tasks
(`cloze`), together in `evaluate_run`, which writes RUN/eval.json.

    from curate.evaluate import evaluate_run
    scores = evaluate_run("runs/web70")          # the run's own data; a last-word cloze per source
"""

import json
import os
from pathlib import Path

from curate.evaluate.bpb import bits_per_byte
from curate.io.files import sha256_file
from curate.evaluate.cloze import build_lastword_task, evaluate_tasks, load_task, score_task, write_task

__all__ = ["evaluate_run", "bits_per_byte", "build_lastword_task", "load_task", "score_task", "write_task",
           "evaluate_tasks"]


def evaluate_run(run_dir: str, token_dirs: "str | dict[str, str] | None" = None, tasks: list[str] | None = None,
                 max_tokens: int = 100_000, lastword_items: int = 200, seed: int = 0, device: str = "auto") -> dict:
    """Bits per byte per source (held-out shards of `token_dirs`, default: the data the run trained on) and
    the accuracy of each task file in `tasks`; tasks=None builds a last-word cloze of `lastword_items` items
    per source from its held-out documents (seeded; written to RUN/tasks/lastword_<source>.jsonl) and scores
    those. Writes RUN/eval.json and returns it; the same checkpoint, data and seed give the same file."""
    from curate.train.data import resolve_sources
    from curate.train.loop import load_run

    run = Path(run_dir)
    model, card = load_run(str(run), device)
    if token_dirs is None:
        token_dirs = card["args"]["data"]
    sources = resolve_sources(token_dirs)
    if tasks is None:
        tasks = []
        for source, folder in sources.items():
            path = run / "tasks" / f"lastword_{source}.jsonl"
            write_task(build_lastword_task(str(folder), lastword_items, seed), str(path))
            tasks.append(str(path))
    result = {
        "run": str(run.resolve()), "checkpoint_sha256": sha256_file(run / "ckpt.pt"), "step": card.get("step"),
        "data": {s: str(Path(p).resolve()) for s, p in sources.items()}, "max_tokens": max_tokens, "seed": seed,
        "bpb": bits_per_byte(model, sources, max_tokens=max_tokens),
        "tasks": evaluate_tasks(model, sources, tasks),
        "task_files": [str(Path(t).resolve()) for t in tasks],
    }
    tmp = run / ".eval.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, run / "eval.json")
    return result
