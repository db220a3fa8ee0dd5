"""`curate report OUT`: what each stage kept, removed and quarantined, and why, as markdown and a PNG chart:
the funnel per source (documents and characters read, removed by each stage and reason, kept), each source's
share of the corpus before and after, the funnel per stage, where the time went, and examples of removals."""

import gzip
from pathlib import Path

import orjson

from curate.report_chart import plot_report
from curate.stats import load_stats

EXAMPLES_PER_REASON = 2
EXAMPLE_CHARS = 160


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    return text[:EXAMPLE_CHARS] + ("…" if len(text) > EXAMPLE_CHARS else "")


def collect_examples(folder: Path, key: str, text_key: str) -> dict[tuple[str, str], list[str]]:
    """Up to two short examples per (stage or source, reason), reading only as far as needed."""
    examples: dict[tuple[str, str], list[str]] = {}
    for path in sorted(folder.rglob("*.jsonl.gz")) if folder.is_dir() else []:
        with gzip.open(path, "rb") as f:
            for line in f:
                rec = orjson.loads(line)
                bucket = examples.setdefault((rec[key], rec["reason"]), [])
                if len(bucket) < EXAMPLES_PER_REASON:
                    where = rec.get("id") or f"{rec.get('file')} record {rec.get('record')}"
                    bucket.append(f"`{where}`: {_short(rec.get(text_key, ''))}")
    return examples


def _flow_rows(stats: dict) -> list[tuple]:
    """(stage, docs in, docs out, chars in, chars out) for every stage, readers first."""
    rows = []
    several = len(stats.get("passes") or ()) > 1
    for s in stats["stages"]:
        name = f"{s['pass']}: {s['stage']}" if several else s["stage"]  # a later pass reads and writes again
        if s["kind"] == "reader":
            rows.append((name, s["records"], s["documents"], s["chars_out"], s["chars_out"]))
        elif s["kind"] == "step":
            rows.append((name, s["in"], s["kept"], s["chars_in"], s["chars_out"]))
        else:
            rows.append((name, s["kept"], s["kept"], s["chars_out"], s["chars_out"]))
    return rows


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _mchars(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def _stage_name(stats: dict, s: dict) -> str:
    return f"{s['pass']}: {s['stage']}" if len(stats.get("passes") or ()) > 1 else s["stage"]


def _reasons_text(reasons: dict) -> str:
    return ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))


def source_funnels(stats: dict) -> dict:
    """{source: its funnel over the recipe}: the recipe's per-source totals and the documents each stage removed."""
    funnels = {}
    for src, c in (stats.get("sources") or {}).items():
        by_stage = {}
        for s in stats["stages"]:
            if s["kind"] == "step" and (n := s.get("sources", {}).get(src, {}).get("removed")):
                by_stage[s["stage"]] = by_stage.get(s["stage"], 0) + n
        funnels[src] = {**c, "removed_by_stage": by_stage}
    return funnels


def source_lines(stats: dict) -> list[str]:
    """The sources table (what came in, what was kept, the mix before and after) and one funnel table per source."""
    sources = stats.get("sources") or {}
    if not sources:
        return ["This run's stats.json has no counts per source (written by an earlier curate); run it again to "
                "see them.", ""]
    docs_in = sum(c["records"] for c in sources.values())
    docs_kept = sum(c["kept"] for c in sources.values())
    chars_in = sum(c["chars_in"] for c in sources.values())
    chars_kept = sum(c["chars_kept"] for c in sources.values())
    lines = [
        "| source | records read | kept | kept % | removed | quarantined | characters read | characters kept | "
        "share of documents, read -> kept | share of characters, read -> kept |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for src, c in sources.items():
        lines.append(
            f"| {src} | {c['records']:,} | {c['kept']:,} | {_pct(c['kept'], c['records'])} | {c['removed']:,} | "
            f"{c['quarantined']:,} | {_mchars(c['chars_in'])} | {_mchars(c['chars_kept'])} | "
            f"{_pct(c['records'], docs_in)} -> {_pct(c['kept'], docs_kept)} | "
            f"{_pct(c['chars_in'], chars_in)} -> {_pct(c['chars_kept'], chars_kept)} |"
        )
    lines += ["", "Characters read are the text as each reader gives it: the HTML of web pages, before extraction.", ""]
    first_pass = stats["stages"][0].get("pass")
    for src in sources:
        lines += [f"### {src}", "", "| stage | documents in | removed | why | documents out | characters in | characters out |",
                  "| --- | ---: | ---: | --- | ---: | ---: | ---: |"]
        idle, skipped = [], []
        for s in stats["stages"]:
            c = s.get("sources", {}).get(src)
            if c is None or s["kind"] == "writer":
                continue
            name = _stage_name(stats, s)
            if s["kind"] == "step" and not c["removed"] and c["chars_in"] == c["chars_out"] and c["passed_through"] < c["in"]:
                idle.append(name)  # applied, and changed nothing of this source
                continue
            if s["kind"] == "reader":
                if s.get("pass") != first_pass and not c["quarantined"]:
                    continue  # a later pass reading back what the one before wrote
                lines.append(f"| {name} | {c['records']:,} records | {c['quarantined']:,} quarantined | "
                             f"{_reasons_text(c['quarantine_reasons'])} | {c['documents']:,} | | {c['chars_out']:,} |")
            elif c["in"] and c["passed_through"] == c["in"]:
                skipped.append(name)
            else:
                why = _reasons_text(c["removed_reasons"])
                if c["chars_out"] != c["chars_in"] and not why:
                    why = "text of kept documents changed"
                lines.append(f"| {name} | {c['in']:,} | {c['removed']:,} | {why} | "
                             f"{c['kept']:,} | {c['chars_in']:,} | {c['chars_out']:,} |")
        c = sources[src]
        lines += [f"| **kept** | | | | **{c['kept']:,}** | | **{c['chars_kept']:,}** |", ""]
        if idle:
            lines += [f"Applied to {src}, and neither removed nor changed any of it: {', '.join(idle)}.", ""]
        if skipped:
            lines += [f"Not applied to {src} (their `sources` leave it out): {', '.join(skipped)}.", ""]
    return lines


def time_rows(stats: dict) -> list[tuple[str, float, str]]:
    """(label, task-seconds, pass or job) in the order the jobs ran: each pass's stages, the index jobs after
    the pass whose output they read."""
    index = [j for j in stats.get("jobs") or () if "counts" in j]
    rows = []
    for i, p in enumerate(stats.get("passes") or [{"pass": "pass-1", "stages": stats["stages"]}]):
        rows += [(f"{p['pass']} · {s['stage']}", s["time_s"], p["pass"]) for s in p["stages"]]
        if i == 0:  # every index job reads what the first pass (or the one before it) wrote
            rows += [(j["job"], j["time_s"], "index jobs") for j in index]
    return rows


def time_lines(stats: dict) -> list[str]:
    rows = time_rows(stats)
    total = sum(t for _, t, _ in rows)
    lines = [f"Task-seconds: the time each step spent in its own work, summed over the tasks of its job "
             f"({total:.1f} s in all; the run took {stats.get('wall_s')} s of wall time).", "",
             "| job · step | task-seconds | share |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {t:.1f} | {_pct(t, total)} |" for label, t, _ in rows]
    return lines + [""]


def write_report(out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    stats = load_stats(out)
    png = out / "report.png"
    funnels = source_funnels(stats)
    mix = {src: (c["records"], c["kept"], c["chars_in"], c["chars_kept"]) for src, c in funnels.items()}
    plot_report(funnels, mix, time_rows(stats), f"curate report: {stats.get('pipeline', out.name)}", png)
    removed = collect_examples(out / "removed", "stage", "text")
    quarantined = collect_examples(out / "quarantine", "source", "preview")
    t = stats["totals"]
    lines = [
        f"# curate report: {stats.get('pipeline', out.name)}",
        "",
        f"Config `{stats.get('config')}`, executor {stats.get('executor')}, {stats.get('tasks')} task(s), "
        f"wall time {stats.get('wall_s')} s.",
        "",
        f"**{t['records']}** records read = **{t['kept']}** kept + **{t['removed']}** removed + "
        f"**{t['quarantined']}** quarantined ({'conserved' if stats.get('conserved') else 'NOT CONSERVED'}).",
        "",
        *(f"- {p['pass']}: {p['totals']['records']} read, {p['totals']['kept']} kept, {p['totals']['removed']} removed, "
          f"{p['totals']['quarantined']} quarantined" for p in stats.get("passes") or ()),
        *([f"- between the passes: {index_jobs}", ""] if (index_jobs := ", ".join(
            f"{j['job']} ({j['time_s']} s)" for j in stats.get("jobs") or () if "counts" in j)) else [""]),
        "![what happened to each source, the mix before and after, where the time went](report.png)",
        "",
        "## Sources: what came in and what was kept",
        "",
        *source_lines(stats),
        "## Every stage, all sources",
        "",
        "| stage | docs in | docs out | removed/quarantined | chars in | chars out | time (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (name, d_in, d_out, c_in, c_out), s in zip(_flow_rows(stats), stats["stages"]):
        dropped = s.get("removed", s.get("quarantined", 0))
        lines.append(f"| {name} | {d_in} | {d_out} | {dropped} | {c_in} | {c_out} | {s['time_s']} |")
    lines += ["", "## Where the time went", "", *time_lines(stats)]
    lines += ["## Why documents were removed", ""]
    any_reason = False
    for s in stats["stages"]:
        for reason, n in s.get("removed_reasons", {}).items():
            any_reason = True
            lines.append(f"- **{s['stage']}: {reason}**: {n}")
            lines += [f"  - {ex}" for ex in removed.get((s["stage"], reason), [])]
        for reason, n in s.get("quarantine_reasons", {}).items():
            any_reason = True
            lines.append(f"- **{s['stage']} (quarantine): {reason}**: {n}")
            lines += [f"  - {ex}" for ex in quarantined.get((s["source"], reason), [])]
    if not any_reason:
        lines.append("Nothing was removed or quarantined.")
    lines += ["", f"Removed documents: `{out / 'removed'}`; quarantined records: `{out / 'quarantine'}`.", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines))
    return md, png
