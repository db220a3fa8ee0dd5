"""Append-only gzipped JSONL logs for what a stage removed or a reader quarantined.

One file per (folder, rank), opened on the first record so a clean task leaves no empty file. The gzip
header carries no timestamp or name, so the same records give the same bytes: a rerun after a kill
overwrites a half-written file with an identical, complete one.
"""

import gzip

import orjson
from datatrove.io import DataFolderLike, get_datafolder


class RecordLog:
    def __init__(self, folder: DataFolderLike, rank: int):
        self.folder = get_datafolder(folder)
        self.filename = f"{rank:05d}.jsonl.gz"
        self._raw = None
        self._gz = None

    def write(self, record: dict) -> None:
        if self._gz is None:
            self._raw = self.folder.open(self.filename, "wb")
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._gz.write(orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n")

    def close(self) -> None:
        if self._gz is not None:
            self._gz.close()
            self._raw.close()
            self._gz = self._raw = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_records(folder: str) -> list[dict]:
    """All records under a removed/ or quarantine/ folder, in a stable order (by file path)."""
    from pathlib import Path

    records = []
    for path in sorted(Path(folder).rglob("*.jsonl.gz")):
        with gzip.open(path, "rb") as f:
            records.extend(orjson.loads(line) for line in f if line.strip())
    return records
