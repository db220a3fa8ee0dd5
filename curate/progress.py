"""What a person sees while a recipe runs: one line per job with, for a pass, the documents and megabytes read,
the rate, the share kept, the tasks done, the time and an estimate of the time left; datatrove's own terminal
output (its statistics blocks, twice per task) goes to a file beside the job's logs unless the run is verbose.

On a terminal the line of the running job is redrawn in place; in a log or CI a line is printed every
`every_s` seconds, so the output stays short and says that the run is alive.

datatrove writes a task's statistics only when the task ends, and its log says no more than which input file a
task opened. So a pass counts for itself: `with_probes` puts two small callables into its pipeline (datatrove
runs any callable `(data, rank, world_size)` as a step and keeps no statistics for it, so the funnel of
stats.json is unchanged), one after the readers and one before the writer. Each task writes its counts to
`<progress folder>/<rank>.json` at most once a second; the display polls those small files.
"""

import json
import os
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

WRITE_EVERY_S = 1.0
# A task's counts, shared by its two probes (they run in the same process): {(folder, rank): counts}
_TASKS: dict[tuple[str, int], dict] = {}


@contextmanager
def terminal_to(path: str | None):
    """File descriptor 2 (stderr of this process and of every process it starts while inside) to `path`, or
    left alone when `path` is None. At the descriptor, not `sys.stderr`: datatrove's workers are other
    processes, and loguru holds its own reference to the stream."""
    if path is None:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


class _Probe:
    """Counts what flows past it for the task's progress file; `role` is "read" (after the readers: documents,
    bytes of text, bytes of the input files finished) or "kept" (before the writer: documents kept)."""

    def __init__(self, folder: str, role: str, readers: list):
        self.folder, self.role = folder, role
        # the input folder of each source, to size the input files a task has finished (for the estimate)
        self.inputs = {r.source: r.data_folder for r in readers}
        self.readers = readers

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        # The kept probe's generator starts first (the writer pulls from it), the read probe's when the first
        # document is pulled through the stages: both take the one dict, and the read probe zeroes it in place.
        counts = _TASKS.setdefault((self.folder, rank), {})
        if self.role == "read":
            counts.update(documents=0, bytes=0, kept=0, input_bytes_done=0, done=False, _file=None, _written=0.0)
            _write(self.folder, rank, counts)  # a rerun of a killed task starts again from zero
            for doc in data:
                counts["documents"] += 1
                counts["bytes"] += len(doc.text.encode("utf-8", "replace"))
                where = (doc.metadata.get("source"), doc.metadata.get("file"))
                if where != counts["_file"]:
                    self._finished(counts)
                    counts["_file"] = where
                _maybe_write(self.folder, rank, counts)
                yield doc
            # every file of the task's shard is read now, those that gave no document too
            counts["input_bytes_done"] = sum(
                r.data_folder.size(path)
                for r in self.readers
                for path in r.data_folder.get_shard(rank, world_size, recursive=r.recursive, glob_pattern=r.glob_pattern)
            )
        else:
            for doc in data:
                counts["kept"] += 1
                _maybe_write(self.folder, rank, counts)
                yield doc
            counts["done"] = True
            _write(self.folder, rank, counts)
            _TASKS.pop((self.folder, rank), None)

    def _finished(self, counts: dict) -> None:
        source, file = counts["_file"] or (None, None)
        if file is not None and (folder := self.inputs.get(source)) is not None:
            try:
                counts["input_bytes_done"] += folder.size(file)
            except OSError:  # only the estimate of the time left needs it
                pass


def _maybe_write(folder: str, rank: int, counts: dict) -> None:
    if time.monotonic() - counts["_written"] >= WRITE_EVERY_S:
        _write(folder, rank, counts)


def _write(folder: str, rank: int, counts: dict) -> None:
    counts["_written"] = time.monotonic()
    path = Path(folder) / f"{rank:05d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # the display reads while the task writes
    tmp.write_text(json.dumps({k: v for k, v in counts.items() if not k.startswith("_")}))
    os.replace(tmp, path)


def with_probes(steps: list, readers: int, folder: str) -> list:
    """A pass's steps (`readers` readers first, the writer last) with the two probes that count its progress into
    `folder` (a local folder: on a cluster, a shared one)."""
    head = steps[:readers]
    return [*head, _Probe(folder, "read", head), *steps[readers:-1], _Probe(folder, "kept", head), steps[-1]]


def read_counts(folder: str | None) -> dict:
    """The counts of every task of a pass so far, summed."""
    total = {"documents": 0, "bytes": 0, "kept": 0, "input_bytes_done": 0}
    if folder is None or not Path(folder).is_dir():
        return total
    for path in Path(folder).glob("*.json"):
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):  # replaced while read: the next tick reads it
            continue
        for k in total:
            total[k] += counts.get(k, 0)
    return total


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e10 else f"{n / 1e9:.1f} GB"


class JobProgress:
    """A ticker for one job: polls the completion markers datatrove writes under `logging_dir` and, for a pass,
    the counts its tasks write to `progress` (with_probes), and prints
    `[1/8] pass-1: 1,204 docs (9.8 MB) read, 52 docs/s, 86% kept, 0/2 tasks, ~31 s left (23 s so far)`, the
    most useful first (a terminal cuts the line to its width).
    The time left is estimated from the share of the input bytes (`input_bytes`, all tasks) in files finished,
    or of the tasks done, whichever is further; rates count only what this run read (a resumed run's finished
    tasks are not part of it)."""

    def __init__(self, label: str, logging_dir: str, tasks: int, out=None, every_s: float = 10.0,
                 progress: str | None = None, input_bytes: int = 0):
        self.label, self.logging_dir, self.tasks = label, logging_dir, tasks
        self.progress, self.input_bytes = progress, input_bytes
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.every_s = 1.0 if self.tty else every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self.start = time.monotonic()
        self.first = read_counts(progress), self.done_tasks()

    def done_tasks(self) -> int:
        from datatrove.io import get_datafolder

        folder = get_datafolder(self.logging_dir)
        try:
            return len(folder.list_files("completions")) if folder.exists("completions") else 0
        except OSError:  # the folder appeared or changed while it was listed
            return 0

    def fraction(self, counts: dict, done: int) -> float:
        by_bytes = counts["input_bytes_done"] / self.input_bytes if self.input_bytes else 0.0
        return min(1.0, max(by_bytes, done / self.tasks if self.tasks else 0.0))

    def line(self) -> str:
        done, elapsed = self.done_tasks(), time.monotonic() - self.start
        counts = read_counts(self.progress)
        parts = []
        if self.progress is not None:
            rate = (counts["documents"] - self.first[0]["documents"]) / elapsed if elapsed > 0 else 0.0
            kept = 100 * counts["kept"] / counts["documents"] if counts["documents"] else 0.0
            parts += [f"{counts['documents']:,} docs ({_mb(counts['bytes'])}) read", f"{rate:.0f} docs/s", f"{kept:.0f}% kept"]
        parts.append(f"{done}/{self.tasks} tasks")
        if done == self.tasks:
            parts.append(f"done in {elapsed:.0f} s")
        else:
            now, then = self.fraction(counts, done), self.fraction(*self.first)
            left = f"~{elapsed * (1 - now) / (now - then):.0f} s left " if now > then and elapsed > 0 else ""
            parts.append(f"{left}({elapsed:.0f} s so far)")
        return f"{self.label}: " + ", ".join(parts)

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            self._print(self.line(), final=False)

    def _print(self, text: str, final: bool) -> None:
        if self.tty:
            width = shutil.get_terminal_size().columns - 1  # a line that wraps is not redrawn in place
            self.out.write(f"\r\033[K{text[:width]}" + ("\n" if final else ""))
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def __enter__(self):
        self._print(self.line(), final=False)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._print(self.line(), final=True)
