"""Small helpers shared by the tests: run a reader alone, build WARC records from real pages."""

import io
from pathlib import Path

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
