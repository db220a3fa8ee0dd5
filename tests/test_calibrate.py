"""`curate quality inspect`: signals, keep shares and examples agree with the rules themselves."""

import subprocess
import sys

import numpy as np
import orjson
import pyarrow.parquet as pq

from curate.quality.heuristics import GopherQuality


def test_inspect_reports_every_rule_with_numbers_the_rules_agree_with(data_dir, tmp_path):
    wiki = data_dir / "wiki" / "enwiki.jsonl"
    out = tmp_path / "inspect"
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "quality", "inspect", str(wiki), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    md = (out / "inspect.md").read_text()
    signals = pq.read_table(out / "signals.parquet").to_pydict()
    texts = {r["id"]: r["text"] for r in map(orjson.loads, wiki.read_bytes().splitlines())}
    assert len(signals["id"]) == len(texts) == 106

    # The stored signal is the one the rule set measures.
    gq = GopherQuality()
    first = signals["id"][0]
    measured = dict(item for item in gq.signals(texts[first]))
    assert signals["gopher_quality.alpha_words_ratio"][0] == measured["alpha_words_ratio"]

    # The keep share printed for a rule is the share of documents that rule alone keeps.
    alpha = np.array(signals["gopher_quality.alpha_words_ratio"])
    share = (alpha >= 0.8).mean()
    assert f"kept when alpha_words_ratio >= 0.8: {share:.1%} of documents" in md
    for rule in ("gopher_short_doc", "dup_line_frac", "too_few_sentences", "line_punct_ratio", "top_2_gram"):
        assert f"**{rule}**" in md
    assert (out / "gopher_quality.alpha_words_ratio.png").read_bytes().startswith(b"\x89PNG")

    # Examples are on the side of the cut they claim.
    section = md.split("### alpha_words_ratio")[1].split("###")[0]
    kept_part, removed_part = section.split("Just kept:")[1].split("Just removed:")
    for line in kept_part.strip().splitlines():
        doc_id = line.split("`")[1]
        assert dict(gq.signals(texts[doc_id]))["alpha_words_ratio"] >= 0.8
    for line in removed_part.strip().splitlines():
        doc_id = line.split("`")[1]
        assert dict(gq.signals(texts[doc_id]))["alpha_words_ratio"] < 0.8


def test_inspect_takes_thresholds_from_a_config(data_dir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"readers:\n  - jsonl: {{path: {data_dir / 'wiki'}, source: wiki}}\n"
                      "steps:\n  - gopher_quality: {min_alpha_words_ratio: 0.7, sources: [wiki]}\n")
    from curate.quality.calibrate import inspect_corpus

    md = inspect_corpus([str(data_dir / "wiki")], str(tmp_path / "o"), config=str(config), max_docs=30).read_text()
    assert "30 documents" in md and "alpha_words_ratio >= 0.7" in md and "gopher_repetition" not in md


def test_inspect_reads_a_runs_removed_documents_so_every_rule_has_both_sides(data_dir, tmp_path):
    from curate.pipeline import run_pipeline
    from curate.quality.calibrate import inspect_corpus

    config = tmp_path / "run.yaml"
    config.write_text(f"readers:\n  - jsonl: {{path: {data_dir / 'wiki'}, source: wiki}}\n"
                      "steps:\n  - gopher_quality: {min_alpha_words_ratio: 0.86}\n")
    run_pipeline(str(config), str(tmp_path / "out"), tasks=1, workers=1)
    stats = orjson.loads((tmp_path / "out" / "stats.json").read_bytes())
    removed = stats["totals"]["removed"]
    assert 0 < removed < 106

    md = inspect_corpus([str(tmp_path / "out" / "data")], str(tmp_path / "inspect"), config=str(config)).read_text()
    signals = pq.read_table(tmp_path / "inspect" / "signals.parquet").to_pydict()
    assert len(signals["id"]) == 106 and sum(r is not None for r in signals["removed_by"]) == removed
    section = md.split("**gopher_below_alpha_threshold**")[1].split("**")[0]
    just_removed = section.split("Just removed:")[1]
    assert "removed by gopher_quality: gopher_below_alpha_threshold" in just_removed
    assert "(none)" not in section
    # every document removed for this rule is on the removed side of its threshold
    by = np.array(signals["removed_by"], dtype=object)
    alpha = np.array(signals["gopher_quality.alpha_words_ratio"])
    assert (alpha[by == "gopher_quality: gopher_below_alpha_threshold"] < 0.86).all()
