"""A labelled set of web pages for measuring what a quality recipe keeps and what it removes.

Real pages, labelled by hand in `curate/data/quality/labels.tsv` (see DATA.md there):
- content: the pages of two manuals (the Python 3.11 documentation of the sample, the Node.js API
  documentation) and the English XZ Utils manual pages: prose with code examples, command lines, output;
- navigation: index pages, tables of contents, a stub that points elsewhere;
- boilerplate: the site's copyright notice;
- non_english: the XZ Utils manual pages in seven other languages.

Built from those real pages here, with the recipe recorded in each page's label:
- boilerplate: content pages with their main element emptied (`role="main"`), so what is left is the site's
  chrome: header, navigation sidebar, footer. That is what a page without content (an empty listing, a page
  whose content a script loads) looks like on the same site; and the same pages with a short error message
  as their main content instead (a soft 404: the page answers 200 with "not found");
- spam: keyword lists, doorway pages (one real paragraph repeated with a place name swapped in), link
  lists, and a real paragraph pasted over and over, built from the words of content pages.

`write_warc(path)` writes every page into one WARC file for `curate run`; `score(labels, kept)` counts what a
run kept and removed of each label.
"""

import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

from curate.config import DATA_DIR

LABELS = DATA_DIR / "quality" / "labels.tsv"
WARCS = (DATA_DIR / "web" / "python-docs.warc.gz", DATA_DIR / "quality" / "nodejs-docs.warc.gz",
         DATA_DIR / "quality" / "xz-manpages.warc.gz")
KEEP = ("content",)
REMOVE = ("navigation", "boilerplate", "non_english", "spam")
SYNTHETIC_PREFIX = "https://quality-eval.invalid/"
_MAIN = re.compile(r"""<(div|main|section)\b[^>]*\brole\s*=\s*["']main["'][^>]*>""", re.I)
_DIV = re.compile(r"<(/?)(div|main|section)\b", re.I)
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[A-Za-z]{4,}")
PLACES = ("Austin", "Boston", "Chicago", "Denver", "Houston", "Miami", "Newark", "Oakland", "Phoenix", "Portland",
          "Seattle", "Tampa", "Tucson", "Omaha", "Dallas", "Atlanta")
NOT_FOUND = (
    "<h1>Page not found</h1><p>Sorry, the page you are looking for does not exist or has been moved. Check the "
    "address, use the search box, or return to the home page.</p>",
    "<h1>404</h1><p>This page could not be found.</p><p><a href='/'>Back to the documentation</a></p>",
    "<h2>Nothing here</h2><p>The requested document is no longer available.</p>",
    "<h1>Oops!</h1><p>We can't seem to find the page you're looking for.</p><p>Error code: 404</p>",
)
SELL = ("best", "cheap", "free", "download", "online", "pdf", "2024", "top", "review", "deal", "buy", "sale")


@dataclass
class Page:
    url: str
    label: str
    html: bytes
    note: str = ""


def read_labels() -> dict[str, tuple[str, str]]:
    labels = {}
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        url, label, note = (line.split("\t") + [""])[:3]
        if label not in KEEP + REMOVE:
            raise ValueError(f"{LABELS}: {url}: unknown label {label!r}; expected one of {KEEP + REMOVE}")
        labels[url] = (label, note)
    return labels


def real_pages() -> list[Page]:
    """Every page of the labelled WARC files, with its label, in file order."""
    from warcio.archiveiterator import ArchiveIterator

    labels = read_labels()
    pages = []
    for path in WARCS:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                if url not in labels:
                    raise ValueError(f"{LABELS}: no label for {url} (from {path.name})")
                label, note = labels[url]
                pages.append(Page(url, label, record.content_stream().read(), note))
    return pages


def without_main(page: str) -> str | None:
    """The page with the content of its main element removed, or None when it has no such element."""
    m = _MAIN.search(page)
    if m is None:
        return None
    depth, pos = 1, m.end()
    for tag in _DIV.finditer(page, m.end()):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            return page[: m.end()] + page[tag.start() :]
        pos = tag.end()
    return None


def paragraphs(page: str) -> list[str]:
    return [" ".join(_TAG.sub("", p).split()) for p in _PARAGRAPH.findall(page)]


def _html(title: str, body: str) -> bytes:
    return f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title></head><body><main>\n{body}\n</main></body></html>\n".encode()


def spam_pages(content: list[Page], n: int, seed: int = 0) -> list[Page]:
    """`n` spam pages, a quarter of each kind, from the words and paragraphs of `content` pages."""
    rng = random.Random(seed)
    pages = []
    for i in range(n):
        source = content[rng.randrange(len(content))].html.decode("utf-8", "replace")
        words = sorted(set(_WORD.findall(_TAG.sub(" ", source))))
        keywords = rng.sample(words, min(6, len(words)))
        paras = [p for p in paragraphs(source) if 40 <= len(p.split()) <= 120] or [" ".join(words[:60])]
        para = rng.choice(paras)
        kind = ("keywords", "doorway", "links", "pasted")[i % 4]
        if kind == "keywords":
            lines = [" ".join(rng.choice(keywords + list(SELL)) for _ in range(rng.randint(6, 12))) for _ in range(40)]
            body = "\n".join(f"<p>{line}</p>" for line in lines)
        elif kind == "doorway":
            body = "\n".join(f"<h2>{keywords[0]} in {place}</h2><p>Looking for {keywords[0]} in {place}? {para}</p>"
                             for place in rng.sample(PLACES, 12))
        elif kind == "links":
            items = [f"<li><a href='/{k}-{p}'>{rng.choice(SELL)} {k} {p}</a></li>" for k in keywords for p in PLACES[:12]]
            body = "<ul>\n" + "\n".join(items) + "\n</ul>"
        else:
            filler = [" ".join(rng.sample(words, min(8, len(words)))) for _ in range(6)]
            body = "\n".join(f"<p>{para}</p><p>{f}</p>" for f in filler)
        pages.append(Page(f"{SYNTHETIC_PREFIX}spam/{kind}/{i}", "spam", _html(" ".join(keywords[:3]), body),
                          f"{kind}, built from words of a content page"))
    return pages


def boilerplate_pages(content: list[Page], n: int, seed: int = 0) -> list[Page]:
    """Up to `n` content pages with their main element emptied: only the site's chrome is left."""
    rng = random.Random(seed)
    pages = []
    for page in rng.sample(content, len(content)):
        chrome = without_main(page.html.decode("utf-8", "replace"))
        if chrome is None:
            continue
        name = page.url.split("://", 1)[1]
        pages.append(Page(f"{SYNTHETIC_PREFIX}chrome/{name}", "boilerplate", chrome.encode(),
                          "a content page with its main element emptied"))
        if len(pages) == n:
            break
    return pages


def soft_404_pages(content: list[Page], n: int, seed: int = 0) -> list[Page]:
    """Up to `n` content pages whose main element holds a short "not found" message instead of the content."""
    rng = random.Random(seed + 1)  # another draw than boilerplate_pages', so mostly other pages
    pages = []
    for page in rng.sample(content, len(content)):
        html = page.html.decode("utf-8", "replace")
        chrome, m = without_main(html), _MAIN.search(html)
        if chrome is None:
            continue
        name = page.url.split("://", 1)[1]
        message = NOT_FOUND[len(pages) % len(NOT_FOUND)]
        pages.append(Page(f"{SYNTHETIC_PREFIX}soft404/{name}", "boilerplate",
                          (chrome[: m.end()] + message + chrome[m.end() :]).encode(),
                          "a content page with a short not-found message as its main content"))
        if len(pages) == n:
            break
    return pages


def evaluation_pages(n_spam: int = 40, n_chrome: int = 40, n_soft_404: int = 40, seed: int = 0) -> list[Page]:
    """The real labelled pages, then the built boilerplate, soft 404 and spam pages."""
    real = real_pages()
    content = [p for p in real if p.label == "content"]
    return (real + boilerplate_pages(content, n_chrome, seed) + soft_404_pages(content, n_soft_404, seed)
            + spam_pages(content, n_spam, seed))


def write_warc(path: Path, pages: list[Page]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for page in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Length", str(len(page.html)))], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.html),
                                                          http_headers=http))


def score(pages: list[Page], kept_urls: set[str]) -> dict[str, dict]:
    """Per label: pages, kept, removed, and the share kept (for content) or removed (for the rest)."""
    out = {}
    for label in KEEP + REMOVE:
        urls = [p.url for p in pages if p.label == label]
        kept = sum(u in kept_urls for u in urls)
        share = kept / len(urls) if label in KEEP else (len(urls) - kept) / len(urls) if urls else 0.0
        out[label] = {"pages": len(urls), "kept": kept, "removed": len(urls) - kept,
                      "share_kept" if label in KEEP else "share_removed": round(share, 4)}
    return out
