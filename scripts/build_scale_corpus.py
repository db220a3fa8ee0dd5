"""Build a large web + books corpus from the bundled real text, for running the recipes at scale.

    python scripts/build_scale_corpus.py -o /data/scale --web-gb 1 --books-gb 0.25

Every page and book is real text (the bundled Python documentation pages, Wikipedia articles and books)
sampled and perturbed, so the recipes' filters see what they see on a crawl, with work planted for each
step at known rates (all counts in OUT/manifest.json):
- web pages (OUT/web/part-NNNNN.warc.gz, WARC response records):
  - about a quarter are documentation pages with 5-30% of their words replaced;
  - the rest are article pages: runs of Wikipedia or book paragraphs in a site template with navigation, a
    cookie banner and a copyright footer (the boilerplate line-level dedup removes);
  - 8% are near-copies (1-5% of words changed) and 3% exact copies of an earlier page, under a new URL;
  - 1% are on domains from the UT1 block list and 0.5% have banned words in their URL;
  - 10% carry a contact paragraph with a generated e-mail address and phone number;
- books (OUT/books/book-NNNNNN.txt): whole bundled books or runs of chapters, 1-10% of words changed,
  some with a Project Gutenberg header and licence, 5% a near-copy (another "edition") of an earlier book.

Deterministic: page g is generated from (seed, g) alone, so a file's bytes do not depend on the others or
on the number of processes. The size is uncompressed HTML (or text) bytes; files hold a fixed number of
pages, chosen from a pilot so that the total lands within a few percent of the target, and the first k
files of a larger corpus are a smaller one (`--web-gb 1` contains the 0.25 and 0.5 GB corpora).
"""

import argparse
import json
import re
import tarfile
from functools import lru_cache
from html import escape
from io import BytesIO
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import orjson
from datatrove.utils._import_utils import ASSETS_PATH
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

DATA = Path(__file__).resolve().parents[1] / "curate" / "data"
PAGES_PER_WEB_FILE = 1000
BOOKS_PER_DIR = 100
TLDS = ["com", "org", "net", "io", "co.uk", "de", "info", "blog", "edu", "com.au"]
TEXT_NODE = re.compile(r">([^<>]{20,})<")


@lru_cache(maxsize=1)
def sources() -> dict:
    """The bundled real text: documentation HTML pages, Wikipedia paragraphs by article, books."""
    docs = []
    with open(DATA / "web" / "python-docs.warc.gz", "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                docs.append(record.content_stream().read().decode("utf-8", "replace"))
    articles = []
    for line in open(DATA / "wiki" / "enwiki.jsonl", "rb"):
        row = orjson.loads(line)
        paras = [p for p in row["text"].split("\n\n") if len(p) > 80]
        if paras:
            articles.append((row["title"], paras))
    books = []
    for path in sorted((DATA / "books").glob("*.txt")):
        text = path.read_text()
        paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        books.append((path.stem.replace("-", " ").title(), paras))
    vocab = sorted({w for _, paras in articles for p in paras for w in p.split() if w.isalpha() and len(w) > 2})
    with tarfile.open(Path(ASSETS_PATH) / "url_filterblacklistsv0_3_0.tar.gz", "r:gz") as tar:
        blocked = tar.extractfile("domains").read().split()
    blocked = [d.decode() for d in np.random.default_rng(0).choice(blocked, 2000, replace=False)]
    banned = [w.strip() for w in open(Path(ASSETS_PATH) / "banned_words.txt") if w.strip() and w[0] != "#"]
    return {"docs": docs, "articles": articles, "books": books, "vocab": vocab, "blocked": blocked, "banned": banned}


def perturb(text: str, rate: float, rng: np.random.Generator) -> str:
    """Replaces about `rate` of the words of `text` with words of the Wikipedia vocabulary."""
    words = text.split(" ")
    hit = np.flatnonzero(rng.random(len(words)) < rate)
    if len(hit):
        vocab = sources()["vocab"]
        for i, j in zip(hit, rng.integers(0, len(vocab), len(hit))):
            words[i] = vocab[j]
    return " ".join(words)


def site(rng: np.random.Generator) -> str:
    vocab = sources()["vocab"]
    a, b = rng.integers(0, len(vocab), 2)
    return f"{vocab[a].lower()}{vocab[b].lower()}.{TLDS[rng.integers(len(TLDS))]}"


def contact(rng: np.random.Generator) -> str:
    vocab = sources()["vocab"]
    name = vocab[rng.integers(len(vocab))].lower()
    phone = f"+1 {rng.integers(201, 990)}-{rng.integers(200, 999)}-{rng.integers(1000, 9999)}"
    return f"For questions write to {name}.{rng.integers(10, 99)}@{site(rng)} or call {phone} during office hours."


def doc_page(rng: np.random.Generator) -> str:
    docs = sources()["docs"]
    html = docs[rng.integers(len(docs))]
    rate = rng.uniform(0.05, 0.3)
    return TEXT_NODE.sub(lambda m: ">" + escape(perturb(m.group(1), rate, rng), quote=False) + "<", html)


def article_page(rng: np.random.Generator, name: str) -> str:
    src = sources()
    pool = src["articles"] if rng.random() < 0.7 else src["books"]
    title, paras = pool[rng.integers(len(pool))]
    start = rng.integers(len(paras))
    run = paras[start : start + rng.integers(5, 40)]
    if rng.random() < 0.2:
        run = [run[i] for i in rng.permutation(len(run))]
    rate = rng.uniform(0.02, 0.15)
    body = "\n".join(f"<p>{escape(perturb(p, rate, rng))}</p>" for p in run)
    if rng.random() < 0.1:
        body += f"\n<p>{escape(contact(rng))}</p>"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {name}</title>\n'
        "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}</script>\n"
        "</head><body><header><nav><a href=\"/\">Home</a> <a href=\"/about\">About</a> <a href=\"/blog\">Blog</a> "
        '<a href="/contact">Contact</a></nav></header>\n'
        f"<main><article><h1>{escape(title)}</h1>\n{body}\n</article>\n"
        '<aside><h3>Related posts</h3><ul><li><a href="/p/1">Read more</a></li><li><a href="/p/2">Archive</a></li></ul></aside></main>\n'
        f"<footer><p>Copyright {name}. All rights reserved. Powered by WordPress.</p>\n"
        "<p>We use cookies to give you the best experience on our website. By continuing to browse the site you agree to our use of cookies.</p>\n"
        "</footer></body></html>"
    )


def page(seed: int, g: int) -> tuple[str, str, str]:
    """(url, html, kind) of web page g: a function of (seed, g) only."""
    rng = np.random.default_rng([seed, g])
    roll = rng.random()
    name = site(rng)
    path = f"/{rng.integers(2000, 2025)}/{rng.integers(1, 13):02d}/{g}.html"
    if g > 0 and roll < 0.11:  # near or exact copy of an earlier page
        _, html, _ = page(seed, int(rng.integers(0, g)))
        if roll < 0.08:
            rate = rng.uniform(0.01, 0.05)
            html = TEXT_NODE.sub(lambda m: ">" + perturb(m.group(1), rate, rng) + "<", html)
            kind = "near_copy"
        else:
            kind = "exact_copy"
    elif rng.random() < 0.25:
        html, kind = doc_page(rng), "doc"
    else:
        html, kind = article_page(rng, name), "article"
    roll = rng.random()
    src = sources()
    if roll < 0.01:
        name, kind = src["blocked"][rng.integers(len(src["blocked"]))], kind + "+blocked_domain"
    elif roll < 0.015:
        path, kind = f"/{src['banned'][rng.integers(len(src['banned']))]}{path}", kind + "+banned_word"
    return f"https://{name}{path}", html, kind


def write_web_file(args: tuple) -> dict:
    out, seed, index, n = args
    counts: dict[str, int] = {}
    size = 0
    buffer = BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    for g in range(index * n, (index + 1) * n):
        url, html, kind = page(seed, g)
        payload = html.encode()
        size += len(payload)
        counts[kind] = counts.get(kind, 0) + 1
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            url, "response", payload=BytesIO(payload), http_headers=http,
            warc_headers_dict={"WARC-Date": "2024-03-01T00:00:00Z", "WARC-Record-ID": f"<urn:uuid:{seed:04d}-{g:010d}>"},
        )
        writer.write_record(record)
    path = Path(out) / "web" / f"part-{index:05d}.warc.gz"
    path.write_bytes(buffer.getvalue())
    return {"file": path.name, "pages": n, "html_bytes": size, "kinds": counts}


def book(seed: int, b: int) -> tuple[str, str]:
    """(text, kind) of book b: a whole bundled book or a run of it, perturbed; a function of (seed, b) only."""
    rng = np.random.default_rng([seed, 1_000_000 + b])
    if b > 0 and rng.random() < 0.05:
        text, _ = book(seed, int(rng.integers(0, b)))
        return perturb(text, rng.uniform(0.005, 0.02), rng), "edition"
    books = sources()["books"]
    _, paras = books[rng.integers(len(books))]
    if len(paras) > 400 and rng.random() < 0.5:
        start = rng.integers(len(paras) - 200)
        paras = paras[start : start + rng.integers(100, 400)]
    rate = rng.uniform(0.01, 0.1)
    text = "\n\n".join(perturb(p, rate, rng) for p in paras)
    return text, "book"


def write_book_dir(args: tuple) -> dict:
    out, seed, index, n = args
    counts: dict[str, int] = {}
    size = 0
    folder = Path(out) / "books" / f"{index:04d}"
    folder.mkdir(parents=True, exist_ok=True)
    for b in range(index * n, (index + 1) * n):
        text, kind = book(seed, b)
        data = text.encode()
        size += len(data)
        counts[kind] = counts.get(kind, 0) + 1
        (folder / f"book-{b:07d}.txt").write_bytes(data)
    return {"folder": folder.name, "books": n, "text_bytes": size, "kinds": counts}


def files_for(target_bytes: float, per_file: int, sizer) -> int:
    """Files of `per_file` items needed for `target_bytes`, from the mean size of a 200-item pilot."""
    mean = np.mean([sizer(i) for i in range(200)])
    return max(1, round(target_bytes / (mean * per_file)))


def build(pool: Pool, out: Path, seed: int, kind: str, gb: float) -> list[dict]:
    """Write the files of one kind in parallel; their manifest entries, in order."""
    per_file, size_of, write, key = {
        "web": (PAGES_PER_WEB_FILE, lambda g: len(page(seed, g)[1].encode()), write_web_file, "html_bytes"),
        "books": (BOOKS_PER_DIR, lambda b: len(book(seed, b)[0].encode()), write_book_dir, "text_bytes"),
    }[kind]
    jobs = [(str(out), seed, i, per_file) for i in range(files_for(gb * 1e9, per_file, size_of))]
    parts = []
    for info in pool.imap(write, jobs):
        parts.append(info)
        print(f"{kind} {len(parts)}/{len(jobs)}: {info[key] / 1e6:.0f} MB", flush=True)
    print(f"{kind}: {sum(x[key] for x in parts) / 1e9:.3f} GB")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", required=True)
    parser.add_argument("--web-gb", type=float, default=1.0)
    parser.add_argument("--books-gb", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    (out / "web").mkdir(parents=True, exist_ok=True)
    manifest = {"seed": args.seed, "web": [], "books": []}
    with Pool(args.workers) as pool:
        for kind, gb in (("web", args.web_gb), ("books", args.books_gb)):
            if gb > 0:
                manifest[kind] = build(pool, out, args.seed, kind, gb)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
