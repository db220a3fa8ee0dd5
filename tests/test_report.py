"""`curate report`: per-stage counts, every removal reason with examples, a chart."""

import subprocess
import sys

import orjson


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
