"""The index of document-level MinHash dedup: three datatrove steps that find the near-duplicates of a corpus.

  1. signatures  one task handles input files files[rank::tasks]; per input file k it writes
                 docs/<k>.parquet (key, id, chars, quality), sigs/<k>.u32 (raw uint32 [n, num_perm]),
                 shingles/<k>.u32 + .offsets.npy (for exact verification), bands/<band>/<k>.npy (sorted
                 (band hash, key) records) and parts/<k>.json (its counts, written last). Signatures and
                 shingles are streamed to disk: a worker holds ~650 bytes per document of its largest file
                 (peak RSS 921 MB for one file of 1M short documents, 351 MB for files of 125k).
  2. buckets     one task handles bands band[rank::tasks]: a merge of the sorted runs of every file; documents
                 sharing a band hash become candidate pairs (each to the group's first and to its predecessor
                 in key order), written to pairs/<band>.npy.
  3. cluster     one task (curate.dedup.minhash_clusters): verify the candidates (exact Jaccard of shingle
                 sets, or signature agreement), union-find, one representative per cluster by the keep policy;
                 the removals of input file k go to clusters/<k>.parquet, the counts to clusters.json.

The documents are removed in the next pass of the recipe by `curate.dedup.document.MinhashFilter`, which
reads clusters/. Each step lists its input files when it runs (sorted parquet files under the folders it is
given), so a step of a Slurm chain sees the files the pass before it wrote. Every output is named by the input
file's position k in that list and by the band, never by the task's rank, so any task count gives the same
bytes. Each step checks that the files the previous one made are there, complete and of the same inputs.
Documents are keyed by a 64-bit hash of their `id` column; ids must be unique across the inputs.

Keep policies, deterministic whatever the order of the files: "first" keeps the smallest id, "longest" the
most characters, "quality" the highest `quality_score` (then the longest); ties go to the smallest id.
"""

import json
import os
from pathlib import Path

import numpy as np
import orjson
from datatrove.pipeline.base import PipelineStep

from curate.dedup.minhash import (
    MinhashConfig,
    band_hashes,
    doc_key,
    shingles,
    signatures,
)
from curate.io.files import write_json_atomic
from curate.io.paths import check_name

KEEP_POLICIES = ("first", "longest", "quality")
BAND_DTYPE = np.dtype([("hash", "<u8"), ("key", "<u8")])
BATCH = 512
WORK_FORMAT = 3  # of the stage 1 files: a resumed run redoes files that an older version wrote


class DedupError(RuntimeError):
    pass


# --- files and manifests ------------------------------------------------------------------------------------


def list_inputs(inputs: list[str]) -> list[str]:
    files = []
    for path in inputs:
        p = Path(path)
        if p.is_file():
            files.append(str(p.resolve()))
        elif p.is_dir():
            files += sorted(str(f.resolve()) for f in p.rglob("*.parquet"))
        else:
            raise DedupError(f"input {path} does not exist; pass curate output data folders (OUT/data) or parquet files")
    if not files:
        raise DedupError(f"no .parquet files under {inputs}")
    if len(set(files)) != len(files):
        raise DedupError(f"an input file is listed twice (overlapping inputs {inputs})")
    return files


def file_entries(files: list[str]) -> list[dict]:
    return [{"path": f, "size": os.path.getsize(f)} for f in files]


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def stage_one_parts(work: Path, files: list[str], config: MinhashConfig) -> dict:
    """What stage 1 made of every input file, checked: {"files": [{file, path, size}], "documents", ...}.
    Refused when a file's signatures are missing (stage 1 did not finish) or were made from another file, an
    older version of it, or another config."""
    entries, documents, no_shingles = [], 0, 0
    for k, entry in enumerate(file_entries(files)):
        part = work / "parts" / f"{k:05d}.json"
        if not part.exists():
            raise DedupError(f"signatures of {entry['path']} are missing ({part}): stage 1 did not finish; run again to resume")
        done = json.loads(part.read_text())
        if (done.get("path"), done.get("size"), done.get("config")) != (entry["path"], entry["size"], str(config)):
            raise DedupError(f"{part} was made from {done.get('path')} ({done.get('size')} bytes, config "
                             f"{done.get('config')}), not {entry['path']} ({entry['size']} bytes, config {config}); "
                             "the inputs changed since stage 1: use another output folder or delete it")
        entries.append({"file": k, **entry})
        documents += done["documents"]
        no_shingles += done["no_shingles"]
    return {"config": config.to_dict(), "files": entries, "documents": documents, "no_shingles": no_shingles}


# --- stage 1: signatures ------------------------------------------------------------------------------------


def _quality(metadata) -> float:
    if isinstance(metadata, str):
        try:
            metadata = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            return float("-inf")
    if isinstance(metadata, dict) and isinstance(metadata.get("quality_score"), (int, float)):
        return float(metadata["quality_score"])
    return float("-inf")


def _null_id(path: str, first_row: int, ids: list) -> DedupError:
    return DedupError(f"{path}: row {first_row + ids.index(None)}: null id; every document needs an id")


def signature_file(path: str, k: int, work: Path, config: MinhashConfig) -> dict:
    """Stage 1 for one input file, streamed batch by batch: signatures and shingles go to disk as they are made,
    so memory holds only keys, counts and the band hashes that each band sorts (~650 bytes per document,
    measured), whatever the length of the documents."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = work / "parts" / f"{k:05d}.json"
    if part.exists():  # finished before (resumed run)
        done = json.loads(part.read_text())
        if (done.get("config") == str(config) and done.get("path") == path and done.get("size") == os.path.getsize(path)
                and done.get("format") == WORK_FORMAT):
            return done
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    for col in ("id", "text"):
        if col not in names:
            raise DedupError(f"{path}: no column {col!r} (columns: {names}); dedup reads curate's output shards")
    # quality_score is a column of curate's shards (older shards and other data keep it in the metadata)
    columns = ["id", "text"] + [c for c in ("quality_score", "metadata", "source") if c in names]
    n = pf.metadata.num_rows
    keys, chars, counts = np.empty(n, np.uint64), np.empty(n, np.int64), np.empty(n, np.int64)
    quality = np.full(n, float("-inf"))
    band_hash = np.empty((n, config.bands), np.uint64)
    ids = []  # Arrow chunks: no Python string per document
    for sub in ("docs", "sigs", "shingles", "parts"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    sig_path, shingle_path = work / "sigs" / f"{k:05d}.u32", work / "shingles" / f"{k:05d}.u32"
    row = 0
    with open(f"{sig_path}.tmp", "wb") as sig_out, open(f"{shingle_path}.tmp", "wb") as shingle_out:
        for batch in pf.iter_batches(batch_size=BATCH, columns=columns):
            cols = batch.to_pydict()
            if batch.column("id").null_count:
                raise _null_id(path, row, cols["id"])
            ids.append(batch.column("id"))
            for source in set(cols.get("source", ())) - {None}:  # a folder of OUT/data in stage 4: ValueError if unsafe
                check_name(source, f"{path}: column `source`")
            sets = []
            for i, (doc_id, text) in enumerate(zip(cols["id"], cols["text"]), start=row):
                text = text or ""
                keys[i], chars[i] = doc_key(doc_id), len(text)
                if cols.get("quality_score") and cols["quality_score"][i - row] is not None:
                    quality[i] = float(cols["quality_score"][i - row])
                elif "metadata" in cols:
                    quality[i] = _quality(cols["metadata"][i - row])
                sets.append(shingles(text, config.n_grams))
            end = row + len(sets)
            counts[row:end] = [len(s) for s in sets]
            sig = signatures(sets, config)
            signed = counts[row:end] > 0
            band_hash[row:end][signed] = band_hashes(sig[signed], config)
            sig.astype("<u4", copy=False).tofile(sig_out)
            if signed.any():
                np.concatenate(sets).astype("<u4", copy=False).tofile(shingle_out)
            row = end
    if row != n:
        raise DedupError(f"{path}: read {row} rows but its footer says {n}; the file changed while it was read")
    os.replace(f"{sig_path}.tmp", sig_path)
    os.replace(f"{shingle_path}.tmp", shingle_path)
    _save_npy(work / "shingles" / f"{k:05d}.offsets.npy", np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))
    id_column = pa.chunked_array(ids).cast(pa.string()) if ids else pa.chunked_array([], pa.string())
    table = pa.table({"key": pa.array(keys, pa.uint64()), "id": id_column,
                      "chars": pa.array(chars, pa.int64()), "quality": pa.array(quality, pa.float64())})
    tmp = work / "docs" / f"{k:05d}.tmp.parquet"
    pq.write_table(table, tmp)
    os.replace(tmp, work / "docs" / f"{k:05d}.parquet")
    signed = np.flatnonzero(counts > 0)
    write_band_runs(work, k, keys[signed], band_hash[signed])
    done = {"path": path, "size": os.path.getsize(path), "file": k, "config": str(config), "format": WORK_FORMAT,
            "documents": n, "with_signature": int(len(signed)), "no_shingles": int(n - len(signed))}
    write_json_atomic(part, done)
    return done


def write_band_runs(work: Path, k: int, keys: np.ndarray, band_hash: np.ndarray) -> None:
    """bands/<band>/<k>.npy: the (band hash, key) records of file k's signed documents, sorted, one run per band
    for stage 2 to merge."""
    for b in range(band_hash.shape[1]):
        rec = np.empty(len(keys), dtype=BAND_DTYPE)
        rec["hash"], rec["key"] = band_hash[:, b], keys
        rec.sort(order=["hash", "key"])
        (work / "bands" / f"{b:03d}").mkdir(parents=True, exist_ok=True)
        _save_npy(work / "bands" / f"{b:03d}" / f"{k:05d}.npy", rec)


class SignatureStage(PipelineStep):
    type = "dedup"
    name = "minhash 1: signatures"

    def __init__(self, inputs: list[str], work: str, config: MinhashConfig):
        super().__init__()
        self.inputs, self.work, self.config = inputs, work, config

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        files = list_inputs(self.inputs)
        for k in range(rank, len(files), world_size):
            with self.track_time():
                done = signature_file(files[k], k, Path(self.work), self.config)
            self.stat_update("documents", value=done["documents"])
        return iter(())


# --- stage 2: buckets ----------------------------------------------------------------------------------------


def band_pairs(records: np.ndarray) -> np.ndarray:
    """Candidate pairs (uint64 [m, 2], smaller key first) of one band's records sorted by (hash, key)."""
    if len(records) < 2:
        return np.empty((0, 2), np.uint64)
    h, keys = records["hash"], records["key"]
    same = h[1:] == h[:-1]
    if not same.any():
        return np.empty((0, 2), np.uint64)
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    group_start = np.repeat(starts, np.diff(np.concatenate([starts, [len(h)]])))
    idx = np.arange(len(h))
    members = idx[idx != group_start]  # every member but a group's first
    first = np.stack([keys[group_start[members]], keys[members]], axis=1)
    prev = members[group_start[members] != members - 1]  # predecessor edges that are not already first edges
    pairs = np.concatenate([first, np.stack([keys[prev - 1], keys[prev]], axis=1)])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]  # one id twice is refused later, not paired with itself
    return np.unique(np.sort(pairs, axis=1), axis=0)


def check_unique_keys(keys: np.ndarray, work: Path, manifest: dict) -> None:
    import pyarrow.parquet as pq

    keys = np.sort(keys)
    dup = keys[1:][keys[1:] == keys[:-1]]
    if not len(dup):
        return
    where = []
    for f in manifest["files"]:
        t = pq.read_table(work / "docs" / f"{f['file']:05d}.parquet")
        where += [(i, f["path"]) for i, k in zip(t["id"].to_pylist(), t["key"].to_numpy()) if k == dup[0]]
    files = sorted(set(w[1] for w in where))
    raise DedupError(f"document id {where[0][0]!r} occurs {len(where)} times in the inputs (in {len(files)} file(s): "
                     f"{', '.join(files[:3])}{', ...' if len(files) > 3 else ''}); ids must be unique: give the "
                     "documents distinct ids before dedup")


class BucketStage(PipelineStep):
    type = "dedup"
    name = "minhash 2: buckets"
    light = True  # merges sorted runs: see curate.pipeline.run_recipe

    def __init__(self, inputs: list[str], work: str, config: MinhashConfig):
        super().__init__()
        self.inputs, self.work, self.config = inputs, work, config

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        work = Path(self.work)
        manifest = stage_one_parts(work, list_inputs(self.inputs), self.config)
        (work / "pairs").mkdir(exist_ok=True)
        for b in range(rank, self.config.bands, world_size):
            with self.track_time():
                runs = [np.load(work / "bands" / f"{b:03d}" / f"{f['file']:05d}.npy") for f in manifest["files"]]
                merged = np.concatenate(runs) if runs else np.empty(0, BAND_DTYPE)
                merged.sort(kind="stable", order=["hash", "key"])  # a merge of sorted runs
                if b == 0:  # every signed document is in band 0 once: check that ids are unique
                    check_unique_keys(merged["key"], work, manifest)
                pairs = band_pairs(merged)
                _save_npy(work / "pairs" / f"{b:03d}.npy", pairs)
            self.stat_update("candidate_pairs", value=len(pairs))
        return iter(())
