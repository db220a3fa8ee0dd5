"""`curate run` and the other commands against a careless or hostile user (the hostile-input report, B1, B6-B10,
B12-B14, B16, B17): a clear one-line error with exit code 2 before any work, or a run whose output is exactly
what its stats count, with no raw PII anywhere and no file outside -o."""

import gzip
import io
import json
import os
from pathlib import Path

import orjson
import pytest
from datatrove.pipeline.base import PipelineStep

from curate.cli import main
from curate.io.records import read_records
from curate.pipeline import RunError, run_pipeline
from helpers import all_text_under, kept_documents, real_pages, write_parquet, write_warc

JSONL_CONFIG = "readers:\n  - jsonl: {path: in, source: j}\n"


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of `curate ARGS` run in this process."""
    try:
        main(args)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    return code, capsys.readouterr().err


def jsonl_input(root: Path, n: int = 5, name: str = "a.jsonl") -> Path:
    (root / "in").mkdir(parents=True, exist_ok=True)
    (root / "in" / name).write_text("".join(json.dumps({"text": f"document {i} has a few words"}) + "\n" for i in range(n)))
    (root / "cfg.yaml").write_text(JSONL_CONFIG)
    return root / "cfg.yaml"


def one_line_error(code: int, err: str, *fragments: str, in_task: bool = False) -> None:
    """Exit code 2 and one line that names what is wrong. `in_task`: the error was raised inside a datatrove task,
    whose logger also prints the (short: no local variables) traceback to stderr before curate's line."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and (len(lines) == 1 or in_task) and lines[-1].startswith("curate "), err
    assert len(err) < 8000
    for fragment in fragments:
        assert fragment in lines[-1], (fragment, lines[-1])


def test_output_inside_the_input_folder_is_refused_at_once(tmp_path, capsys):
    cfg = jsonl_input(tmp_path)
    code, err = run_cli(["run", str(cfg), "-o", str(tmp_path / "in" / "out")], capsys)
    one_line_error(code, err, "inside the input folder")
    assert not (tmp_path / "in" / "out").exists()
    code, err = run_cli(["run", str(cfg), "-o", str(tmp_path)], capsys)  # OUT holding the input: --overwrite would delete it
    one_line_error(code, err, "holds the input")


def test_output_that_is_a_file_or_a_remote_url_is_refused(tmp_path, capsys, monkeypatch):
    cfg = jsonl_input(tmp_path)
    (tmp_path / "afile").write_text("x")
    one_line_error(*run_cli(["run", str(cfg), "-o", str(tmp_path / "afile")], capsys), "is a file")
    monkeypatch.chdir(tmp_path)
    one_line_error(*run_cli(["run", str(cfg), "-o", "s3://my-bucket/x"], capsys), "s3://my-bucket/x")
    assert not (tmp_path / "s3:").exists()


def test_zero_tasks_is_refused_before_anything_is_written(tmp_path, capsys):
    cfg = jsonl_input(tmp_path)
    out = tmp_path / "out"
    one_line_error(*run_cli(["run", str(cfg), "-o", str(out), "--tasks", "0"], capsys), "--tasks")
    assert not out.exists()
    code, err = run_cli(["run", str(cfg), "-o", str(out)], capsys)
    assert code == 0 and len(kept_documents(out)) == 5


@pytest.mark.parametrize(
    "step,fragments",
    [
        ("length_filter: {min_words: high}", ["steps[0] (length_filter).min_words", "expected an integer", "'high'"]),
        ("language: {min_score: '0.5'}", ["steps[0] (language).min_score", "expected a number"]),
        ("quality_classifier: {model_path: q.bin, threshold: high}", ["(quality_classifier).threshold", "expected a number"]),
        ("html_extract: {timeout: 0}", ["html_extract", "timeout must be more than 0"]),
        ("length_filter: {min_words: -3}", ["length_filter", "0 or more"]),
        ("pii: {operators: [tag]}", ["(pii).operators", "expected"]),
        ("gopher_quality: {min_doc_words: true}", ["(gopher_quality).min_doc_words", "expected an integer"]),
    ],
)
def test_wrong_argument_types_name_file_entry_and_argument(tmp_path, capsys, step, fragments):
    jsonl_input(tmp_path)
    (tmp_path / "q.bin").write_bytes(b"x")
    (tmp_path / "cfg.yaml").write_text(JSONL_CONFIG + f"steps:\n  - {step}\n")
    code, err = run_cli(["run", str(tmp_path / "cfg.yaml"), "-o", str(tmp_path / "out")], capsys)
    one_line_error(code, err, str(tmp_path / "cfg.yaml"), *fragments)
    assert not (tmp_path / "out").exists()


def test_a_variable_that_fills_a_whole_value_takes_its_type(tmp_path):
    jsonl_input(tmp_path)
    (tmp_path / "cfg.yaml").write_text(JSONL_CONFIG + "steps:\n  - length_filter: {min_words: '{n}'}\n")
    summary = run_pipeline(str(tmp_path / "cfg.yaml"), str(tmp_path / "out"), variables={"n": "6"})
    assert summary["totals"]["kept"] == 5  # "document 0 has a few words": 6 words


def test_a_rerun_leaves_no_output_of_an_earlier_attempt_behind(tmp_path):
    """A task killed or crashed after writing, then run again, rewrites only what it meets again: a shard or a
    quarantine file the rerun does not write must not stay beside the stats."""
    cfg = jsonl_input(tmp_path)
    out = tmp_path / "out"
    run_pipeline(str(cfg), str(out))
    # What a crashed attempt could have left: a shard of a source, and a quarantine file, this run never writes.
    write_parquet(out / "data" / "other" / "00000.parquet", [{"id": "ghost", "text": "from a crashed attempt", "source": "other"}])
    (out / "quarantine" / "j").mkdir(parents=True)
    (out / "quarantine" / "j" / "00000.jsonl.gz").write_bytes(gzip.compress(b'{"reason": "ghost"}\n'))
    (out / "logs" / "pass-1" / "completions" / "00000").unlink()  # the task did not finish
    summary = run_pipeline(str(cfg), str(out))
    assert summary["conserved"] and summary["totals"]["kept"] == 5
    assert len(kept_documents(out)) == 5 and read_records(str(out / "quarantine")) == []


def test_a_rerun_over_changed_input_is_refused(tmp_path):
    cfg = jsonl_input(tmp_path)
    out = tmp_path / "out"
    run_pipeline(str(cfg), str(out))
    (tmp_path / "in" / "a.jsonl").write_text('{"text": "fixed"}\n')  # the user fixed a line
    with pytest.raises(RunError, match="another config, input"):
        run_pipeline(str(cfg), str(out))


def test_a_crash_in_a_stage_removes_that_document_only(tmp_path, monkeypatch):
    from curate.quality.length import LengthFilter

    real = LengthFilter.process

    def process(self, doc):
        if "document 2 " in doc.text:
            raise ValueError("cannot measure this one")
        return real(self, doc)

    monkeypatch.setattr(LengthFilter, "process", process)
    jsonl_input(tmp_path)
    (tmp_path / "cfg.yaml").write_text(JSONL_CONFIG + "steps:\n  - length_filter: {min_words: 1}\n")
    summary = run_pipeline(str(tmp_path / "cfg.yaml"), str(tmp_path / "out"))
    assert summary["conserved"] and summary["totals"]["kept"] == 4
    [removed] = read_records(str(tmp_path / "out" / "removed"))
    assert removed["reason"] == "stage_error" and removed["details"]["error"] == "ValueError: cannot measure this one"


def test_checkpoint_that_runs_code_is_refused(tmp_path, capsys):
    import torch

    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    run = tmp_path / "evil_run"
    run.mkdir()
    torch.save({"model": Payload(), "config": {}, "args": {}}, run / "ckpt.pt")
    (run / "run.json").write_text(json.dumps({"args": {}}))
    code, err = run_cli(["eval", str(run)], capsys)
    one_line_error(code, err, "ckpt.pt")
    assert not marker.exists()


def test_source_names_from_the_data_never_become_paths_outside_out(tmp_path, capsys):
    text = "ordinary text " * 50
    docs = [{"id": "a", "text": text, "source": "../../travel_escape"}, {"id": "b", "text": text + "x", "source": "ok"}]
    write_parquet(tmp_path / "travin" / "data" / "x.parquet", docs)
    out = tmp_path / "deep" / "er"
    one_line_error(*run_cli(["dedup", "documents", str(tmp_path / "travin" / "data"), "-o", str(out / "dd")], capsys),
                   "../../travel_escape", "x.parquet", in_task=True)
    from helpers import build_corpus

    tok = build_corpus(tmp_path.parent / "train-corpus").parent / "tok"
    one_line_error(*run_cli(["tokenize", "--tokenizer", str(tok), "--input", str(tmp_path / "travin" / "data"),
                             "-o", str(out / "tokens")], capsys), "../../travel_escape", in_task=True)
    assert not (tmp_path / "travel_escape").exists() and not (tmp_path / "deep" / "travel_escape").exists()


def test_ten_thousand_shared_ids_give_a_short_error(tmp_path, capsys):
    text = "same words " * 20
    write_parquet(tmp_path / "data" / "j" / "00000.parquet", [{"id": "same", "text": text, "source": "j"}] * 10_000)
    code, err = run_cli(["dedup", "documents", str(tmp_path / "data"), "-o", str(tmp_path / "dd")], capsys)
    one_line_error(code, err, "'same' occurs 10000 times", in_task=True)


# --- no raw PII anywhere under OUT (B6-B8) -------------------------------------------------------------------

EMAIL_ID, EMAIL_TITLE, EMAIL_NESTED = "jonas.weber@posteo.de", "marta.ruiz@gmx.es", "ole.hansen@online.no"
PHONE_AUTHOR, PASSWORD = "+44 20 7946 0123", "s3cr3tPassw0rd"
EMAIL_URL_QUERY, FTP_PASSWORD = "li.wei@sina.cn", "ftpPassw0rd9"
PLANTED = [EMAIL_ID, EMAIL_TITLE, EMAIL_NESTED, PHONE_AUTHOR, PASSWORD, EMAIL_URL_QUERY, FTP_PASSWORD]


def pii_inputs(root: Path, data_dir: Path) -> Path:
    wiki = [orjson.loads(line) for line in (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()[:6]]
    records = [
        {"id": EMAIL_ID, "title": f"Contact {EMAIL_TITLE}", "author": PHONE_AUTHOR,
         "url": f"https://admin:{PASSWORD}@wiki.internal/p", "text": wiki[0]["text"], "extra": {"who": [EMAIL_NESTED]}},
        {"id": f"short-{EMAIL_TITLE}", "text": "too short"},  # removed before pii: its id goes to removed/
        *[{"id": w["id"], "text": w["text"]} for w in wiki[1:]],
    ]
    (root / "wiki").mkdir(parents=True)
    (root / "wiki" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (root / "web").mkdir()
    url, page = real_pages(1)[0]
    write_warc(root / "web" / "a.warc.gz", [
        {"url": url, "payload": page, "content_type": "text/html; charset=utf-8"},
        {"url": f"http://site.internal/404?email={EMAIL_URL_QUERY}", "payload": b"<html>gone</html>",
         "content_type": "text/html", "status": "404 Not Found"},
        {"url": f"ftp://user:{FTP_PASSWORD}@files.internal/files", "payload": b"\x89PNG" + bytes(40), "content_type": "image/png"},
    ])
    (root / "cfg.yaml").write_text(
        "readers:\n  - jsonl: {path: wiki, source: wiki}\n  - warc: {path: web, source: web}\nsteps:\n"
        "  - html_extract: {timeout: 60}\n  - length_filter: {min_words: 20}\n  - pii: {}\n"
    )
    return root / "cfg.yaml"


def test_no_raw_pii_in_metadata_url_id_quarantine_logs_or_report(tmp_path, data_dir, capsys):
    cfg = pii_inputs(tmp_path, data_dir)
    out = tmp_path / "out"
    code, _ = run_cli(["run", str(cfg), "-o", str(out), "--tasks", "2", "--workers", "2"], capsys)
    assert code == 0
    everything = all_text_under(out)
    assert [v for v in PLANTED if v in everything] == []
    rows = {r["id"]: r for r in kept_rows(out)}
    hashed = [i for i in rows if i.startswith("pii-")]
    assert len(hashed) == 1
    row = rows[hashed[0]]
    meta = orjson.loads(row["metadata"])
    assert meta["title"] == "Contact <EMAIL>" and meta["author"] == "<PHONE>" and meta["extra"] == {"who": ["<EMAIL>"]}
    assert row["url"] == "https://<CREDENTIALS>@wiki.internal/p"
    # Stable across runs: the same id hash again.
    out2 = tmp_path / "out2"
    assert run_cli(["run", str(cfg), "-o", str(out2)], capsys)[0] == 0
    assert hashed[0] in {r["id"] for r in kept_rows(out2)}
    quarantined = read_records(str(out / "quarantine"))
    assert {q["reason"] for q in quarantined} == {"http_status", "no_http_headers"}  # warcio parses http(s) only
    assert any("<EMAIL>" in q["record"] for q in quarantined) and any("<CREDENTIALS>" in q["record"] for q in quarantined)


class CrashHoldingRecord(PipelineStep):
    """A step that dies with a raw record in a local variable, as a reader did on a key named `filepath`."""

    name = "crash"

    def run(self, data, rank: int = 0, world_size: int = 1):
        record = {"text": f"write to {EMAIL_ID} or call {PHONE_AUTHOR}"}
        make_document(record, "x")
        yield


def make_document(record: dict, filepath: str):
    raise TypeError("cannot make a document: got multiple values for argument 'filepath'")


def test_a_task_that_crashes_holding_pii_leaves_none_in_its_log(tmp_path):
    """datatrove's task logger is loguru with diagnose=True: its traceback prints every local variable."""
    from curate.executors import make_executor

    ex = make_executor("local", [CrashHoldingRecord()], 1, 1, str(tmp_path / "logs"), None)
    with pytest.raises(TypeError):
        ex.run()
    log = all_text_under(tmp_path / "logs")
    assert "cannot make a document" in log and [v for v in PLANTED if v in log] == []


def kept_rows(out: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for path in sorted((out / "data").rglob("*.parquet")) for row in pq.read_table(path).to_pylist()]
