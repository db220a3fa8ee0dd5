"""Helpers of the sample builders (scripts/build_sample.py, scripts/sample_wiki.py): a one-line failure,
atomic writes, an even pick from a sorted list, and the versions of the packages an input came from."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn


def fail(message: str) -> NoReturn:
    """Stop with one clear line on stderr (no traceback for a missing input)."""
    print(f"build_sample: error: {message}", file=sys.stderr)
    sys.exit(1)


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temp file + rename so an interrupted run never leaves a
    half-written file that looks valid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def pick_evenly(items: list, count: int) -> list:
    """Deterministically pick `count` items spread evenly over `items`.

    Taking every n-th item of a sorted list avoids clustering on one letter of
    the alphabet (e.g. only the a*-modules of the library) without random
    sampling, which would need a seed and still be fragile across versions.
    """
    n = len(items)
    if count >= n:
        return list(items)
    return [items[(i * n) // count] for i in range(count)]


def dpkg_version(package: str) -> str:
    """Installed version of a Debian package, for the record ('unknown' off Debian)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True, text=True, check=False,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def dist_version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
