"""Seeded fuzzing of every reader with real files cut, flipped, spliced and padded: no hang, no exception out
of the reader, records = documents + quarantined, and no silent loss: when a document of the intact file is
missing from what was read, a quarantine entry or a changed document says where it went."""

import bz2
import gzip
import io
import random
import signal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.io.books import BookReader
from curate.io.jsonl import JsonlReader
from curate.io.parquet import ParquetReader
from curate.io.warc import WarcReader
from helpers import read_all, real_pages, write_warc

CASES_PER_FORMAT = 30
SECONDS_PER_CASE = 30


def sample_files(data_dir, tmp_path) -> dict[str, tuple[type, bytes]]:
    """name -> (reader class, bytes) of small real files in every format the readers take."""
    pages = [{"url": u, "payload": p[:4000], "content_type": "text/html; charset=utf-8"} for u, p in real_pages(6)]
    for ext in ("warc", "warc.gz"):
        write_warc(tmp_path / f"m.{ext}", pages)
    lines = b"".join((data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines(keepends=True)[:12])
    table = pa.Table.from_pylist([orjson.loads(line) for line in lines.splitlines()])
    parquet = io.BytesIO()
    pq.write_table(table, parquet, row_group_size=4)
    book = (data_dir / "books" / "hamlet.txt").read_bytes()[:20_000]
    return {
        "m.warc": (WarcReader, (tmp_path / "m.warc").read_bytes()),
        "m.warc.gz": (WarcReader, (tmp_path / "m.warc.gz").read_bytes()),
        "a.jsonl": (JsonlReader, lines),
        "a.jsonl.gz": (JsonlReader, gzip.compress(lines, mtime=0)),
        "a.jsonl.zst": (JsonlReader, zstandard.ZstdCompressor().compress(lines)),
        "a.jsonl.bz2": (JsonlReader, bz2.compress(lines)),
        "a.parquet": (ParquetReader, parquet.getvalue()),
        "b.txt": (BookReader, book),
        "b.txt.gz": (BookReader, gzip.compress(book, mtime=0)),
    }


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["truncate", "flip", "delete", "duplicate", "insert", "zero"])
    i = rng.randrange(len(data))
    j = min(len(data), i + rng.randrange(1, 400))
    if kind == "truncate":
        return kind, data[:i]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "delete":
        return kind, data[:i] + data[j:]
    if kind == "duplicate":
        return kind, data[:j] + data[i:j] + data[j:]
    if kind == "insert":
        return kind, data[:i] + rng.randbytes(rng.randrange(1, 64)) + data[i:]
    return kind, data[:i] + bytes(j - i) + data[j:]


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def read_with_guard(reader, tmp_path):
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_CASE)
    try:
        return read_all(reader, tmp_path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", ["m.warc", "m.warc.gz", "a.jsonl", "a.jsonl.gz", "a.jsonl.zst", "a.jsonl.bz2",
                                  "a.parquet", "b.txt", "b.txt.gz"])
def test_mutated_files_lose_nothing_silently(data_dir, tmp_path, name):
    reader_cls, data = sample_files(data_dir, tmp_path)[name]
    (tmp_path / "intact").mkdir()
    (tmp_path / "intact" / name).write_bytes(data)
    intact, bad = read_all(reader_cls(str(tmp_path / "intact"), "src"), tmp_path / "intact-q")
    assert intact and bad == []
    originals = {d.text for d in intact}
    rng = random.Random(f"{name}-2026")
    outcomes = set()
    for case in range(CASES_PER_FORMAT):
        kind, mutated = mutate(data, rng)
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        (folder / name).write_bytes(mutated)
        reader = reader_cls(str(folder), "src")
        docs, quarantined = read_with_guard(reader, folder / "q")  # raises (test fails) on a hang or an escape
        where = (name, case, kind)
        stats = reader.stats
        assert stats["records"].total == len(docs) + len(quarantined), where
        missing = originals - {d.text for d in docs}
        changed = [d for d in docs if d.text not in originals]
        assert not missing or quarantined or changed, where
        outcomes.add((bool(missing), bool(quarantined), bool(changed)))
    assert outcomes - {(False, False, False)}  # the mutations reached the reader: not every case read as intact
