#!/usr/bin/env python3
"""Rebuild ``curate/data/quality/``: real pages for measuring what the quality rules keep and remove.

* ``nodejs-docs.warc.gz``: the Node.js API manual as Debian-packaged HTML (the ``nodejs`` package installs
  it under ``/usr/share/doc/nodejs/api/``; MIT licence): every page of 110,000 bytes or less, the index
  page included, unchanged, stored as if crawled from nodejs.org.
* ``xz-manpages.warc.gz``: the manual pages of XZ Utils (``xz-utils``, public domain), in English and in
  the seven translations Debian installs (da, de, fr, ko, pt_BR, ro, uk), turned from roff into plain HTML
  by the small converter below (headings, paragraphs, definition lists, preformatted examples), so that the
  non-English pages are technical pages of the same kind as the English ones.

The labels of every page of the sample (these two files and ``web/python-docs.warc.gz``) are kept by hand
in ``labels.tsv`` next to them, not written here. The output is deterministic: fixed WARC dates, record ids
derived from the URL, sorted inputs.

    python scripts/build_quality_set.py [--out curate/data]
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import re
import subprocess
import sys
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_DOCS = Path("/usr/share/doc/nodejs/api")
NODE_MAX_BYTES = 110_000  # the 40 smallest pages: about 2.4 MB of HTML, the sample stays small
MAN_ROOT = Path("/usr/share/man")
XZ_PAGES = ("xz", "xzdiff", "xzgrep", "xzless", "xzmore", "lzmainfo")
WARC_DATE = "2025-04-03T00:00:00Z"


def package_version(package: str) -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout:
        sys.exit(f"package {package} is not installed (apt-get install {package})")
    return out.stdout


def write_warc(path: Path, records: list[tuple[str, bytes]], description: str, licence: str) -> int:
    """(url, html bytes) records as a gzipped WARC: a warcinfo record, then one response record per page."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    namespace = uuid.uuid5(uuid.NAMESPACE_URL, path.name)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    info = f"software: curate scripts/build_quality_set.py (warcio)\r\ndescription: {description}\r\nlicense: {licence}\r\n"
    warcinfo = writer.create_warc_record(
        "", "warcinfo", payload=io.BytesIO(info.encode()), length=len(info.encode()),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(namespace, 'warcinfo')}>",
                           "WARC-Date": WARC_DATE, "WARC-Filename": path.name},
    )
    writer.write_record(warcinfo)
    for url, body in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                           ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(namespace, url)}>", "WARC-Date": WARC_DATE,
                               "WARC-Warcinfo-ID": warcinfo.rec_headers.get_header("WARC-Record-ID"),
                               "WARC-Identified-Payload-Type": "text/html"},
        ))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return len(records)


def node_pages() -> list[tuple[str, bytes]]:
    version = package_version("nodejs").split("-")[0]
    pages = sorted(p for p in NODE_DOCS.glob("*.html") if p.stat().st_size <= NODE_MAX_BYTES)
    if not pages:
        sys.exit(f"no Node.js HTML pages under {NODE_DOCS} (apt-get install nodejs)")
    return [(f"https://nodejs.org/docs/v{version}/api/{p.name}", p.read_bytes()) for p in pages]


# --- roff (man(7)) to HTML: only what the XZ Utils pages use ------------------------------------------------

ESCAPES = {r"\-": "-", r"\(em": "—", r"\(en": "–", r"\(bu": "•", r"\(aq": "'", r"\(dq": '"', r"\(lq": "“",
           r"\(rq": "”", r"\(oq": "‘", r"\(cq": "’", r"\e": "\\", r"\&": "", r"\~": "\u00a0", r"\ ": " ",
           r"\|": "", r"\^": "", r"\%": "", r"\c": "", r"\(co": "©", r"\(mu": "×", r"\(>=": "≥", r"\(<=": "≤"}
_ESCAPE = re.compile("|".join(re.escape(k) for k in sorted(ESCAPES, key=len, reverse=True)))
_FONT = re.compile(r"\\f(\(..|\[[^]]*]|.)")


def roff_inline(text: str) -> str:
    """One line of roff text as HTML: font changes become <b>/<i>/<code>, escapes their characters."""
    out, open_tag = [], None
    for i, piece in enumerate(_FONT.split(text)):
        if i % 2 == 0:
            out.append(html.escape(_ESCAPE.sub(lambda m: ESCAPES[m.group(0)], piece), quote=False))
            continue
        if open_tag:
            out.append(f"</{open_tag}>")
        open_tag = {"B": "b", "I": "i", "(CW": "code", "[CW]": "code"}.get(piece)
        if open_tag:
            out.append(f"<{open_tag}>")
    if open_tag:
        out.append(f"</{open_tag}>")
    return "".join(out)


def alternating(macro: str, args: str) -> str:
    """.BR, .IR, .BI ...: words set alternately in two fonts."""
    words = re.findall(r'"[^"]*"|\S+', args)
    fonts = {"B": "\\fB", "I": "\\fI", "R": "\\fR"}
    return "".join(fonts[macro[i % len(macro)]] + w.strip('"') for i, w in enumerate(words)) + "\\fR"


def man_to_html(source: str, title: str, lang: str) -> str:
    body: list[str] = []
    paragraph: list[str] = []
    pre: list[str] | None = None
    table: list[str] | None = None
    in_dl = tagged = False

    def flush():
        nonlocal paragraph
        if paragraph:
            tag = "dt" if tagged else ("dd" if in_dl else "p")
            body.append(f"<{tag}>{' '.join(paragraph)}</{tag}>")
            paragraph = []

    lines = source.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith(('.\\"', "'\\\"")) or line.strip() in (".", ""):
            if pre is not None and line.strip() == "":
                pre.append("")
            continue
        if table is not None:  # tbl(1): rows of tab-separated cells, after the format lines ending in "."
            if line.startswith(".TE"):
                rows = [r for r in table if "\t" in r or not r.rstrip().endswith(".")]
                cells = "".join("<tr>" + "".join(f"<td>{roff_inline(c)}</td>" for c in r.split("\t")) + "</tr>" for r in rows)
                body.append(f"<table>{cells}</table>")
                table = None
            elif not re.match(r"^[a-z| .]+;?$", line.strip()):
                table.append(line)
            continue
        if pre is not None and not line.startswith((".fi", ".EE")):
            if not line.startswith("."):
                pre.append(roff_inline(line))
            continue
        if not line.startswith("."):
            if tagged:
                paragraph.append(roff_inline(line))
                flush()
                tagged = False
                continue
            paragraph.append(roff_inline(line))
            continue
        macro, _, args = line[1:].partition(" ")
        if macro in ("SH", "SS"):
            flush()
            if in_dl:
                body.append("</dl>")
                in_dl = False
            level = "h2" if macro == "SH" else "h3"
            body.append(f"<{level}>{roff_inline(args.strip(chr(34)))}</{level}>")
        elif macro in ("PP", "LP", "P", "sp"):
            flush()
            if in_dl and macro != "sp":
                body.append("</dl>")
                in_dl = False
        elif macro == "TP":
            flush()
            if not in_dl:
                body.append("<dl>")
                in_dl = True
            tagged = True
        elif macro == "IP":
            flush()
            if not in_dl:
                body.append("<dl>")
                in_dl = True
            label = args.split('"')[1] if args.startswith('"') else args.split(" ")[0] if args else ""
            if label:
                body.append(f"<dt>{roff_inline(label)}</dt>")
        elif macro in ("nf", "EX"):
            flush()
            pre = []
        elif macro in ("fi", "EE"):
            body.append(f"<pre>{chr(10).join(pre or [])}</pre>")
            pre = None
        elif macro == "TS":
            flush()
            table = []
        elif macro == "br":
            paragraph.append("<br>")
        elif macro in ("B", "I"):
            paragraph.append(roff_inline(f"\\f{macro}{args.strip(chr(34))}\\fR"))
            if tagged:
                flush()
                tagged = False
        elif re.fullmatch(r"[BIR]{2}", macro):
            paragraph.append(roff_inline(alternating(macro, args)))
            if tagged:
                flush()
                tagged = False
        # everything else (.TH, .RS/.RE indentation, .PD spacing, .ad, .na, .hy ...) changes layout only
    flush()
    if in_dl:
        body.append("</dl>")
    return (f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"</head><body><main><h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</main></body></html>\n")


def xz_pages() -> list[tuple[str, bytes]]:
    package_version("xz-utils")
    records = []
    for folder in sorted([MAN_ROOT] + [d for d in MAN_ROOT.iterdir() if d.is_dir() and not d.name.startswith("man")]):
        lang = "en" if folder == MAN_ROOT else folder.name
        for page in XZ_PAGES:
            path = folder / "man1" / f"{page}.1.gz"
            if not path.is_file() or path.is_symlink():
                continue
            source = gzip.decompress(path.read_bytes()).decode("utf-8")
            page_html = man_to_html(source, f"{page}(1)", lang.replace("_", "-"))
            records.append((f"https://tukaani.org/xz/man/{lang}/{page}.1.html", page_html.encode("utf-8")))
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "curate" / "data")
    args = parser.parse_args(argv)
    folder = args.out / "quality"
    node = node_pages()
    xz = xz_pages()
    n = write_warc(folder / "nodejs-docs.warc.gz", node,
                   f"Node.js API documentation from the Debian-packaged nodejs {package_version('nodejs')}", "MIT")
    print(f"{folder / 'nodejs-docs.warc.gz'}: {n} pages, {sum(len(b) for _, b in node)} bytes of HTML")
    n = write_warc(folder / "xz-manpages.warc.gz", xz,
                   f"XZ Utils manual pages from xz-utils {package_version('xz-utils')}, roff converted to HTML",
                   "public domain")
    print(f"{folder / 'xz-manpages.warc.gz'}: {n} pages, {sum(len(b) for _, b in xz)} bytes of HTML")
    return 0


if __name__ == "__main__":
    sys.exit(main())
