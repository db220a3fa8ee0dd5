"""Measuring a benchmark's child process: wall time, and the CPU seconds and peak memory of its whole tree.

Used by benchmarks/dedup.py, pipeline.py and tokenizer.py. CPU time and memory cover the child's whole process
tree (pool and forkserver workers too), from wait4() and from /proc polled every 0.2 s:
- `peak_rss_mb`, the largest single process: the child's own high-water mark (VmHWM, exact), and for the
  processes under it their peak proportional set size (Pss, sampled). Not their VmHWM: a forked process's RSS
  counts every page it still shares with its parent, so a worker forked from a 500 MB parent reports ~500 MB
  before it allocates anything (measured: VmHWM 522,636 kB, Pss 260,242 kB in a child that touched nothing);
  Pss splits a shared page among its sharers.
- `tree_pss_mb`, the peak of the summed Pss of all of them at one moment: the tree's memory, each page
  counted once (a peak shorter than 0.2 s can be missed).
- `tree_rss_mb`, the peak of their summed RSS: an upper bound (a shared page counts once per process).
"""

import os
import subprocess
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


class TreeUsage:
    """CPU and memory of process `pid` and all its descendants, polled from /proc in a thread.

    Why poll: datatrove's pool workers are children of a forkserver that nobody waits for, so neither the
    wait4() usage of our child nor RUSAGE_CHILDREN sees their CPU time or memory. Polling /proc (no psutil
    dependency) sees them; a process stays counted after it is re-parented (keyed by pid and start time)."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.tree_rss = 0  # peak of the summed RSS of the live processes of the tree, bytes
        self.tree_pss = 0  # peak of their summed Pss, bytes
        self.rss: dict[tuple, int] = {}  # peak per process (the child: VmHWM; under it: Pss), bytes
        self.ticks: dict[tuple, int] = {}  # last seen user + system clock ticks per process
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def cpu_s(self) -> float:
        return sum(self.ticks.values()) / TICK

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        table = proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, *_) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.pid] if self.pid in table else []
        while todo:
            pid = todo.pop()
            self.rss.setdefault((pid, table[pid][1]), 0)
            todo += children.get(pid, [])
        alive = [key for key in self.rss if key[0] in table and table[key[0]][1] == key[1]]
        pss = {key: proportional_set_size(key[0]) for key in alive}
        for key in alive:
            _, _, rss, ticks = table[key[0]]
            own = peak_rss(key[0]) if key[0] == self.pid else pss[key]
            self.rss[key] = max(self.rss[key], own)
            self.ticks[key] = ticks
        self.tree_rss = max(self.tree_rss, sum(table[key[0]][2] for key in alive))
        self.tree_pss = max(self.tree_pss, sum(pss.values()))


def _proc_kb(path: str, field: str) -> int:
    """A "<field>: <n> kB" line of a /proc file, in bytes; 0 when the process is gone."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def peak_rss(pid: int) -> int:
    """The kernel's high-water mark of a process's RSS (VmHWM), bytes: exact, unlike a sampled RSS."""
    return _proc_kb(f"/proc/{pid}/status", "VmHWM:")


def proportional_set_size(pid: int) -> int:
    """A process's Pss, bytes: its private pages and its share of each page it shares with others."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def proc_table() -> dict[int, tuple[int, int, int, int]]:
    """pid -> (parent pid, start time, RSS bytes, user + system clock ticks) of every process now."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
        except OSError:  # exited while we looked
            continue
        # fields[0] is field 3 of proc(5): ppid 4, utime 14, stime 15, starttime 22, rss 24
        ppid, start, rss, ticks = int(fields[1]), int(fields[19]), int(fields[21]) * PAGE, int(fields[11]) + int(fields[12])
        table[int(entry.name)] = (ppid, start, rss, ticks)
    return table


def run_child(cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run one measured child process: wall seconds, CPU seconds of its tree, peak memory.

    CPU: wait4() is exact for the child and what it waited for, polling sees the rest but misses a process's
    last 0.2 s: each is a lower bound of the tree's CPU time, so take the larger. The largest process: the
    child's high-water mark (VmHWM), its descendants' sampled Pss (see the module's docstring).
    The summed RSS counts a page shared by several processes once per process: an upper bound; the summed
    Pss counts it once."""
    start = time.monotonic()
    with open(log, "wb") as err:  # a file, not a pipe: nobody reads a pipe while we wait
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        with TreeUsage(proc.pid) as tree:
            _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if status != 0:
        raise SystemExit(f"failed (status {status}): {' '.join(cmd)}; see {log}")
    return {"wall_s": round(wall, 1), "cpu_s": round(max(usage.ru_utime + usage.ru_stime, tree.cpu_s), 1),
            # not wait4's ru_maxrss: Linux carries it over execve, so it reports the benchmark's own RSS at
            # the fork when that is larger than the child's
            "peak_rss_mb": round(max(*tree.rss.values(), 0) / 2**20),
            "tree_rss_mb": round(tree.tree_rss / 2**20), "tree_pss_mb": round(tree.tree_pss / 2**20),
            "processes": len(tree.rss)}
