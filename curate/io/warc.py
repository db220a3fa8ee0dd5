"""WARC reader: HTTP response records of HTML pages, decoded in their declared charset.

The page type comes from the HTTP `Content-Type` header (then `WARC-Identified-Payload-Type`), never from
libmagic: datatrove's stock WarcReader guesses with libmagic when the WARC header is missing and silently
reads nothing from XHTML pages (`<?xml` prologue -> "text/xml"). The text is still HTML here; the
`html_extract` stage turns it into plain text, so its removals are counted as a stage of their own.
"""

import codecs
import re
from typing import Iterator

from datatrove.data import Document

from curate.io.reader import MiB, Bad, SourceReader

HTML_TYPES = {"text/html", "application/xhtml+xml"}
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

    def records(self, filepath: str) -> Iterator[Document | Bad]:
        from warcio.archiveiterator import ArchiveIterator

        n = 0
        with self.data_folder.open(filepath, "rb") as f:
            records = iter(ArchiveIterator(f))
            while True:
                try:
                    record = next(records)
                    if record.rec_type != "response":
                        continue
                    n += 1
                    item = self.record_to_document(record, n, filepath)
                except StopIteration:
                    return
                except Exception as e:  # warcio raises several types on a broken archive; the cause goes in the log
                    yield Bad(f"after response {n}", "truncated_or_malformed_file", f"{type(e).__name__}: {e}")
                    return
                yield item

    def record_to_document(self, record, n: int, filepath: str) -> Document | Bad:
        record_id = record.rec_headers.get_header("WARC-Record-ID") or f"{filepath}#{n}"
        record_id = record_id.strip("<>").removeprefix("urn:uuid:")
        url = record.rec_headers.get_header("WARC-Target-URI")
        where = f"{n} ({url})"
        http = record.http_headers
        if http is None:
            return Bad(where, "no_http_headers")
        status = http.get_statuscode()
        if status != "200":
            return Bad(where, "http_status", f"HTTP {status}")
        content_type = http.get_header("Content-Type") or record.rec_headers.get_header("WARC-Identified-Payload-Type")
        payload = record.content_stream().read(self.max_doc_bytes + 1)
        if self.too_large(len(payload)):
            return Bad(where, "too_large", f"more than {self.max_doc_bytes} bytes")
        # warcio ends a truncated .warc.gz without an error; the record's reader then still expects bytes.
        if missing := getattr(record.raw_stream, "limit", 0):
            return Bad(where, "truncated_record", f"{missing} of {record.length} bytes missing", payload)
        mtype = media_type(content_type)
        if mtype not in HTML_TYPES and not (not mtype and looks_like_html(payload)):
            return Bad(where, "not_html", f"Content-Type {content_type!r}", payload)
        charset = charset_of(content_type, payload)
        try:
            codecs.lookup(charset)
        except LookupError:
            return Bad(where, "unknown_charset", charset, payload)
        html = payload.decode(charset, errors="replace")
        replaced = html.count("\ufffd") - payload.decode(charset, errors="ignore").count("\ufffd")
        if replaced and replaced > self.max_invalid_ratio * max(len(html), 1):
            return Bad(where, "invalid_charset", f"{replaced} invalid sequences for {charset}", payload)
        return self.make_document(
            html,
            record_id,
            filepath,
            url=url,
            content_type=mtype or "text/html",
            charset=charset,
            decode_replacements=replaced or None,
        )
