"""Text corpora for the commands that read finished data (`curate quality train`, `curate quality inspect`):
curate's parquet shards (or anyone's parquet with a `text` column) and JSONL files, streamed."""

import gzip
import zlib
from pathlib import Path
from typing import Iterator

import orjson

# Folders of a curate run that do not hold kept documents; never read them as corpus.
SKIP_FOLDERS = {"removed", "quarantine", "logs"}


def _is_input_file(name: str) -> bool:
    return name.endswith((".parquet", ".jsonl", ".jsonl.gz"))


def input_files(path: str) -> list[Path]:
    """The files a path stands for: itself, or every .parquet/.jsonl/.jsonl.gz file under a folder
    (a curate run's removed/, quarantine/ and logs/ folders left out), in path order."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{path}: no such file or directory")
    if p.is_file():
        if not _is_input_file(p.name):
            raise ValueError(f"{path}: expected a .parquet, .jsonl or .jsonl.gz file, or a folder of them")
        return [p]
    files = sorted(
        f
        for f in p.rglob("*")
        if _is_input_file(f.name) and f.is_file() and not SKIP_FOLDERS & set(f.relative_to(p).parts[:-1])
    )
    if not files:
        raise ValueError(f"{path}: no .parquet, .jsonl or .jsonl.gz files under this folder")
    return files


def read_documents(file: Path, batch_size: int = 256) -> Iterator[dict | None]:
    """{"id", "text", "source"} of every record of one file, streamed (None where a parquet row has no text).
    Missing ids become `<file name>#<record number>`. Parquet is read `batch_size` rows at a time."""
    if file.name.endswith(".parquet"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(file)
        names = pf.schema_arrow.names
        if "text" not in names:
            raise ValueError(f"{file}: no column 'text' (columns: {names})")
        columns = [c for c in ("id", "text", "source") if c in names]
        n = 0
        for batch in pf.iter_batches(batch_size=batch_size, columns=columns):
            for row in batch.to_pylist():
                n += 1
                if row["text"] is None:
                    yield None
                    continue
                yield {"id": str(row.get("id") or f"{file.name}#{n}"), "text": row["text"], "source": row.get("source")}
        return
    opener = gzip.open if file.name.endswith(".gz") else open
    line_no = 0
    try:
        with opener(file, "rb") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    raise ValueError(f"{file}: line {line_no}: not valid JSON ({e})") from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ValueError(f"{file}: line {line_no}: expected an object with a string field 'text'")
                doc_id = record.get("id")
                yield {"id": str(doc_id) if doc_id is not None else f"{file.name}#L{line_no}",
                       "text": record["text"], "source": record.get("source")}
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{file}: truncated or corrupt after line {line_no} ({type(e).__name__}: {e})") from None


def corpus_documents(file: Path):
    """The documents of one file as datatrove Documents (rows without text left out), for the index jobs of a
    recipe, which read a pass's output through the stages that the next pass starts with."""
    from datatrove.data import Document

    for record in read_documents(file):
        if record is not None:
            yield Document(text=record["text"], id=record["id"], metadata={"source": record["source"]})
