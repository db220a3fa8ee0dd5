"""Sentence-, line- or paragraph-level dedup: a unit repeated across documents is kept in one document and cut
from every other.

Matching is exact after normalisation (NFKC, lower case, punctuation and whitespace removed), by a 64-bit
xxhash of the normalised unit. Units with fewer than `min_words` words ("Chapter 1.", "Home") are never
removed: they repeat by nature. Repeats within one document are kept (verse refrains, table rows); only a
unit also found in another document is cut.

Two scopes:
  - across the corpus (what a recipe does): an index records, for every unit found in two documents or more,
    its owner: the document with the smallest id key (xxh3-64 of the id). `SentenceDedup(first_seen=index)`
    then cuts a unit from every document but its owner, in any pipeline, with any number of tasks: the result
    does not depend on the task count or reading order. In a recipe, `sentence_dedup` without `first_seen` is
    a barrier (`UnitIndex`): the runner builds the index over the pass before it, then applies the step. The
    index of another corpus is built by `index_units` (`curate dedup sentences`) and given as `first_seen`.
  - per task (`SentenceDedup()` in a datatrove pipeline of one's own, `first_seen` unset): the first document
    a task reads keeps the unit. With one task this is deterministic; with several, a unit repeated across
    two tasks' files survives in both.

Every cut span is logged to removed/<stage>/spans/<rank>.jsonl.gz with the document id, its character offsets
in the original text, the text and the owner (`first_seen_in`: an id, or the owner's id key). A document left
with fewer than `min_chars` characters after cuts is dropped with reason "too_short_after_sentence_dedup".
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from curate.dedup.minhash import WORD, normalize
from curate.io.files import write_json_atomic
from curate.io.records import scrub_strings
from curate.stage import Barrier, Drop, Stage, survivors

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
    logs_spans = True

    def __init__(self, unit: str = "sentence", min_words: int = 5, min_chars: int = 200, first_seen: str | None = None):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"sentence_dedup: unit={unit!r}: expected one of {sorted(UNITS)}")
        self.unit, self.min_words, self.min_chars = unit, min_words, min_chars
        self.first_seen = first_seen
        self._owners: tuple[np.ndarray, np.ndarray] | None = None
        if first_seen is not None:
            self._load_owners()  # a wrong index is a config error now, not a failed task later
        self.seen: dict[int, str] = {}

    def _load_owners(self) -> tuple[np.ndarray, np.ndarray]:
        hashes, owners, card = load_unit_index(self.first_seen)
        if (card["unit"], card["min_words"]) != (self.unit, self.min_words):
            raise ValueError(f"sentence_dedup: {self.first_seen} indexes {card['unit']}s of >= {card['min_words']} "
                             f"words, this step asks for {self.unit}s of >= {self.min_words}; rebuild it with the same settings")
        return hashes, owners

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.seen = {}
        self._owners = self._load_owners() if self.first_seen else None
        yield from super().run(data, rank, world_size)

    def process(self, doc: Document) -> Document | Drop:
        text = doc.text
        keep, cuts = [], []
        spans = split_units(text, self.unit)
        keys = [unit_key(text[start:end]) for start, end in spans]
        owners = self._owners_of(doc.id, keys) if self._owners is not None else None
        for i, ((start, end), (key, n_words)) in enumerate(zip(spans, keys)):
            if owners is not None:
                first = owners[i]
            else:
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
            scrub = self.scrub_removed
            for start, end, first in cuts:
                self._spans.write({"id": scrub.scrub_id(doc.id) if scrub else doc.id, "source": doc.metadata.get("source"),
                                   "stage": self.stage_name or self.name, "reason": f"duplicate_{self.unit}",
                                   "start": start, "end": end, "text": scrub_strings(text[start:end], scrub),
                                   "first_seen_in": scrub.scrub_id(first) if scrub else first})
        new_text = "".join(keep).strip()
        if len(new_text) < self.min_chars:
            return Drop("too_short_after_sentence_dedup", {"chars_left": len(new_text), "min_chars": self.min_chars,
                                                           "spans_removed": len(cuts)})
        doc.text = new_text
        return doc

    def _owners_of(self, doc_id: str, keys: list[tuple[int, int]]) -> list[str]:
        """For each unit: this document's id when it owns the unit (or nobody else has it), else the owner's key."""
        hashes, owner_keys = self._owners
        mine = id_key(doc_id)
        query = np.array([k for k, _ in keys], dtype=np.uint64)
        pos = np.minimum(np.searchsorted(hashes, query), max(len(hashes) - 1, 0))
        found = (hashes[pos] == query) if len(hashes) else np.zeros(len(query), bool)
        out = []
        for (key, n_words), hit, p in zip(keys, found, pos):
            owner = int(owner_keys[p]) if hit and n_words >= self.min_words else mine
            out.append(doc_id if owner == mine else f"key:{owner:016x}")
        return out


def id_key(doc_id: str) -> int:
    return xxhash.xxh3_64_intdigest(doc_id.encode("utf-8"))


class UnitIndex(Barrier):
    """`sentence_dedup` without `first_seen` in a recipe: the index of its units over the whole corpus, built
    by two datatrove jobs (units per input file, owners per part of the hash space), then applied by the
    step itself in the next pass. It reads through the stages of barriers just before it (MinHash dedup), so
    a unit whose first owner is a removed near-duplicate is kept in the next document that has it."""

    reads_through = True

    def __init__(self, step: "SentenceDedup", shards: int = 16):
        self.step, self.shards = step, shards

    def index_jobs(self, inputs: list[str], work: str, pending: list[Stage], tasks: int) -> list[tuple[str, list, int]]:
        step = self.step
        return [("units", [UnitHashStage(inputs, work, step.unit, step.min_words, self.shards, pending)], tasks),
                ("owners", [UnitOwnerStage(inputs, work, self.shards)], min(tasks, self.shards))]

    def apply_stage(self, work: str) -> Stage:
        step = self.step
        apply = SentenceDedup(step.unit, step.min_words, step.min_chars)
        apply.first_seen = work  # built by the index jobs before the pass runs; loaded and checked then
        return apply


class UnitHashStage(PipelineStep):
    """Index job 1: for input file k, the (unit hash, id key) pairs of its documents, each unit once per
    document, in `shards` parts by hash: parts/<k>.<shard>.npy, then parts/<k>.json (written last)."""

    type = "curate dedup"
    name = "unit index 1: units"

    def __init__(self, inputs: list[str], work: str, unit: str, min_words: int, shards: int, pending: list | None = None):
        super().__init__()
        self.inputs, self.work, self.unit, self.min_words, self.shards = inputs, work, unit, min_words, shards
        self.pending = pending or []

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from curate.io.texts import corpus_documents, input_files

        work = Path(self.work)
        (work / "parts").mkdir(parents=True, exist_ok=True)
        write_json_atomic(work / "card.json", {"unit": self.unit, "min_words": self.min_words, "shards": self.shards})
        files = [f for path in self.inputs for f in input_files(path)]
        for k in range(rank, len(files), world_size):
            with self.track_time():
                hashes, keys, documents = [], [], 0
                for doc in survivors(corpus_documents(files[k]), self.pending):
                    documents += 1
                    text = doc.text
                    units = {h for h, n in (unit_key(text[s:e]) for s, e in split_units(text, self.unit)) if n >= self.min_words}
                    hashes.extend(units)
                    keys.extend([id_key(doc.id)] * len(units))
                h, key = np.array(hashes, dtype=np.uint64), np.array(keys, dtype=np.uint64)
                shard = h % np.uint64(self.shards)
                for s in range(self.shards):
                    mine = shard == s
                    np.save(work / "parts" / f"{k:06d}.{s:03d}.npy", np.stack([h[mine], key[mine]]))
                write_json_atomic(work / "parts" / f"{k:06d}.json", {"file": str(files[k]), "documents": documents})
            self.stat_update("documents", value=documents)
        return iter(())


class UnitOwnerStage(PipelineStep):
    """Index job 2: for each part of the hash space, the units found in two documents or more and their owner
    (the document with the smallest id key): owners/<shard>.npz."""

    type = "curate dedup"
    name = "unit index 2: owners"
    light = True  # merges hash parts: see curate.pipeline.run_recipe

    def __init__(self, inputs: list[str], work: str, shards: int):
        super().__init__()
        self.inputs, self.work, self.shards = inputs, work, shards

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from curate.io.texts import input_files

        work = Path(self.work)
        n_files = sum(len(input_files(path)) for path in self.inputs)
        for k in range(n_files):
            if not (work / "parts" / f"{k:06d}.json").exists():
                raise ValueError(f"{work}/parts: units of input file {k} are missing; the first job did not finish")
        (work / "owners").mkdir(exist_ok=True)
        for s in range(rank, self.shards, world_size):
            with self.track_time():
                parts = [np.load(work / "parts" / f"{k:06d}.{s:03d}.npy") for k in range(n_files)]
                both = np.concatenate(parts, axis=1) if parts else np.empty((2, 0), np.uint64)
                h, key = both[0], both[1]
                order = np.lexsort((key, h))  # by unit hash, then owner key: the first of each run is the owner
                h, key = h[order], key[order]
                first = np.ones(len(h), bool)
                first[1:] = h[1:] != h[:-1]
                starts = np.flatnonzero(first)
                counts = np.diff(np.append(starts, len(h)))
                shared = starts[counts > 1]  # the same unit in two documents or more (a document lists a unit once)
                tmp = work / "owners" / f"{s:03d}.tmp.npz"
                np.savez(tmp, hashes=h[shared], owners=key[shared], units=np.array(len(starts)))
                os.replace(tmp, work / "owners" / f"{s:03d}.npz")
            self.stat_update("shared_units", value=len(shared))
        return iter(())


def index_units(inputs: list[str], out_path: str, unit: str = "sentence", min_words: int = 5, workers: int = 1,
                shards: int = 16) -> dict:
    """Read the corpus once and write, for every unit that occurs in two documents or more, its owner (the
    document with the smallest id key) to `out_path` (.npz, sorted by unit hash) with a JSON card beside it.

    The two index jobs of a recipe's `sentence_dedup` (UnitHashStage, UnitOwnerStage), on datatrove's local
    executor with `workers` processes: no process holds every unit of the corpus, only one file's units, then
    one shard's. The index is the same for any number of workers and shards.
    """
    from curate.executors import run_job
    from curate.io.texts import input_files

    if unit not in UNITS:
        raise ValueError(f"index_units: unit={unit!r}: expected one of {sorted(UNITS)}")
    if not out_path.endswith(".npz"):
        raise ValueError(f"index_units: the index path must end in .npz, got {out_path}")
    if workers < 1 or shards < 1:
        raise ValueError(f"index_units: workers and shards must be at least 1 (got {workers}, {shards})")
    n_files = sum(len(input_files(path)) for path in inputs)  # a clear error now for a missing or empty input
    work = Path(f"{out_path}.parts")
    if work.exists():
        shutil.rmtree(work)  # a command of its own: it starts over
    run_job([UnitHashStage(inputs, str(work), unit, min_words, shards)], n_files, workers, str(work / "logs" / "units"))
    run_job([UnitOwnerStage(inputs, str(work), shards)], shards, workers, str(work / "logs" / "owners"))
    hashes, owners, card = load_unit_index(str(work))
    np.savez(out_path, hashes=hashes, owners=owners)
    documents = sum(json.loads(p.read_text())["documents"] for p in (work / "parts").glob("*.json"))
    card = {"unit": unit, "min_words": min_words, "documents": documents, "units": card["units"],
            "shared_units": int(len(hashes)), "inputs": [str(p) for p in inputs]}
    Path(f"{out_path}.json").write_text(json.dumps(card, indent=2) + "\n")
    shutil.rmtree(work)
    return card


def load_unit_index(path: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(unit hashes, owner keys, card) of an index: an .npz of `curate dedup sentences`, or the folder of a
    recipe's index jobs (owners/<shard>.npz, merged here, sorted by hash)."""
    p = Path(path)
    if p.is_dir():
        card = json.loads((p / "card.json").read_text())
        shards = [p / "owners" / f"{s:03d}.npz" for s in range(card["shards"])]
        if missing := [str(f) for f in shards if not f.exists()]:
            raise ValueError(f"sentence_dedup: the unit index in {path} is not complete ({missing[0]} missing)")
        parts = [np.load(f) for f in shards]
        hashes = np.concatenate([d["hashes"] for d in parts])
        owners = np.concatenate([d["owners"] for d in parts])
        order = np.argsort(hashes, kind="stable")  # the step looks units up with searchsorted
        return hashes[order], owners[order], card | {"units": int(sum(int(d["units"]) for d in parts))}
    if not p.is_file():
        raise ValueError(f"sentence_dedup: no unit index at {path}; build it with `curate dedup sentences`")
    data = np.load(path)
    return data["hashes"], data["owners"], json.loads(Path(f"{path}.json").read_text())
