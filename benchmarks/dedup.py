"""curate's document MinHash dedup against datatrove's 4-stage MinHash, on the same corpus.

The corpus: every planted near-duplicate pair of `curate.dedup.plant` (real Wikipedia and book text, with
known Jaccard) plus distinct documents of recombined real sentences up to --docs. With the default
--workers 1 each system runs all its tasks in one process, so docs per CPU-second is docs/s/core. Both systems use word
5-grams and the same bands x rows (chosen by curate for the threshold); datatrove has no verification step,
so it is also run with its default 14 x 8. Each system runs in its own process: end-to-end wall time, CPU
seconds (user + sys, all its processes), peak RSS of the largest process, and precision / recall on the
planted pairs (recall over pairs with Jaccard >= threshold + 0.05).

    python benchmarks/dedup.py --docs 100000 --tasks 2   # workers=1: every stage in one process, so CPU and RSS are exact
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def build_corpus(work: Path, n_docs: int) -> None:
    from curate.dedup.plant import plant_pairs, synthetic_corpus, write_corpus, write_pairs

    if (work / "pairs.jsonl").exists():
        return
    docs, pairs = plant_pairs(seed=0)
    docs += synthetic_corpus(max(0, n_docs - len(docs)), seed=1)
    write_corpus(docs, work / "corpus", files=8)
    write_pairs(pairs, work / "pairs.jsonl")


def run_ours(work: Path, out: Path, threshold: float, tasks: int, workers: int) -> dict:
    from curate.dedup.document import dedup_documents
    from curate.dedup.minhash import MinhashConfig
    from curate.dedup.plant import clusters_from_removed
    from curate.io.records import read_records

    stats = dedup_documents([str(work / "corpus")], str(out), MinhashConfig.for_threshold(threshold, verbose=True),
                            tasks=tasks, workers=workers)
    return {"stats": stats, "cluster_of": clusters_from_removed(read_records(str(out / "removed")))}


def run_datatrove(work: Path, out: Path, threshold: float, tasks: int, workers: int, bands: int, rows: int) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    from curate.io.records import read_records

    config = MinhashConfig(n_grams=5, num_buckets=bands, hashes_per_bucket=rows)
    corpus = str(work / "corpus")

    def reader():
        return ParquetReader(corpus, text_key="text", id_key="id", read_metadata=False)

    def run(pipeline, n, name):
        LocalPipelineExecutor(pipeline, tasks=n, workers=min(workers, n), logging_dir=str(out / "logs" / name)).run()

    # datatrove's stage 4 must read exactly what stage 1 read: same reader, same task count.
    run([reader(), MinhashDedupSignature(output_folder=str(out / "sigs"), config=config)], tasks, "1")
    # its buckets stage needs tasks to be a multiple of the bucket count: one task per bucket.
    run([MinhashDedupBuckets(input_folder=str(out / "sigs"), output_folder=str(out / "buckets"), config=config)], bands, "2")
    run([MinhashDedupCluster(input_folder=str(out / "buckets"), output_folder=str(out / "remove"), config=config,
                             save_cluster_id=True)], 1, "3")
    run([reader(), MinhashDedupFilter(input_folder=str(out / "remove"), load_cluster_ids=True,
                                      exclusion_writer=JsonlWriter(str(out / "removed"), compression="gzip")),
         JsonlWriter(str(out / "kept"), compression="gzip")], tasks, "4")
    cluster_of = {}
    for folder in ("kept", "removed"):
        for r in read_records(str(out / folder)):
            cid = r["metadata"].get("minhash_cluster_id", -1)
            if cid != -1:
                cluster_of[r["id"]] = f"cluster-{cid}"
    removed = len(read_records(str(out / "removed")))
    return {"stats": {"removed": removed}, "cluster_of": cluster_of}


def child(args) -> None:
    work, out = Path(args.work), Path(args.work) / f"out-{args.system}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.monotonic()
    if args.system == "curate":
        result = run_ours(work, out, args.threshold, args.tasks, args.workers)
    else:
        bands, rows = map(int, args.system.split("-")[1].split("x"))
        result = run_datatrove(work, out, args.threshold, args.tasks, args.workers, bands, rows)
    result["wall_s"] = time.monotonic() - start
    (work / f"result-{args.system}.json").write_text(json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--tasks", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--work", default="/tmp/curate-bench-dedup")
    p.add_argument("--systems", default="curate,datatrove-{b}x{r},datatrove-14x8")
    p.add_argument("--system", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.system:
        return child(args)

    from curate.dedup.minhash import choose_bands
    from curate.dedup.plant import score

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    build_corpus(work, args.docs)
    pairs = [json.loads(line) for line in open(work / "pairs.jsonl")]
    b, r = choose_bands(args.threshold, 128, verbose=True)
    rows = []
    for system in args.systems.format(b=b, r=r).split(","):
        cmd = [sys.executable, __file__, "--system", system] + [f"--{k}={getattr(args, k)}" for k in ("docs", "threshold", "tasks", "workers", "work")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"{system} failed (status {status}); rerun: {' '.join(cmd)}")
        result = json.loads((work / f"result-{system}.json").read_text())
        cpu = usage.ru_utime + usage.ru_stime
        s = score(pairs, result["cluster_of"], args.threshold)
        rows.append({"system": system, "docs": args.docs, "wall_s": round(result["wall_s"], 1), "cpu_s": round(cpu, 1),
                     "docs_per_cpu_s": round(args.docs / cpu), "peak_rss_mb": round(usage.ru_maxrss / 1024),
                     "removed": result["stats"]["removed"], "precision": s["precision"], "recall": s["recall"],
                     "found_by_bin": {k: v["found"] for k, v in s["bins"].items()}})
        print(json.dumps(rows[-1]), flush=True)
    (work / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
