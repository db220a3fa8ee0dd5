"""wiki/enwiki.jsonl of the bundled sample: the shortened English Wikipedia dump that gensim ships as test
data, with wiki markup removed (run by scripts/build_sample.py; sources and licences in curate/data/DATA.md)."""

from __future__ import annotations

import bz2
import json
import re
from pathlib import Path

from sample_common import dist_version, fail, write_atomically

WIKI_PACKAGE = "gensim"
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_URL_PREFIX = "https://en.wikipedia.org/wiki/"


# --------------------------------------------------------------------------
# wiki/enwiki.jsonl
# --------------------------------------------------------------------------

RE_REDIRECT = re.compile(r"\s*#redirect", re.IGNORECASE)
RE_HEADING = re.compile(r"^(=+)\s*(.*?)\s*\1\s*$")
RE_EMPHASIS = re.compile(r"'{2,}")          # ''italic'', '''bold'''
RE_LIST_MARK = re.compile(r"^[*#:;]+\s*")    # bullets, numbering, indents
# Lines of a <gallery>: filter_wiki drops the tag but keeps its body, one
# "File:Name.jpg|caption" (or bare "Name.jpg|caption") per line. A bare file
# name only counts when a "|caption" follows, so prose that merely ends in
# ".png" is kept.
_MEDIA_EXT = r"(?:jpe?g|png|gif|svg|tiff?|ogg|ogv|webm)"
RE_GALLERY_LINE = re.compile(
    rf"^(?:(?:file|image)\s*:[^|]*\.{_MEDIA_EXT}\s*(?:\|.*)?|[^|]*\.{_MEDIA_EXT}\s*\|.*)$",
    re.IGNORECASE,
)


def clean_wikitext(raw: str) -> str:
    """Wiki markup -> plain text with blank-line-separated paragraphs.

    gensim's filter_wiki removes templates, links, refs, tables and tags but
    leaves headings (== X ==), bold/italic quotes, list markers, gallery lines
    and a lot of stray whitespace. Those are dealt with here; the remaining
    text is kept as filter_wiki returns it, including its small leftovers
    (e.g. "|alt=..." fragments of image captions), which is realistic noise.
    """
    from gensim.corpora.wikicorpus import filter_wiki

    # Each block is (heading level, or 0 for body text; its lines).
    blocks: list[tuple[int, list[str]]] = [(0, [])]
    for line in filter_wiki(raw).split("\n"):
        line = RE_EMPHASIS.sub("", line).strip()
        heading = RE_HEADING.match(line)
        if heading:
            # A heading is its own paragraph even when the wiki source puts
            # text on the very next line.
            blocks.append((len(heading.group(1)), [heading.group(2)]))
            blocks.append((0, []))
            continue
        line = RE_LIST_MARK.sub("", line).strip()
        if RE_GALLERY_LINE.match(line):
            continue
        if line:
            blocks[-1][1].append(line)
        else:
            blocks.append((0, []))  # blank line = paragraph break
    # Consecutive lines (e.g. list items) stay together as one paragraph.
    blocks = [(level, lines) for level, lines in blocks if lines]

    # Drop headings of sections left empty, typically "References" and
    # "External links", whose bodies were all <ref>s and templates. A section
    # is empty when the next block is a heading of the same or a higher level
    # (fewer "="), or when nothing follows. Walk backwards so that a parent
    # whose subsections were all empty goes too.
    kept: list[tuple[int, list[str]]] = []
    for level, lines in reversed(blocks):
        if level and (not kept or 0 < kept[-1][0] <= level):
            continue
        kept.append((level, lines))
    kept.reverse()
    return "\n\n".join("\n".join(lines) for _, lines in kept)


def find_wiki_dump() -> Path:
    """Return the path of the Wikipedia dump in gensim's test data."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        fail(f"gensim is not installed; install it with: pip install {WIKI_PACKAGE}")
    dump = Path(datapath(WIKI_DUMP))
    if not dump.is_file():
        fail(f"{dump} missing; reinstall with: pip install {WIKI_PACKAGE}")
    return dump


def build_wiki(out_dir: Path, dump: Path) -> dict:
    from gensim.corpora.wikicorpus import extract_pages

    lines: list[str] = []
    skipped_redirects = skipped_empty = 0
    with bz2.open(dump, "rb") as f:
        # Namespace 0 = articles (no Talk:, User:, Template: pages). Pages come
        # out in dump order, which is ascending page id: already deterministic.
        for title, text, pageid in extract_pages(f, filter_namespaces=("0",)):
            if not text:
                continue  # not an article
            if RE_REDIRECT.match(text):
                skipped_redirects += 1
                continue
            plain = clean_wikitext(text)
            if not plain.strip():
                skipped_empty += 1
                continue
            doc = {
                "id": f"enwiki/{pageid}",
                "title": title,
                "text": plain,
                # Spaces become underscores as in Wikipedia's own links; other
                # characters are left as they are (IRIs, not percent-encoded).
                "url": WIKI_URL_PREFIX + title.replace(" ", "_"),
            }
            lines.append(json.dumps(doc, ensure_ascii=False))

    data = ("\n".join(lines) + "\n").encode("utf-8")
    path = out_dir / "wiki" / "enwiki.jsonl"
    write_atomically(path, data)
    return {
        "file": path, "docs": len(lines), "raw_bytes": len(data),
        "skipped_redirects": skipped_redirects, "skipped_empty": skipped_empty,
        "source": f"{WIKI_PACKAGE} {dist_version(WIKI_PACKAGE)} ({WIKI_DUMP})",
    }
