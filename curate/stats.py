"""Per-rank datatrove stats -> `OUT/stats.json`: documents and characters in and out of every stage, the
reasons for every removal and quarantine, and the conservation check (records in = kept + removed +
quarantined) that every run must pass."""

import json
from collections import Counter
from pathlib import Path

from datatrove.io import get_datafolder


class ConservationError(RuntimeError):
    pass


def _total(value) -> float:
    return value.get("total", 0) if isinstance(value, dict) else value


def merge_rank_stats(logging_dir: str, tasks: int) -> list[dict]:
    """One dict per pipeline step, each label summed over the ranks."""
    folder = get_datafolder(logging_dir)
    merged: list[dict] = []
    for rank in range(tasks):
        with folder.open(f"stats/{rank:05d}.json", "r") as f:
            steps = json.load(f)
        if not merged:
            merged = [{"time_s": 0.0, "labels": Counter()} for _ in steps]
        for acc, step in zip(merged, steps):
            acc["time_s"] += _total(step["time_stats"])
            for label, value in step["stats"].items():
                acc["labels"][label] += _total(value)
    return merged


def _reasons(labels: Counter, prefix: str) -> dict:
    return {k[len(prefix) :]: int(v) for k, v in sorted(labels.items()) if k.startswith(prefix)}


def summarize(pipeline: list, merged: list[dict]) -> dict:
    """Turn merged stats into per-stage rows and totals, in pipeline order."""
    from curate.io.reader import SourceReader
    from curate.stage import Stage

    stages = []
    for step, acc in zip(pipeline, merged):
        labels, time_s = acc["labels"], round(acc["time_s"], 3)
        if isinstance(step, SourceReader):
            stages.append(
                {
                    "stage": step.stage_name,
                    "kind": "reader",
                    "source": step.source,
                    "records": int(labels["records"]),
                    "documents": int(labels["documents"]),
                    "quarantined": int(labels["quarantined"]),
                    "quarantine_reasons": _reasons(labels, "quarantined:"),
                    "chars_out": int(labels["chars_out"]),
                    "time_s": time_s,
                }
            )
        elif isinstance(step, Stage):
            stages.append(
                {
                    "stage": step.stage_name,
                    "kind": "step",
                    "in": int(labels["in"]),
                    "kept": int(labels["kept"]),
                    "removed": int(labels["removed"]),
                    "passed_through": int(labels["passed_through"]),
                    "removed_reasons": _reasons(labels, "removed:"),
                    "chars_in": int(labels["chars_in"]),
                    "chars_out": int(labels["chars_out"]),
                    "time_s": time_s,
                }
            )
        else:
            stages.append(
                {
                    "stage": "write",
                    "kind": "writer",
                    "kept": int(labels["kept"]),
                    "chars_out": int(labels["chars_out"]),
                    "time_s": time_s,
                }
            )
    readers = [s for s in stages if s["kind"] == "reader"]
    steps = [s for s in stages if s["kind"] == "step"]
    totals = {
        "records": sum(s["records"] for s in readers),
        "kept": stages[-1]["kept"],
        "removed": sum(s["removed"] for s in steps),
        "quarantined": sum(s["quarantined"] for s in readers),
    }
    return {"stages": stages, "totals": totals}


def check_conservation(summary: dict) -> None:
    """Raise when any document is unaccounted for; a failure here is a bug in curate, not in the data."""
    problems = []
    stages = summary["stages"]
    readers = [s for s in stages if s["kind"] == "reader"]
    for r in readers:
        if r["records"] != r["documents"] + r["quarantined"]:
            problems.append(f"{r['stage']}: {r['records']} records != {r['documents']} documents + {r['quarantined']} quarantined")
    flowing = sum(r["documents"] for r in readers)
    for s in stages[len(readers) :]:
        if s["kind"] == "step":
            if s["in"] != flowing:
                problems.append(f"{s['stage']}: received {s['in']} documents, the stage before passed {flowing}")
            if s["in"] != s["kept"] + s["removed"]:
                problems.append(f"{s['stage']}: {s['in']} in != {s['kept']} kept + {s['removed']} removed")
            flowing = s["kept"]
        elif s["kept"] != flowing:
            problems.append(f"writer wrote {s['kept']} documents, the last stage passed {flowing}")
    t = summary["totals"]
    if t["records"] != t["kept"] + t["removed"] + t["quarantined"]:
        problems.append(f"{t['records']} records != {t['kept']} kept + {t['removed']} removed + {t['quarantined']} quarantined")
    summary["conserved"] = not problems
    if problems:
        raise ConservationError("documents unaccounted for: " + "; ".join(problems))


def load_stats(out: str | Path) -> dict:
    path = Path(out) / "stats.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no stats.json; is {out} the output folder of `curate run`?")
    return json.loads(path.read_text())
