"""Readers against hostile and broken files (the cases of the hostile-input report, B2-B5, B11, B15): every record
is a document or a quarantine entry, and a file that ends early or lies about its lengths says so.

The truncation sweeps are the oracle test: for every cut point, the documents read are exactly the records that
lie whole before the cut, and unless the cut falls on a record boundary (where nothing can tell the file is
short) there is a quarantine entry that says the file broke."""

import gzip
import io
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from warcio.archiveiterator import ArchiveIterator

from curate.io.books import BookReader
from curate.io.jsonl import JsonlReader
from curate.io.parquet import ParquetReader
from curate.io.warc import WarcReader
from helpers import read_all, real_pages, write_warc

BROKEN = {"truncated_or_corrupt_file", "truncated_record", "bad_record_length", "bad_record_framing", "unreadable_file"}


def small_pages(n: int) -> list[dict]:
    return [{"url": u, "payload": p[:3000], "content_type": "text/html; charset=utf-8"} for u, p in real_pages(n)]


def record_ends(path) -> list[int]:
    """Byte offsets (in the file as stored) where each record ends."""
    with open(path, "rb") as f:
        records = ArchiveIterator(f)
        ends = []
        for r in records:
            r.content_stream().read()
            ends.append(records.get_record_offset() + records.get_record_length())
    return ends


def read_bytes_as(tmp_path, name: str, data: bytes, reader_cls, **kwargs):
    folder = tmp_path / "in"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / name).write_bytes(data)
    q = tmp_path / "q"
    if q.exists():
        import shutil

        shutil.rmtree(q)
    return read_all(reader_cls(str(folder), "src", **kwargs), tmp_path)


@pytest.mark.parametrize("ext", ["warc.gz", "warc"])
def test_warc_cut_anywhere_loses_nothing_silently(tmp_path, ext):
    pages = small_pages(8)
    path = tmp_path / f"m.{ext}"
    write_warc(path, pages)
    raw, ends = path.read_bytes(), record_ends(path)
    full = [d.text for d in read_bytes_as(tmp_path / "full", "m." + ext, raw, WarcReader)[0]]
    assert len(full) == 8
    boundary_slack = 0 if ext == "warc.gz" else 4  # an uncompressed record is followed by \r\n\r\n
    silent = []
    for cut in range(1, len(raw), 41):
        docs, bad = read_bytes_as(tmp_path / "cut", "m." + ext, raw[:cut], WarcReader)
        whole = sum(end <= cut for end in ends)
        # nothing complete lost, nothing partial kept (a gzip member cut in its 8-byte trailer holds a whole page)
        assert [d.text for d in docs] == full[: len(docs)] and len(docs) in (whole, whole + 1), cut
        at_boundary = cut == 0 or any(end <= cut <= end + boundary_slack for end in ends)
        if not at_boundary and not any(b["reason"] in BROKEN for b in bad):
            silent.append(cut)
    assert silent == []


def test_warc_with_wrong_content_length_quarantines_the_record_and_reads_on(tmp_path):
    pages = small_pages(8)
    path = tmp_path / "m.warc"
    write_warc(path, pages)
    raw = path.read_bytes()
    first = re.search(rb"Content-Length: (\d+)\r\n", raw)
    for delta in (500, -500):
        bad_len = raw[: first.start(1)] + str(int(first.group(1)) + delta).encode() + raw[first.end(1) :]
        docs, bad = read_bytes_as(tmp_path / str(delta), "m.warc", bad_len, WarcReader)
        reasons = [b["reason"] for b in bad]
        assert reasons[0] == "bad_record_length" and bad[0]["record"].startswith("1 (")
        # the cut or swollen page is not kept; every record after the damage is read again
        urls = [d.metadata["url"] for d in docs]
        assert pages[0]["url"] not in urls
        assert urls[-5:] == [p["url"] for p in pages[-5:]]
        assert len(docs) + len(bad) >= 7


def test_warc_charset_that_is_not_a_text_encoding_quarantines_one_record(tmp_path):
    page = b"<!doctype html><html><body><article><p>" + b"The quick brown fox jumps. " * 60 + b"</p></article></body></html>"
    charsets = ["utf-8"] * 3 + ["base64", "idna", "hex", "zlib"] + ["utf-8"] * 5
    records = [{"url": f"http://x.example/{i}", "payload": page, "content_type": f"text/html; charset={cs}"}
               for i, cs in enumerate(charsets)]
    (tmp_path / "in").mkdir()
    write_warc(tmp_path / "in" / "m.warc.gz", records)
    docs, bad = read_all(WarcReader(str(tmp_path / "in"), "web"), tmp_path)
    assert len(docs) == 8
    assert [b["reason"] for b in bad] == ["unknown_charset"] * 4


def test_truncated_zstd_jsonl_is_reported_with_the_lines_before_it(data_dir, tmp_path):
    lines = b"".join(json.dumps({"text": f"line {i} with some words"}).encode() + b"\n" for i in range(3000))
    one_shot = zstandard.ZstdCompressor().compress(lines)
    streamed = io.BytesIO()
    with zstandard.ZstdCompressor().stream_writer(streamed, closefd=False) as w:
        for i in range(0, len(lines), 7000):
            w.write(lines[i : i + 7000])
            w.flush(zstandard.FLUSH_BLOCK)
    for name, data in (("one-shot", one_shot), ("streamed", streamed.getvalue())):
        docs, bad = read_bytes_as(tmp_path / name, "a.jsonl.zst", data[: len(data) // 2], JsonlReader)
        assert bad and bad[-1]["reason"] == "truncated_or_corrupt_file", name
        assert [d.text for d in docs] == [f"line {i} with some words" for i in range(len(docs))]
        assert all(b["reason"] in ("truncated_or_corrupt_file", "malformed_json") for b in bad)


@pytest.mark.parametrize("ext,compress", [("gz", gzip.compress), ("zst", zstandard.ZstdCompressor().compress),
                                          ("bz2", None), ("xz", None)])
def test_compressed_jsonl_cut_anywhere_is_reported(data_dir, tmp_path, ext, compress):
    import bz2
    import lzma

    compress = compress or {"bz2": bz2.compress, "xz": lzma.compress}[ext]
    raw = b"".join((data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines(keepends=True)[:30])
    data = compress(raw)
    full, bad = read_bytes_as(tmp_path / "full", f"a.jsonl.{ext}", data, JsonlReader)
    assert len(full) == 30 and bad == []
    for cut in range(1, len(data), max(1, len(data) // 25)):
        docs, bad = read_bytes_as(tmp_path / "cut", f"a.jsonl.{ext}", data[:cut], JsonlReader)
        assert [d.text for d in docs] == [d.text for d in full[: len(docs)]]
        assert bad and bad[-1]["reason"] == "truncated_or_corrupt_file", (ext, cut)


def test_record_keys_named_like_reader_arguments_are_kept(tmp_path):
    line = {"id": "x", "text": "some words here", "doc_id": "v", "filepath": "f", "self": 1, "source": "theirs",
            "file": "theirs.txt", "metadata": "m"}
    docs, bad = read_bytes_as(tmp_path, "a.jsonl", json.dumps(line).encode() + b"\n", JsonlReader)
    assert bad == [] and len(docs) == 1
    meta = docs[0].metadata
    assert (meta["doc_id"], meta["filepath"], meta["self"]) == ("v", "f", 1)
    assert (meta["source"], meta["record_source"], meta["record_file"]) == ("src", "theirs", "theirs.txt")
    table = pa.Table.from_pylist([{**line, "text": "row text"}])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    docs, bad = read_bytes_as(tmp_path / "pq", "a.parquet", sink.getvalue(), ParquetReader)
    assert bad == [] and docs[0].metadata["doc_id"] == "v" and docs[0].metadata["record_source"] == "theirs"


@pytest.mark.parametrize("content", [b"", b"not a parquet file at all" * 10, b"PAR1" + bytes(100) + b"PAR1"])
def test_unreadable_parquet_is_quarantined_by_name_and_the_next_file_is_read(tmp_path, content):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.parquet").write_bytes(content)
    pq.write_table(pa.Table.from_pylist([{"id": "ok", "text": "a good row"}]), tmp_path / "in" / "b.parquet")
    docs, bad = read_all(ParquetReader(str(tmp_path / "in"), "src"), tmp_path)
    assert [d.id for d in docs] == ["ok"]
    assert len(bad) == 1 and bad[0]["file"] == "a.parquet" and bad[0]["detail"]
    assert bad[0]["reason"] in ("unreadable_file", "truncated_or_corrupt_file")


def test_parquet_without_the_text_column_is_quarantined_with_the_fix(tmp_path):
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist([{"id": "a", "body": "text here"}]), tmp_path / "in" / "a.parquet")
    docs, bad = read_all(ParquetReader(str(tmp_path / "in"), "src"), tmp_path)
    assert docs == [] and bad[0]["reason"] == "no_text_column" and "text_key" in bad[0]["detail"]


def test_a_record_that_makes_parsing_raise_is_quarantined_alone(tmp_path, monkeypatch):
    lines = [{"text": f"document {i} words"} for i in range(5)]
    data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    real_parse = JsonlReader.parse

    def parse(self, line, where, filepath):
        if where == "line 3":
            raise KeyError("unexpected")
        return real_parse(self, line, where, filepath)

    monkeypatch.setattr(JsonlReader, "parse", parse)
    docs, bad = read_bytes_as(tmp_path, "a.jsonl", data, JsonlReader)
    assert [d.text for d in docs] == ["document 0 words", "document 1 words", "document 3 words", "document 4 words"]
    assert [(b["record"], b["reason"], b["detail"]) for b in bad] == [("line 3", "record_error", "KeyError: 'unexpected'")]


def test_compressed_books_are_read_and_a_cut_one_is_reported(data_dir, tmp_path):
    text = (data_dir / "books" / "hamlet.txt").read_bytes()
    docs, bad = read_bytes_as(tmp_path / "whole", "hamlet.txt.gz", gzip.compress(text), BookReader)
    assert bad == [] and docs[0].text == text.decode().strip("\n")
    docs, bad = read_bytes_as(tmp_path / "cut", "hamlet.txt.gz", gzip.compress(text)[:5000], BookReader)
    assert docs == [] and [b["reason"] for b in bad] == ["truncated_or_corrupt_file"]
