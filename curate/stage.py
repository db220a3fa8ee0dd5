"""The base class of every curate stage that can change or remove documents.

A stage fills in one method, `process(doc)`, returning the (possibly changed) document to keep it or a
`Drop` to remove it. The base class counts documents and characters in and out, times the stage, and
writes every removed document to `OUT/removed/<stage>/` with the stage's name and the reason, so that for
every stage: documents in = documents kept + documents removed.
"""

from dataclasses import dataclass, field

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.io.records import RecordLog


@dataclass
class Drop:
    """Why a document was removed. `details` holds the measured values (e.g. the signal and its threshold)."""

    reason: str
    details: dict = field(default_factory=dict)


def removed_record(doc: Document, stage: str, drop: Drop) -> dict:
    return {
        "id": doc.id,
        "source": doc.metadata.get("source"),
        "stage": stage,
        "reason": drop.reason,
        "details": drop.details,
        "text": doc.text,
    }


class Stage(PipelineStep):
    type = "curate stage"
    # Set by `attach` when the pipeline is built from a config; None means removed documents are only counted
    # (used when a stage runs outside a curate pipeline, e.g. in a user's own datatrove script).
    stage_name: str | None = None
    removed_folder: str | None = None
    # Sources this stage applies to (None: all). Documents of other sources pass through unchanged and are
    # counted as kept, so a rule made for web pages (C4's line rules) does not cut a book's verse.
    sources: frozenset[str] | None = None

    def attach(self, stage_name: str, removed_folder: str, sources: list[str] | None = None) -> None:
        self.stage_name = stage_name
        self.removed_folder = removed_folder
        self.sources = frozenset(sources) if sources else None

    def process(self, doc: Document) -> Document | Drop:
        raise NotImplementedError

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        removed = RecordLog(self.removed_folder, rank) if self.removed_folder else None
        try:
            for doc in data:
                self.stat_update("in")
                self.stat_update("chars_in", value=len(doc.text))
                if self.sources is not None and doc.metadata.get("source") not in self.sources:
                    self.stat_update("kept", "passed_through")
                    self.stat_update("chars_out", value=len(doc.text))
                    yield doc
                    continue
                with self.track_time():
                    result = self.process(doc)
                if isinstance(result, Drop):
                    self.stat_update("removed", f"removed:{result.reason}")
                    if removed is not None:
                        removed.write(removed_record(doc, self.stage_name or self.name, result))
                    continue
                self.stat_update("kept")
                self.stat_update("chars_out", value=len(result.text))
                yield result
        finally:
            if removed is not None:
                removed.close()
