"""Sharded parquet output: `OUT/data/<source>/<rank>.parquet`, one fixed schema for every source.

Columns: id, text, source, url (null where a source has none), the typed columns below (null where no step
wrote them) and metadata (a JSON string of every other key). A fixed schema matters: pyarrow infers a struct
from the first batch, and a later document with other metadata keys would then fail to write or lose its
keys. JSON keeps every key and reads in DuckDB (`json_extract`), pandas and `datasets`.

Typed columns, taken out of the metadata so that DuckDB, pandas and `datasets` filter on them without parsing
JSON (`where quality_bucket >= 3`): language and language_score (the `language` step), quality_score and
quality_bucket (`quality_classifier`). Reading shards back (`curate.io.parquet`) puts them into the metadata
again, so a pipeline that reads curate's shards sees the same keys as the one that wrote them.
"""

import re

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.writers.parquet import ParquetWriter

GiB = 1 << 30
# `<rank>.parquet`, or `<file index>_<rank>.parquet` once a task has filled max_file_size
SHARD_NAME = re.compile(r"(\d{3}_)?\d{5}\.parquet")


TYPED_COLUMNS = {"language": str, "language_score": float, "quality_score": float, "quality_bucket": int}


def shard_schema():
    import pyarrow as pa

    arrow = {str: pa.string(), float: pa.float64(), int: pa.int64()}
    return pa.schema(
        [
            ("id", pa.string()),
            ("text", pa.string()),
            ("source", pa.string()),
            ("url", pa.string()),
            *((name, arrow[kind]) for name, kind in TYPED_COLUMNS.items()),
            ("metadata", pa.string()),
        ]
    )


def document_row(self, doc: Document) -> dict:
    metadata = dict(doc.metadata)
    source = metadata.pop("source", None)
    url = metadata.pop("url", None)
    typed = {}
    for name, kind in TYPED_COLUMNS.items():
        value = metadata.pop(name, None)
        typed[name] = kind(value) if value is not None else None
    return {
        "id": doc.id,
        "text": doc.text,
        "source": source,
        "url": url,
        **typed,
        # default=str: another tool's parquet may carry bytes or decimals, which JSON has no type for
        "metadata": orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS, default=str).decode(),
    }


class ShardWriter(ParquetWriter):
    name = "parquet_shards"

    def __init__(self, output_folder: str, max_file_size: int = 2 * GiB, compression: str = "zstd"):
        super().__init__(
            output_folder,
            output_filename="${source}/${rank}.parquet",
            compression=compression,
            adapter=document_row,
            max_file_size=max_file_size,
            schema=shard_schema(),
        )

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # A rerun of a killed or crashed task rewrites its shards, but only those of the sources it meets
        # again: a shard of the earlier attempt that the rerun does not write would stay uncounted.
        for path in self.output_folder.glob(f"*/*{rank:05d}.parquet"):
            if SHARD_NAME.fullmatch(path.rsplit("/", 1)[-1]):
                self.output_folder.rm_file(path)
        return super().run(data, rank, world_size)

    def write(self, document: Document, rank: int = 0, **kwargs):
        self.stat_update("kept")
        self.stat_update("chars_out", value=len(document.text))
        super().write(document, rank, **kwargs)
