"""The text a tokenizer learns from and is measured on: documents streamed from parquet shards, split into
held-out and train by a hash of their id, and sampled per source to a character budget.

Held-out rule: a document is held out when `blake2b(id)`, read as a number in [0, 1), is below
`holdout_fraction`. It depends on the id alone (not on the seed, the recipe or the file a document sits in),
so every tokenizer and the token shards agree on which documents are held out, also for documents that a
tokenizer never saw.

Sampling: the sample of each source is its training documents in the order of a seeded hash of their id,
taken whole until the source's budget is full, the last one cut to fit: a uniform, seeded draw that does not
depend on file order. Finding it does not read every text. Pass 1 reads the ids (a small column) and the
parquet footer, which gives every row group's text size for free, so every source's characters are estimated
without decoding a text; the budgets follow from the estimates, and each source's lowest hashes are counted
(lengths in Arrow) only as far as its budget needs, with a margin: a 20 MB sample of a 1 GB corpus decodes the
row groups that hold ~2% of the documents, not all of them. The estimate is corrected by the characters per
byte of what was counted; where the count still falls short of the budget (e.g. CJK text, three UTF-8 bytes
a character), the next hashes are counted, until the budget is covered or the whole source is counted. A
source whose budget is most of it is counted whole, so its budget is exact (a source that limits the others'
shares through its weight always is); the other budgets rest on the corrected estimates, so natural
proportions between sources hold as well as those do (the card says which sources were counted whole).
Pass 2 gives the trainer exactly the sampled documents: the counted texts pass 1 kept, when all of them fit
in KEEP_CHARS, else read again. Memory: two numbers per training document, and the kept texts.
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


def _parquet_groups(root: Path, file: Path) -> Iterator[tuple[list[tuple[str, str]], float, Callable[[], Iterator]]]:
    """Per row group of a parquet file: the (source, id) of each of its rows, the characters of text a row
    holds on average as the footer estimates them, and a function that streams its text column (Arrow arrays
    of READ_BATCH_ROWS rows). The ids and sources are small columns, read first; the text, nearly all of a
    shard's bytes and of its decoding time, is read only when asked for, so a pass that wants a few
    documents skips the row groups that hold none of them. Ids follow `read_documents`: the id column, else
    `<file name>#<row number>`."""
    import pyarrow.parquet as pq

    # No pre-buffering: it reads a row group's column chunks ahead in one request, which helps object stores,
    # not local files; here it cost CPU (decoding 1 GB of text: 2.1 CPU-s with it, 1.8 without) and memory.
    pf = pq.ParquetFile(file, pre_buffer=False)
    names = pf.schema_arrow.names
    if "text" not in names:
        raise ValueError(f"{file}: no column 'text' (columns: {names})")
    text_column = pf.schema_arrow.get_field_index("text")
    row = 0
    for g in range(pf.num_row_groups):
        meta = pf.metadata.row_group(g)
        rows = meta.num_rows
        small = pf.read_row_group(g, columns=[c for c in ("id", "source") if c in names])
        ids = small.column("id").to_pylist() if "id" in names else [None] * rows
        sources = small.column("source").to_pylist() if "source" in names else [None] * rows
        keys = []
        for doc_id, source in zip(ids, sources):
            row += 1
            keys.append((source_of(root, file, {"source": source, "id": doc_id}), str(doc_id or f"{file.name}#{row}")))
        # Uncompressed size of the text column chunk: each value's UTF-8 bytes and a 4-byte length (plain
        # encoding; a dictionary-encoded chunk is smaller, which only makes the estimate low).
        size = meta.column(text_column).total_uncompressed_size
        yield keys, max(0, size - 4 * rows) / max(1, rows), \
            lambda g=g: (b.column(0) for b in pf.iter_batches(READ_BATCH_ROWS, row_groups=[g], columns=["text"]))


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
        for keys, _, texts in _parquet_groups(root, file):
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


def document_index(inputs: list[str]) -> Iterator[tuple[str, str, float]]:
    """(source, id, estimated characters) of every document, in file order, without decoding a parquet
    text: ids from their column, characters from the footer (the row group's average; a row with an empty
    text is in it). JSONL has no footer: its documents are read, and their lengths are exact."""
    for root, file in corpus_files(inputs):
        if not file.name.endswith(".parquet"):
            for doc in read_documents(file):
                if doc is not None and doc["text"]:
                    yield source_of(root, file, doc), doc["id"], float(len(doc["text"]))
            continue
        for keys, chars, _ in _parquet_groups(root, file):
            for key in keys:
                yield (*key, chars)


def document_lengths(inputs: list[str], wanted: Callable[[str, str], bool] | None = None
                     ) -> Iterator[tuple[str, str, int, int, Callable[[], str]]]:
    """(source, id, characters, UTF-8 bytes, a function that returns the text) of the documents `documents`
    gives, in the same order with the same ids (with `wanted`, of those it accepts). Lengths are counted by
    Arrow (`utf8_length`), and a text becomes a Python string only when asked for: decoding every text into
    a Python string was most of a counting pass's time (0.6 s per 57 MB of books)."""
    import pyarrow.compute as pc

    for root, file in corpus_files(inputs):
        if not file.name.endswith(".parquet"):
            for doc in read_documents(file):
                if doc is not None and doc["text"]:
                    source = source_of(root, file, doc)
                    if wanted is None or wanted(source, doc["id"]):
                        text = doc["text"]
                        yield source, doc["id"], len(text), len(text.encode("utf-8", "surrogatepass")), lambda t=text: t
            continue
        for keys, _, texts in _parquet_groups(root, file):
            take = [wanted is None or wanted(*key) for key in keys]
            if not any(take):
                continue
            i = 0
            for array in texts():
                chars, size = pc.utf8_length(array).to_pylist(), pc.binary_length(array).to_pylist()
                for j, n in enumerate(chars):
                    if n and take[i + j]:
                        yield (*keys[i + j], n, size[j], lambda j=j, a=array: a[j].as_py())
                i += len(array)


@dataclass
class SourcePlan:
    """One source's documents and characters: available for training, held out, and sampled."""

    weight: float | None = None
    train_docs: int = 0  # rows not held out (of a source counted whole: those with text)
    train_chars: int = 0  # after the per-document cap; the footer's estimate unless train_chars_counted
    train_chars_counted: bool = False
    heldout_docs: int = 0
    heldout_ids: list[str] = field(default_factory=list)
    budget: int = 0
    threshold: float = -1.0  # documents with a sampling hash below this are taken whole
    cut_hash: float | None = None  # the one document at the threshold, taken in part
    cut_chars: int = 0
    sampled_docs: int = 0
    sampled_chars: int = 0
    alphabet: set = field(default_factory=set)
    counted_to: float = -1.0  # every training document with a sampling hash up to this one is counted
    counted_chars: int = 0
    counted_bytes: int = 0  # UTF-8 bytes of the counted texts, and their characters, before the cap
    counted_uncapped: int = 0
    # (order counted, hash, text) of the counted documents, while all sources together keep at most
    # KEEP_CHARS (else None): pass 2 then takes the sample from here instead of decoding it again.
    kept: list | None = field(default_factory=list)
    _hashes: list = field(default_factory=list)  # of every training document (sorted once pass 1 ends)
    _estimates: list = field(default_factory=list)  # its characters as the footer estimates them (same order)
    _counted: list = field(default_factory=list)  # (hash, characters) of the counted documents

    def card(self) -> dict:
        return {
            "weight": self.weight,
            "train_documents": self.train_docs,
            "train_chars": self.train_chars,
            "train_chars_counted": self.train_chars_counted,
            "heldout_documents": self.heldout_docs,
            "sampled_documents": self.sampled_docs,
            "sampled_chars": self.sampled_chars,
        }


# Characters of each source's first counted documents scanned for its alphabet (the vocabulary-size check).
ALPHABET_SAMPLE_CHARS = 4_000_000
# A source's lowest hashes are counted as far as COUNT_MARGIN times the documents that the estimate says
# fill its budget, and COUNT_SLACK_DOCS more (a few long documents make a small count uncertain); a source
# whose budget is more than 1 / COUNT_MARGIN of its estimate is counted whole.
COUNT_MARGIN = 1.2
COUNT_SLACK_DOCS = 16
# Counted texts kept in memory for pass 2, all sources together (characters): a sample this small is held
# by sentencepiece anyway (the shipped sentencepiece recipes' 100 M, with the counting margin, fits); above
# it pass 2 reads the sampled documents again, and memory stays that of the trainer. Decoding the sample a
# second time was 0.6 of 4.1 CPU-s for a 20 MB sample of 1 GB (2026-11-30).
KEEP_CHARS = 128_000_000


def plan(inputs: list[str], recipe) -> dict[str, SourcePlan]:
    """Pass 1: every source's train and held-out documents from the ids and its characters estimated from
    the parquet footers; then, until every budget is covered, the budgets and a count of the lowest hashes
    of each source that needs one; last, the hash threshold that fills each budget. Sources not named in
    `recipe.sources` (when it names any) are skipped."""
    cap = recipe.max_chars_per_document
    plans: dict[str, SourcePlan] = {}
    found: set[str] = set()
    for source, doc_id, chars in document_index(inputs):
        found.add(source)
        if recipe.sources is not None and source not in recipe.sources:
            continue
        p = plans.setdefault(source, SourcePlan(weight=(recipe.sources or {}).get(source)))
        if is_heldout(doc_id, recipe.holdout_fraction):
            p.heldout_docs += 1
            p.heldout_ids.append(doc_id)
            continue
        p.train_docs += 1
        p._hashes.append(unit_hash(f"{recipe.seed}:{doc_id}"))
        p._estimates.append(chars)
    _check_found(inputs, recipe, plans, found)
    for p in plans.values():
        order = np.argsort(np.asarray(p._hashes, dtype=np.float64), kind="stable")
        p._hashes = np.asarray(p._hashes, dtype=np.float64)[order]
        p._estimates = np.asarray(p._estimates, dtype=np.float64)
        p.train_chars = round(float(np.minimum(p._estimates, cap).sum()))
    while True:
        _set_budgets(plans, recipe)
        ranges = {s: (p.counted_to, _count_to(p)) for s, p in plans.items()
                  if p.counted_to < 1.0 and p.counted_chars < p.budget}
        if not ranges:
            break
        _count(inputs, recipe, plans, ranges)
    _check_found(inputs, recipe, plans, found if any(p._counted for p in plans.values()) else set())
    for p in plans.values():
        _set_threshold(p)
    return dict(sorted(plans.items()))


def _count_to(p: SourcePlan) -> float:
    """The hash up to which a source's documents must be counted to cover its budget, with a margin (1.0:
    all of them). The characters a document holds on average come from what is counted, once there is
    some, else from the footer's estimate."""
    n = len(p._hashes)
    counted = int(np.searchsorted(p._hashes, p.counted_to, side="right"))
    per_doc = p.counted_chars / counted if p.counted_chars else p.train_chars / max(1, n)
    if per_doc <= 0 or p.budget * COUNT_MARGIN >= p.train_chars:
        return 1.0
    k = max(2 * counted, int(np.ceil(COUNT_MARGIN * p.budget / per_doc)) + COUNT_SLACK_DOCS)
    return 1.0 if k >= n else float(p._hashes[k - 1])


def _share_between(p: SourcePlan, low: float, high: float) -> float:
    """The share of a source's training documents whose sampling hash is in (low, high]."""
    n = len(p._hashes)
    inside = np.searchsorted(p._hashes, high, side="right") - np.searchsorted(p._hashes, low, side="right")
    return float(inside) / max(1, n)


def _count(inputs: list[str], recipe, plans: dict[str, SourcePlan], ranges: dict[str, tuple[float, float]]) -> None:
    """The characters (capped) of each source's training documents whose sampling hash is in its range
    (low, high]: only the row groups holding one are decoded. A source counted whole gets exact figures."""
    cap = recipe.max_chars_per_document

    def hashed(source: str, doc_id: str) -> float | None:
        if source not in ranges or is_heldout(doc_id, recipe.holdout_fraction):
            return None
        h = unit_hash(f"{recipe.seed}:{doc_id}")
        low, high = ranges[source]
        return h if low < h <= high else None

    kept = sum(p.counted_chars for p in plans.values())
    # Keep nothing from a count expected to pass the bound (a budget above the corpus counts it all): the
    # texts would be made and dropped (measured: +110 MB of peak memory for rustbpe at 1 GB).
    expected = kept + sum(plans[s].train_chars * _share_between(plans[s], low, high) for s, (low, high) in ranges.items())
    keep = all(p.kept is not None for p in plans.values()) and expected <= KEEP_CHARS
    if not keep:
        for p in plans.values():
            p.kept = None
    for source, doc_id, length, size, text in document_lengths(inputs, lambda s, i: hashed(s, i) is not None):
        p, n, h = plans[source], min(length, cap), hashed(source, doc_id)
        p._counted.append((h, n))
        p.counted_chars += n
        p.counted_bytes += size
        p.counted_uncapped += length
        kept += n
        if keep and kept > KEEP_CHARS:
            keep = False
            for q in plans.values():
                q.kept = None
        if keep:
            p.kept.append((kept, h, text()[:cap]))
        if p.counted_chars - n < ALPHABET_SAMPLE_CHARS:
            p.alphabet.update(p.kept[-1][2] if keep else text()[:cap])
    for s, (_, high) in ranges.items():
        p = plans[s]
        p.counted_to = high
        if high >= 1.0:
            p.train_docs, p.train_chars, p.train_chars_counted = len(p._counted), p.counted_chars, True
            continue
        # The footer counts UTF-8 bytes: 3 a character in CJK text. Its estimate is corrected by the
        # characters per byte of the counted documents.
        if p.counted_bytes > 0:
            ratio = p.counted_uncapped / p.counted_bytes
            p.train_chars = round(float(np.minimum(p._estimates * ratio, recipe.max_chars_per_document).sum()))


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
    """The sample: the counted documents in hash order (every document up to `counted_to`), whole until the
    budget is full, the last one cut to fit."""
    hashes = np.asarray([h for h, _ in p._counted], dtype=np.float64)
    lengths = np.asarray([n for _, n in p._counted], dtype=np.int64)
    p._hashes, p._estimates, p._counted = [], [], []
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
    if p.kept is not None:  # only the sampled documents stay
        p.kept = [(k, h, text) for k, h, text in p.kept if h <= p.threshold or h == p.cut_hash]


def sampled_texts(inputs: list[str], recipe, plans: dict[str, SourcePlan]) -> Iterator[tuple[str, str]]:
    """Pass 2: (source, text) of every sampled document, capped and cut as the plan says, in the order pass 1
    counted them (file order; a source counted again follows in a second run through the files). The texts
    pass 1 kept (`KEEP_CHARS`), else read again: which documents is decided from the id alone, so only their
    text is decoded (a 20 MB sample of a 1 GB corpus decodes the row groups that hold a sampled document)."""
    cap = recipe.max_chars_per_document
    if all(p.kept is not None for p in plans.values()):
        kept = sorted((k, h, source, text) for source, p in plans.items() for k, h, text in p.kept)
        for p in plans.values():
            p.kept = None  # handed over: a second pass 2 reads the documents again
        for _, h, source, text in kept:
            p = plans[source]
            yield source, text if h <= p.threshold else text[: p.cut_chars]
        return

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
        p = plans.setdefault(source, SourcePlan(train_chars_counted=True))
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
