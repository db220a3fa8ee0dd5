"""The base class of every curate stage that can change or remove documents.

A stage fills in one method, `process(doc)`, returning the (possibly changed) document to keep it or a
`Drop` to remove it. The base class counts documents and characters in and out (in total and per source),
times the stage, and
writes every removed document to `OUT/removed/<stage>/` with the stage's name and the reason, so that for
every stage: documents in = documents kept + documents removed.

A stage that cuts spans from documents it keeps sets `logs_spans`; the base class opens `self._spans`, a log
under OUT/removed/<stage>/spans/, for the length of `run`.

A document that makes `process` raise is removed with the reason `stage_error` and the exception's type and
message in its details (scrubbed like any removed/ record), and the task goes on: one odd document must not
stop a run over a dump. The stats count it, so `curate run` can say that a stage failed on some documents.

A stage whose per-call cost dwarfs the work on one short document (the `pii` stage's presidio calls) sets
`batch_chars` and fills in `process_batch(docs)` instead: the base class then hands it documents in groups
of about that many characters, in their order, with the same counts.
"""

from dataclasses import dataclass, field

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.io.records import RecordLog, RecordScrubber, error_text, scrub_strings
from curate.stats import per_source


@dataclass
class Drop:
    """Why a document was removed. `details` holds the measured values (e.g. the signal and its threshold)."""

    reason: str
    details: dict = field(default_factory=dict)


def removed_record(doc: Document, stage: str, drop: Drop, scrub: RecordScrubber | None = None) -> dict:
    """The removed/ record of a document; with `scrub`, its id, its text and the strings of its details pass
    through it."""
    return {
        "id": scrub.scrub_id(doc.id) if scrub is not None else doc.id,
        "source": doc.metadata.get("source"),
        "stage": stage,
        "reason": drop.reason,
        "details": scrub_strings(drop.details, scrub),
        "text": scrub_strings(doc.text, scrub),
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
    # Applied to the text of every removed/ record before it is written (None: written as it is). A pipeline
    # with a `pii` step sets it to that step's scrubber, so that documents removed before PII scrubbing do not
    # keep their raw PII in removed/ (curate.config.record_scrubber).
    scrub_removed: RecordScrubber | None = None
    # > 0: documents reach `process_batch` in groups of about this many characters (see the module docstring).
    batch_chars: int = 0
    # True: the stage logs the spans it cuts from kept documents to OUT/removed/<stage>/spans/ through
    # `self._spans` (open while `run` runs, None outside a curate pipeline).
    logs_spans: bool = False
    _spans: RecordLog | None = None

    def attach(
        self, stage_name: str, removed_folder: str, sources: list[str] | None = None, scrub: RecordScrubber | None = None
    ) -> None:
        self.stage_name = stage_name
        self.removed_folder = removed_folder
        self.sources = frozenset(sources) if sources else None
        self.scrub_removed = scrub

    def process(self, doc: Document) -> Document | Drop:
        raise NotImplementedError

    def process_batch(self, docs: list[Document]) -> list[Document | Drop]:
        return [self.process(doc) for doc in docs]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        removed = RecordLog(self.removed_folder, rank) if self.removed_folder else None
        if self.logs_spans and self.removed_folder:
            self._spans = RecordLog(f"{self.removed_folder}/spans", rank)
        batch, chars = [], 0
        try:
            for doc in data:
                source = doc.metadata.get("source")
                self.stat_update(*per_source(("in",), source))
                self.stat_update(*per_source(("chars_in",), source), value=len(doc.text))
                if self.sources is not None and source not in self.sources:
                    yield from self._finish(batch, removed)  # first the documents before it: the order stays
                    batch, chars = [], 0
                    self.stat_update(*per_source(("kept", "passed_through"), source))
                    self.stat_update(*per_source(("chars_out",), source), value=len(doc.text))
                    yield doc
                    continue
                batch.append(doc)
                chars += len(doc.text)
                if chars >= self.batch_chars:
                    yield from self._finish(batch, removed)
                    batch, chars = [], 0
            yield from self._finish(batch, removed)
        finally:
            if removed is not None:
                removed.close()
            if self._spans is not None:
                self._spans.close()
                self._spans = None

    def _process_alone(self, doc: Document) -> Document | Drop:
        try:
            return self.process_batch([doc])[0]
        except Exception as e:
            return Drop("stage_error", {"error": error_text(e)})

    def _finish(self, batch: list[Document], removed: RecordLog | None) -> DocumentsPipeline:
        """Process a batch (one document unless `batch_chars` is set), count and log what it removed, yield the rest."""
        if not batch:
            return
        with self.track_time("batch" if self.batch_chars else None):
            try:
                results = self.process_batch(batch)
            except Exception:  # one document's surprise: find it, remove it with the error, keep the task going
                results = [self._process_alone(doc) for doc in batch]
        for doc, result in zip(batch, results, strict=True):
            source = doc.metadata.get("source")  # the source the document came in with: a stage may not change it
            if isinstance(result, Drop):
                self.stat_update(*per_source(("removed", f"removed:{result.reason}"), source))
                if removed is not None:
                    removed.write(removed_record(doc, self.stage_name or self.name, result, self.scrub_removed))
                continue
            self.stat_update(*per_source(("kept",), source))
            self.stat_update(*per_source(("chars_out",), source), value=len(result.text))
            yield result


class Barrier:
    """A step that needs every document of the pass before it: document-level MinHash dedup, a corpus-wide
    index of repeated lines or paragraphs, token shards.

    The recipe runner (curate.recipe) ends a pass before it, runs its `index_jobs` over what that pass wrote
    (datatrove steps, on the run's executor, each job after the one before), and starts the next pass with
    its `apply_stage`, a Stage that removes or changes documents by the index. A barrier whose index jobs
    can read through the apply stages of barriers just before it (`reads_through`) spares the recipe a
    pass that would only apply those: the sentence index reads the corpus as MinHash dedup leaves it.
    """

    reads_through: bool = False

    def index_jobs(self, inputs: list[str], work: str, pending: list[Stage], tasks: int) -> list[tuple[str, list, int]]:
        """(job name, datatrove steps, tasks) that build the index under `work` from the parquet shards under
        `inputs`, reading through the `pending` stages."""
        raise NotImplementedError

    def apply_stage(self, work: str) -> Stage:
        raise NotImplementedError


def survivors(docs, pending: list[Stage]):
    """The documents that the `pending` stages keep (as they leave them), for an index job that reads a pass's
    output as the next pass will see it. Nothing is logged or counted: the next pass does that."""
    for doc in docs:
        for stage in pending:
            if stage.sources is None or doc.metadata.get("source") in stage.sources:
                doc = stage.process(doc)
                if isinstance(doc, Drop):
                    break
        else:
            yield doc
