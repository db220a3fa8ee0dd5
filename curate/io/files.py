"""File fingerprints for cards and manifests, and writes that a kill cannot leave half done."""

import hashlib
import json
import os
import threading
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (models and checkpoints can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json_atomic(path: Path, obj) -> None:
    """`obj` as JSON at `path`, written beside it first and renamed: a reader never sees half a file. The name
    beside it is the writer's own (process and thread), since tasks running at once may write the same file
    (each task of a unit index writes the index's card)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def write_json_to(folder: str, name: str, obj) -> None:
    """`obj` as JSON at folder/name, where folder is a local path or a store URL: on a local disk through
    write_json_atomic; on an object store one upload, which is atomic already."""
    from curate.io.paths import is_remote

    if not is_remote(folder):
        write_json_atomic(Path(folder) / name, obj)
        return
    from datatrove.io import get_datafolder

    with get_datafolder(folder).open(name, "w") as f:
        f.write(json.dumps(obj, indent=1, sort_keys=True) + "\n")


def read_json_from(folder: str, name: str):
    """The JSON at folder/name (a local path or a store URL), or None when there is no such file."""
    from datatrove.io import get_datafolder

    data = get_datafolder(folder)
    if not data.isfile(name):
        return None
    with data.open(name, "r") as f:
        return json.load(f)
