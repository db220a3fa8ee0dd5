"""The progress line of a job: what the tasks of a pass counted so far, the rate, the share kept and the time left."""

import io
import json
import time

from curate.progress import JobProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def write_counts(folder, rank, **counts):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rank:05d}.json").write_text(json.dumps(counts))


def test_the_line_sums_the_tasks_and_estimates_the_time_left_from_the_input_read(tmp_path):
    progress = tmp_path / "progress"
    write_counts(progress, 0, documents=1200, bytes=3_000_000, kept=300, input_bytes_done=2_000_000, done=False)
    ticker = JobProgress("[1/3] pass-1", str(tmp_path / "logs"), 2, out=io.StringIO(), progress=str(progress),
                         input_bytes=8_000_000)
    ticker.start -= 10  # as if the job had started 10 s ago, with none of that counted
    ticker.first = ({"documents": 0, "bytes": 0, "kept": 0, "input_bytes_done": 0}, 0)
    write_counts(progress, 1, documents=800, bytes=2_000_000, kept=200, input_bytes_done=2_000_000, done=False)
    line = ticker.line()
    # 2,000 documents, 5.0 MB, 25 % kept; half the input bytes in 10 s: about 10 s left
    assert line.startswith("[1/3] pass-1: 2,000 docs (5.0 MB) read, 200 docs/s, 25% kept, 0/2 tasks, ~10 s left ("), line


def test_a_resumed_job_counts_its_rate_from_what_this_run_read(tmp_path):
    progress = tmp_path / "progress"
    write_counts(progress, 0, documents=1000, bytes=10, kept=10, input_bytes_done=5, done=True)  # an earlier run
    ticker = JobProgress("pass-1", str(tmp_path / "logs"), 2, out=io.StringIO(), progress=str(progress), input_bytes=10)
    ticker.start -= 10
    write_counts(progress, 1, documents=100, bytes=10, kept=10, input_bytes_done=0, done=False)
    assert ", 10 docs/s, " in ticker.line() and "s left" not in ticker.line()  # no input finished in this run yet


def test_on_a_terminal_the_line_is_redrawn_in_place_and_cut_to_its_width(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    out = Terminal()
    with JobProgress("[2/3] minhash_dedup-signatures", str(tmp_path / "logs"), 4, out=out):
        time.sleep(0.05)
    text = out.getvalue()
    assert text.startswith("\r\x1b[K[2/3] minhash_dedup-signatures: 0/4 ta") and text.endswith("\n")
    assert all(len(chunk.rstrip("\n")) <= 39 for chunk in text.split("\r\x1b[K")[1:])
