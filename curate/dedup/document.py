"""Document-level near-duplicate removal: the `minhash_dedup` step of a recipe.

```yaml
steps:
  - pii: {}
  - minhash_dedup: {threshold: 0.8, keep: first}   # a barrier: the pass before it ends here
  - sentence_dedup: {unit: line}
```

The runner ends the pass before the step, builds the index of near-duplicates over everything that pass wrote
(curate.dedup.minhash_index: signatures, buckets, clusters, each a datatrove job on the run's executor), and
starts the next pass with `MinhashFilter`, which removes every document the index names, with the reason
`near_duplicate`, the document it duplicates and their Jaccard, through the stage contract (counted, written
to removed/minhash_dedup/, scrubbed when the recipe scrubs PII).

`dedup_documents` (the `curate dedup documents` command) is the same step in a recipe of its own: the parquet
shards it is given, read as they are, `minhash_dedup`, and the writer.
"""

from pathlib import Path

import numpy as np
from datatrove.data import Document

from curate.dedup.minhash import MinhashConfig, doc_key
from curate.dedup.minhash_clusters import ClusterStage
from curate.dedup.minhash_index import (
    KEEP_POLICIES,
    BucketStage,
    DedupError,
    SignatureStage,
    list_inputs,
)
from curate.stage import Barrier, Drop, Stage

REASON = "near_duplicate"


class MinhashDedup(Barrier):
    """Near-duplicate documents across the whole corpus: Jaccard of word `n_grams` at least `threshold`,
    verified (`verify`: exact, signature or none); `bands` x `rows` derived from the threshold unless given.
    One document of each cluster stays, by `keep`: first (smallest id), longest, or quality."""

    def __init__(self, threshold: float = 0.8, keep: str = "first", n_grams: int = 5, num_perm: int = 128,
                 bands: int | None = None, rows: int | None = None, seed: int = 1, verify: str = "exact"):
        if keep not in KEEP_POLICIES:
            raise ValueError(f"keep={keep!r}: expected one of {list(KEEP_POLICIES)}")
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither (then they follow from threshold and num_perm)")
        if bands is None:
            config = MinhashConfig.for_threshold(threshold, num_perm=num_perm, n_grams=n_grams, verify=verify)
            bands, rows = config.bands, config.rows
        self.config = MinhashConfig(n_grams=n_grams, bands=bands, rows=rows, seed=seed, threshold=threshold, verify=verify)
        self.keep = keep

    def index_jobs(self, inputs: list[str], work: str, pending: list[Stage], tasks: int) -> list[tuple[str, list, int]]:
        if pending:  # the runner writes a pass first (reads_through is False)
            raise ValueError("minhash_dedup reads the shards of a written pass")
        work = f"{work}/{self.config}"
        return [
            ("signatures", [SignatureStage(inputs, work, self.config)], tasks),
            ("buckets", [BucketStage(inputs, work, self.config)], min(tasks, self.config.bands)),
            ("clusters", [ClusterStage(inputs, work, self.config, self.keep)], 1),
        ]

    def apply_stage(self, work: str) -> Stage:
        return MinhashFilter(f"{work}/{self.config}", self.config)


class MinhashFilter(Stage):
    """Removes the documents that the index in `index` (clusters/ of curate.dedup.minhash_index) names."""

    name = "minhash_dedup"
    type = "curate dedup"

    def __init__(self, index: str, config: MinhashConfig):
        super().__init__()
        self.index, self.config = index, config
        self._keys = None

    def _load(self) -> None:
        """The removals of every input file, sorted by id key: 8 bytes per removed document, plus its record."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = Path(self.index)
        if not (index / "clusters.json").exists():
            raise DedupError(f"{index}: the near-duplicate index is not complete (no clusters.json); run the recipe again")
        parts = [pq.read_table(p) for p in sorted((index / "clusters").glob("[0-9]*.parquet"))]
        table = pa.concat_tables(parts) if parts else None
        if table is None or not len(table):
            self._keys, self._removed = np.empty(0, np.uint64), None
            return
        keys = table["key"].to_numpy()
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        # kept as Arrow columns, read one row per removed document: Python objects for every removal cost each
        # task seconds and ~200 MB at 1M removals
        self._removed = table.take(pa.array(order)).select(["id", "duplicate_of", "jaccard", "cluster_size"])

    def process(self, doc: Document) -> Document | Drop:
        if self._keys is None:
            self._load()
        key = np.uint64(doc_key(doc.id))
        at = int(np.searchsorted(self._keys, key))
        if at == len(self._keys) or self._keys[at] != key:
            return doc
        row = self._removed.slice(at, 1).to_pylist()[0]
        if row["id"] != doc.id:
            return doc
        return Drop(REASON, {"duplicate_of": row["duplicate_of"], "jaccard": row["jaccard"],
                             "cluster_size": row["cluster_size"], "config": str(self.config)})


def dedup_documents(inputs: list[str], out_dir: str, config: MinhashConfig | None = None, tasks: int = 1,
                    workers: int = 1, keep: str = "first", executor: str = "local", overwrite: bool = False) -> dict:
    """Remove near-duplicate documents from parquet shards (curate's OUT/data folders, or any parquet with `id`
    and `text` columns) into out_dir: a recipe of the shards, `minhash_dedup` and the writer.

    Returns the run's counts: documents in, kept, removed, clusters, candidate and verified pairs, no_shingles,
    seconds per job; out_dir/stats.json has the whole run. The same kept set whatever `tasks`.
    """
    from curate.config import PipelineConfig
    from curate.pipeline import run_recipe
    from curate.recipe import NO_LIMIT

    config = config or MinhashConfig()
    if keep not in KEEP_POLICIES:
        raise DedupError(f"keep={keep!r}: expected one of {KEEP_POLICIES}")
    list_inputs(inputs)  # a clear error for a missing or empty input, before anything is written
    readers = []
    for i, path in enumerate(inputs):
        p = Path(path).resolve()
        folder, glob = (str(p.parent), p.name) if p.is_file() else (str(p), "**/*.parquet")
        readers.append(("parquet", {"path": folder, "glob": glob, "source": "input" if len(inputs) == 1 else f"input{i + 1}",
                                    "source_key": "source", "lineage": True, "max_doc_bytes": NO_LIMIT}))
    step = {k: v for k, v in config.to_dict().items() if k != "id"} | {"keep": keep}
    recipe = PipelineConfig("dedup-documents", Path(out_dir) / "dedup-documents.yaml", readers,
                            [("minhash_dedup", step)], ("parquet", {}))
    summary = run_recipe(recipe, out_dir, executor=executor, tasks=tasks, workers=workers, overwrite=overwrite)
    index = next(j for j in summary["jobs"] if j["job"] == "minhash_dedup-clusters")["counts"]
    t = summary["totals"]
    return {"stage": "minhash_dedup", "config": config.to_dict(), "keep": keep, "tasks": tasks,
            "documents": t["records"] - t["quarantined"], "kept": t["kept"], "removed": t["removed"],
            "quarantined": t["quarantined"], **{k: index.get(k, 0) for k in ("no_shingles", "candidate_pairs",
                                                                             "verified_pairs", "clusters")},
            "seconds": {j["job"]: j["time_s"] for j in summary["jobs"]}, "conserved": summary["conserved"]}
