"""JSONL reader (.jsonl, .jsonl.gz, .jsonl.zst): one JSON object per line with a text field."""

import gzip
import io
import zlib
from typing import IO, Iterator

import orjson
from datatrove.data import Document

from curate.io.reader import MiB, Bad, SourceReader


def open_lines(f: IO[bytes], filepath: str) -> IO[bytes]:
    """A line-iterable binary stream, decompressed by extension (fsspec's zstd stream has no readline)."""
    if filepath.endswith(".gz"):
        return gzip.GzipFile(fileobj=f, mode="rb")
    if filepath.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(f))
    return f


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

    def records(self, filepath: str) -> Iterator[Document | Bad]:
        import zstandard

        line_no = 0
        with self.data_folder.open(filepath, "rb") as raw, open_lines(raw, filepath) as f:
            lines = iter(f)
            while True:
                try:
                    line = next(lines)
                except StopIteration:
                    return
                except (EOFError, OSError, zlib.error, zstandard.ZstdError) as e:
                    yield Bad(f"after line {line_no}", "truncated_file", f"{type(e).__name__}: {e}")
                    return
                line_no += 1
                if line.strip():
                    yield self.parse_line(line, line_no, filepath)

    def parse_line(self, line: bytes, line_no: int, filepath: str) -> Document | Bad:
        where = f"line {line_no}"
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
        doc_id = str(doc_id) if doc_id is not None else f"{filepath}#L{line_no}"
        return self.make_document(text, doc_id, filepath, **data)
