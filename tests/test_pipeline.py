"""`curate run` end to end on the bundled sample: conservation, determinism across task counts and
executors, resume after SIGKILL, offline demo, and clear errors for bad configs."""

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from curate.io.records import read_records
from curate.pipeline import RunError, run_pipeline
from helpers import kept_documents

REPO = Path(__file__).parent.parent
DEMO = REPO / "pipelines" / "demo.yaml"
CURATE = [sys.executable, "-m", "curate.cli"]
TEST_CONFIG_WEB_ONLY = """
readers:
  - warc: {path: web, source: web}
  - books: {path: "{data}/books", source: books}
  - jsonl: {path: wiki, source: wiki}
steps:
  - html_extract: {}
  - length_filter: {min_words: 1500, sources: [web]}
"""

def test_every_document_is_kept_removed_or_quarantined(two_task_run):
    out = two_task_run
    stats = orjson.loads((out / "stats.json").read_bytes())
    t = stats["totals"]
    assert stats["conserved"] and t["records"] == 40 + 15 + 106 + 2
    assert t["records"] == t["kept"] + t["removed"] + t["quarantined"]
    assert t["removed"] > 0 and t["quarantined"] == 3 and t["kept"] > 50

    # What the stats claim is what the files hold.
    assert len(kept_documents(out)) == t["kept"]
    removed = read_records(str(out / "removed"))
    by_stage = Counter((r["stage"], r["reason"]) for r in removed)
    claimed = {(s["stage"], reason): n for s in stats["stages"] for reason, n in s.get("removed_reasons", {}).items()}
    assert by_stage == claimed and sum(claimed.values()) == t["removed"]
    assert all(r["text"] and r["id"] and r["details"]["min_words"] == 1500 for r in removed if r["stage"] == "length_filter")
    quarantined = read_records(str(out / "quarantine"))
    assert sorted(q["reason"] for q in quarantined) == ["empty_text", "malformed_json", "not_html"]

    # Every input document is accounted for by id.
    ids = Counter([i for i, _, _ in kept_documents(out)] + [r["id"] for r in removed])
    assert max(ids.values()) == 1 and len(ids) == t["records"] - t["quarantined"]


def test_output_reads_in_duckdb_and_datasets(two_task_run, tmp_path):
    import datasets
    import duckdb

    glob = str(two_task_run / "data" / "*" / "*.parquet")
    counts = dict(duckdb.sql(f"select source, count(*) from read_parquet('{glob}') group by source").fetchall())
    ds = datasets.load_dataset("parquet", data_files=glob, split="train", cache_dir=str(tmp_path))
    assert sum(counts.values()) == len(ds) == len(kept_documents(two_task_run))
    assert set(counts) == {"web", "books", "wiki"}
    assert set(ds.column_names) == {"id", "text", "source", "url", "metadata", "language", "language_score",
                                    "quality_score", "quality_bucket"}


def test_same_kept_documents_with_one_task(two_task_run, inputs, tmp_path):
    run_pipeline(str(inputs / "test.yaml"), str(tmp_path / "one"), tasks=1, workers=1)
    assert kept_documents(tmp_path / "one") == kept_documents(two_task_run)


def test_same_kept_documents_on_ray(two_task_run, inputs, tmp_path):
    out = tmp_path / "ray"
    cmd = CURATE + ["run", str(inputs / "test.yaml"), "-o", str(out), "--executor", "ray", "--tasks", "2", "--workers", "2"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert kept_documents(out) == kept_documents(two_task_run)
    assert orjson.loads((out / "stats.json").read_bytes())["executor"] == "ray"


def test_killed_run_resumes_to_the_same_output(two_task_run, inputs, tmp_path):
    out = tmp_path / "killed"
    cmd = CURATE + ["run", str(inputs / "test.yaml"), "-o", str(out), "--tasks", "4", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((out / "logs" / "pass-1" / "completions").glob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run: at least one task done, others not
    proc.wait()
    done_before = len(list((out / "logs" / "pass-1" / "completions").glob("*")))
    assert 0 < done_before < 4  # killed after a task finished and before all did

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    # datatrove's own output is in the job's terminal.log (the terminal shows a progress line per job)
    assert "already completed" in (out / "logs" / "pass-1" / "terminal.log").read_text()
    assert kept_documents(out) == kept_documents(two_task_run)
    stats = orjson.loads((out / "stats.json").read_bytes())
    assert stats["conserved"] and stats["totals"] == orjson.loads((two_task_run / "stats.json").read_bytes())["totals"]


@pytest.mark.timeout(1500)  # about 4 minutes on 2 quiet cores; 12 under a load of 8
def test_demo_runs_offline(tmp_path):
    # The network guard (tests/netguard) is on PYTHONPATH for every process the demo starts.
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('1.1.1.1', 53), timeout=3)"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "network blocked" in probe.stderr
    out = tmp_path / "demo"
    proc = subprocess.run(CURATE + ["demo", "-o", str(out)], capture_output=True, text=True, timeout=1400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "threshold evidence:" in proc.stdout and (out / "corpus" / "report.md").is_file()
    stats = orjson.loads((out / "corpus" / "stats.json").read_bytes())
    # The demo reads the 15 books as chapters, acts and scenes (pipelines/demo.yaml), one record each.
    from curate.io.books import BookReader
    from curate.config import load_config

    kind, args = next(r for r in load_config(DEMO).readers if r[0] == "books")
    pieces = len(list(BookReader(**args).run()))
    assert pieces > 15 * 10
    assert stats["conserved"] and stats["totals"]["records"] == 213 + pieces + 106
    # one recipe, two passes: the filters, then near-duplicate documents and repeated paragraphs
    assert [p["pass"] for p in stats["passes"]] == ["pass-1", "pass-2"]
    assert [s["stage"] for s in stats["passes"][1]["stages"]][-3:] == ["minhash_dedup", "sentence_dedup", "write"]
    assert stats["passes"][1]["totals"]["records"] == stats["passes"][0]["totals"]["kept"]
    removed = {s["stage"]: s["removed"] for s in stats["stages"] if s["kind"] == "step"}
    # the navigation pages go at extraction (main content mostly links)
    assert removed["gopher_quality"] > 0 and removed["html_extract"] > 0 and removed["language"] > 0
    # Books pass the web-only rules untouched; every piece is kept but one: Henry V's Act III, Scene IV, which
    # is in French (Katharine's English lesson), goes to the language filter.
    assert {s["stage"]: s["passed_through"] for s in stats["stages"] if s["kind"] == "step"}["c4_quality"] > pieces
    books_removed = [r for r in read_records(str(out / "corpus" / "removed"))
                     if r.get("source") == "books" and "start" not in r]  # documents, not the spans cut from them
    assert [(r["stage"], r["reason"]) for r in books_removed] == [("language", "wrong_language")]
    assert books_removed[0]["text"].startswith("SCENE IV.  The French King's palace.")
    assert sum(1 for _, source, _ in kept_documents(out / "corpus") if source == "books") == pieces - 1
    card = orjson.loads((out / "quality.bin.json").read_bytes())
    assert card["metrics"]["roc_auc"] > 0.9
    final = orjson.loads((out / "final" / "stats.json").read_bytes())
    assert final["conserved"] and final["totals"]["records"] == stats["totals"]["kept"]
    import pyarrow.parquet as pq

    web = pq.read_table(out / "final" / "data" / "web")
    scores = web.column("quality_score").to_pylist()  # a typed column
    assert scores and all(0.0 <= s <= 1.0 for s in scores)
    # lineage through three passes: the WARC file and record each page came from
    lineage = [orjson.loads(m) for m in web.column("metadata").to_pylist()]
    assert all(m["file"].endswith(".warc.gz") and m["position"] for m in lineage)
    assert (out / "inspect" / "inspect.md").is_file()
    tokens = orjson.loads((out / "final" / "tokens" / "meta.json").read_bytes())
    assert tokens["dtype"] == "uint16" and tokens["vocab_size"] == 4096
    assert tokens["totals"]["train"]["documents"] + tokens["totals"]["heldout"]["documents"] == final["totals"]["kept"]
    assert (out / "tokenizer" / "tokenizer.json").is_file() and (out / "tokenizer" / "report.md").is_file()
    # The mixture ablation: the books-heavy proxy has a lower books bits-per-byte than the natural mix, by more
    # than twice the spread of the baseline's seeds.
    ablation = orjson.loads((out / "ablation" / "summary.json").read_bytes())
    assert ablation["complete"] and ablation["finished"] == 6
    books_heavy = next(r for r in ablation["rows"] if r["mixture"] == "books80-web10-wiki10")
    assert books_heavy["metrics"]["bpb_books"]["delta"] < 0 and books_heavy["metrics"]["bpb_books"]["flag"]
    assert (out / "ablation" / "report.md").is_file() and (out / "ablation" / "ratios.csv").is_file()


PRELOAD_CHECK = """
import curate.quality.heuristics  # as building a recipe imports its steps' modules
from curate.executors import make_executor

def record(data, rank=0, world_size=1):
    # runs in a pool worker: was the module there before this job imported anything?
    import sys
    open(f"{out}/{rank}", "w").write(str("curate.quality.heuristics" in sys.modules))
    yield from ()

make_executor("local", [record], tasks=2, workers=2, logging_dir="{out}/logs").run()
"""


def test_local_workers_start_with_the_recipes_modules_imported(tmp_path):
    # imported once in the forkserver instead of once per worker: presidio, spaCy and fastText cost about 5
    # CPU-seconds per process (curate.executors.preload_worker_modules)
    subprocess.run([sys.executable, "-c", PRELOAD_CHECK.replace("{out}", str(tmp_path))], check=True, cwd=tmp_path)
    assert [(tmp_path / str(rank)).read_text() for rank in (0, 1)] == ["True", "True"]


def test_a_step_applies_to_its_sources_only(inputs, tmp_path):
    config = inputs / "web-only.yaml"
    config.write_text(TEST_CONFIG_WEB_ONLY)
    run_pipeline(str(config), str(tmp_path / "o"), tasks=1, workers=1)
    stats = orjson.loads((tmp_path / "o" / "stats.json").read_bytes())
    step = next(s for s in stats["stages"] if s["stage"] == "length_filter")
    assert step["removed"] > 0 and step["passed_through"] == 15 + 106  # every book and wiki article
    assert {r["source"] for r in read_records(str(tmp_path / "o" / "removed"))} == {"web"}


def test_rerun_with_other_arguments_is_refused(two_task_run, inputs):
    with pytest.raises(RunError, match="another config, input or task count"):
        run_pipeline(str(inputs / "test.yaml"), str(two_task_run), tasks=3, workers=1)


@pytest.mark.parametrize(
    "config, message",
    [
        ("readers: []", "must list at least one reader"),
        ("readers:\n  - warc: {path: web, source: web}\nsteps:\n  - no_such_step: {}", "unknown step 'no_such_step'"),
        ("readers:\n  - warc: {path: web, source: web}\nsteps:\n  - length_filter: {min_wrods: 3}", "unknown argument(s) ['min_wrods']"),
        ("readers:\n  - warc: {source: web}", "missing required argument(s) ['path']"),
        ("readers:\n  - warc: {path: nowhere, source: web}", "input path"),
        ("readers: [unclosed", "not valid YAML"),
        ('readers:\n  - warc: {path: "{nowhere}", source: web}', "unknown variable {nowhere}"),
        ("readers:\n  - warc: {path: web, source: web}\nsteps:\n  - length_filter: {sources: [books]}", "`sources` must list"),
    ],
)
def test_bad_config_gives_one_line_error(config, message, inputs, tmp_path):
    path = inputs / f"bad-{abs(hash(config))}.yaml"
    path.write_text(config)
    proc = subprocess.run(CURATE + ["run", str(path), "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_books_recipe_runs_on_the_bundled_books(tmp_path):
    out = tmp_path / "books"
    summary = run_pipeline(str(REPO / "pipelines" / "books.yaml"), str(out), tasks=2, workers=2)
    assert summary["conserved"] and summary["totals"]["records"] == 15 and summary["totals"]["kept"] >= 8
    # Long-form text is not judged by web rules: no book is removed for repetition or line punctuation.
    reasons = {r for s in summary["stages"] for r in s.get("removed_reasons", {})}
    assert not reasons & {"dup_line_frac", "line_punct_ratio", "gopher_long_doc", "gopher_too_many_bullets"}


def test_recipes_plan_into_passes(tmp_path):
    from curate.config import load_config
    from curate.recipe import plan_recipe

    def jobs(name: str, **variables) -> list[str]:
        return [j.name for j in plan_recipe(load_config(REPO / "pipelines" / name, variables), str(tmp_path), 2)]

    index = ["minhash_dedup-signatures", "minhash_dedup-buckets", "minhash_dedup-clusters", "sentence_dedup-units",
             "sentence_dedup-owners"]
    assert jobs("web.yaml") == jobs("books.yaml") == ["pass-1", *index, "pass-2"]
    assert jobs("demo.yaml") == ["pass-1", *index, "pass-2"]


def test_readme_config_example_is_valid(tmp_path):
    # The README's config example must not drift from the code: every step and argument in it is accepted.
    from curate.config import load_config

    readme = (REPO / "README.md").read_text()
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.yaml").write_text(example)
    (tmp_path / "my-blocklist.txt").write_text("example.net\n")
    config = load_config(tmp_path / "example.yaml", variables={"pii_salt": "a secret"})
    assert [kind for kind, _ in config.steps][:4] == ["url_filter", "html_extract", "pii", "length_filter"]
    assert {kind for kind, _ in config.readers} == {"warc", "books", "jsonl"}


def test_the_terminal_shows_a_line_per_job_and_datatrove_output_goes_to_a_file(inputs, tmp_path):
    cmd = CURATE + ["run", str(inputs / "test.yaml"), "--tasks", "2", "--workers", "2", "-o"]
    proc = subprocess.run(cmd + [str(tmp_path / "progress")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[2/2] stats: 1/1 tasks, done in " in proc.stdout
    assert "Stats" not in proc.stdout + proc.stderr and len(proc.stdout.splitlines()) < 12
    # the pass's last line: what its tasks counted, as stats.json counts it; the input files all read
    stats = orjson.loads((tmp_path / "progress" / "stats.json").read_bytes())["passes"][0]
    docs = sum(s["documents"] for s in stats["stages"] if s["kind"] == "reader")
    counts = [orjson.loads(f.read_bytes()) for f in (tmp_path / "progress" / "logs" / "pass-1" / "progress").glob("*.json")]
    assert len(counts) == 2 and all(c["done"] for c in counts)
    assert sum(c["documents"] for c in counts) == docs and sum(c["kept"] for c in counts) == stats["totals"]["kept"]
    assert sum(c["input_bytes_done"] for c in counts) == sum(f.stat().st_size for d in ("web", "wiki") for f in (inputs / d).iterdir()) \
        + sum(f.stat().st_size for f in (REPO / "curate" / "data" / "books").iterdir())
    chars = sum(s["chars_out"] for s in stats["stages"] if s["kind"] == "reader")
    mb = sum(c["bytes"] for c in counts)
    assert chars <= mb < 1.1 * chars  # UTF-8 bytes of the text read: a little more than its characters
    final = [line for line in proc.stdout.splitlines() if line.startswith("[1/2] pass-1: ")][-1]
    assert final.startswith(f"[1/2] pass-1: {docs:,} docs ({mb / 1e6:.1f} MB) read, "), final
    assert f" docs/s, {100 * stats['totals']['kept'] / docs:.0f}% kept, 2/2 tasks, done in " in final
    terminal = (tmp_path / "progress" / "logs" / "pass-1" / "terminal.log").read_text()
    assert "Launching pipeline for rank=" in terminal  # datatrove's own output, kept
    quiet = subprocess.run(cmd + [str(tmp_path / "quiet"), "--quiet"], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and "pass-1:" not in quiet.stdout
    assert quiet.stdout.startswith(f"163 records: {len(kept_documents(tmp_path / 'quiet'))} kept")
    verbose = subprocess.run(cmd + [str(tmp_path / "verbose"), "--verbose"], capture_output=True, text=True, timeout=300)
    assert verbose.returncode == 0 and "Launching pipeline for rank=" in verbose.stderr


def test_help_examples_fit_80_columns_and_version():
    from curate.cli import build_parser

    parser = build_parser()
    commands = [[]]
    for action in parser._subparsers._group_actions:
        for name, sub in action.choices.items():
            commands.append([name])
            if sub._subparsers is not None:
                commands += [[name, inner] for a in sub._subparsers._group_actions for inner in a.choices]
    for command in commands:
        proc = subprocess.run(CURATE + [*command, "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"})
        assert proc.returncode == 0, command
        if command in (["quality"], ["tokenizer"], ["dedup"]):  # groups: their commands show the examples
            continue
        found = re.search(r"\nexamples?:\n(  curate .*)", proc.stdout, re.S)  # every command shows an example
        assert found and all(len(line) <= 80 for line in found.group(1).splitlines()), (command, proc.stdout)
    version = subprocess.run(CURATE + ["--version"], capture_output=True, text=True)
    assert version.stdout.strip() == f"curate {__import__('curate').__version__}"
