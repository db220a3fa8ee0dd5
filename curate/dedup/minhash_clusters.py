"""Stage 3 of the document-level MinHash index (stages 1 and 2: curate.dedup.minhash_index): verify the
candidate pairs, join them into clusters, keep one representative per cluster.

One task. It reads the candidates' metadata from docs/, their shingle sets (or signatures) from stage 1's raw
files, and writes the removals of input file k to clusters/<k>.parquet (row, id, key, duplicate_of, jaccard,
cluster_size) and the counts to clusters.json (written last: the index is complete when it exists).

Reading in file order. Every pair needs both documents' shingle sets, and the two ends of a pair lie anywhere
in the corpus. Reading them pair by pair (a pread per document, as this stage first did) is random I/O: fine
while stage 1's files sit in the page cache, but at 10M web pages they hold ~15 GB of shingles, and the stage
took 259 s against 22 s at 1M pages (cold). Now the candidate documents, in (file, row) order, are cut into
blocks of `BLOCK_BYTES` of rows, each read with few large sequential reads, and the pairs are measured by a
partition join: pass 1 reads the blocks in order and measures the pairs within a block; for a pair whose
first document lies in an earlier block it appends the second document's set to that block's spill file.
Pass 2 reads each block with a spill file again, and its spill file in chunks of a block's size, and measures
the rest. Memory holds a block and a chunk; the reads grow linearly with the candidates (each block twice at most, the copied
sets once); a corpus whose candidates fit in one block reads each of them once and spills nothing.
"""

import os
import shutil
from pathlib import Path

import numpy as np

from curate.dedup.minhash import MinhashConfig, estimated_jaccard, jaccard
from curate.dedup.minhash_index import (
    KEEP_POLICIES,
    DedupError,
    list_inputs,
    stage_one_parts,
)
from curate.io.files import write_json_atomic
from datatrove.pipeline.base import PipelineStep

BLOCK_BYTES = 1 << 28  # of candidates' rows held at once: 1.6 GB for the process at 10M web pages (2.8 GB of sets)
GAP = 1 << 16  # bytes: rows closer than this are read with one pread, the gap included...
CHUNK = 1 << 26  # ...up to about this many bytes per pread


class StageOneRows:
    """Rows of stage 1's raw uint32 files, `kind` "shingles" (one sorted set per document, offsets in
    shingles/<k>.offsets.npy) or "sigs" (num_perm values per document), for candidates given as (file, row)."""

    def __init__(self, work: Path, kind: str, num_perm: int):
        self.work, self.kind, self.num_perm = work, kind, num_perm
        self._offsets: dict[int, np.ndarray] = {}

    def spans(self, files: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) of each candidate's row in its file, in uint32 elements."""
        if self.kind == "sigs":
            start = rows.astype(np.int64) * self.num_perm
            return start, start + self.num_perm
        start, end = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64)
        for k in np.unique(files):
            if k not in self._offsets:
                self._offsets[k] = np.load(self.work / "shingles" / f"{k:05d}.offsets.npy")
            at = files == k
            start[at] = self._offsets[k][rows[at]]
            end[at] = self._offsets[k][rows[at] + 1]
        return start, end

    def read(self, files: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows (start, end) of `files`, sorted by (file, start), as one array and its offsets [n + 1]."""
        bounds = np.zeros(len(files) + 1, np.int64)
        np.cumsum(end - start, out=bounds[1:])
        data = np.empty(bounds[-1], "<u4")
        # one sequential read for the rows of one file that lie within GAP bytes of each other
        runs = np.flatnonzero(np.r_[True, (files[1:] != files[:-1]) | ((start[1:] - end[:-1]) * 4 > GAP)
                                    | (start[1:] * 4 // CHUNK != start[:-1] * 4 // CHUNK)])
        for i, j in zip(runs.tolist(), runs[1:].tolist() + [len(files)]):
            first, last = int(start[i]), int(end[j - 1])
            name = self.work / self.kind / f"{int(files[i]):05d}.u32"
            with open(name, "rb") as f:
                raw = os.pread(f.fileno(), 4 * (last - first), 4 * first)
            if len(raw) != 4 * (last - first):
                raise DedupError(f"{name} is truncated; delete {self.work} and run again")
            chunk = np.frombuffer(raw, "<u4")
            for r in range(i, j):
                data[bounds[r]:bounds[r + 1]] = chunk[start[r] - first:end[r] - first]
        return data, bounds


def measure_pairs(source: StageOneRows, files: np.ndarray, rows: np.ndarray, a: np.ndarray, b: np.ndarray,
                  measure, spill: Path, block_bytes: int = BLOCK_BYTES) -> np.ndarray:
    """measure(x, y) for each pair of candidates (a[i], b[i]); candidates are positions in `files`/`rows`,
    which are sorted by (file, row). A partition join over blocks of candidates (module docstring), with the
    sets it copies written under `spill` (removed at the end)."""
    out = np.empty(len(a), np.float64)
    if not len(a):
        return out
    start, end = source.spans(files, rows)
    block = (np.cumsum((end - start) * 4) - 1) // block_bytes
    bounds = np.searchsorted(block, np.arange(block[-1] + 2))  # candidates of block I: bounds[I]:bounds[I + 1]
    lo, hi = np.minimum(a, b), np.maximum(a, b)

    def load(k: int):
        s = slice(bounds[k], bounds[k + 1])
        data, offsets = source.read(files[s], start[s], end[s])
        return lambda x: data[offsets[x - bounds[k]]:offsets[x - bounds[k] + 1]]

    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir(parents=True)
    copied: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}  # block I -> (pairs, set lengths) in its file
    # pass 1, by the block of each pair's second document: pairs within the block are measured, and the second
    # sets of the pairs whose first document lies in an earlier block I are appended to I's spill file
    by_second = np.lexsort((block[lo], block[hi]))
    for k, group in _groups(block[hi], by_second):
        set_of = None  # the last block is freed before the next is read
        set_of = load(k)
        within = group[block[lo[group]] == k]
        for p in within.tolist():
            out[p] = measure(set_of(int(lo[p])), set_of(int(hi[p])))
        across = group[block[lo[group]] < k]
        for i, pairs in _groups(block[lo], across):
            lengths = np.empty(len(pairs), np.int64)
            with open(spill / f"{i}.u32", "ab") as f:
                # set by set: a long document can be the second of thousands of pairs (the editions of a book),
                # and joining its copies first took 2.9 GB at 1 GB of books
                for n, p in enumerate(pairs.tolist()):
                    x = set_of(int(hi[p]))
                    f.write(x)  # a "<u4" view of the block: its bytes are the file's format
                    lengths[n] = len(x)
            copied.setdefault(i, []).append((pairs, lengths))
    # pass 2, by the block of the first document: the block again, and the copied sets read in order, in
    # chunks of about a block
    for i, parts in copied.items():
        set_of = second = None
        set_of = load(i)
        pairs = np.concatenate([p for p, _ in parts])
        offsets = np.r_[0, np.cumsum(np.concatenate([n for _, n in parts]))]
        chunk = offsets[1:] * 4 // block_bytes  # the chunk of each copied set, by where it ends
        for _, members in _groups(chunk, np.arange(len(pairs))):
            first, last = int(offsets[members[0]]), int(offsets[members[-1] + 1])
            second = np.fromfile(spill / f"{i}.u32", "<u4", count=last - first, offset=4 * first)
            for n in members.tolist():
                p = int(pairs[n])
                out[p] = measure(set_of(int(lo[p])), second[offsets[n] - first:offsets[n + 1] - first])
    shutil.rmtree(spill)
    return out


def _groups(keys: np.ndarray, members: np.ndarray):
    """(key, members with that key) for `members` (indexes into `keys`) sorted by key, in key order."""
    if not len(members):
        return
    k = keys[members]
    cuts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    for c, first in enumerate(cuts.tolist()):
        yield int(k[first]), members[first:cuts[c + 1] if c + 1 < len(cuts) else len(members)]


def _candidates(work: Path, manifest: dict, cand_keys: np.ndarray) -> dict:
    """Metadata of the candidate documents (those in a pair only: memory grows with duplicates, not with the
    corpus), sorted by (file, row)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = {"key": [], "id": [], "chars": [], "quality": [], "file": [], "row": []}
    for f in manifest["files"]:
        t = pq.read_table(work / "docs" / f"{f['file']:05d}.parquet")
        keys = t["key"].to_numpy()
        at = np.minimum(np.searchsorted(cand_keys, keys), max(len(cand_keys) - 1, 0))
        rows = np.flatnonzero(cand_keys[at] == keys) if len(cand_keys) else np.empty(0, np.int64)
        sub = t.take(pa.array(rows))
        meta["key"].append(keys[rows])
        meta["id"] += sub["id"].to_pylist()
        meta["chars"].append(sub["chars"].to_numpy())
        meta["quality"].append(sub["quality"].to_numpy())
        meta["file"].append(np.full(len(rows), f["file"], np.int64))
        meta["row"].append(rows)
    return {name: (values if name == "id" else np.concatenate(values)) for name, values in meta.items()}


def _check_unique(key: np.ndarray, ids: list[str]) -> np.ndarray:
    """The positions of `key` in key order; refused when two documents share a key (the same id)."""
    by_key = np.argsort(key, kind="stable")
    sorted_keys = key[by_key]
    same = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
    if len(same):
        dup = sorted_keys[same[0]]
        named = [ids[i] for i in np.flatnonzero(key == dup)]
        raise DedupError(f"document id {named[0]!r} occurs {len(named)} times in the inputs; ids must be unique: "
                         "rerun curate with distinct ids or dedup exact copies first")
    return by_key


def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def cluster(work: Path, manifest: dict, config: MinhashConfig, keep: str, block_bytes: int = BLOCK_BYTES) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for band in range(config.bands):
        if not (work / "pairs" / f"{band:03d}.npy").exists():
            raise DedupError(f"{work / 'pairs'}: band {band} is missing: stage 2 did not finish; run again to resume")
    pairs = np.concatenate([np.load(work / "pairs" / f"{band:03d}.npy") for band in range(config.bands)])
    pairs = pairs.reshape(-1, 2)
    cand_keys = np.unique(pairs)
    docs = _candidates(work, manifest, cand_keys)
    key, ids, files, rows = docs["key"], docs["id"], docs["file"], docs["row"]
    by_key = _check_unique(key, ids)
    # pairs as candidate positions (file order), each pair once
    a = by_key[np.searchsorted(key[by_key], pairs[:, 0])]
    b = by_key[np.searchsorted(key[by_key], pairs[:, 1])]
    packed = np.unique(np.minimum(a, b) * len(key) + np.maximum(a, b))
    a, b = packed // max(len(key), 1), packed % max(len(key), 1)

    shingle_rows = StageOneRows(work, "shingles", config.num_perm)
    sig_rows = StageOneRows(work, "sigs", config.num_perm)
    if config.verify == "none":
        ok = np.ones(len(a), bool)
    elif config.verify == "signature":
        ok = measure_pairs(sig_rows, files, rows, a, b, estimated_jaccard, work / "verify", block_bytes) >= config.threshold
    else:
        ok = measure_pairs(shingle_rows, files, rows, a, b, jaccard, work / "verify", block_bytes) >= config.threshold

    parent = np.arange(len(key))
    for i, j in zip(a[ok].tolist(), b[ok].tolist()):
        ri, rj = _find(parent, i), _find(parent, j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = [_find(parent, i) for i in range(len(key))]

    # representative per cluster: best by policy, ties to the smallest id
    chars, quality = docs["chars"], docs["quality"]

    def rank(i: int):
        if keep == "longest":
            return (-chars[i], ids[i])
        if keep == "quality":
            return (-quality[i], -chars[i], ids[i])
        return (ids[i],)

    best: dict[int, int] = {}
    size: dict[int, int] = {}
    for i, r in enumerate(roots):
        size[r] = size.get(r, 0) + 1
        if r not in best or rank(i) < rank(best[r]):
            best[r] = i
    removed = np.array([i for i, r in enumerate(roots) if size[r] > 1 and best[r] != i], np.int64)
    rep = np.array([best[roots[i]] for i in removed], np.int64)
    # the estimated Jaccard of each removed document to its representative (the two need not be a pair)
    similarity = measure_pairs(sig_rows, files, rows, removed, rep, estimated_jaccard, work / "verify", block_bytes)
    (work / "clusters").mkdir(exist_ok=True)
    for f in manifest["files"]:
        k = f["file"]
        at = files[removed] == k  # removed is in (file, row) order, and so is each file's part
        members, reps = removed[at], rep[at]
        t = pa.table({
            "row": pa.array(rows[members], pa.int64()),
            "id": pa.array([ids[i] for i in members], pa.string()),
            "key": pa.array(key[members], pa.uint64()),
            "duplicate_of": pa.array([ids[r] for r in reps], pa.string()),
            "jaccard": pa.array(np.round(similarity[at], 4), pa.float64()),
            "cluster_size": pa.array([size[roots[i]] for i in members], pa.int64()),
        })
        tmp = work / "clusters" / f"{k:05d}.tmp.parquet"
        pq.write_table(t, tmp)
        os.replace(tmp, work / "clusters" / f"{k:05d}.parquet")
    return {"candidate_pairs": int(len(a)), "verified_pairs": int(ok.sum()),
            "clusters": sum(1 for s in size.values() if s > 1), "documents_in_clusters": int(sum(s for s in size.values() if s > 1)),
            "removed": len(removed)}


class ClusterStage(PipelineStep):
    type = "dedup"
    name = "minhash 3: cluster"
    light = True

    def __init__(self, inputs: list[str], work: str, config: MinhashConfig, keep: str):
        super().__init__()
        if keep not in KEEP_POLICIES:
            raise ValueError(f"keep={keep!r}: expected one of {KEEP_POLICIES}")
        self.inputs, self.work, self.config, self.keep = inputs, work, config, keep

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        work = Path(self.work)
        manifest = stage_one_parts(work, list_inputs(self.inputs), self.config)
        with self.track_time():
            counts = cluster(work, manifest, self.config, self.keep)
        for name in ("documents", "no_shingles", "candidate_pairs", "verified_pairs", "clusters", "removed"):
            self.stat_update(name, value=(manifest | counts)[name])
        # written last: MinhashFilter starts only from a complete index
        write_json_atomic(work / "clusters.json", {**manifest, "keep": self.keep, **counts})
        return iter(())
