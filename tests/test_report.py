"""`curate report`: per-stage counts, every removal reason with examples, a chart."""

import gzip
import subprocess
import sys

import orjson
import pytest


def test_report_lists_every_stage_and_reason_with_examples(two_task_run):
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "report", str(two_task_run)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    md = (two_task_run / "report.md").read_text()
    png = (two_task_run / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    stats = orjson.loads((two_task_run / "stats.json").read_bytes())
    for stage in stats["stages"]:
        assert f"| {stage['stage']} |" in md
    n_removed = stats["stages"][4]["removed_reasons"]["too_few_words"]
    assert f"**length_filter: too_few_words**: {n_removed}" in md
    assert "**read_web (quarantine): not_html**: 1" in md
    assert "**read_wiki (quarantine): malformed_json**: 1" in md
    section = md.split("**length_filter: too_few_words**")[1].split("\n- **")[0]
    assert section.count("\n  - `") == 2  # two examples, each with the document id
    t = stats["totals"]
    assert f"**{t['records']}** records read = **{t['kept']}** kept + **{t['removed']}** removed" in md


def test_report_on_a_folder_without_a_run_fails_clearly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "report", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "no stats.json" in proc.stderr and "Traceback" not in proc.stderr


def test_report_shows_the_funnel_of_each_source_as_stats_and_removed_records_count_it(two_task_run):
    from curate.report import write_report

    md, png = write_report(two_task_run)
    md = md.read_text()
    stats = orjson.loads((two_task_run / "stats.json").read_bytes())
    sources = stats["sources"]
    assert set(sources) == {"web", "books", "wiki"}
    for key in ("records", "kept", "removed", "quarantined"):
        assert sum(c[key] for c in sources.values()) == stats["totals"][key]
    # the removals of each source, counted again from the removed/ records the stage wrote
    removed_by_source = {}
    for path in (two_task_run / "removed" / "length_filter").glob("*.jsonl.gz"):
        for line in gzip.open(path, "rb"):
            src = orjson.loads(line)["source"]
            removed_by_source[src] = removed_by_source.get(src, 0) + 1
    length = next(s for s in stats["stages"] if s["stage"] == "length_filter")
    assert {src: c["removed"] for src, c in length["sources"].items() if c["removed"]} == removed_by_source
    assert len(removed_by_source) >= 2  # the test config's 1500 words removes web pages and articles
    for src, c in sources.items():
        assert c["records"] == c["kept"] + c["removed"] + c["quarantined"]
        assert f"| {src} | {c['records']:,} | {c['kept']:,} |" in md  # the sources table
        section = md.split(f"### {src}\n")[1].split("\n### ")[0]
        assert f"| **kept** | | | | **{c['kept']:,}** | | **{c['chars_kept']:,}** |" in section
        reasons = length["sources"][src]["removed_reasons"]
        if reasons:
            assert f"| length_filter | {length['sources'][src]['in']:,} | {length['sources'][src]['removed']:,} | " \
                   f"too_few_words {reasons['too_few_words']:,} |" in section
    # the quarantined record of the web source is in its funnel, with its reason
    assert "| read_web | " in md.split("### web\n")[1] and "not_html 1" in md.split("### web\n")[1]
    # the mix before and after: each source's share of the documents read and kept
    web = sources["web"]
    share_in = 100 * web["records"] / stats["totals"]["records"]
    share_kept = 100 * web["kept"] / stats["totals"]["kept"]
    assert f"{share_in:.1f} % -> {share_kept:.1f} %" in md
    assert "## Where the time went" in md and "| html_extract |" not in md.split("## Where the time went")[1]
    assert "| pass-1 · html_extract |" in md


def test_conservation_per_source_catches_a_document_counted_for_the_wrong_source(two_task_run):
    from curate.stats import ConservationError, check_conservation

    stats = orjson.loads((two_task_run / "stats.json").read_bytes())
    check_conservation(stats)
    length = next(s for s in stats["passes"][0]["stages"] if s["stage"] == "length_filter")
    length["sources"]["web"]["kept"] -= 1
    length["sources"]["books"]["kept"] += 1  # totals still add up; the sources do not
    with pytest.raises(ConservationError, match="web"):
        check_conservation(stats)


def test_a_stats_json_without_counts_per_source_still_gets_a_report(two_task_run, tmp_path):
    import shutil

    from curate.report import write_report

    out = tmp_path / "old"
    shutil.copytree(two_task_run, out)
    stats = orjson.loads((out / "stats.json").read_bytes())
    for summary in [stats, *stats["passes"]]:  # as curate wrote it before it counted sources
        summary.pop("sources")
        for stage in summary["stages"]:
            stage.pop("sources", None)
    (out / "stats.json").write_bytes(orjson.dumps(stats))
    md, png = write_report(out)
    assert "has no counts per source" in md.read_text() and "| length_filter |" in md.read_text()
    assert png.read_bytes().startswith(b"\x89PNG")
