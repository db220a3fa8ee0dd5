"""Readers on the bundled sample and on broken input: every record is a document or a quarantine entry."""

import gzip
import time

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from curate.io.books import BookReader
from curate.io.jsonl import JsonlReader
from curate.io.parquet import ParquetReader
from curate.io.warc import WarcReader
from helpers import read_all, real_pages, write_warc

MB = 1 << 20


def test_warc_reads_every_page_of_the_sample(data_dir, tmp_path):
    docs, bad = read_all(WarcReader(str(data_dir / "web"), "web"), tmp_path)
    assert bad == []
    assert len(docs) == 213
    assert len({d.id for d in docs}) == len(docs)
    assert all(d.metadata["url"].startswith("https://docs.python.org/3.11/") for d in docs)
    assert all(d.metadata["source"] == "web" and "<html" in d.text[:500].lower() for d in docs)


def test_xhtml_page_without_payload_type_header_is_read(tmp_path):
    # datatrove's WarcReader asks libmagic when WARC-Identified-Payload-Type is absent; libmagic calls an
    # XHTML page with an <?xml prologue "text/xml" and the page is dropped silently. The HTTP header decides here.
    url, html = real_pages(1)[0]
    xhtml = b'<?xml version="1.0" encoding="utf-8"?>\n' + html.lstrip()
    (tmp_path / "in").mkdir()
    write_warc(tmp_path / "in" / "x.warc.gz", [{"url": url, "payload": xhtml, "content_type": "application/xhtml+xml; charset=utf-8"}])
    docs, bad = read_all(WarcReader(str(tmp_path / "in"), "web"), tmp_path)
    assert bad == [] and len(docs) == 1
    assert docs[0].metadata["content_type"] == "application/xhtml+xml"


def test_warc_bad_records_are_quarantined_with_reasons(tmp_path):
    pages = real_pages(40)
    (url1, page1), (url3, page3) = pages[:2]
    # A page saved in Windows-1252 but declared UTF-8: every accented letter becomes an invalid byte.
    url2, page2 = max(pages[2:], key=lambda p: sum(b > 127 for b in p[1]) / len(p[1]))
    garbled = page2.decode("utf-8").encode("cp1252", errors="replace")
    one_bad_byte = page3[:2000] + b"\xff" + page3[2000:]
    (tmp_path / "in").mkdir()
    write_warc(
        tmp_path / "in" / "a.warc.gz",
        [
            {"url": url1, "payload": page1, "content_type": "text/html; charset=utf-8"},
            {"url": "https://example.org/logo.png", "payload": b"\x89PNG\r\n\x1a\n" + bytes(200), "content_type": "image/png"},
            {"url": "https://example.org/data.json", "payload": b'{"a": 1}', "content_type": "application/json"},
            {"url": url2, "payload": garbled, "content_type": "text/html; charset=utf-8"},
            {"url": url3, "payload": one_bad_byte, "content_type": "text/html; charset=utf-8"},
            {"url": "https://example.org/missing", "payload": b"<html>gone</html>", "content_type": "text/html", "status": "404 Not Found"},
            {"url": "https://example.org/odd", "payload": page1, "content_type": "text/html; charset=no-such-charset"},
        ],
    )
    docs, bad = read_all(WarcReader(str(tmp_path / "in"), "web"), tmp_path)
    assert [d.metadata["url"] for d in docs] == [url1, url3]
    assert docs[1].metadata["decode_replacements"] == 1  # kept, and flagged
    assert [b["reason"] for b in bad] == ["not_html", "not_html", "invalid_charset", "http_status", "unknown_charset"]
    assert all(b["file"] == "a.warc.gz" and b["record"] for b in bad)


def test_truncated_warc_is_read_up_to_the_break(data_dir, tmp_path):
    raw = (data_dir / "web" / "python-docs.warc.gz").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.warc.gz").write_bytes(raw[: len(raw) // 3])
    docs, bad = read_all(WarcReader(str(tmp_path / "in"), "web"), tmp_path)
    assert 10 < len(docs) < 213
    assert len(bad) == 1 and bad[0]["reason"] == "truncated_record"


def test_jsonl_sample_and_compressed_variants(data_dir, tmp_path):
    raw = (data_dir / "wiki" / "enwiki.jsonl").read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "in" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(raw))
    plain, _ = read_all(JsonlReader(str(data_dir / "wiki"), "wiki"), tmp_path / "q0")
    both, bad = read_all(JsonlReader(str(tmp_path / "in"), "wiki"), tmp_path / "q1")
    assert len(plain) == 106 and bad == []
    assert [d.text for d in both] == [d.text for d in plain] * 2
    assert plain[0].metadata["title"] and plain[0].metadata["url"].startswith("https://en.wikipedia.org/wiki/")


def test_jsonl_bad_lines_are_quarantined_by_line_number(data_dir, tmp_path):
    lines = (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()[:4]
    bad_lines = [
        lines[0],
        b'{"id": "x1", "text": "unterminated',  # line 2: malformed JSON
        b'{"id": "x2", "text": "caf\xe9"}',  # line 3: Latin-1 byte, not UTF-8
        b'{"id": "x3", "text": ""}',  # line 4: empty document
        b'["not", "an", "object"]',  # line 5
        b'{"id": "x4", "body": "no text key"}',  # line 6
        lines[1],
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.jsonl").write_bytes(b"\n".join(bad_lines) + b"\n")
    docs, bad = read_all(JsonlReader(str(tmp_path / "in"), "wiki"), tmp_path)
    assert [d.id for d in docs] == [orjson.loads(lines[0])["id"], orjson.loads(lines[1])["id"]]
    assert [(b["record"], b["reason"]) for b in bad] == [
        ("line 2", "malformed_json"),
        ("line 3", "invalid_utf8"),
        ("x3", "empty_text"),
        ("line 5", "not_an_object"),
        ("line 6", "missing_text"),
    ]


def test_truncated_gzip_keeps_what_came_before_the_break(data_dir, tmp_path):
    gz = gzip.compress((data_dir / "wiki" / "enwiki.jsonl").read_bytes())
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.jsonl.gz").write_bytes(gz[: len(gz) // 2])
    docs, bad = read_all(JsonlReader(str(tmp_path / "in"), "wiki"), tmp_path)
    assert 10 < len(docs) < 106
    assert len(bad) == 1 and bad[0]["reason"] == "truncated_or_corrupt_file" and bad[0]["record"] == f"after line {len(docs)}"


def test_50mb_document_is_quarantined_quickly_or_read_when_allowed(data_dir, tmp_path):
    books = sorted((data_dir / "books").glob("*.txt"))
    text = "".join(p.read_text() for p in books)
    big = (text * (50 * MB // len(text) + 1))[: 50 * MB]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "big.jsonl").write_bytes(orjson.dumps({"id": "big", "text": big}) + b"\n")
    start = time.monotonic()
    docs, bad = read_all(JsonlReader(str(tmp_path / "in"), "books"), tmp_path / "q0")
    assert docs == [] and bad[0]["reason"] == "too_large" and len(bad[0]["preview"]) <= 200
    docs, bad = read_all(JsonlReader(str(tmp_path / "in"), "books", max_doc_bytes=64 * MB), tmp_path / "q1")
    assert bad == [] and len(docs[0].text) == 50 * MB
    assert time.monotonic() - start < 60  # linear work only; this takes ~1 s


def test_books_are_one_document_per_file(data_dir, tmp_path):
    docs, bad = read_all(BookReader(str(data_dir / "books"), "books"), tmp_path)
    files = sorted(p.name for p in (data_dir / "books").glob("*.txt"))
    assert bad == [] and sorted(d.id for d in docs) == files
    assert all(len(d.text) > 50_000 for d in docs)


GUTENBERG_BOOKS = ["moby-dick-or-the-whale.txt", "the-adventures-of-sherlock-holmes.txt", "botchan-master-darling.txt"]


def test_gutenberg_header_credit_and_licence_are_stripped(data_dir, tmp_path):
    # Real Project Gutenberg files (BOM, CRLF, header, "Produced by" credit, licence footer); see DATA.md.
    docs, bad = read_all(BookReader(str(data_dir / "books"), "books", glob="*.txt"), tmp_path)
    by_id = {d.id: d for d in docs}
    for name in GUTENBERG_BOOKS:
        raw = (data_dir / "books" / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") and b"*** START OF THIS PROJECT GUTENBERG EBOOK" in raw
        doc = by_id[name]
        assert doc.metadata["gutenberg_stripped"] is True
        assert "\r" not in doc.text and not doc.text.startswith(("\ufeff", "\n"))
        for boilerplate in ("*** START", "*** END", "Produced by", "Project Gutenberg-tm", "FULL LICENSE"):
            assert boilerplate not in doc.text, (name, boilerplate)
        assert len(doc.text) > 0.8 * len(raw.decode("utf-8-sig"))  # the book itself is all there
    assert by_id["moby-dick-or-the-whale.txt"].text.startswith("MOBY DICK; OR THE WHALE")
    assert by_id["moby-dick-or-the-whale.txt"].text.rstrip().endswith("only found another\norphan.")
    assert by_id["moby-dick-or-the-whale.txt"].metadata["title"] == "Moby Dick; or The Whale"
    # Books without markers (the Shakespeare plays, already cleaned upstream) are kept whole, and say so.
    assert by_id["hamlet.txt"].metadata["gutenberg_stripped"] is False
    assert by_id["hamlet.txt"].text == (data_dir / "books" / "hamlet.txt").read_text().strip("\n")


def test_book_with_invalid_utf8_is_quarantined(data_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "latin1.txt").write_bytes((data_dir / "books" / "hamlet.txt").read_bytes()[:5000] + b"\xe9t\xe9")
    (tmp_path / "in" / "empty.txt").write_bytes(b"\n\n")
    docs, bad = read_all(BookReader(str(tmp_path / "in"), "books"), tmp_path)
    assert docs == []
    assert sorted(b["reason"] for b in bad) == ["empty_text", "invalid_utf8"]


def test_parquet_reader_reads_other_tools_files(data_dir, tmp_path):
    rows = [orjson.loads(line) for line in (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()[:20]]
    rows[3]["text"] = None
    (tmp_path / "in").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in" / "wiki.parquet")
    docs, bad = read_all(ParquetReader(str(tmp_path / "in"), "wiki"), tmp_path)
    assert [d.id for d in docs] == [r["id"] for i, r in enumerate(rows) if i != 3]
    assert docs[0].metadata["title"] == rows[0]["title"]
    assert [(b["record"], b["reason"]) for b in bad] == [("row 3", "missing_text")]
