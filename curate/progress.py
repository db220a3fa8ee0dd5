"""What a person sees while a recipe runs: one line per job, the tasks done, the time, and an estimate of the
time left; datatrove's own terminal output (its statistics blocks, twice per task) goes to a file beside the
job's logs unless the run is verbose.

On a terminal the line of the running job is redrawn in place; in a log or CI a line is printed every
`every_s` seconds, so the output stays short and says that the run is alive.
"""

import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path


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


class JobProgress:
    """A ticker for one job: polls the completion markers datatrove writes under `logging_dir` and prints
    `[i/n] job: k/t tasks, 12 s, about 30 s left`."""

    def __init__(self, label: str, logging_dir: str, tasks: int, out=None, every_s: float = 10.0):
        self.label, self.logging_dir, self.tasks = label, logging_dir, tasks
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.every_s = 1.0 if self.tty else every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True)
        self.start = time.monotonic()

    def done_tasks(self) -> int:
        from datatrove.io import get_datafolder

        folder = get_datafolder(self.logging_dir)
        try:
            return len(folder.list_files("completions")) if folder.exists("completions") else 0
        except OSError:  # the folder appeared or changed while it was listed
            return 0

    def line(self) -> str:
        done, elapsed = self.done_tasks(), time.monotonic() - self.start
        left = f", about {elapsed / done * (self.tasks - done):.0f} s left" if 0 < done < self.tasks else ""
        return f"{self.label}: {done}/{self.tasks} tasks, {elapsed:.0f} s{left}"

    def _tick(self) -> None:
        while not self._stop.wait(self.every_s):
            self._print(self.line(), final=False)

    def _print(self, text: str, final: bool) -> None:
        if self.tty:
            self.out.write(f"\r\033[K{text}" + ("\n" if final else ""))
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
