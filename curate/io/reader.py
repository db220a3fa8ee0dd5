"""The base of curate's readers: one source per reader, and a quarantine for records that are not documents.

Every record a reader meets ends in exactly one of two places: it becomes a Document, or it is written to
`OUT/quarantine/<source>/` with the file, the record (line number, WARC record id, row), the reason and a
short preview. So for every reader: records = documents + quarantined.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Iterator

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.utils.logging import logger

from curate.io.records import RecordLog, scrub_strings

MiB = 1 << 20
PREVIEW_CHARS = 200


@dataclass
class Bad:
    """A record that cannot become a document; `record` says where it is in its file."""

    record: str
    reason: str
    detail: str = ""
    preview: str = ""


def preview_of(raw: bytes | str, scrub: Callable[[str], str] | None = None) -> str:
    """The first PREVIEW_CHARS characters of a record. With `scrub`, twice as many are scrubbed before the
    cut, so that a value the cut falls in is found whole rather than left half in the preview (a value cut
    by the wider window reaches the preview only if scrubbing halved the text before it)."""
    if isinstance(raw, bytes):
        raw = raw[: PREVIEW_CHARS * 8].decode("utf-8", errors="replace")
    if scrub is not None:
        raw = scrub(raw[: PREVIEW_CHARS * 2])
    return raw[:PREVIEW_CHARS]


class SourceReader(BaseDiskReader):
    """Reads the files under `path` (sharded across tasks by file) as documents of one `source`.

    Subclasses fill in `records(filepath)`, yielding a Document or a `Bad` for every record of the file.
    """

    type = "curate reader"
    stage_name: str | None = None
    quarantine_folder: str | None = None
    # Applied to the preview and detail of every quarantined record, in the log line and in quarantine/
    # (None: as they are). A pipeline with a `pii` step sets it to that step's scrubber, so that records
    # that never become documents, and so are never scrubbed, keep no raw PII (curate.config.record_scrubber).
    scrub_quarantined: Callable[[str], str] | None = None

    def __init__(
        self,
        path: str,
        source: str,
        glob: str | None = None,
        recursive: bool = True,
        max_doc_bytes: int = 16 * MiB,
    ):
        super().__init__(data_folder=path, glob_pattern=glob, recursive=recursive, add_file_path=False)
        if not source or "/" in source:
            raise ValueError(f"reader for {path}: `source` must be a non-empty name without '/', got {source!r}")
        self.path = path
        self.source = source
        self.max_doc_bytes = max_doc_bytes
        self._quarantine: RecordLog | None = None

    def attach(self, stage_name: str, quarantine_folder: str, scrub: Callable[[str], str] | None = None) -> None:
        self.stage_name = stage_name
        self.quarantine_folder = quarantine_folder
        self.scrub_quarantined = scrub

    def records(self, filepath: str) -> Iterator[Document | Bad]:
        raise NotImplementedError

    def too_large(self, nbytes: int) -> str | None:
        if nbytes > self.max_doc_bytes:
            return f"{nbytes} bytes > max_doc_bytes={self.max_doc_bytes}"
        return None

    def make_document(self, text: str, doc_id: str, filepath: str, **metadata) -> Document:
        metadata = {k: v for k, v in metadata.items() if v is not None}
        return Document(text=text, id=doc_id, metadata={**metadata, "source": self.source, "file": filepath})

    def read_file(self, filepath: str) -> DocumentsPipeline:
        records = self.records(filepath)
        while True:
            with self.track_time():  # reading, decompressing and parsing; not the stages downstream
                item = next(records, None)
            if item is None:
                return
            self.stat_update("records")
            if isinstance(item, Document) and not item.text.strip():
                item = Bad(item.id, "empty_text", preview=item.text)
            if isinstance(item, Bad):
                self.quarantine(filepath, item)
                continue
            self.stat_update("chars_out", value=len(item.text))
            yield item

    def quarantine(self, filepath: str, bad: Bad) -> None:
        self.stat_update("quarantined", f"quarantined:{bad.reason}")
        where = f"{self.data_folder.resolve_paths(filepath)}: record {bad.record}"
        detail = scrub_strings(bad.detail, self.scrub_quarantined)
        logger.warning(f"quarantined {where}: {bad.reason} {detail}".rstrip())
        if self._quarantine is not None:
            self._quarantine.write(
                {
                    "source": self.source,
                    "file": filepath,
                    "record": bad.record,
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
