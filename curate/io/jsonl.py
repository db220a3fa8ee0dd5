"""JSONL reader (.jsonl, and compressed: .gz, .bz2, .xz, .zst): one JSON object per line with a text field."""

from typing import Iterator

import orjson
from datatrove.data import Document

from curate.io.compression import open_decompressed, stream_error
from curate.io.reader import MiB, Bad, SourceReader


class JsonlReader(SourceReader):
    """Each line is an object; `text_key` holds the text, `id_key` the id (default: `<file>#L<line>`).

    Every other key goes into the document's metadata. A line that is not valid UTF-8 or not a JSON object,
    or whose text is missing or empty, is quarantined with its line number; a truncated compressed file is
    read up to the break and the break itself is quarantined.
    """

    name = "jsonl"

    def __init__(
        self,
        path: str,
        source: str,
        text_key: str = "text",
        id_key: str = "id",
        glob: str | None = None,
        recursive: bool = True,
        max_doc_bytes: int = 16 * MiB,
    ):
        super().__init__(path, source, glob=glob, recursive=recursive, max_doc_bytes=max_doc_bytes)
        self.text_key = text_key
        self.id_key = id_key

    def records(self, filepath: str) -> Iterator[tuple[str, bytes]]:
        with self.data_folder.open(filepath, "rb") as raw, open_decompressed(raw, filepath) as f:
            for line_no, line in enumerate(f, 1):
                if not line.endswith(b"\n") and (error := stream_error(f)):
                    raise error  # the last line was cut by the break: it is the break, not a malformed line
                if line.strip():
                    yield f"line {line_no}", line
            if error := stream_error(f):
                raise error

    def parse(self, line: bytes, where: str, filepath: str) -> Document | Bad:
        if size := self.too_large(len(line)):
            return Bad(where, "too_large", size, line)
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            return Bad(where, "invalid_utf8", f"byte {e.start}", line)
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            return Bad(where, "malformed_json", str(e), line)
        if not isinstance(data, dict):
            return Bad(where, "not_an_object", type(data).__name__, line)
        text = data.pop(self.text_key, None)
        if not isinstance(text, str):
            return Bad(where, "missing_text", f"no string field {self.text_key!r}", line)
        doc_id = data.pop(self.id_key, None)
        doc_id = str(doc_id) if doc_id is not None else f"{filepath}#L{where.removeprefix('line ')}"
        return self.make_document(text, doc_id, filepath, data)
