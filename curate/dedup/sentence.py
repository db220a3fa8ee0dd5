"""Sentence-, line- or paragraph-level dedup: a unit repeated across documents is kept in one document and cut
from every other.

Matching is exact after normalisation (NFKC, lower case, punctuation and whitespace removed), by a 64-bit
xxhash of the normalised unit. Units with fewer than `min_words` words ("Chapter 1.", "Home") are never
removed: they repeat by nature. Repeats within one document are kept (verse refrains, table rows); only a
unit also found in another document is cut.

Two scopes:
  - across the corpus (use this for real runs): `index_units(inputs, path)` reads the whole corpus once and
    records, for every unit found in two documents or more, its owner: the document with the smallest id key
    (xxh3-64 of the id). `SentenceDedup(first_seen=path)` then cuts a unit from every document but its owner,
    in any pipeline, with any number of tasks: the result does not depend on the task count or reading order.
  - per task (`first_seen` unset): the first document a task reads keeps the unit. With one task this is
    deterministic; with several, a unit repeated across two tasks' files survives in both.

Every cut span is logged to removed/<stage>/spans/<rank>.jsonl.gz with the document id, its character offsets
in the original text, the text and the owner (`first_seen_in`: an id, or the owner's id key). A document left
with fewer than `min_chars` characters after cuts is dropped with reason "too_short_after_sentence_dedup".
"""

import json
import re
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import Document, DocumentsPipeline

from curate.dedup.minhash import WORD, normalize
from curate.io.records import scrub_strings
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
    logs_spans = True

    def __init__(self, unit: str = "sentence", min_words: int = 5, min_chars: int = 200, first_seen: str | None = None):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"sentence_dedup: unit={unit!r}: expected one of {sorted(UNITS)}")
        self.unit, self.min_words, self.min_chars = unit, min_words, min_chars
        self.first_seen = first_seen
        self._owners: tuple[np.ndarray, np.ndarray] | None = None
        if first_seen is not None:
            card = load_unit_index(first_seen)[2]
            if (card["unit"], card["min_words"]) != (unit, min_words):
                raise ValueError(f"sentence_dedup: {first_seen} indexes {card['unit']}s of >= {card['min_words']} words, "
                                 f"this step asks for {unit}s of >= {min_words}; rebuild it with the same settings")
        self.seen: dict[int, str] = {}

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.seen = {}
        self._owners = load_unit_index(self.first_seen)[:2] if self.first_seen else None
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


def index_units(inputs: list[str], out_path: str, unit: str = "sentence", min_words: int = 5, workers: int = 1,
                shards: int = 16) -> dict:
    """Read the corpus once and write, for every unit that occurs in two documents or more, its owner (the
    document with the smallest id key) to `out_path` (.npz, sorted by unit hash) with a JSON card beside it.

    Two passes, so that no process holds every unit of the corpus: each input file's (unit hash, id key)
    pairs are written in `shards` parts by hash; then each shard alone finds its repeated units. Memory is
    one file's units, then one shard's; both passes run on `workers` processes. The index is the same for
    any number of workers and shards.
    """
    from curate.io.texts import input_files

    if unit not in UNITS:
        raise ValueError(f"index_units: unit={unit!r}: expected one of {sorted(UNITS)}")
    if not out_path.endswith(".npz"):
        raise ValueError(f"index_units: the index path must end in .npz, got {out_path}")
    if workers < 1 or shards < 1:
        raise ValueError(f"index_units: workers and shards must be at least 1 (got {workers}, {shards})")
    work = Path(f"{out_path}.parts")
    work.mkdir(parents=True, exist_ok=True)
    files = [file for path in inputs for file in input_files(path)]
    hash_jobs = [(file, str(work / f"{k:06d}"), unit, min_words, shards) for k, file in enumerate(files)]
    shard_jobs = [(str(work), len(files), s) for s in range(shards)]
    if workers == 1:
        documents = sum(map(_hash_units_of_file, hash_jobs))
        found = list(map(_repeated_units_of_shard, shard_jobs))
    else:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:  # spawn: the caller may hold threads (Ray, torch)
            documents = sum(pool.imap(_hash_units_of_file, hash_jobs))
            found = pool.map(_repeated_units_of_shard, shard_jobs)
    hashes = np.concatenate([h for h, _, _ in found])
    owners = np.concatenate([o for _, o, _ in found])
    order = np.argsort(hashes, kind="stable")  # the step looks units up with searchsorted
    np.savez(out_path, hashes=hashes[order], owners=owners[order])
    for part in work.iterdir():
        part.unlink()
    work.rmdir()
    card = {"unit": unit, "min_words": min_words, "documents": documents, "units": sum(n for _, _, n in found),
            "shared_units": int(len(hashes)), "inputs": [str(p) for p in inputs]}
    Path(f"{out_path}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def _hash_units_of_file(job: tuple) -> int:
    """Pass 1 for one input file: its (unit hash, id key) pairs, a document listing each unit once, written to
    PREFIX.<shard>.npy by hash. Returns the number of documents."""
    from curate.io.texts import read_documents

    file, prefix, unit, min_words, shards = job
    hashes, keys = [], []
    documents = 0
    for doc in read_documents(file):
        if doc is None:
            continue
        documents += 1
        text = doc["text"]
        units = {h for h, n in (unit_key(text[s:e]) for s, e in split_units(text, unit)) if n >= min_words}
        hashes.extend(units)
        keys.extend([id_key(doc["id"])] * len(units))
    h, k = np.array(hashes, dtype=np.uint64), np.array(keys, dtype=np.uint64)
    shard = h % np.uint64(shards)
    for s in range(shards):
        mine = shard == s
        np.save(f"{prefix}.{s:03d}.npy", np.stack([h[mine], k[mine]]))
    return documents


def _repeated_units_of_shard(job: tuple) -> tuple[np.ndarray, np.ndarray, int]:
    """Pass 2 for one shard: (hashes of the units found in two documents or more, their owners, distinct units)."""
    work, n_files, s = job
    parts = [np.load(Path(work) / f"{k:06d}.{s:03d}.npy") for k in range(n_files)]
    both = np.concatenate(parts, axis=1) if parts else np.empty((2, 0), np.uint64)
    h, k = both[0], both[1]
    order = np.lexsort((k, h))  # by unit hash, then owner key: the first of each run is the owner
    h, k = h[order], k[order]
    first = np.ones(len(h), bool)
    first[1:] = h[1:] != h[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(h)))
    shared = starts[counts > 1]  # the same unit in two documents or more (a document lists a unit once)
    return h[shared], k[shared], int(len(starts))


def load_unit_index(path: str) -> tuple[np.ndarray, np.ndarray, dict]:
    if not Path(path).is_file():
        raise ValueError(f"sentence_dedup: no unit index at {path}; build it with `curate dedup sentences`")
    data = np.load(path)
    return data["hashes"], data["owners"], json.loads(Path(f"{path}.json").read_text())
