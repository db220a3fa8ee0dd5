"""`curate report OUT`: what each stage kept, removed and quarantined, and why, as markdown and a PNG chart."""

import gzip
from pathlib import Path

import orjson

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


def plot_stages(stats: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _flow_rows(stats)
    names = [r[0] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.5 * len(rows) + 2))
    for ax, (i, o, title) in zip(axes, ((1, 2, "documents"), (3, 4, "characters"))):
        y = range(len(rows))
        ax.barh([v - 0.2 for v in y], [r[i] for r in rows], height=0.4, label="in", color="#9ecae1")
        ax.barh([v + 0.2 for v in y], [r[o] for r in rows], height=0.4, label="out (kept)", color="#3182bd")
        ax.set_yticks(list(y), names)
        ax.invert_yaxis()
        ax.set_title(f"{title} in and out per stage")
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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


def write_report(out: str | Path) -> tuple[Path, Path]:
    out = Path(out)
    stats = load_stats(out)
    png = out / "report.png"
    plot_stages(stats, png)
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
        "![documents and characters per stage](report.png)",
        "",
        "| stage | docs in | docs out | removed/quarantined | chars in | chars out | time (s) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (name, d_in, d_out, c_in, c_out), s in zip(_flow_rows(stats), stats["stages"]):
        dropped = s.get("removed", s.get("quarantined", 0))
        lines.append(f"| {name} | {d_in} | {d_out} | {dropped} | {c_in} | {c_out} | {s['time_s']} |")
    lines += ["", "## Why documents were removed", ""]
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
