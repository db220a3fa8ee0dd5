"""The base of curate's readers: one source per reader, and a quarantine for records that are not documents.

Every record a reader meets ends in exactly one of two places: it becomes a Document, or it is written to
`OUT/quarantine/<source>/` with the file, the record (line number, WARC record id, row), the reason and a
short preview. So for every reader: records = documents + quarantined.

A reader is two methods, kept apart so that one bad record cannot end a file or a task:
- `records(filepath)` frames the file: it yields `(where, raw)` for each record, or a `Bad` for bytes that
  are not a whole record, and checks that the file ended where its format says it ends (a compressed stream
  that stopped early, a WARC record followed by stray bytes). An exception it raises ends that file only:
  the rest of the file is quarantined as one entry that names the last good record, and the task goes on.
- `parse(raw, where, filepath)` turns one record into a Document or a `Bad`. An exception it raises
  quarantines that record alone (`record_error`, with the exception's type and message).
"""

import lzma
import zlib
from dataclasses import dataclass
from typing import Any, Iterator

import zstandard

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.utils.logging import logger

from curate.io.paths import check_name
from curate.io.records import RecordLog, RecordScrubber, error_text, scrub_strings
from curate.stats import SOURCE_MARK, per_source

MiB = 1 << 20
PREVIEW_CHARS = 200
# Metadata keys the reader sets itself; a record's own field of that name is kept under `record_<key>`.
# `file` and `position` are the lineage of a document: the input file and the record in it (a line, a row, a
# WARC record id, a book's piece). They reach the final shards through every pass of a recipe.
RESERVED_KEYS = ("source", "file", "position")
# What a stream that ends early or holds corrupt compressed data raises (curate.io.compression).
# (bz2 raises EOFError when cut and OSError when corrupt; gzip's BadGzipFile is an OSError.)
TRUNCATION_ERRORS = (EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


@dataclass
class Bad:
    """A record that cannot become a document; `record` says where it is in its file."""

    record: str
    reason: str
    detail: str = ""
    preview: str | bytes = ""


def preview_of(raw: bytes | str, scrub: RecordScrubber | None = None) -> str:
    """The first PREVIEW_CHARS characters of a record. With `scrub`, twice as many are scrubbed before the
    cut, so that a value the cut falls in is found whole rather than left half in the preview (a value cut
    by the wider window reaches the preview only if scrubbing halved the text before it)."""
    if isinstance(raw, bytes):
        raw = raw[: PREVIEW_CHARS * 8].decode("utf-8", errors="replace")
    if scrub is not None:
        raw = scrub.scrub_text(raw[: PREVIEW_CHARS * 2])
    return raw[:PREVIEW_CHARS]


class SourceReader(BaseDiskReader):
    """Reads the files under `path` (sharded across tasks by file) as documents of one `source`.

    Subclasses fill in `records(filepath)` and `parse(raw, where, filepath)` (see the module docstring).
    """

    type = "curate reader"
    stage_name: str | None = None
    quarantine_folder: str | None = None
    # Applied to the record, detail and preview of every quarantined record, in the log line and in
    # quarantine/ (None: as they are). A pipeline with a `pii` step sets it to that step's scrubber, so that
    # records that never become documents, and so are never scrubbed, keep no raw PII (a WARC record's
    # `where` holds its URL). See curate.config.record_scrubber.
    scrub_quarantined: RecordScrubber | None = None

    def __init__(
        self,
        path: str,
        source: str,
        glob: str | None = None,
        recursive: bool = True,
        max_doc_bytes: int = 16 * MiB,
    ):
        super().__init__(data_folder=path, glob_pattern=glob, recursive=recursive, add_file_path=False)
        check_name(source, f"reader for {path}: `source`")
        if max_doc_bytes < 1:
            raise ValueError(f"reader for {path}: max_doc_bytes must be at least 1, got {max_doc_bytes}")
        self.path = path
        self.source = source
        self.max_doc_bytes = max_doc_bytes
        self._quarantine: RecordLog | None = None

    def attach(self, stage_name: str, quarantine_folder: str, scrub: RecordScrubber | None = None) -> None:
        self.stage_name = stage_name
        self.quarantine_folder = quarantine_folder
        self.scrub_quarantined = scrub

    def records(self, filepath: str) -> Iterator[tuple[str, Any] | Bad]:
        raise NotImplementedError

    def parse(self, raw: Any, where: str, filepath: str) -> Document | Bad:
        raise NotImplementedError

    def too_large(self, nbytes: int) -> str | None:
        if nbytes > self.max_doc_bytes:
            return f"{nbytes} bytes > max_doc_bytes={self.max_doc_bytes}"
        return None

    def make_document(self, text: str, doc_id: str, filepath: str, metadata: dict | None = None,
                      source: str | None = None) -> Document:
        """A Document of this reader's source (or of `source`, a name the record gives). `metadata` is the
        record's own fields (any names: a field called `source`, `file` or `position` is kept as
        `record_source`, ...); None values are left out. `read_file` adds the record's position."""
        kept = {}
        for key, value in (metadata or {}).items():
            if value is not None:
                kept[f"record_{key}" if key in RESERVED_KEYS else key] = value
        if source is not None:
            check_name(source, f"{filepath}: the record's source")
        return Document(text=text, id=doc_id, metadata={**kept, "source": source or self.source, "file": filepath})

    def read_file(self, filepath: str) -> DocumentsPipeline:
        records = self.records(filepath)
        last = None
        while True:
            with self.track_time():  # reading, decompressing and parsing; not the stages downstream
                try:
                    item = next(records, None)
                except TRUNCATION_ERRORS as e:
                    item = Bad(f"after {last}" if last else "start of file", "truncated_or_corrupt_file", error_text(e))
                    records = iter(())
                except Exception as e:  # a format error the framing did not expect: the rest of this file only
                    item = Bad(f"after {last}" if last else "start of file", "unreadable_file", error_text(e))
                    records = iter(())
                if item is None:
                    return
                if not isinstance(item, Bad):
                    last, raw = item
                    try:
                        item = self.parse(raw, last, filepath)
                    except Exception as e:  # one record's surprise is that record's quarantine, not the task's end
                        item = Bad(last, "record_error", error_text(e))
            self.stat_update("records")
            if isinstance(item, Document) and not item.text.strip():
                item = Bad(item.id, "empty_text", preview=item.text)
            if isinstance(item, Bad):
                self.quarantine(filepath, item)
                continue
            item.metadata.setdefault("position", last)
            self.stat_update("chars_out", value=len(item.text))
            # per source (a record may name its own: parquet's `source_key`), for the report's funnel per source
            source = item.metadata["source"]
            self.stat_update(f"documents{SOURCE_MARK}{source}")
            self.stat_update(f"chars_out{SOURCE_MARK}{source}", value=len(item.text))
            yield item

    def quarantine(self, filepath: str, bad: Bad) -> None:
        self.stat_update(*per_source(("quarantined", f"quarantined:{bad.reason}"), self.source))
        record = scrub_strings(bad.record, self.scrub_quarantined)
        detail = scrub_strings(bad.detail, self.scrub_quarantined)
        logger.warning(f"quarantined {self.data_folder.resolve_paths(filepath)}: record {record}: {bad.reason} {detail}".rstrip())
        if self._quarantine is not None:
            self._quarantine.write(
                {
                    "source": self.source,
                    "file": filepath,
                    "record": record,
                    "reason": bad.reason,
                    "detail": detail,
                    "preview": preview_of(bad.preview, self.scrub_quarantined),
                }
            )

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self.quarantine_folder:
            self._quarantine = RecordLog(f"{self.quarantine_folder}/{self.source}", rank)
        try:
            yield from super().run(data, rank, world_size)
        finally:
            if self._quarantine is not None:
                self._quarantine.close()
                self._quarantine = None
