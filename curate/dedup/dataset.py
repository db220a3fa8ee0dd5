"""Dataset-level dedup (decontamination): remove documents that near-duplicate anything in saved indexes.

`build_index(dirs, out_path, config)` reads parquet shards or JSONL files (text, id) and saves, in one
`.npz`: ids, signatures (uint32 [n, num_perm]), per band the sorted (band hash, row) records, and the
shingle sets (for exact verification), plus the config. `DatasetDedup(indexes, threshold)` looks every
document up in each index by LSH bands and verifies candidates by exact Jaccard of shingle sets; with
`measure="containment"` it instead removes a document that contains at least `threshold` of an indexed
document's shingles (an evaluation item quoted inside a longer page), looked up shingle by shingle.
Each removal names the index and the matched document id. Documents with no shingles are kept. An entry of
`indexes` that is not an .npz (a folder of evaluation tasks as JSONL, say) is indexed in memory when the step
starts: fine for evaluation sets of a few MB, a saved index for anything larger.
"""

import json
from pathlib import Path

import numpy as np
from datatrove.data import Document

from curate.dedup.minhash_index import BAND_DTYPE
from curate.dedup.minhash import MinhashConfig, band_hashes, jaccard, shingles, signatures
from curate.stage import Drop, Stage

FORMAT = "curate-minhash-index/1"


def _documents(dirs: list[str]):
    import orjson
    import pyarrow.parquet as pq

    for d in dirs:
        p = Path(d)
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix in (".parquet", ".jsonl"))
        if not files:
            raise FileNotFoundError(f"build_index: no .parquet or .jsonl files under {d}")
        for f in files:
            if f.suffix == ".parquet":
                t = pq.read_table(f, columns=["id", "text"]).to_pydict()
                yield from ((i if i is not None else f"{f}#{r}", x or "") for r, (i, x) in enumerate(zip(t["id"], t["text"])))
            else:
                for r, line in enumerate(open(f, "rb")):
                    if line.strip():
                        rec = orjson.loads(line)
                        # multiple-choice task files hold their text in `context` (curate/data/tasks)
                        yield str(rec.get("id", f"{f}#{r}")), rec.get("text") or rec.get("context") or ""


def index_arrays(dirs: list[str], config: MinhashConfig) -> dict:
    """The signatures, band records and shingles of every document under `dirs`, with the index's card."""
    ids, sets = [], []
    for doc_id, text in _documents(dirs):
        s = shingles(text, config.n_grams)
        if len(s):
            ids.append(doc_id)
            sets.append(s)
    sigs = signatures(sets, config) if sets else np.empty((0, config.num_perm), np.uint32)
    bh = band_hashes(sigs, config)
    bands = np.empty((config.bands, len(ids)), dtype=BAND_DTYPE)
    for b in range(config.bands):
        bands[b]["hash"], bands[b]["key"] = bh[:, b], np.arange(len(ids))
        bands[b].sort(order=["hash", "key"])
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    card = {"format": FORMAT, "config": config.to_dict(), "inputs": [str(d) for d in dirs], "documents": len(ids)}
    return {"ids": np.array(ids, dtype=object).astype(str), "signatures": sigs, "bands": bands,
            "shingles": np.concatenate(sets) if sets else np.empty(0, np.uint32), "offsets": offsets,
            "card": np.array(json.dumps(card))}


def build_index(dirs: list[str], out_path: str, config: MinhashConfig | None = None) -> dict:
    """Save the signatures and shingles of every document under `dirs` to out_path (.npz) + a JSON card."""
    arrays = index_arrays(dirs, config or MinhashConfig())
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as f:
        np.savez(f, **arrays)
    card = json.loads(str(arrays["card"]))
    out.with_suffix(out.suffix + ".json").write_text(json.dumps(card, indent=2) + "\n")
    return card


class Index:
    """An index made by build_index (`path` ends in .npz), or, for a small dataset such as a folder of evaluation
    tasks, that dataset itself (JSONL or parquet files), indexed in memory at a threshold of 0.8."""

    def __init__(self, path: str):
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        else:
            arrays = index_arrays([path], MinhashConfig.for_threshold(0.8))
        self.card = json.loads(str(arrays["card"]))
        if self.card.get("format") != FORMAT:
            raise ValueError(f"{path}: not a curate dedup index (format {self.card.get('format')!r}); build it with build_index")
        self.ids, self.bands = arrays["ids"], arrays["bands"]
        self.shingles, self.offsets = arrays["shingles"], arrays["offsets"]
        self.path = path
        self.name = Path(path).name.removesuffix(".npz")
        self.config = MinhashConfig(**{k: v for k, v in self.card["config"].items() if k != "id"})
        # shingle -> index row, for containment lookups
        rows = np.repeat(np.arange(len(self.ids)), np.diff(self.offsets))
        order = np.argsort(self.shingles, kind="stable")
        self.flat, self.flat_rows = self.shingles[order], rows[order]

    def doc_shingles(self, row: int) -> np.ndarray:
        return self.shingles[self.offsets[row]:self.offsets[row + 1]]

    def candidates(self, bh: np.ndarray) -> set[int]:
        out = set()
        for b in range(self.config.bands):
            col = self.bands[b]
            lo = np.searchsorted(col["hash"], bh[b], "left")
            hi = np.searchsorted(col["hash"], bh[b], "right")
            out.update(col["key"][lo:hi].tolist())
        return out

    def containment(self, s: np.ndarray) -> tuple[int, float] | None:
        lo = np.searchsorted(self.flat, s, "left")
        hi = np.searchsorted(self.flat, s, "right")
        hit = np.concatenate([self.flat_rows[a:b] for a, b in zip(lo, hi) if b > a] or [np.empty(0, np.int64)])
        if not len(hit):
            return None
        rows, counts = np.unique(hit, return_counts=True)
        share = counts / np.diff(self.offsets)[rows]
        best = int(np.argmax(share))
        return int(rows[best]), float(share[best])


class DatasetDedup(Stage):
    name = "dataset_dedup"
    type = "curate dedup"

    def __init__(self, indexes: list[str], threshold: float | None = None, measure: str = "jaccard"):
        super().__init__()
        if not indexes:
            raise ValueError("dataset_dedup: indexes must name at least one index (an .npz of `curate dedup index`, "
                             "or a small dataset's JSONL or parquet files, indexed when the step starts)")
        if measure not in ("jaccard", "containment"):
            raise ValueError(f"dataset_dedup: measure={measure!r}: expected jaccard or containment")
        for p in indexes:
            if not Path(p).exists():
                raise FileNotFoundError(f"dataset_dedup: index {p} does not exist; build it with build_index")
        self.index_paths, self.threshold, self.measure = list(indexes), threshold, measure
        self._indexes: list[Index] | None = None

    def process(self, doc: Document) -> Document | Drop:
        if self._indexes is None:
            self._indexes = [Index(p) for p in self.index_paths]
        for index in self._indexes:
            cfg = index.config
            t = self.threshold if self.threshold is not None else cfg.threshold
            s = shingles(doc.text, cfg.n_grams)
            if not len(s):
                continue
            if self.measure == "containment":
                match = index.containment(s)
                if match and match[1] >= t:
                    return Drop("in_index", {"index": index.name, "matched_id": str(index.ids[match[0]]),
                                             "containment": round(match[1], 4)})
                continue
            bh = band_hashes(signatures([s], cfg), cfg)[0]
            best = max(((jaccard(s, index.doc_shingles(r)), r) for r in index.candidates(bh)), default=None)
            if best and best[0] >= t:
                return Drop("in_index", {"index": index.name, "matched_id": str(index.ids[best[1]]),
                                         "jaccard": round(best[0], 4)})
        return doc
