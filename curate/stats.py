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


def summarize_pass(funnel: list[tuple], merged: list[dict]) -> dict:
    """One pass's merged stats -> per-stage rows and totals, in pipeline order. `funnel` names the steps
    (curate.recipe.Job.funnel): ("reader", stage, source), ("step", stage) or ("writer", folder)."""
    stages = []
    for kind, acc in zip(funnel, merged, strict=True):
        labels, time_s = acc["labels"], round(acc["time_s"], 3)
        if kind[0] == "reader":
            stages.append({
                "stage": kind[1], "kind": "reader", "source": kind[2],
                "records": int(labels["records"]), "documents": int(labels["documents"]),
                "quarantined": int(labels["quarantined"]), "quarantine_reasons": _reasons(labels, "quarantined:"),
                "chars_out": int(labels["chars_out"]), "time_s": time_s,
            })
        elif kind[0] == "step":
            stages.append({
                "stage": kind[1], "kind": "step",
                "in": int(labels["in"]), "kept": int(labels["kept"]), "removed": int(labels["removed"]),
                "passed_through": int(labels["passed_through"]), "removed_reasons": _reasons(labels, "removed:"),
                "chars_in": int(labels["chars_in"]), "chars_out": int(labels["chars_out"]), "time_s": time_s,
            })
        else:
            stages.append({"stage": "write", "kind": "writer", "folder": kind[1], "kept": int(labels["kept"]),
                           "chars_out": int(labels["chars_out"]), "time_s": time_s})
    readers = [s for s in stages if s["kind"] == "reader"]
    steps = [s for s in stages if s["kind"] == "step"]
    totals = {
        "records": sum(s["records"] for s in readers),
        "kept": stages[-1]["kept"],
        "removed": sum(s["removed"] for s in steps),
        "quarantined": sum(s["quarantined"] for s in readers),
    }
    return {"stages": stages, "totals": totals}


def summarize_recipe(passes: list[dict]) -> dict:
    """The passes of a recipe (each a summarize_pass result with its "pass" name) -> every stage, tagged
    with its pass, and the recipe's totals: records read by the first pass = kept by the last + removed and
    quarantined in any pass."""
    stages = [{"pass": p["pass"], **s} for p in passes for s in p["stages"]]
    totals = {
        "records": passes[0]["totals"]["records"],
        "kept": passes[-1]["totals"]["kept"],
        "removed": sum(p["totals"]["removed"] for p in passes),
        "quarantined": sum(p["totals"]["quarantined"] for p in passes),
    }
    return {"passes": passes, "stages": stages, "totals": totals}


def check_pass(summary: dict) -> list[str]:
    """What does not add up in one pass: records = documents + quarantined per reader, in = kept + removed
    per stage, each stage receiving what the one before passed, the writer writing what the last passed."""
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
    return problems


def check_conservation(summary: dict) -> None:
    """Raise when any document is unaccounted for, in a pass, between passes (a pass reads back exactly what
    the one before wrote) or in the whole recipe; a failure here is a bug in curate, not in the data."""
    passes = summary.get("passes") or [summary]
    problems = []
    for i, p in enumerate(passes):
        problems += [f"{p.get('pass', 'pass')}: {why}" for why in check_pass(p)]
        if i and p["totals"]["records"] != passes[i - 1]["totals"]["kept"]:
            problems.append(f"{p['pass']} read {p['totals']['records']} documents, {passes[i - 1]['pass']} wrote "
                            f"{passes[i - 1]['totals']['kept']}")
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
