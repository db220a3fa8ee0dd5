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


# A label counted per source is the label, "@" and the source ("kept@web", "removed:too_few_words@web"): a
# source is a name of letters, digits, '.', '_' and '-' (curate.io.paths.check_name), so "@" cannot occur in it.
SOURCE_MARK = "@"


def per_source(labels: tuple[str, ...], source: str | None) -> tuple[str, ...]:
    """`labels` and, when the document has a source, each of them counted for that source too."""
    return labels if source is None else labels + tuple(f"{label}{SOURCE_MARK}{source}" for label in labels)


def _reasons(labels: Counter, prefix: str) -> dict:
    return {k[len(prefix) :]: int(v) for k, v in sorted(labels.items()) if k.startswith(prefix) and SOURCE_MARK not in k}


def _by_source(labels: Counter) -> dict[str, Counter]:
    """The per-source labels of one step: {source: Counter(label without the source: value)}."""
    sources: dict[str, Counter] = {}
    for key, value in labels.items():
        if SOURCE_MARK in key:
            label, source = key.rsplit(SOURCE_MARK, 1)
            sources.setdefault(source, Counter())[label] += value
    return dict(sorted(sources.items()))


def summarize_pass(funnel: list[tuple], merged: list[dict]) -> dict:
    """One pass's merged stats -> per-stage rows and totals, in pipeline order. `funnel` names the steps
    (curate.recipe.Job.funnel): ("reader", stage, source), ("step", stage) or ("writer", folder)."""
    stages = []
    for kind, acc in zip(funnel, merged, strict=True):
        labels, time_s = acc["labels"], round(acc["time_s"], 3)
        by_source = _by_source(labels)
        if kind[0] == "reader":
            stages.append({
                "stage": kind[1], "kind": "reader", "source": kind[2],
                "records": int(labels["records"]), "documents": int(labels["documents"]),
                "quarantined": int(labels["quarantined"]), "quarantine_reasons": _reasons(labels, "quarantined:"),
                "chars_out": int(labels["chars_out"]), "time_s": time_s,
                "sources": {src: _reader_counts(c) for src, c in by_source.items()},
            })
        elif kind[0] == "step":
            stages.append({
                "stage": kind[1], "kind": "step",
                "in": int(labels["in"]), "kept": int(labels["kept"]), "removed": int(labels["removed"]),
                "passed_through": int(labels["passed_through"]), "removed_reasons": _reasons(labels, "removed:"),
                "chars_in": int(labels["chars_in"]), "chars_out": int(labels["chars_out"]), "time_s": time_s,
                "sources": {src: _step_counts(c) for src, c in by_source.items()},
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
    return {"stages": stages, "totals": totals, "sources": _pass_sources(stages)}


def _reader_counts(c: Counter) -> dict:
    # records are counted per reader, not per source (a parquet reader's `source_key` gives each row its own
    # source); a source's records are its documents and the records quarantined in its name
    return {"records": int(c["documents"] + c["quarantined"]), "documents": int(c["documents"]),
            "quarantined": int(c["quarantined"]), "quarantine_reasons": _reasons(c, "quarantined:"),
            "chars_out": int(c["chars_out"])}


def _step_counts(c: Counter) -> dict:
    return {"in": int(c["in"]), "kept": int(c["kept"]), "removed": int(c["removed"]),
            "passed_through": int(c["passed_through"]), "removed_reasons": _reasons(c, "removed:"),
            "chars_in": int(c["chars_in"]), "chars_out": int(c["chars_out"])}


def _pass_sources(stages: list[dict]) -> dict:
    """Per source, one pass's funnel: records read, quarantined, removed, kept (what the last stage passed, or
    the readers' documents in a pass without stages), characters read and kept. Empty for stats written
    before sources were counted."""
    readers = [s for s in stages if s["kind"] == "reader"]
    steps = [s for s in stages if s["kind"] == "step"]
    out: dict[str, dict] = {}
    for r in readers:
        for src, c in r.get("sources", {}).items():
            acc = out.setdefault(src, {"records": 0, "quarantined": 0, "removed": 0, "kept": 0, "chars_in": 0, "chars_kept": 0})
            acc["records"] += c["records"]
            acc["quarantined"] += c["quarantined"]
            acc["chars_in"] += c["chars_out"]
            if not steps:
                acc["kept"] += c["documents"]
                acc["chars_kept"] += c["chars_out"]
    for s in steps:
        for src, c in s.get("sources", {}).items():
            out.setdefault(src, {"records": 0, "quarantined": 0, "removed": 0, "kept": 0, "chars_in": 0, "chars_kept": 0})
            out[src]["removed"] += c["removed"]
    if steps:
        for src, acc in out.items():
            last = steps[-1].get("sources", {}).get(src, {"kept": 0, "chars_out": 0})
            acc["kept"], acc["chars_kept"] = last["kept"], last["chars_out"]
    return dict(sorted(out.items()))


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
    return {"passes": passes, "stages": stages, "totals": totals, "sources": _recipe_sources(passes)}


def _recipe_sources(passes: list[dict]) -> dict:
    """Per source, the recipe's funnel: read by the first pass, removed and quarantined in any pass, kept by the
    last; characters as the first pass read them (HTML for web pages) and as the last kept them."""
    first, last = passes[0].get("sources", {}), passes[-1].get("sources", {})
    out = {}
    for src in sorted(set(first) | set(last)):
        out[src] = {
            "records": first.get(src, {}).get("records", 0),
            "kept": last.get(src, {}).get("kept", 0),
            "removed": sum(p.get("sources", {}).get(src, {}).get("removed", 0) for p in passes),
            "quarantined": sum(p.get("sources", {}).get(src, {}).get("quarantined", 0) for p in passes),
            "chars_in": first.get(src, {}).get("chars_in", 0),
            "chars_kept": last.get(src, {}).get("chars_kept", 0),
        }
    return out


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
    return problems + _check_sources(stages)


def _check_sources(stages: list[dict]) -> list[str]:
    """The same equations per source, where the stats count sources: each stage's documents of a source =
    kept + removed, and each stage receives what the one before passed of it."""
    problems = []
    flowing = Counter()
    for r in (s for s in stages if s["kind"] == "reader"):
        for src, c in r.get("sources", {}).items():
            flowing[src] += c["documents"]
    if not flowing:
        return problems  # stats written before sources were counted
    for s in (s for s in stages if s["kind"] == "step"):
        got = Counter({src: c["in"] for src, c in s.get("sources", {}).items()})
        for src in sorted(set(got) | set(flowing)):
            c = s.get("sources", {}).get(src, {"in": 0, "kept": 0, "removed": 0})
            if c["in"] != flowing[src]:
                problems.append(f"{s['stage']}: received {c['in']} documents of {src}, the stage before passed {flowing[src]}")
            if c["in"] != c["kept"] + c["removed"]:
                problems.append(f"{s['stage']}: {src}: {c['in']} in != {c['kept']} kept + {c['removed']} removed")
        flowing = Counter({src: c["kept"] for src, c in s.get("sources", {}).items()})
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
    for src, c in (summary.get("sources") or {}).items():
        if c["records"] != c["kept"] + c["removed"] + c["quarantined"]:
            problems.append(f"{src}: {c['records']} records != {c['kept']} kept + {c['removed']} removed + "
                            f"{c['quarantined']} quarantined")
    summary["conserved"] = not problems
    if problems:
        raise ConservationError("documents unaccounted for: " + "; ".join(problems))


def load_stats(out: str | Path) -> dict:
    path = Path(out) / "stats.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no stats.json; is {out} the output folder of `curate run`?")
    return json.loads(path.read_text())
