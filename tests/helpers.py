"""Small helpers shared by the tests: run a reader alone, build WARC records from real pages."""

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curate.io.records import read_records

SAMPLE_WARC = Path(__file__).parent.parent / "curate" / "data" / "web" / "python-docs.warc.gz"


def read_all(reader, tmp_path: Path) -> tuple[list, list[dict]]:
    """(documents, quarantine records) of one reader run as a single task."""
    reader.attach(f"read_{reader.source}", str(tmp_path / "quarantine"))
    docs = list(reader.run(rank=0, world_size=1))
    return docs, read_records(str(tmp_path / "quarantine"))


def real_pages(n: int) -> list[tuple[str, bytes]]:
    """(url, html bytes) of the first n pages of the bundled sample WARC."""
    pages = []
    with open(SAMPLE_WARC, "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                pages.append((record.rec_headers.get_header("WARC-Target-URI"), record.content_stream().read()))
                if len(pages) == n:
                    break
    return pages


def write_warc(path: Path, records: list[dict]) -> None:
    """Each record: url, payload, and optional content_type (None: no Content-Type header), status,
    payload_type (the WARC-Identified-Payload-Type header; absent by default, as in many crawls)."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=str(path).endswith(".gz"))
        for r in records:
            headers = [("Content-Length", str(len(r["payload"])))]
            if r.get("content_type"):
                headers.insert(0, ("Content-Type", r["content_type"]))
            http = StatusAndHeaders(r.get("status", "200 OK"), headers, protocol="HTTP/1.1")
            warc_headers = {"WARC-Identified-Payload-Type": r["payload_type"]} if r.get("payload_type") else None
            rec = writer.create_warc_record(
                r["url"], "response", payload=io.BytesIO(r["payload"]), http_headers=http, warc_headers_dict=warc_headers
            )
            writer.write_record(rec)


def kept_documents(out: Path) -> list[tuple[str, str, str]]:
    """Sorted (id, source, text) of every document in a run's parquet shards."""
    import pyarrow.parquet as pq

    rows = []
    for path in sorted((out / "data").rglob("*.parquet")):
        t = pq.read_table(path).to_pydict()
        rows += zip(t["id"], t["source"], t["text"])
    return sorted(rows)


# --- a tiny token corpus for the training, evaluation, finetune and ablation tests ---------------------------

TRAIN_BOOKS = ["moby-dick-or-the-whale.txt", "the-adventures-of-sherlock-holmes.txt", "hamlet.txt", "macbeth.txt"]
TOKENIZER = {"library": "hf", "model": "bpe", "vocab_size": 512, "special_tokens": ["<|endoftext|>"],
             "pre_tokenization": "byte_level", "normalization": "none", "seed": 0, "holdout_fraction": 0.1}


def write_parquet(path: Path, docs: list[dict]) -> None:
    from curate.io.writer import shard_schema

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": d["id"], "text": d["text"], "source": d["source"], "url": d.get("url", ""), "metadata": "{}"}
            for d in docs]
    pq.write_table(pa.Table.from_pylist(rows, schema=shard_schema()), path)


def build_corpus(root: Path) -> Path:
    """root/tokens: token shards of three real sources (books, web, wiki) with a 512-token BPE trained on
    them (root/tok). Built once per test session (a done-marker lets test modules share it)."""
    from curate.extract import trafilatura_extract
    from curate.tokenizer import tokenize_corpus, train_tokenizer

    tokens = root / "tokens"
    if (root / "done").is_file():
        return tokens
    books = []
    for name in TRAIN_BOOKS:
        text = (SAMPLE_WARC.parent.parent / "books" / name).read_text(encoding="utf-8")[:200_000]
        books += [{"id": f"{name}#{k}", "text": text[i : i + 5000], "source": "books"}
                  for k, i in enumerate(range(0, len(text), 5000))]
    web = []
    for url, html in real_pages(12):
        text = trafilatura_extract(html.decode("utf-8", "replace"), True, True)
        if text:
            web += [{"id": f"{url}#{k}", "text": text[i : i + 5000], "source": "web", "url": url}
                    for k, i in enumerate(range(0, len(text), 5000))]
    wiki = []
    with open(SAMPLE_WARC.parent.parent / "wiki" / "enwiki.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            wiki.append({"id": f"wiki/{doc['id']}", "text": doc["text"][:5000], "source": "wiki"})
            if len(wiki) == 60:
                break
    for source, docs in (("books", books), ("web", web), ("wiki", wiki)):
        write_parquet(root / "data" / source / "00000.parquet", docs)
    recipe = {**TOKENIZER, "sources": {"books": 1.0, "web": 1.0, "wiki": 1.0}}
    train_tokenizer(recipe, [str(root / "data")], str(root / "tok"))
    tokenize_corpus(str(root / "tok"), [str(root / "data")], str(tokens))
    (root / "done").write_text("ok\n")
    return tokens


def all_text_under(out: Path) -> str:
    """All bytes under OUT as text: gzip and parquet decoded, every other file as it is (for leak checks)."""
    import gzip

    import orjson

    chunks = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            chunks.append(orjson.dumps(pq.read_table(path).to_pylist(), default=str).decode())
        elif path.suffix == ".gz":
            chunks.append(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
        else:
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)
