"""`curate quality inspect`: the evidence for choosing thresholds.

For every rule of the heuristic rule sets, over a corpus: a histogram of the rule's signal with the threshold
marked, the share of documents and of words that would be kept at a range of candidate thresholds, and short
examples just on each side of the cut. Every signal of every document goes to `signals.parquet` too, for any
other analysis. Thresholds come from a pipeline config when one is given (its rule-set steps, in order), else
from the defaults.

A run's kept documents alone sit on the kept side of every rule that ran; so for a folder of curate output
(`OUT/` or `OUT/data/`), the documents of `OUT/removed/` are measured too (as the stage saw them when it
removed them; the spans logs of pii and sentence dedup are not documents), marked with the stage and reason
that removed them: each rule then shows documents just kept and just removed.
"""

from pathlib import Path

import numpy as np

from curate.io.records import read_records
from curate.io.texts import input_files, read_documents
from curate.quality.heuristics import Rule, RuleSet
from curate.stage import Drop

QUANTILES = (0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99)
EXAMPLE_CHARS = 160


def rule_sets_from(config_path: str | None) -> list[RuleSet]:
    from curate.config import load_config, step_classes

    if config_path is None:
        from curate.quality.heuristics import C4Quality, FineWebQuality, GopherQuality, GopherRepetition

        return [GopherRepetition(), GopherQuality(), C4Quality(), FineWebQuality()]
    registry = step_classes()
    sets = []
    for kind, args in load_config(config_path).steps:
        if issubclass(registry[kind], RuleSet):
            sets.append(registry[kind](**{k: v for k, v in args.items() if k != "sources"}))
    if not sets:
        raise ValueError(f"{config_path}: no heuristic rule-set steps (gopher_*, c4_quality, fineweb_quality) to inspect")
    return sets


def removed_folders(paths: list[str]) -> list[Path]:
    """The `removed/` folders of the curate runs among `paths` (a run folder, or its `data/` folder)."""
    found = []
    for p in map(Path, paths):
        for candidate in (p / "removed", p.parent / "removed" if p.name == "data" else None):
            if candidate is not None and candidate.is_dir() and candidate not in found:
                found.append(candidate)
    return found


def removed_documents(folders: list[Path], max_docs: int):
    """{"id", "text", "source", "removed_by"} of up to `max_docs` removed documents (spans logs left out)."""
    n = 0
    for folder in folders:
        for stage in sorted(d for d in folder.iterdir() if d.is_dir()):
            for record in read_records(str(stage)):
                if n == max_docs:
                    return
                if not isinstance(record.get("text"), str):
                    continue  # a span record (pii, sentence dedup), not a document
                n += 1
                yield {"id": str(record.get("id")), "text": record["text"], "source": record.get("source"),
                       "removed_by": f"{record.get('stage')}: {record.get('reason')}"}


def measure(paths: list[str], sets: list[RuleSet], max_docs: int) -> dict:
    """Signals of the first `max_docs` documents under `paths` (and of up to `max_docs` removed documents of
    the runs among them): columns of equal length, NaN where a rule set stopped before measuring (a document
    it cannot measure, e.g. one without words)."""
    ids, sources, words, excerpts, removed_by = [], [], [], [], []
    columns: dict[str, list[float]] = {}
    unmeasurable: dict[str, dict[str, int]] = {rs.name: {} for rs in sets}

    def kept_documents():
        n = 0
        for file in (f for p in paths for f in input_files(p)):
            for doc in read_documents(file):
                if doc is None:
                    continue
                if n == max_docs:
                    return
                n += 1
                yield {**doc, "removed_by": None}

    n = 0
    for docs in (kept_documents(), removed_documents(removed_folders(paths), max_docs)):
        for doc in docs:
            values: dict[str, float] = {}
            for rs in sets:
                for item in rs.measure(doc["text"]):
                    if isinstance(item, Drop):
                        unmeasurable[rs.name][item.reason] = unmeasurable[rs.name].get(item.reason, 0) + 1
                        break
                    values[f"{rs.name}.{item[0]}"] = float(item[1])
            for key in values.keys() - columns.keys():
                columns[key] = [float("nan")] * n
            for key, col in columns.items():
                col.append(values.get(key, float("nan")))
            ids.append(doc["id"])
            sources.append(doc["source"])
            removed_by.append(doc["removed_by"])
            words.append(len(doc["text"].split()))
            excerpts.append(" ".join(doc["text"][: EXAMPLE_CHARS * 2].split())[:EXAMPLE_CHARS])
            n += 1
    if n == 0:
        raise ValueError(f"{paths}: no documents with text")
    return {
        "id": ids,
        "source": sources,
        "removed_by": removed_by,
        "words": np.array(words, dtype=np.float64),
        "excerpt": excerpts,
        "signals": {k: np.array(v) for k, v in columns.items()},
        "unmeasurable": unmeasurable,
    }


def keeps(rule: Rule, values: np.ndarray, threshold: float) -> np.ndarray:
    return values >= threshold if rule.bound == "min" else values <= threshold


def plot_signal(values: np.ndarray, rule_list: list[Rule], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lo, hi = np.quantile(values, [0.005, 0.995])
    for r in rule_list:
        lo, hi = min(lo, r.threshold), max(hi, r.threshold)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.hist(np.clip(values, lo, hi), bins=60, range=(lo, hi) if hi > lo else None, color="#6baed6")
    for r in rule_list:
        ax.axvline(r.threshold, color="#d62728", linestyle="--", label=f"{r.bound} {r.threshold} ({r.reason})")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("signal (clipped to the 0.5-99.5% range)")
    ax.set_ylabel("documents")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _examples(m: dict, values: np.ndarray, rule: Rule, k: int = 2) -> tuple[list[str], list[str]]:
    """Documents just inside and just outside the cut: the closest to the threshold on each side."""
    ok = keeps(rule, values, rule.threshold)
    dist = np.abs(values - rule.threshold)
    inside = [i for i in np.argsort(np.where(ok, dist, np.inf)) if ok[i]][:k]
    outside = [i for i in np.argsort(np.where(~ok, dist, np.inf)) if not ok[i]][:k]

    def show(i):
        by = f", removed by {m['removed_by'][i]}" if m["removed_by"][i] else ""
        return f"`{m['id'][i]}` ({values[i]:.4g}{by}): {m['excerpt'][i]}"

    return [show(i) for i in inside], [show(i) for i in outside]


def write_signals(m: dict, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = {"id": m["id"], "source": m["source"], "removed_by": m["removed_by"], "words": m["words"], **m["signals"]}
    pq.write_table(pa.table(table), path)


def inspect_corpus(paths: list[str], out: str, config: str | None = None, max_docs: int = 10_000) -> Path:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = rule_sets_from(config)
    m = measure(paths, sets, max_docs)
    write_signals(m, out_dir / "signals.parquet")
    n, total_words = len(m["id"]), m["words"].sum()
    n_removed = sum(r is not None for r in m["removed_by"])
    lines = [
        "# Threshold calibration",
        "",
        f"{n} documents ({int(total_words)} words) from {', '.join(map(str, paths))}"
        + (f", {n_removed} of them from the runs' removed/ folders" if n_removed else "")
        + f"; thresholds from {config or 'the defaults'}. Each rule is shown alone: the share kept if it were "
        "the only rule.",
        "All signals per document: `signals.parquet`.",
        "",
    ]
    for rs in sets:
        lines += [f"## {rs.name}", ""]
        if unmeasurable := m["unmeasurable"][rs.name]:
            lines += [f"Not measurable (removed before any threshold): {unmeasurable}", ""]
        for signal, rule_list in rs.rules_by_signal().items():
            values = m["signals"].get(f"{rs.name}.{signal}")
            if values is None or not np.isfinite(values).any():
                continue
            measured = np.isfinite(values)
            vals, w = values[measured], m["words"][measured]
            png = f"{rs.name}.{signal}.png"
            plot_signal(vals, rule_list, f"{rs.name}: {signal} ({measured.sum()} documents)", out_dir / png)
            lines += [f"### {signal}", "", f"![{signal}]({png})", ""]
            for rule in rule_list:
                kept = keeps(rule, vals, rule.threshold)
                lines += [
                    f"**{rule.reason}**: kept when {signal} {'>=' if rule.bound == 'min' else '<='} {rule.threshold}: "
                    f"{kept.mean():.1%} of documents, {w[kept].sum() / max(w.sum(), 1):.1%} of words kept.",
                    "",
                    "| threshold | documents kept | words kept |",
                    "| ---: | ---: | ---: |",
                ]
                candidates = sorted({float(rule.threshold), *np.quantile(vals, QUANTILES).round(6).tolist()})
                for t in candidates:
                    k = keeps(rule, vals, t)
                    mark = " (configured)" if t == rule.threshold else ""
                    lines.append(f"| {t:.4g}{mark} | {k.mean():.1%} | {w[k].sum() / max(w.sum(), 1):.1%} |")
                inside, outside = _examples({**m, "id": np.array(m["id"])[measured], "excerpt": np.array(m["excerpt"])[measured],
                                             "removed_by": np.array(m["removed_by"], dtype=object)[measured]}, vals, rule)
                lines += ["", "Just kept:"] + [f"- {e}" for e in inside or ["(none)"]]
                lines += ["", "Just removed:"] + [f"- {e}" for e in outside or ["(none)"]] + [""]
    md = out_dir / "inspect.md"
    md.write_text("\n".join(lines) + "\n")
    return md
