"""curate's document MinHash dedup against datatrove's 4-stage MinHash, on the same corpus.

The corpus: every planted near-duplicate pair of `curate.dedup.plant` (real Wikipedia and book text, with
known Jaccard) plus distinct documents of recombined real sentences up to --docs. With the default
--workers 1 each system runs all its tasks in one process, so docs per CPU-second is docs/s/core. Both systems use word
5-grams and the same bands x rows (chosen by curate for the threshold); datatrove has no verification step,
so it is also run with its default 14 x 8. Each system runs in its own process: end-to-end wall time, CPU
seconds (user + sys, all its processes), peak memory, and precision / recall on the planted pairs (recall over
pairs with Jaccard >= threshold + 0.05). With --repeat N the systems run in turn N times and the table gives
the median of each figure (and the spread of docs per CPU-second).

CPU time and memory cover the child's whole process tree (benchmarks/measure.py): `peak_rss_mb` is the peak
RSS of the largest single process, `tree_rss_mb` the peak of the summed RSS of all of them at one moment.

--short-docs N instead runs curate alone on N short documents (one or two perturbed real sentences each,
with 1% planted near-duplicates, `kits.dedup_pairs.short_corpus`), with --tasks and --workers as given, to
measure memory at scale.

--web-docs N runs `curate dedup documents` alone, end to end, on N web pages of crawl length (median about
2,300 characters, 11% planted copies and near-copies: `kits.dedup_web`), in --files parquet files, and
reports the seconds of every job, CPU seconds and peak memory of the whole tree, and precision and recall on
the planted pairs. The corpus is built once under --work (10M pages: ~14 GB of parquet, ~13 minutes on 2
cores); the run needs about 3x that on disk.

--signatures N compares MinHash engines on the same shingles (the word 5-gram hashes of N web pages):
curate's `signatures`, datasketch's bulk API (`MinHash.bulk`) and rensa's `RMinHash` (Rust; `pip install -e
'.[bench]'`), in one process, in turns: signatures per CPU-second (all threads), and the error of each
engine's Jaccard estimate against the exact Jaccard on the planted pairs.

    python benchmarks/dedup.py --docs 100000 --tasks 2 --repeat 3   # workers=1: one process per system
    python benchmarks/dedup.py --short-docs 1000000 --tasks 2 --workers 2
    python benchmarks/dedup.py --web-docs 10000000 --files 100 --tasks 10 --workers 2
    python benchmarks/dedup.py --signatures 50000 --repeat 3
"""

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test kits (tests/kits)
from measure import run_child  # noqa: E402


def build_corpus(work: Path, n_docs: int) -> None:
    from kits.dedup_pairs import plant_pairs, synthetic_corpus, write_corpus, write_pairs

    if (work / "pairs.jsonl").exists():
        return
    docs, pairs = plant_pairs(seed=0)
    docs += synthetic_corpus(max(0, n_docs - len(docs)), seed=1)
    write_corpus(docs, work / "corpus", files=8)
    write_pairs(pairs, work / "pairs.jsonl")


def run_ours(work: Path, out: Path, threshold: float, tasks: int, workers: int) -> dict:
    from curate.dedup.document import dedup_documents
    from curate.dedup.minhash import MinhashConfig
    from kits.dedup_pairs import clusters_from_removed
    from curate.io.records import iter_records

    stats = dedup_documents([str(work / "corpus")], str(out), MinhashConfig.for_threshold(threshold, verbose=True),
                            tasks=tasks, workers=workers)
    # streamed: the removed records carry their text (1.7 GB at 10M pages), which must not count as dedup's memory
    return {"stats": stats, "cluster_of": clusters_from_removed(iter_records(str(out / "removed")))}


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
    if args.system == "curate":
        result = run_ours(work, out, args.threshold, args.tasks, args.workers)
    else:
        bands, rows = map(int, args.system.split("-")[1].split("x"))
        result = run_datatrove(work, out, args.threshold, args.tasks, args.workers, bands, rows)
    (work / f"result-{args.system}.json").write_text(json.dumps(result))
    if not args.keep_output:
        shutil.rmtree(out, ignore_errors=True)


def measure(args, system: str, n_docs: int, pairs: list[dict], own_pairs: list[dict] | None = None) -> dict:
    """One run of `system` in its own process: timings, memory, and its score on the planted pairs (Jaccard by
    curate's shingles; with `own_pairs`, also by the system's own shingles: `precision_own`, `recall_own`)."""
    from kits.dedup_pairs import score

    work = Path(args.work)
    cmd = [sys.executable, __file__, "--system", system]
    cmd += [f"--{k}={getattr(args, k)}" for k in ("threshold", "tasks", "workers", "work")]
    row = {"system": system, "docs": n_docs, **run_child(cmd, work / f"log-{system}.txt")}
    result = json.loads((work / f"result-{system}.json").read_text())
    s = score(pairs, result["cluster_of"], args.threshold)
    row.update(docs_per_s=round(n_docs / row["wall_s"]), docs_per_cpu_s=round(n_docs / row["cpu_s"]),
               removed=result["stats"]["removed"], precision=s["precision"], recall=s["recall"],
               found_by_bin={k: v["found"] for k, v in s["bins"].items()})
    if system == "curate":  # its cluster_of holds the removed documents only (datatrove's, every member)
        # removed documents that are no planted copy: near-duplicates nobody planted (or false positives)
        row["removed_unplanted"] = len(set(result["cluster_of"]) - {p["b"] for p in pairs})
    if own_pairs is not None:
        own = score(own_pairs, result["cluster_of"], args.threshold)
        row.update(precision_own=own["precision"], recall_own=own["recall"])
    if "seconds" in result["stats"]:  # curate's wall seconds per stage
        row["stage_s"] = result["stats"]["seconds"]
    return row


def median_row(runs: list[dict]) -> dict:
    """The median of every timing and memory figure over repeats; the outcome must not change between them."""
    outcome = {k: runs[0][k] for k in ("system", "docs", "removed", "precision", "recall", "found_by_bin")
               + tuple(k for k in ("removed_unplanted", "precision_own", "recall_own") if k in runs[0])}
    if any({k: r[k] for k in outcome} != outcome for r in runs):
        raise SystemExit(f"{outcome['system']}: the result changed between repeats: {runs}")
    figures = ("wall_s", "cpu_s", "docs_per_s", "docs_per_cpu_s", "peak_rss_mb", "tree_rss_mb", "processes")
    return {**outcome, "repeats": len(runs), **{k: statistics.median(r[k] for r in runs) for k in figures},
            "docs_per_cpu_s_range": [min(r["docs_per_cpu_s"] for r in runs), max(r["docs_per_cpu_s"] for r in runs)]}


def markdown(rows: list[dict]) -> str:
    lines = ["| system | wall s | docs/s | CPU s | docs per CPU-s (min-max) | peak RSS, largest process "
             "| peak RSS, tree sum | removed | precision | recall | precision / recall by its own shingles |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lo, hi = r.get("docs_per_cpu_s_range", [r["docs_per_cpu_s"]] * 2)
        lines.append(f"| {r['system']} | {r['wall_s']:.1f} | {r['docs_per_s']:,.0f} | {r['cpu_s']:.1f} "
                     f"| {r['docs_per_cpu_s']:,.0f} ({lo:,}-{hi:,}) | {r['peak_rss_mb']:,.0f} MB | {r['tree_rss_mb']:,.0f} MB | {r['removed']:,} | {r['precision']} "
                     f"| {r['recall']} | {r.get('precision_own', r['precision'])} / {r.get('recall_own', r['recall'])} |")
    return "\n".join(lines)


def datatrove_pairs(work: Path, pairs: list[dict]) -> list[dict]:
    """The planted pairs with their Jaccard over datatrove's own shingles (its text simplification, word
    tokenizer and 5-grams), so that datatrove is also scored by its own definition of similarity."""
    import pyarrow.parquet as pq
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    path = work / "pairs-datatrove.jsonl"
    if not path.exists():
        wanted = {p["a"] for p in pairs} | {p["b"] for p in pairs}
        text = {}
        for f in sorted((work / "corpus").rglob("*.parquet")):
            t = pq.read_table(f, columns=["id", "text"])
            text.update((i, x) for i, x in zip(t["id"].to_pylist(), t["text"].to_pylist()) if i in wanted)
        step = MinhashDedupSignature(output_folder=str(work / "datatrove-shingles"), config=MinhashConfig(n_grams=5))

        def jaccard(a: str, b: str) -> float:
            sa, sb = set(step.get_shingles(a).ravel().tolist()), set(step.get_shingles(b).ravel().tolist())
            return len(sa & sb) / len(sa | sb) if sa and sb else 0.0

        path.write_text("".join(json.dumps(p | {"jaccard": round(jaccard(text[p["a"]], text[p["b"]]), 4)}) + "\n"
                                for p in pairs))
    return [json.loads(line) for line in open(path)]


def compare(args) -> None:
    """curate against datatrove on --docs documents, each system --repeat times in turn."""
    from curate.dedup.minhash import choose_bands

    work = Path(args.work) / f"docs-{args.docs}"  # one corpus per size: never reuse one of another size
    work.mkdir(parents=True, exist_ok=True)
    build_corpus(work, args.docs)
    args.work = str(work)
    pairs = [json.loads(line) for line in open(work / "pairs.jsonl")]
    b, r = choose_bands(args.threshold, 128, verbose=True)
    systems = args.systems.format(b=b, r=r).split(",")
    own = {s: datatrove_pairs(work, pairs) if s.startswith("datatrove") else None for s in systems}
    runs: dict[str, list[dict]] = {s: [] for s in systems}
    for _ in range(args.repeat):  # in turn, so a slow spell of a shared machine hits every system
        for system in systems:
            runs[system].append(measure(args, system, args.docs, pairs, own[system]))
            print(json.dumps(runs[system][-1]), flush=True)
    rows = [median_row(runs[s]) for s in systems]
    (work / "results.json").write_text(json.dumps({"medians": rows, "runs": runs}, indent=1))
    print(f"\nmedian of {args.repeat}:\n" + markdown(rows), flush=True)


def curate_alone(args, work: Path, n_docs: int, pairs: list[dict], extra: dict) -> tuple[list[dict], dict]:
    """--repeat runs of curate on the corpus in `work`: the runs and their medians (also in work/results.json)."""
    args.work = str(work)
    rows = []
    for _ in range(args.repeat):
        rows.append(measure(args, "curate", n_docs, pairs))
        print(json.dumps(rows[-1]), flush=True)
    summary = median_row(rows)
    (work / "results.json").write_text(json.dumps({**extra, "median": summary, "runs": rows}, indent=1))
    return rows, summary


def short_docs(args) -> None:
    """curate alone on --short-docs short documents: the peak memory of the whole process tree at scale."""
    from kits.dedup_pairs import short_corpus, write_columns, write_pairs

    work = Path(args.work) / f"short-{args.short_docs}-f{args.files}"
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "pairs.jsonl").exists():
        t = time.monotonic()
        ids, texts, pairs = short_corpus(args.short_docs, seed=2)
        write_columns(ids, texts, work / "corpus", files=args.files)
        write_pairs(pairs, work / "pairs.jsonl")
        print(f"corpus: {len(ids):,} documents, {len(pairs):,} planted pairs, {args.files} files, "
              f"{time.monotonic() - t:.0f} s", flush=True)
    pairs = [json.loads(line) for line in open(work / "pairs.jsonl")]
    rows, summary = curate_alone(args, work, args.short_docs, pairs, {})
    print(f"\n{args.short_docs:,} short documents, tasks {args.tasks}, workers {args.workers}, median of "
          f"{args.repeat}: {summary['docs_per_s']:,.0f} docs/s\n" + markdown([summary]), flush=True)


def web_docs(args) -> None:
    """curate alone, end to end, on --web-docs web pages of crawl length: where time and memory go at scale."""
    from kits.dedup_web import read_pairs, write_web_corpus

    work = Path(args.work) / f"web-{args.web_docs}-f{args.files}"
    t = time.monotonic()
    corpus = write_web_corpus(work, args.web_docs, args.files, processes=2)
    print(f"corpus: {corpus} ({time.monotonic() - t:.0f} s)", flush=True)
    rows, summary = curate_alone(args, work, args.web_docs, read_pairs(work), {"corpus": corpus})
    print(f"\n{args.web_docs:,} web pages, {args.files} files, tasks {args.tasks}, workers {args.workers}, median of "
          f"{args.repeat}; seconds per job: {rows[-1].get('stage_s')}\n" + markdown([summary]), flush=True)


def signature_engines(args) -> None:
    """Signatures per CPU-second of curate, datasketch's bulk API and rensa on the same shingles."""
    import numpy as np
    import pyarrow.parquet as pq
    import rensa
    from datasketch import MinHash

    from curate.dedup.minhash import MinhashConfig, estimated_jaccard, jaccard, shingles, signatures
    from kits.dedup_web import read_pairs, write_web_corpus

    work = Path(args.work) / f"web-{args.signatures}-f1"
    write_web_corpus(work, args.signatures, 1, processes=1)
    table = pq.read_table(work / "corpus" / "web" / "00000.parquet", columns=["id", "text"])
    ids = table["id"].to_pylist()
    sets = [shingles(t) for t in table["text"].to_pylist()]
    sets64 = [s.astype(np.uint64) for s in sets]
    flat = np.concatenate(sets64)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.uint64)
    config = MinhashConfig.for_threshold(args.threshold)
    n_perm = config.num_perm

    def identity(x):
        return x

    engines = {
        "curate signatures": lambda: signatures(sets, config),
        "datasketch MinHash.bulk": lambda: np.array([m.hashvalues for m in MinHash.bulk(
            sets, num_perm=n_perm, seed=1, hashfunc=identity)]),
        "rensa RMinHash (flat buffer)": lambda: np.array(rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            flat, offsets, n_perm, 1).to_rows()),
    }
    times: dict[str, list[float]] = {name: [] for name in engines}
    result = {}
    for _ in range(args.repeat):
        for name, run in engines.items():
            t = time.process_time()
            result[name] = run()
            times[name].append(time.process_time() - t)
    row_of = {i: k for k, i in enumerate(ids)}
    pairs = [p for p in read_pairs(work) if p["a"] in row_of and p["b"] in row_of]
    exact = np.array([jaccard(sets[row_of[p["a"]]], sets[row_of[p["b"]]]) for p in pairs])
    print(f"{len(sets):,} web pages, {len(flat):,} shingles (median {np.median([len(s) for s in sets]):.0f} per page), "
          f"{n_perm} permutations, {len(pairs):,} planted pairs; CPU seconds of all threads, {args.repeat} runs in turns\n")
    print("| engine | signatures per CPU-s, median (min-max) | mean abs. error of estimated Jaccard on planted pairs |")
    print("| --- | ---: | ---: |")
    for name, ts in times.items():
        sig = result[name]
        est = np.array([estimated_jaccard(sig[row_of[p["a"]]], sig[row_of[p["b"]]]) for p in pairs])
        rates = sorted(len(sets) / t for t in ts)
        print(f"| {name} | {statistics.median(rates):,.0f} ({rates[0]:,.0f}-{rates[-1]:,.0f}) | {np.mean(np.abs(est - exact)):.4f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--short-docs", type=int, help="run curate alone on this many short documents (memory at scale)")
    p.add_argument("--files", type=int, default=8, help="parquet files of the --short-docs or --web-docs corpus")
    p.add_argument("--web-docs", type=int, help="run curate alone on this many web pages of crawl length")
    p.add_argument("--signatures", type=int, help="compare MinHash engines on the shingles of this many web pages")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--tasks", type=int, default=2)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1, help="runs of each system; the table gives medians")
    p.add_argument("--work", default="/tmp/curate-bench-dedup")
    p.add_argument("--systems", default="curate,datatrove-{b}x{r},datatrove-14x8")
    p.add_argument("--keep-output", action="store_true", help="keep each system's output folder")
    p.add_argument("--system", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.system:
        child(args)
    elif args.short_docs:
        short_docs(args)
    elif args.web_docs:
        web_docs(args)
    elif args.signatures:
        signature_engines(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
