"""WARC reader: HTTP response records of HTML pages, decoded in their declared charset.

The page type comes from the HTTP `Content-Type` header (then `WARC-Identified-Payload-Type`), never from
libmagic: datatrove's stock WarcReader guesses with libmagic when the WARC header is missing and silently
reads nothing from XHTML pages (`<?xml` prologue -> "text/xml"). The text is still HTML here; the
`html_extract` stage turns it into plain text, so its removals are counted as a stage of their own.
"""

import codecs
import re
from dataclasses import dataclass
from typing import Iterator

from datatrove.data import Document
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from curate.io.compression import open_decompressed, stream_error
from curate.io.reader import MiB, Bad, SourceReader

HTML_TYPES = {"text/html", "application/xhtml+xml"}
WARC_TYPES = {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation"}
# Text codecs that no web page is written in: `idna` encodes host names, the `unicode_escape` family Python
# literals; a page declaring one is mislabelled.
NOT_PAGE_CHARSETS = {"idna", "punycode", "unicode-escape", "raw-unicode-escape"}
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def charset_of(content_type: str | None, payload: bytes) -> str:
    """The charset the server declared, else the page's <meta charset>, else UTF-8 (the web's default)."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    if m := META_CHARSET.search(payload[:4096]):
        return m.group(1).decode("ascii").lower()
    return "utf-8"


def looks_like_html(payload: bytes) -> bool:
    head = payload[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or (head.startswith(b"<?xml") and b"<html" in head)


class WarcReader(SourceReader):
    """Reads `response` records (other record types, e.g. warcinfo and request, are not documents).

    Quarantined with a reason: non-200 responses, payloads that are not HTML, pages larger than
    `max_doc_bytes`, unknown charsets, and pages whose bytes are not valid in their charset beyond
    `max_invalid_ratio` (the share of characters that had to be replaced). A page with a few invalid bytes
    below that ratio is kept, with `decode_replacements` in its metadata.
    """

    name = "warc"

    def __init__(
        self,
        path: str,
        source: str,
        glob: str | None = None,
        recursive: bool = True,
        max_doc_bytes: int = 8 * MiB,
        max_invalid_ratio: float = 0.001,
    ):
        super().__init__(path, source, glob=glob, recursive=recursive, max_doc_bytes=max_doc_bytes)
        self.max_invalid_ratio = max_invalid_ratio

    def records(self, filepath: str) -> Iterator[tuple[str, "WarcResponse"] | Bad]:
        """The response records of one file, each held back until the bytes after it are known to be the
        blank lines that end a record: a wrong Content-Length shows only there (see `ResponseFraming`)."""
        with self.data_folder.open(filepath, "rb") as raw, open_decompressed(raw, filepath) as f:
            yield from ResponseFraming(f, self.max_doc_bytes)

    def parse(self, page: "WarcResponse", where: str, filepath: str) -> Document | Bad:
        if not page.declared_length.isdigit():  # a header block cut short, or a record that was never whole
            return Bad(where, "bad_record_framing", f"WARC Content-Length {page.declared_length!r}", page.payload)
        if self.too_large(len(page.payload)):
            return Bad(where, "too_large", f"more than {self.max_doc_bytes} bytes")
        if page.missing:
            return Bad(where, "truncated_record", f"{page.missing} of {page.length} bytes missing", page.payload)
        if page.status is None:
            return Bad(where, "no_http_headers")
        if page.status != "200":
            return Bad(where, "http_status", f"HTTP {page.status}")
        mtype = media_type(page.content_type)
        if mtype not in HTML_TYPES and not (not mtype and looks_like_html(page.payload)):
            return Bad(where, "not_html", f"Content-Type {page.content_type!r}", page.payload)
        charset = charset_of(page.content_type, page.payload)
        if not is_text_charset(charset):
            return Bad(where, "unknown_charset", charset, page.payload)
        html = page.payload.decode(charset, errors="replace")
        replaced = html.count("\ufffd") - page.payload.decode(charset, errors="ignore").count("\ufffd")
        if replaced and replaced > self.max_invalid_ratio * max(len(html), 1):
            return Bad(where, "invalid_charset", f"{replaced} invalid sequences for {charset}", page.payload)
        metadata = {"url": page.url, "content_type": mtype or "text/html", "charset": charset,
                    "decode_replacements": replaced or None}
        return self.make_document(html, page.record_id, filepath, metadata)


def is_text_charset(charset: str) -> bool:
    """Whether `charset` names a codec from bytes to text. `codecs.lookup` also knows bytes-to-bytes codecs
    (`base64`, `hex`, `zlib`) and `idna`, which a page may declare and which then fail or mean nothing."""
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return False
    return getattr(info, "_is_text_encoding", True) and info.name not in NOT_PAGE_CHARSETS


@dataclass
class WarcResponse:
    """What the reader keeps of a response record, read before the next record is parsed."""

    record_id: str
    url: str | None
    status: str | None  # None: no HTTP headers
    content_type: str | None
    payload: bytes
    declared_length: str  # the WARC header's Content-Length as written
    length: int  # ... as warcio took it
    missing: int  # bytes the record declared but the file did not hold


class ResponseFraming:
    """Iterates `(where, WarcResponse)` and `Bad` over a decompressed WARC stream, checking what warcio only
    warns about on stderr or skips without a word:
    - a record not followed by blank lines had a wrong Content-Length (warcio counts it in `err_count` and
      goes on): that record is quarantined (`bad_record_length`) instead of kept with a cut or swollen page;
    - a record header that does not parse (warcio raises and the file would end there): the bytes up to the
      next `WARC/` line are skipped, quarantined as one entry (`bad_record_framing`), and reading resumes.
    A compressed stream that ended early is raised (`stream_error`) after the last good record is out.
    """

    def __init__(self, f, max_doc_bytes: int):
        self.f = f
        self.max_doc_bytes = max_doc_bytes
        self.n = 0

    def __iter__(self):
        records, pending, last_cut = _archive_iterator(self.f), None, False
        while True:
            errors = records.err_count
            try:
                record, failed = next(records, None), None
            except ArchiveLoadFailed as e:
                record, failed = None, e
            except Exception as e:  # warcio meets a header cut by the break with odd errors (AttributeError)
                if pending is not None:
                    yield pending
                raise stream_error(self.f) or e
            if pending is not None:
                where, page = pending
                if records.err_count != errors and not page.missing:
                    yield Bad(where, "bad_record_length", "the record is not followed by the blank lines that end a "
                              f"WARC record: its Content-Length ({page.length}) is wrong", page.payload)
                else:
                    yield pending
                pending, last_cut = None, page.missing > 0
            if failed is not None:
                skipped, line = _skip_to_next_record(records.reader)
                if line is None and (error := stream_error(self.f)):
                    raise error  # the file broke inside a record header
                yield Bad(f"after response {self.n}", "bad_record_framing", f"{skipped} bytes skipped to the next "
                          f"record: {type(failed).__name__}: {str(failed)[:200]}")
                if line is None:
                    return
                records = _archive_iterator(records.reader, first_line=line)
                continue
            if record is None:
                # The break itself, unless the record it cut was already quarantined as `truncated_record`.
                if (error := stream_error(self.f)) and not last_cut:
                    raise error
                if (tail := records.fh.tell() - records.offset) > 0:  # bytes warcio read but made no record of
                    yield Bad(f"after response {self.n}", "bad_record_framing", f"{tail} bytes at the end of the "
                              "file are not a whole record (the file is truncated?)")
                return
            if record.rec_type == "response":
                self.n += 1
                pending = self._read(record)
            elif problem := _not_whole(record):  # warcinfo, request and metadata records are not documents, but
                # a cut one is where the file broke (a record header cut mid-line parses as a record of type "r")
                yield Bad(f"after response {self.n}", "bad_record_framing", problem)

    def _read(self, record) -> tuple[str, WarcResponse]:
        url = record.rec_headers.get_header("WARC-Target-URI")
        record_id = record.rec_headers.get_header("WARC-Record-ID") or f"response-{self.n}"
        http = record.http_headers
        payload = record.content_stream().read(self.max_doc_bytes + 1)
        return f"{self.n} ({url})", WarcResponse(
            record_id=record_id.strip("<>").removeprefix("urn:uuid:"),
            url=url,
            status=http.get_statuscode() if http is not None else None,
            content_type=(http.get_header("Content-Type") if http is not None else None)
            or record.rec_headers.get_header("WARC-Identified-Payload-Type"),
            payload=payload,
            declared_length=(record.rec_headers.get_header("Content-Length") or "").strip(),
            length=record.length or 0,
            # warcio's limit reader still expects bytes when the file ended inside the record
            missing=getattr(record.raw_stream, "limit", 0) if len(payload) <= self.max_doc_bytes else 0,
        )


class QuietArchiveIterator(ArchiveIterator):
    INC_RECORD = ""  # warcio prints the stray bytes (page text) to stderr; the quarantine entry says it instead


def _archive_iterator(f, first_line: bytes | None = None) -> QuietArchiveIterator:
    records = QuietArchiveIterator(f)
    if first_line is not None:
        # A fresh iterator reads its first record's first line from `next_line` (warcio's own hand-off
        # between records), so resuming at a line the scan already read needs no extra buffer.
        records.next_line = first_line
    return records


def _not_whole(record) -> str | None:
    """Why a record that is not a response is not a whole WARC record, or None. Reads its content to the end."""
    declared = (record.rec_headers.get_header("Content-Length") or "").strip()
    if record.rec_type not in WARC_TYPES or not declared.isdigit():
        return f"a record of type {record.rec_type!r} with Content-Length {declared!r}"
    while record.raw_stream.read(1 << 16):
        pass
    if missing := getattr(record.raw_stream, "limit", 0):
        return f"a {record.rec_type} record cut short: {missing} of {declared} bytes missing"
    return None


def _skip_to_next_record(reader) -> tuple[int, bytes | None]:
    """Read lines from warcio's buffered reader up to one that starts a WARC record: (bytes skipped, that
    line), or (bytes skipped, None) at the end of the file."""
    skipped = 0
    while line := reader.readline():
        if line.startswith(b"WARC/1."):
            return skipped, line
        skipped += len(line)
    return skipped, None
