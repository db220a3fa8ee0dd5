"""Parquet reader: one row, one document; other columns go into metadata."""

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
    ):
        super().__init__(path, source, glob=glob, recursive=recursive, max_doc_bytes=max_doc_bytes)
        self.text_key = text_key
        self.id_key = id_key
        self.batch_size = batch_size

    def records(self, filepath: str) -> Iterator[Document | Bad]:
        import pyarrow.parquet as pq

        with self.data_folder.open(filepath, "rb") as f:
            pf = pq.ParquetFile(f)
            if self.text_key not in pf.schema_arrow.names:
                raise ValueError(
                    f"{self.data_folder.resolve_paths(filepath)}: no column {self.text_key!r} "
                    f"(columns: {pf.schema_arrow.names}); set text_key in the reader's config"
                )
            row = 0
            for batch in pf.iter_batches(batch_size=self.batch_size):
                for data in batch.to_pylist():
                    yield self.row_to_document(data, row, filepath)
                    row += 1

    def row_to_document(self, data: dict, row: int, filepath: str) -> Document | Bad:
        where = f"row {row}"
        text = data.pop(self.text_key)
        if not isinstance(text, str):
            return Bad(where, "missing_text", f"{self.text_key!r} is {type(text).__name__}")
        if size := self.too_large(len(text.encode("utf-8", errors="surrogatepass"))):
            return Bad(where, "too_large", size, text)
        doc_id = data.pop(self.id_key, None)
        doc_id = str(doc_id) if doc_id is not None else f"{filepath}#{row}"
        for name in TYPED_COLUMNS:  # curate's typed columns: back into the metadata, where a step wrote them
            if data.get(name) is None:
                data.pop(name, None)
        metadata = data.pop("metadata", None)
        if isinstance(metadata, str):  # curate's own shards keep metadata as a JSON string column
            metadata = orjson.loads(metadata)
        if isinstance(metadata, dict):
            data = metadata | data
        return self.make_document(text, doc_id, filepath, **data)
