"""Append-only gzipped JSONL logs for what a stage removed or a reader quarantined.

One file per (folder, rank), opened on the first record so a clean task leaves no empty file; a file left by an
earlier attempt of the same task is deleted when the task starts. The gzip
header carries no timestamp or name, so the same records give the same bytes: a rerun after a kill
overwrites a half-written file with an identical, complete one.
"""

import gzip
from typing import Protocol

import orjson
from datatrove.io import DataFolderLike, get_datafolder


class RecordScrubber(Protocol):
    """What a pipeline with a `pii` step applies to the records it writes besides documents (the `pii` stage
    itself: curate.pii.scrubber.PIIScrubber)."""

    def scrub_text(self, text: str) -> str: ...

    def scrub_id(self, doc_id: str) -> str: ...


def scrub_strings(value, scrub: RecordScrubber | None):
    """`value` scrubbed if it is a string, or its string values if it is a mapping (a Drop's details); anything
    else, or no `scrub`, as it is. For the text fields of removed/ and quarantine/ records in a pipeline that
    scrubs PII: files, stages and reasons are left alone, so that a record still says where its document was."""
    if scrub is None:
        return value
    if isinstance(value, str):
        return scrub.scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub.scrub_text(v) if isinstance(v, str) else v for k, v in value.items()}
    return value


def error_text(e: BaseException) -> str:
    """An exception as a quarantine or removed/ record gives it: its type and the start of its message."""
    return f"{type(e).__name__}: {e}"[:500]


class RecordLog:
    def __init__(self, folder: DataFolderLike, rank: int):
        self.folder = get_datafolder(folder)
        self.filename = f"{rank:05d}.jsonl.gz"
        self._raw = None
        self._gz = None
        # A rerun of a task that was killed or crashed may write nothing here: the earlier attempt's file
        # would then stay beside records the stats no longer count.
        if self.folder.isfile(self.filename):
            self.folder.rm_file(self.filename)

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


def iter_records(folder: str):
    """The records under a removed/ or quarantine/ folder one by one, in a stable order (by file path)."""
    from pathlib import Path

    for path in sorted(Path(folder).rglob("*.jsonl.gz")):
        with gzip.open(path, "rb") as f:
            yield from (orjson.loads(line) for line in f if line.strip())


def read_records(folder: str) -> list[dict]:
    """All records under a removed/ or quarantine/ folder, in a stable order (by file path)."""
    return list(iter_records(folder))
