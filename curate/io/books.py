"""Plain-text book reader (.txt, or any file; compressed: .gz, .bz2, .xz, .zst), with Project Gutenberg's header
and licence footer cut off: one file, one document, or (`split`) one document per chapter, act or scene, or per
piece of a stated size.

Why cut a book: a held-out split, a deduplication or a sampler that works on documents sees a folder of 15
books as 15 items, and the held-out share of that is one or two books. Chapters and scenes are the units the
text itself declares; a book that declares none is cut into pieces of about `piece_chars` characters at
paragraph breaks. Every piece is an exact slice of the book's text (what `split: none` gives as one document):
`book_text[char_offset : char_offset + len(piece)]`.
"""

import re
from dataclasses import dataclass
from typing import Iterator, Literal, get_args

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

# Section headings. A valid Roman numeral (so that "Book mild" is not one), a number, or a number word:
# English ordinals and cardinals ("ACT FIRST", "Chapter One") and the Latin ordinals of the First Folio
# ("Actus primus. Scoena Prima.", "Scena Secunda.").
ROMAN = r"(?=[MDCLXVI])M{0,4}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
NUMBER_WORDS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "one two three four five six seven eight nine ten eleven twelve "
    "primus prima primo secundus secunda secundo tertius tertia tertio quartus quarta quarto "
    "quintus quinta quinto sextus sexta sexto septimus septima octavus octava"
).split()
NUMBER = rf"(?:{ROMAN}|\d{{1,4}}|{'|'.join(NUMBER_WORDS)})"
KEYWORDS = "act|actus|scene|scena|scoena|scaena|scæna|chapter|book|part|volume|adventure|canto|section|story|letter"
HEADING = re.compile(
    rf"^[ \t]*(?:(?P<line>(?:{KEYWORDS})[ \t]+{NUMBER}[.:]?[ \t]*$)"  # CHAPTER IV, Act 2.: the whole line
    rf"|(?:{KEYWORDS})[ \t]+{NUMBER}\b"                        # ACT I. Title, SCENE IV. Rome., Scena Secunda.
    rf"|(?-i:{ROMAN}(?:\.?[ \t]*$|(?P<numbered>\.[ \t]+[A-Z])))"  # I., IV, VII. THE BLUE CARBUNCLE (upper case)
    r"|(?:prologue|epilogue|induction|preface|introduction)\.?[ \t]*$)",  # a section of its own, alone on its line
    re.IGNORECASE | re.MULTILINE,
)
# A heading that is a whole line of keyword and number ("CHAPTER IV") is one wherever it stands (some e-texts
# run chapters on without a blank line). Any other is one only as its own short paragraph: a blank line (or
# the start of the book) before it, at most this many lines and characters before the next blank line. So a
# paragraph that opens with "BOOK III. (DUODECIMO), CHAPTER 1." (Moby-Dick's cetology) is not a heading, nor
# is the first line of a table of contents. A numbered title ("VII. THE BLUE CARBUNCLE") is in capitals, unlike
# a numbered paragraph of prose ("I. A Fast-Fish belongs to the party fast to it.").
HEADING_MAX_LINES = 3
HEADING_MAX_CHARS = 300
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
Split = Literal["none", "sections", "size"]
SPLITS = get_args(Split)


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


@dataclass(frozen=True)
class Piece:
    """One piece of a book: text[start:end] of the book's text, and the heading(s) it opens with."""

    start: int
    end: int
    heading: str | None = None


def headings(text: str) -> list[tuple[int, str]]:
    """(offset of the line, the heading paragraph on one line) of every section heading in `text`."""
    found = []
    for m in HEADING.finditer(text):
        start = m.start()
        if m.group("line") and not m.group("line")[:1].islower():
            found.append((start, " ".join(m.group("line").split())))
            continue
        line_end = text.find("\n", start)
        if m.group("numbered") and any(c.islower() for c in text[start : line_end if line_end >= 0 else len(text)]):
            continue
        if start > 0:  # the line before must be blank (or there is none)
            prev = text.rfind("\n", 0, start - 1)
            if text[prev + 1 : start].strip():
                continue
        brk = PARAGRAPH_BREAK.search(text, start, start + HEADING_MAX_CHARS + 2)
        para = text[start : brk.start() if brk else min(len(text), start + HEADING_MAX_CHARS + 1)].rstrip()
        if len(para) > HEADING_MAX_CHARS or para.count("\n") >= HEADING_MAX_LINES:
            continue
        found.append((start, " ".join(para.split())))
    return found


def trimmed(text: str, start: int, end: int, heading: str | None = None) -> Piece | None:
    """text[start:end] less its leading blank lines and trailing white space (None when nothing is left);
    leading spaces of the first line are kept (an indented first line stays indented)."""
    seg = text[start:end]
    body = seg.lstrip()
    if not body:
        return None
    lead = seg[: len(seg) - len(body)]
    start += lead.rfind("\n") + 1
    return Piece(start, start + len(text[start:end].rstrip()), heading)


def size_pieces(text: str, start: int, end: int, piece_chars: int) -> list[Piece]:
    """text[start:end] cut into pieces of at most `piece_chars` characters and at least half that (but the
    last): at the last paragraph break in the second half of the window, else the last line break, else
    mid-line."""
    pieces, a = [], start
    while end - a > piece_chars:
        lo, hi = a + piece_chars // 2, a + piece_chars
        cut = text.rfind("\n\n", lo, hi)
        cut = cut + 1 if cut >= 0 else text.rfind("\n", lo, hi)
        cut = cut + 1 if cut >= 0 else hi
        pieces.append(trimmed(text, a, cut))
        a = cut
    pieces.append(trimmed(text, a, end))
    return [p for p in pieces if p is not None]


def section_pieces(text: str, min_chars: int) -> list[Piece]:
    """`text` cut at its section headings; a section shorter than `min_chars` (an act's heading before its
    first scene, a list of persons, a short table of contents) is joined to the next one, and a short last
    section to the one before. [] when the text has fewer than two headings."""
    heads = headings(text)
    if len(heads) < 2:
        return []
    bounds = [(0, None)] if text[: heads[0][0]].strip() else []
    bounds += heads
    sections, pending = [], None  # pending: (start, [headings]) of a section still too short
    for k, (start, heading) in enumerate(bounds):
        end = bounds[k + 1][0] if k + 1 < len(bounds) else len(text)
        if pending is None:
            pending = (start, [])
        if heading:
            pending[1].append(heading)
        if len(text[pending[0] : end].strip()) >= min_chars or end == len(text):
            sections.append((pending[0], end, pending[1]))
            pending = None
    if len(sections) > 1 and len(text[sections[-1][0] : sections[-1][1]].strip()) < min_chars:
        last = sections.pop()
        start, _, heads_before = sections.pop()
        sections.append((start, last[1], heads_before + last[2]))
    pieces = [trimmed(text, a, b, " / ".join(h)[:HEADING_MAX_CHARS] or None) for a, b, h in sections]
    return [p for p in pieces if p is not None]


def split_book(text: str, split: str, piece_chars: int, min_section_chars: int) -> tuple[list[Piece], str]:
    """The pieces of a book's text and how it was cut ("sections" or "size"); a blank text is one empty piece
    (the reader quarantines it as empty_text, as it does a blank book read whole)."""
    if not text.strip():
        return [Piece(0, len(text))], split
    if split == "sections":
        pieces = section_pieces(text, min_section_chars)
        if pieces:
            return pieces, "sections"
    return size_pieces(text, 0, len(text), piece_chars), "size"


class BookReader(SourceReader):
    """Reads every file under `path` as a book (UTF-8; a BOM is dropped). Invalid UTF-8 is quarantined.

    `strip_boilerplate` cuts Gutenberg's header and footer; `gutenberg_stripped` in the metadata tells
    whether both markers were found, so books with an unusual layout can be found and checked.

    `split`: "none" (one file, one document, id = the file), "sections" (one document per chapter, act or
    scene heading; a section shorter than `min_section_chars` joins the next; a book with fewer than two
    headings is cut by size instead) or "size" (pieces of at most `piece_chars` characters, cut at paragraph
    breaks). A piece's id is `<file>#<piece>`; its metadata holds the lineage: `file`, `piece` (0-based),
    `pieces` (of this book), `char_offset` (where it starts in the book's text as `split: none` reads it),
    `section` (the heading(s) it opens with) and `cut_by` (how this book was cut: "sections" or "size").
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
        split: Split = "none",
        piece_chars: int = 20_000,
        min_section_chars: int = 2_000,
    ):
        super().__init__(path, source, glob=glob, recursive=recursive, max_doc_bytes=max_doc_bytes)
        if split not in SPLITS:
            raise ValueError(f"books reader for {path}: split must be one of {', '.join(SPLITS)}, got {split!r}")
        for key, value in (("piece_chars", piece_chars), ("min_section_chars", min_section_chars)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"books reader for {path}: {key} must be a whole number >= 1, got {value!r}")
        self.strip_boilerplate = strip_boilerplate
        self.split = split
        self.piece_chars = piece_chars
        self.min_section_chars = min_section_chars

    def records(self, filepath: str) -> Iterator[tuple[str, bytes | tuple] | Bad]:
        with self.data_folder.open(filepath, "rb") as raw, open_decompressed(raw, filepath) as f:
            data = f.read(self.max_doc_bytes + 1)
            if error := stream_error(f):
                raise error
        if size := self.too_large(len(data)):
            yield Bad("whole file", "too_large", size)
            return
        if self.split == "none":
            yield "whole file", data
            return
        # The whole file is decoded before it is cut, so an invalid byte quarantines the book once (not the
        # piece it falls in, leaving the others to pass as a book with a hole).
        book = self.book_text(data, "whole file")
        if isinstance(book, Bad):
            yield book
            return
        text, metadata = book
        pieces, how = split_book(text, self.split, self.piece_chars, self.min_section_chars)
        for k, piece in enumerate(pieces):
            lineage = {"piece": k, "pieces": len(pieces), "char_offset": piece.start, "section": piece.heading,
                       "cut_by": how}
            yield f"piece {k} (char {piece.start})", (text[piece.start : piece.end], {**metadata, **lineage})

    def book_text(self, raw: bytes, where: str) -> tuple[str, dict] | Bad:
        """The book's text (decoded, newlines normalised, Gutenberg's boilerplate cut) and its metadata."""
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
        return text, {"title": title.group(1).strip() if title else None, "gutenberg_stripped": stripped}

    def parse(self, raw: bytes | tuple[str, dict], where: str, filepath: str) -> Document | Bad:
        if isinstance(raw, tuple):  # a piece that records() cut from the book
            text, metadata = raw
            return self.make_document(text, f"{filepath}#{metadata['piece']}", filepath, metadata)
        book = self.book_text(raw, where)
        if isinstance(book, Bad):
            return book
        text, metadata = book
        return self.make_document(text, filepath, filepath, metadata)
