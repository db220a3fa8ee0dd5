"""Parquet reader: one row, one document; other columns go into metadata.

Two options for reading curate's own shards (a later pass of a recipe, `curate dedup documents`):
`source_key` takes each document's source from that column (shards of several sources in one folder), and
`lineage` reads them as curate's own: the `file` and `position` they carry, those of the original input, stay
the document's (rather than naming the shard), and their `source` column is not kept as a record field.
"""

from typing import Iterator

import orjson
from datatrove.data import Document

from curate.io.reader import MiB, Bad, SourceReader
from curate.io.writer import TYPED_COLUMNS


class ParquetReader(SourceReader):
    name = "parquet"

    def __init__(
        self,
        path: str,
        source: str,
        text_key: str = "text",
        id_key: str = "id",
        glob: str | None = None,
        recursive: bool = True,
        batch_size: int = 1000,
        max_doc_bytes: int = 16 * MiB,
        source_key: str | None = None,
        lineage: bool = False,
    ):
        super().__init__(path, source, glob=glob, recursive=recursive, max_doc_bytes=max_doc_bytes)
        self.text_key = text_key
        self.id_key = id_key
        self.batch_size = batch_size
        self.source_key = source_key
        self.lineage = lineage

    def records(self, filepath: str) -> Iterator[tuple[str, dict] | Bad]:
        import pyarrow.parquet as pq

        with self.data_folder.open(filepath, "rb") as f:
            pf = pq.ParquetFile(f)  # an empty or non-parquet file raises here: quarantined as unreadable_file
            if self.text_key not in pf.schema_arrow.names:
                yield Bad("whole file", "no_text_column", f"no column {self.text_key!r} (columns: "
                          f"{pf.schema_arrow.names}); set text_key in the reader's config")
                return
            row = 0
            for batch in pf.iter_batches(batch_size=self.batch_size):
                for data in batch.to_pylist():
                    yield f"row {row}", data
                    row += 1

    def parse(self, data: dict, where: str, filepath: str) -> Document | Bad:
        text = data.pop(self.text_key)
        if not isinstance(text, str):
            return Bad(where, "missing_text", f"{self.text_key!r} is {type(text).__name__}")
        if size := self.too_large(len(text.encode("utf-8", errors="surrogatepass"))):
            return Bad(where, "too_large", size, text)
        doc_id = data.pop(self.id_key, None)
        doc_id = str(doc_id) if doc_id is not None else f"{filepath}#{where.removeprefix('row ')}"
        for name in TYPED_COLUMNS:  # curate's typed columns: back into the metadata, where a step wrote them
            if data.get(name) is None:
                data.pop(name, None)
        metadata = data.get("metadata")
        if isinstance(metadata, str) and metadata.startswith("{"):  # curate's shards: metadata as a JSON string
            try:
                metadata = orjson.loads(metadata)
            except orjson.JSONDecodeError:
                pass  # another tool's column that happens to start with "{": kept as it is
        if isinstance(metadata, dict):
            data.pop("metadata")
            data = metadata | data
        source = data.pop(self.source_key, None) if self.source_key else None
        lineage = {}
        if self.lineage:  # curate's own shard: its `source` column is the folder's source, not a record field
            data.pop("source", None)
            lineage = {k: data.pop(k) for k in ("file", "position") if k in data}
        doc = self.make_document(text, doc_id, filepath, data, source=source if isinstance(source, str) else None)
        doc.metadata.update(lineage)
        return doc
