"""Measuring a benchmark's child processes: wall time, CPU seconds and peak memory of a whole process tree.

CPU seconds: the larger of the child's rusage (which counts only the descendants it waited for; datatrove's
pool workers are often not among them) and the sum, over every process seen in the tree, of its user +
system time when last sampled (which misses at most the last 0.2 s of each process).

Peak memory is measured two ways: `peak_rss_mb` is ru_maxrss of the waited-for child, the peak RSS of the
largest single process of its tree (exact); `tree_rss_mb` is the peak of the summed RSS of the child and all
its descendants, sampled from /proc every 0.2 s (pages shared between processes count once per process, so it
is an upper bound, and a peak shorter than 0.2 s can be missed).
"""

import os
import subprocess
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


class TreeMemory:
    """Peak summed RSS (bytes) of process `pid` and all its descendants, polled from /proc in a thread, and
    the CPU seconds of every process seen in the tree.

    Polling /proc rather than psutil: no extra dependency, and it sees forkserver and pool workers that a
    wait4() ru_maxrss (largest single process) does not add up."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval, self.peak = pid, interval, 0
        self.cpu_ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            rss, ticks = tree_usage(self.pid)
            self.peak = max(self.peak, rss)
            self.cpu_ticks.update(ticks)
            self._stop.wait(self.interval)

    @property
    def cpu_s(self) -> float:
        return sum(self.cpu_ticks.values()) / TICKS


def tree_usage(root: int) -> tuple[int, dict[int, int]]:
    """Summed RSS of `root` and its descendants now (0 once it is gone), and each one's CPU ticks so far."""
    parent, rss, ticks = {}, {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
        except OSError:  # exited while we looked
            continue
        pid = int(entry.name)
        parent[pid], rss[pid] = int(fields[1]), int(fields[21]) * PAGE
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, tree, todo = 0, {}, [root] if root in rss else []
    while todo:
        pid = todo.pop()
        total += rss[pid]
        tree[pid] = ticks[pid]
        todo += children.get(pid, [])
    return total, tree


def run_child(cmd: list[str], log: Path) -> dict:
    """Run one measured child process: wall seconds, CPU seconds of its tree, both peak memory figures."""
    start = time.monotonic()
    with open(log, "wb") as err:  # a file, not a pipe: nobody reads a pipe while we wait
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        with TreeMemory(proc.pid) as mem:
            # wait4 on this child: its usage includes every descendant it waited for (pool workers, forkserver)
            _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if status != 0:
        raise SystemExit(f"failed (status {status}): {' '.join(cmd)}; see {log}")
    return {"wall_s": round(wall, 1), "cpu_s": round(max(usage.ru_utime + usage.ru_stime, mem.cpu_s), 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024), "tree_rss_mb": round(mem.peak / 2**20)}
