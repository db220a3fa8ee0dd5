"""Plain-text book reader (.txt, or any file; compressed: .gz, .bz2, .xz, .zst): one file, one document, with Project Gutenberg's header and licence footer cut off."""

import re
from typing import Iterator

from datatrove.data import Document

from curate.io.compression import open_decompressed, stream_error
from curate.io.reader import MiB, Bad, SourceReader

# Gutenberg has used several wordings over the years ("THIS"/"THE", "EBOOK"/"E-BOOK", with or without
# spaces after the asterisks); the text of the book lies between the start line and the end line.
GUTENBERG_START = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK[^\n]*$", re.IGNORECASE | re.MULTILINE
)
GUTENBERG_END = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*END OF (?:THIS|THE) PROJECT GUTENBERG E-?BOOK"
    r"|End of (?:the )?Project Gutenberg'?s?[ \t](?:E-?Book|Etext)?)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
TITLE = re.compile(r"^Title:[ \t]*(.+)$", re.MULTILINE)



def strip_gutenberg(text: str) -> tuple[str, bool]:
    """The book between Gutenberg's start and end markers, less the volunteers' "Produced by" credit that
    follows the start marker, and whether both markers were found."""
    start = GUTENBERG_START.search(text)
    if not start:
        return text, False
    end = GUTENBERG_END.search(text, start.end())
    body = text[start.end() : end.start() if end else len(text)]
    return strip_credit(body), end is not None


def strip_credit(body: str) -> str:
    head = body.lstrip()
    if not head[:11].lower() == "produced by":
        return body
    lines = head.split("\n")
    # The credit is its paragraph when that is short (it may wrap over a few lines), else its first line.
    para = head.split("\n\n", 1)[0]
    if para.count("\n") < 4:
        return head[len(para) :]
    return "\n".join(lines[1:])


class BookReader(SourceReader):
    """Reads every file under `path` as one book (UTF-8; a BOM is dropped). Invalid UTF-8 is quarantined.

    `strip_boilerplate` cuts Gutenberg's header and footer; `gutenberg_stripped` in the metadata tells
    whether both markers were found, so books with an unusual layout can be found and checked.
    """

    name = "books"

    def __init__(
        self,
        path: str,
        source: str,
        glob: str | None = None,
        recursive: bool = True,
        strip_boilerplate: bool = True,
        max_doc_bytes: int = 16 * MiB,
    ):
        super().__init__(path, source, glob=glob, recursive=recursive, max_doc_bytes=max_doc_bytes)
        self.strip_boilerplate = strip_boilerplate

    def records(self, filepath: str) -> Iterator[tuple[str, bytes] | Bad]:
        with self.data_folder.open(filepath, "rb") as raw, open_decompressed(raw, filepath) as f:
            data = f.read(self.max_doc_bytes + 1)
            if error := stream_error(f):
                raise error
        if size := self.too_large(len(data)):
            yield Bad("whole file", "too_large", size)
            return
        yield "whole file", data

    def parse(self, raw: bytes, where: str, filepath: str) -> Document | Bad:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            return Bad(where, "invalid_utf8", f"byte {e.start}", raw[max(0, e.start - 50) : e.start + 50])
        text = text.replace("\r\n", "\n")
        title = TITLE.search(text[:5000])
        stripped = None
        if self.strip_boilerplate:
            text, stripped = strip_gutenberg(text)
            text = text.strip("\n")
        metadata = {"title": title.group(1).strip() if title else None, "gutenberg_stripped": stripped}
        return self.make_document(text, filepath, filepath, metadata)
