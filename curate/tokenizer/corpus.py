"""The text a tokenizer learns from and is measured on: documents streamed from parquet shards, split into
held-out and train by a hash of their id, and sampled per source to a character budget.

Held-out rule: a document is held out when `blake2b(id)`, read as a number in [0, 1), is below
`holdout_fraction`. It depends on the id alone (not on the seed, the recipe or the file a document sits in),
so every tokenizer and the token shards agree on which documents are held out, also for documents that a
tokenizer never saw.

Sampling: pass 1 reads every train document once and keeps two numbers per document (a seeded hash and its
length; 16 bytes, the text is dropped). The budget of each source then takes that source's documents in hash
order until it is full, the last one cut to fit, so the sample is a uniform, seeded draw that does not depend
on file order, and pass 2 streams exactly those documents to the trainer. Memory: 16 bytes per document.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from curate.io.paths import check_name
from curate.io.texts import input_files, read_documents


def unit_hash(key: str) -> float:
    """A number in [0, 1) from a string, the same on every machine and Python version."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def is_heldout(doc_id: str, fraction: float) -> bool:
    return fraction > 0 and unit_hash(doc_id) < fraction


HELDOUT_RULE = "held out when int.from_bytes(blake2b(id.encode(), digest_size=8), 'big') / 2**64 < holdout_fraction"


def corpus_files(inputs: list[str]) -> list[tuple[Path, Path]]:
    """(input root, file) for every .parquet/.jsonl file under the inputs, sorted, each file once."""
    if not inputs:
        raise ValueError("no inputs given: pass folders of parquet shards (a curate run's OUT/data)")
    seen, files = set(), []
    for root in inputs:
        for f in input_files(str(root)):
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append((Path(root), f))
    return sorted(files, key=lambda rf: str(rf[1]))


def source_of(root: Path, file: Path, doc: dict) -> str:
    """The document's `source` column, else the name of the folder the file is in (OUT/data/<source>/),
    else the file's name without its extension."""
    if doc.get("source"):  # a value of the data: it becomes a folder under the output, so it must be a plain name
        return check_name(str(doc["source"]), f"{file}: document {doc.get('id')!r}: column `source`")
    if root.is_dir() and file.parent.resolve() != root.resolve():
        return file.parent.name
    return file.name.split(".")[0]


# Parquet rows read at a time: 16 books of 1 MB are 16 MB of text in Arrow and as much again in Python
# strings (256 rows, the reader's default, held ~250 MB on a books corpus: more than a trainer's word table).
READ_BATCH_ROWS = 16


def _parquet_groups(root: Path, file: Path) -> Iterator[tuple[list[tuple[str, str]], Callable[[], Iterator]]]:
    """Per row group of a parquet file: the (source, id) of each of its rows, and a function that streams
    its text column (Arrow arrays of READ_BATCH_ROWS rows). The ids and sources are small columns, read
    first; the text, nearly all of a shard's bytes and of its decoding time, is read only when asked for, so
    a pass that wants a few documents skips the row groups that hold none of them. Ids follow
    `read_documents`: the id column, else `<file name>#<row number>`."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(file)
    names = pf.schema_arrow.names
    if "text" not in names:
        raise ValueError(f"{file}: no column 'text' (columns: {names})")
    row = 0
    for g in range(pf.num_row_groups):
        rows = pf.metadata.row_group(g).num_rows
        small = pf.read_row_group(g, columns=[c for c in ("id", "source") if c in names])
        ids = small.column("id").to_pylist() if "id" in names else [None] * rows
        sources = small.column("source").to_pylist() if "source" in names else [None] * rows
        keys = []
        for doc_id, source in zip(ids, sources):
            row += 1
            keys.append((source_of(root, file, {"source": source, "id": doc_id}), str(doc_id or f"{file.name}#{row}")))
        yield keys, lambda g=g: (b.column(0) for b in pf.iter_batches(READ_BATCH_ROWS, row_groups=[g], columns=["text"]))


def documents(inputs: list[str], wanted: Callable[[str, str], bool] | None = None) -> Iterator[tuple[str, str, str]]:
    """(source, id, text) of every document with text (or of those `wanted(source, id)` accepts), streamed
    in file order. Parquet text is decoded only in the row groups that hold a wanted document."""
    for root, file in corpus_files(inputs):
        if not file.name.endswith(".parquet"):
            for doc in read_documents(file):
                if doc is not None and doc["text"]:
                    source = source_of(root, file, doc)
                    if wanted is None or wanted(source, doc["id"]):
                        yield source, doc["id"], doc["text"]
            continue
        for keys, texts in _parquet_groups(root, file):
            take = [wanted is None or wanted(*key) for key in keys]
            if not any(take):
                continue
            i = 0
            for array in texts():
                chosen = [j for j in range(len(array)) if take[i + j]]
                if chosen:
                    values = array.to_pylist() if len(chosen) == len(array) else array.take(chosen).to_pylist()
                    for j, text in zip(chosen, values):
                        if text:
                            yield (*keys[i + j], text)
                i += len(array)


def document_lengths(inputs: list[str]) -> Iterator[tuple[str, str, int, Callable[[], str]]]:
    """(source, id, characters, a function that returns the text) of the documents `documents` gives, in the
    same order with the same ids. Pass 1 needs lengths, not texts: for parquet they are counted by Arrow
    (`utf8_length`), and a text becomes a Python string only when asked for. Decoding every text into a
    Python string was most of pass 1's time (0.6 s per 57 MB of books), as much as all of pass 2's reading."""
    import pyarrow.compute as pc

    for root, file in corpus_files(inputs):
        if not file.name.endswith(".parquet"):
            for doc in read_documents(file):
                if doc is not None and doc["text"]:
                    yield source_of(root, file, doc), doc["id"], len(doc["text"]), lambda t=doc["text"]: t
            continue
        for keys, texts in _parquet_groups(root, file):
            i = 0
            for array in texts():
                for j, n in enumerate(pc.utf8_length(array).to_pylist()):
                    if n:
                        yield (*keys[i + j], n, lambda j=j, a=array: a[j].as_py())
                i += len(array)


@dataclass
class SourcePlan:
    """One source's documents and characters: available for training, held out, and sampled."""

    weight: float | None = None
    train_docs: int = 0
    train_chars: int = 0  # after the per-document cap
    heldout_docs: int = 0
    heldout_ids: list[str] = field(default_factory=list)
    budget: int = 0
    threshold: float = -1.0  # documents with a sampling hash below this are taken whole
    cut_hash: float | None = None  # the one document at the threshold, taken in part
    cut_chars: int = 0
    sampled_docs: int = 0
    sampled_chars: int = 0
    alphabet: set = field(default_factory=set)
    _hashes: list = field(default_factory=list)
    _lengths: list = field(default_factory=list)

    def card(self) -> dict:
        return {
            "weight": self.weight,
            "train_documents": self.train_docs,
            "train_chars": self.train_chars,
            "heldout_documents": self.heldout_docs,
            "sampled_documents": self.sampled_docs,
            "sampled_chars": self.sampled_chars,
        }


# Characters of each source's first documents scanned for its alphabet (the vocabulary-size check).
ALPHABET_SAMPLE_CHARS = 4_000_000


def plan(inputs: list[str], recipe) -> dict[str, SourcePlan]:
    """Pass 1: count every source's train and held-out documents, then fix each source's budget and the
    hash threshold that fills it. Sources not named in `recipe.sources` (when it names any) are skipped."""
    cap = recipe.max_chars_per_document
    plans: dict[str, SourcePlan] = {}
    found: set[str] = set()
    for source, doc_id, length, text in document_lengths(inputs):
        found.add(source)
        if recipe.sources is not None and source not in recipe.sources:
            continue
        p = plans.setdefault(source, SourcePlan(weight=(recipe.sources or {}).get(source)))
        if is_heldout(doc_id, recipe.holdout_fraction):
            p.heldout_docs += 1
            p.heldout_ids.append(doc_id)
            continue
        n = min(length, cap)
        p.train_docs += 1
        p.train_chars += n
        p._hashes.append(unit_hash(f"{recipe.seed}:{doc_id}"))
        p._lengths.append(n)
        if p.train_chars - n < ALPHABET_SAMPLE_CHARS:
            p.alphabet.update(text()[:cap])
    _check_found(inputs, recipe, plans, found)
    _set_budgets(plans, recipe)
    for p in plans.values():
        _set_threshold(p)
    return dict(sorted(plans.items()))


def _check_found(inputs: list[str], recipe, plans: dict[str, SourcePlan], found: set[str]) -> None:
    if not found:
        raise ValueError(f"{list(map(str, inputs))}: no documents with text")
    if recipe.sources is not None:
        missing = sorted(set(recipe.sources) - found)
        if missing:
            raise ValueError(
                f"sources: {missing} not found in the inputs; sources found: {sorted(found)} "
                "(a document's source is its `source` column, else its folder name)"
            )
    empty = sorted(s for s, p in plans.items() if p.train_docs == 0)
    if empty or not plans:
        raise ValueError(
            f"no training documents for source(s) {empty or sorted(found)}: every document is held out or empty "
            f"(holdout_fraction={recipe.holdout_fraction})"
        )


def _set_budgets(plans: dict[str, SourcePlan], recipe) -> None:
    per_source_cap = recipe.max_chars_per_source or float("inf")
    available = {s: min(p.train_chars, per_source_cap) for s, p in plans.items()}
    if recipe.sources is not None:
        # Weights are kept exactly: the total shrinks until every source can fill its share.
        total_weight = sum(recipe.sources.values())
        shares = {s: recipe.sources[s] / total_weight for s in plans}
        total = min([recipe.max_chars] + [available[s] / shares[s] for s in plans])
        wanted = {s: shares[s] * total for s in plans}
    else:
        # No weights: every source in its natural proportion, each under its cap, all scaled to max_chars.
        scale = min(1.0, recipe.max_chars / max(1, sum(available.values())))
        wanted = {s: available[s] * scale for s in plans}
    # Whole characters that add up to the rounded total (largest remainders first, then by name).
    budgets = {s: int(w) for s, w in wanted.items()}
    left = round(sum(wanted.values())) - sum(budgets.values())
    for s in sorted(wanted, key=lambda s: (budgets[s] - wanted[s], s))[: max(0, left)]:
        budgets[s] = min(budgets[s] + 1, int(available[s]))
    for s, p in plans.items():
        p.budget = budgets[s]


def _set_threshold(p: SourcePlan) -> None:
    hashes = np.asarray(p._hashes, dtype=np.float64)
    lengths = np.asarray(p._lengths, dtype=np.int64)
    p._hashes = p._lengths = []
    order = np.argsort(hashes, kind="stable")
    filled = np.cumsum(lengths[order])
    whole = int(np.searchsorted(filled, p.budget, side="right"))  # documents that fit whole
    p.sampled_docs = whole
    p.sampled_chars = int(filled[whole - 1]) if whole else 0
    p.threshold = float(hashes[order[whole - 1]]) if whole else -1.0
    rest = p.budget - p.sampled_chars
    if whole < len(order) and rest > 0:
        p.cut_hash = float(hashes[order[whole]])
        p.cut_chars = rest
        p.sampled_docs += 1
        p.sampled_chars += rest


def sampled_texts(inputs: list[str], recipe, plans: dict[str, SourcePlan]) -> Iterator[tuple[str, str]]:
    """Pass 2: (source, text) of every sampled document, capped and cut as the plan says, in file order.
    Which documents is decided from the id alone, so only their text is decoded (a 20 MB sample of a 1 GB
    corpus decodes the row groups that hold a sampled document, not the whole corpus)."""
    cap = recipe.max_chars_per_document

    def chars(source: str, doc_id: str) -> int:
        p = plans.get(source)
        if p is None or is_heldout(doc_id, recipe.holdout_fraction):
            return 0
        h = unit_hash(f"{recipe.seed}:{doc_id}")
        return cap if h <= p.threshold else p.cut_chars if h == p.cut_hash else 0

    for source, doc_id, text in documents(inputs, lambda source, doc_id: chars(source, doc_id) > 0):
        yield source, text[: chars(source, doc_id)]


def every_document(inputs: list[str], recipe, plans: dict[str, SourcePlan]) -> Iterator[tuple[str, str]]:
    """The one pass of `max_chars: null`: (source, text) of every training document, capped at
    max_chars_per_document, in file order: the texts pass 2 gives when the budget holds every document,
    without pass 1. `plans` is filled on the way (documents and characters per source, held-out ids); the
    checks pass 1 makes before training come at the end of the pass."""
    cap = recipe.max_chars_per_document
    for source, doc_id, text in documents(inputs):
        p = plans.setdefault(source, SourcePlan())
        if is_heldout(doc_id, recipe.holdout_fraction):
            p.heldout_docs += 1
            p.heldout_ids.append(doc_id)
            continue
        text = text[:cap]
        p.train_docs += 1
        p.train_chars += len(text)
        p.sampled_docs += 1
        p.sampled_chars += len(text)
        yield source, text
    _check_found(inputs, recipe, plans, set(plans))


def pieces(text: str, size: int) -> Iterator[str]:
    """`text` in pieces of at most `size` characters, each cut after a newline or else after a space where
    one is near the end (never inside a word unless a piece has no whitespace at all)."""
    start, n = 0, len(text)
    while n - start > size:
        end = start + size
        cut = text.rfind("\n", start + size // 2, end)
        if cut < 0:
            cut = text.rfind(" ", start + size // 2, end)
        end = cut + 1 if cut >= 0 else end
        yield text[start:end]
        start = end
    if start < n:
        yield text[start:]
