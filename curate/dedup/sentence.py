"""Sentence-, line- or paragraph-level dedup: a unit repeated across documents is kept only where it was seen
first and cut from every later document.

Matching is exact after normalisation (NFKC, lower case, punctuation and whitespace removed), by a 64-bit
xxhash of the normalised unit. Units with fewer than `min_words` words ("Chapter 1.", "Home") are never
removed: they repeat by nature. Repeats within one document are kept (verse refrains, table rows); only a
unit first seen in another document is cut.

Scope (first version): dedup is exact *per task*, in the order the task reads its documents (files sorted,
rows in order). With one task the result is deterministic; with several tasks a unit repeated across two
tasks' files survives in both. Cross-task sentence dedup needs a two-pass function like `dedup_documents`.
Memory: one 64-bit hash per distinct unit seen by the task (about 70 bytes in a Python set).

Every cut span is logged to removed/<stage>/spans/<rank>.jsonl.gz with the document id, its character offsets
in the original text, the text and the id of the document where the unit was first seen. A document left with
fewer than `min_chars` characters after cuts is dropped with reason "too_short_after_sentence_dedup".
"""

import re

import xxhash
from datatrove.data import Document, DocumentsPipeline

from curate.dedup.minhash import WORD, normalize
from curate.io.records import RecordLog
from curate.stage import Drop, Stage

UNITS = {
    "sentence": re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)[\"')\]]*\s*"),
    "line": re.compile(r"[^\n]*(?:\n|$)"),
    "paragraph": re.compile(r".*?(?:\n\s*\n\s*|$)", re.S),
}


def split_units(text: str, unit: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the units of `text`, covering it completely (separators stay with the unit)."""
    spans = [(m.start(), m.end()) for m in UNITS[unit].finditer(text) if m.end() > m.start()]
    return spans


def unit_key(text: str) -> tuple[int, int]:
    """(hash of the normalised words, word count)."""
    w = WORD.findall(normalize(text))
    return xxhash.xxh3_64_intdigest(" ".join(w)), len(w)


class SentenceDedup(Stage):
    name = "sentence_dedup"
    type = "curate dedup"

    def __init__(self, unit: str = "sentence", min_words: int = 5, min_chars: int = 200):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"sentence_dedup: unit={unit!r}: expected one of {sorted(UNITS)}")
        self.unit, self.min_words, self.min_chars = unit, min_words, min_chars
        self.seen: dict[int, str] = {}
        self._spans: RecordLog | None = None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.seen = {}
        self._spans = RecordLog(f"{self.removed_folder}/spans", rank) if self.removed_folder else None
        try:
            yield from super().run(data, rank, world_size)
        finally:
            if self._spans is not None:
                self._spans.close()

    def process(self, doc: Document) -> Document | Drop:
        text = doc.text
        keep, cuts = [], []
        for start, end in split_units(text, self.unit):
            key, n_words = unit_key(text[start:end])
            first = self.seen.setdefault(key, doc.id) if n_words >= self.min_words else doc.id
            if first != doc.id:
                cuts.append((start, end, first))
            else:
                keep.append(text[start:end])
        if not cuts:
            return doc
        self.stat_update("spans_removed", value=len(cuts))
        self.stat_update("chars_in_spans_removed", value=sum(e - s for s, e, _ in cuts))
        if self._spans is not None:
            for start, end, first in cuts:
                self._spans.write({"id": doc.id, "source": doc.metadata.get("source"), "stage": self.stage_name or self.name,
                                   "reason": f"duplicate_{self.unit}", "start": start, "end": end,
                                   "text": text[start:end], "first_seen_in": first})
        new_text = "".join(keep).strip()
        if len(new_text) < self.min_chars:
            return Drop("too_short_after_sentence_dedup", {"chars_left": len(new_text), "min_chars": self.min_chars,
                                                           "spans_removed": len(cuts)})
        doc.text = new_text
        return doc
