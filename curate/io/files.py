"""File fingerprints for cards and manifests, and writes that a kill cannot leave half done."""

import hashlib
import json
import os
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (models and checkpoints can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json_atomic(path: Path, obj) -> None:
    """`obj` as JSON at `path`, written beside it first and renamed: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
