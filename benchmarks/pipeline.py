"""The web and books recipes end to end at scale: one command against the four commands of before, and the
same web recipe on datatrove alone.

    python scripts/build_scale_corpus.py -o /data/scale --web-gb 1 --books-gb 1
    git worktree add /tmp/before ed81f65     # curate before recipes were one command
    python benchmarks/pipeline.py --corpus /data/scale --work /data/bench --sizes 0.25,0.5,1 --before /tmp/before \
        --datatrove --kill

For each size (the first files of the corpus, in GB of uncompressed HTML or book text), each recipe runs as a
user runs it, in its own measured process tree (benchmarks/measure.py):
- one command: `curate run pipelines/web.yaml` (filters; MinHash dedup at 0.8; line dedup) or
  `pipelines/books.yaml` (filters; MinHash at 0.7; paragraph dedup), two passes;
- with --before DIR, the same recipe as the four commands it took before, with the code of that checkout:
  `curate run web.yaml`, `curate dedup documents`, `curate dedup sentences`, `curate run web-final.yaml` (books
  likewise), each writing or reading the corpus once more. Run before the one command, same inputs, same tasks.
Per command: wall time, CPU seconds, peak memory; per pipeline stage: documents in and kept, characters,
and core-seconds (from stats.json). Throughput per core two ways: input MB / CPU seconds of all processes
(robust when other work shares the machine), and input MB / (wall seconds x workers). The kept documents of
the two forms are compared id by id.

--datatrove runs the web recipe at the smallest size (or --datatrove-gb) twice more: curate's recipe with
trafilatura (datatrove's only extractor: the like-for-like figure), and datatrove's own stages for all it
has, in the same order: WarcReader, URLFilter, Trafilatura (its only extractor), LanguageFilter, Gopher repetition, Gopher
quality, C4, FineWeb, PIIFormatter, ParquetWriter; its 4-stage MinHash with curate's bands and rows; its
3-stage sentence dedup. Two offline patches, nothing else changed: tldextract's bundled suffix list and
curate's bundled lid.176 model (datatrove downloads both). Datatrove writes no exclusion files (curate writes
every removed document), which favours datatrove. Also reported: the documents each side keeps.

--kill SIGKILLs a second `curate run pipelines/web.yaml` at the largest size at a random moment (seeded)
between 20% and 80% of the first run's wall time, runs it again, and compares its output, removed/ and
stats with the uninterrupted run's.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import run_child  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "curate.cli"]
LID = REPO / "curate" / "data" / "lid.176.ftz"


def subset(corpus: Path, work: Path, kind: str, gb: float) -> tuple[Path, float]:
    """A folder of links to the first files of the corpus that reach `gb`; (folder, its size in GB)."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    key, name = ("html_bytes", "file") if kind == "web" else ("text_bytes", "folder")
    folder = work / "inputs" / f"{kind}-{gb}"
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for part in manifest[kind]:
        if total >= gb * 1e9 * 0.98:
            break
        target, link = corpus / kind / part[name], folder / part[name]
        if target.is_dir():  # a folder of books: link its files (datatrove's listing does not enter a linked folder)
            link.mkdir(exist_ok=True)
            for file in target.iterdir():
                if not (link / file.name).exists():
                    (link / file.name).symlink_to(file)
        elif not link.exists():
            link.symlink_to(target)
        total += part[key]
    return folder, total / 1e9


def recipe_commands(kind: str, inp: Path, run: Path, tasks: int, workers: int, config: Path | None = None,
                    before: Path | None = None) -> list[tuple[str, list[str]]]:
    par = ["--tasks", str(tasks), "--workers", str(workers)]
    if before is None:
        return [("run", CURATE + ["run", str(config or REPO / "pipelines" / f"{kind}.yaml"), "--input", f"{kind}={inp}",
                                  "-o", str(run / "out")] + par)]
    threshold, unit = ("0.8", "line") if kind == "web" else ("0.7", "paragraph")
    keep = [] if kind == "web" else ["--keep", "longest"]
    return [
        ("run", CURATE + ["run", str(before / "pipelines" / f"{kind}.yaml"), "--input", f"{kind}={inp}", "-o", str(run / "filtered")] + par),
        ("dedup documents", CURATE + ["dedup", "documents", str(run / "filtered" / "data"), "-o", str(run / "dedup"),
                                      "--threshold", threshold, *keep] + par),
        ("dedup sentences", CURATE + ["dedup", "sentences", str(run / "dedup" / "data"), "-o", str(run / "units.npz"), "--unit", unit]),
        ("final", CURATE + ["run", str(before / "pipelines" / f"{kind}-final.yaml"), "--var", f"dedup={run / 'dedup' / 'data'}",
                            "--var", f"units={run / 'units.npz'}", "-o", str(run / "final")] + par),
    ]


def stage_rows(stats_file: Path) -> list[dict]:
    rows = []
    for s in json.loads(stats_file.read_text())["stages"]:
        if s["kind"] == "step":
            rows.append({k: s[k] for k in ("stage", "in", "kept", "chars_in", "chars_out", "time_s")})
    return rows


def rates(size_gb: float, wall_s: float, cpu_s: float, workers: int) -> dict:
    return {"mb_per_cpu_s": round(size_gb * 1e3 / cpu_s, 3), "mb_s_core_wall": round(size_gb * 1e3 / wall_s / workers, 3)}


def run_recipe(kind: str, inp: Path, size_gb: float, run: Path, tasks: int, workers: int, config: Path | None = None,
               before: Path | None = None) -> dict:
    result = {"kind": kind, "form": "four commands (before)" if before else "one command", "size_gb": round(size_gb, 3),
              "commands": [], "stages": []}
    # the checkout's curate, not this one: first on PYTHONPATH, and the working directory (which `python -m` puts
    # first on sys.path) the checkout's own
    env = {**os.environ, "PYTHONPATH": str(before)} if before else None
    for name, cmd in recipe_commands(kind, inp, run, tasks, workers, config, before):
        m = run_child(cmd, run.parent / f"{run.name}.{name.replace(' ', '_')}.log", env, cwd=before)
        result["commands"].append({"command": name, **m})
        print(f"  {kind} {size_gb:.2f} GB {result['form']}: {name}: {m}", flush=True)
    if before:
        for part in ("filtered", "final"):
            assert json.loads((run / part / "stats.json").read_text())["conserved"], f"{run / part}: conservation failed"
            result["stages"] += stage_rows(run / part / "stats.json")
        dedup = json.loads((run / "dedup" / "dedup.json").read_text())
        result["stages"].insert(len(result["stages"]) - 1, {"stage": "dedup documents", "in": dedup["documents"], "kept": dedup["kept"]})
        final = run / "final"
    else:
        assert json.loads((run / "out" / "stats.json").read_text())["conserved"], f"{run}: conservation failed"
        result["stages"] = stage_rows(run / "out" / "stats.json")
        final = run / "out"
    result["wall_s"] = round(sum(c["wall_s"] for c in result["commands"]), 1)
    result["cpu_s"] = round(sum(c["cpu_s"] for c in result["commands"]), 1)
    result["tree_rss_mb"] = max(c["tree_rss_mb"] for c in result["commands"])
    result["peak_rss_mb"] = max(c["peak_rss_mb"] for c in result["commands"])
    result.update(rates(size_gb, result["wall_s"], result["cpu_s"], workers))
    result["kept_docs"] = json.loads((final / "stats.json").read_text())["totals"]["kept"]
    result["data"] = str(final / "data")
    return result


# --- datatrove alone ----------------------------------------------------------------------------------------


def datatrove_child(inp: str, out: str, tasks: int, workers: int, bands: int, rows: int) -> None:
    """The web recipe with datatrove's stages only; writes per-phase wall times to OUT/phases.json."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.sentence_dedup import (
        SentDedupConfig,
        SentenceDedupFilter,
        SentenceDedupSignature,
        SentenceFindDedups,
    )
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
        URLFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import ParquetReader, WarcReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.lid import FT176LID
    from tldextract import TLDExtract

    class BundledFT176(FT176LID):
        """datatrove's lid.176 with the model file curate ships, instead of a download."""

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(str(LID))
            return self._model

    out = Path(out)
    url_filter = URLFilter()
    url_filter.tldextractor = TLDExtract(suffix_list_urls=(), cache_dir=None)
    language = LanguageFilter(languages=["en"], language_threshold=0.65)
    language.model = BundledFT176(["en"])
    minhash = MinhashConfig(n_grams=5, num_buckets=bands, hashes_per_bucket=rows)
    sentences = SentDedupConfig()
    phases = {}

    def run(name: str, pipeline: list, n_tasks: int, n_workers: int = workers) -> None:
        start = time.monotonic()
        LocalPipelineExecutor(pipeline, tasks=n_tasks, workers=n_workers, logging_dir=str(out / "logs" / name)).run()
        phases[name] = round(time.monotonic() - start, 1)

    run("filter", [
        WarcReader(inp, glob_pattern="*.warc.gz"), url_filter, Trafilatura(favour_precision=True, timeout=5),
        language, GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter(),
        PIIFormatter(), ParquetWriter(str(out / "filtered")),
    ], tasks)
    run("minhash signatures", [ParquetReader(str(out / "filtered")), MinhashDedupSignature(str(out / "sigs"), config=minhash)], tasks)
    run("minhash buckets", [MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=minhash)], bands)
    run("minhash cluster", [MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=minhash)], 1, 1)
    run("minhash filter", [ParquetReader(str(out / "filtered")), MinhashDedupFilter(str(out / "remove")),
                           ParquetWriter(str(out / "dedup"))], tasks)
    run("sentence signatures", [ParquetReader(str(out / "dedup")), SentenceDedupSignature(str(out / "ssigs"), config=sentences)], tasks)
    run("sentence find", [SentenceFindDedups(str(out / "ssigs"), str(out / "sdups"), config=sentences)], 1, 1)
    run("sentence filter", [ParquetReader(str(out / "dedup")), SentenceDedupFilter(str(out / "sdups"), config=sentences),
                            ParquetWriter(str(out / "final"))], tasks)
    (out / "phases.json").write_text(json.dumps(phases, indent=1) + "\n")


def datatrove_stages(out: Path) -> list[dict]:
    """Per-step documents and core-seconds of the filter phase, from datatrove's own stats.json."""
    rows = []
    for step in json.loads((out / "logs" / "filter" / "stats.json").read_text()):
        s = step.get("stats", {})
        total = s.get("total")
        rows.append({"stage": step["name"], "in": total if isinstance(total, int) else None, "kept": s.get("forwarded"),
                     "time_s": round(step.get("time_stats", {}).get("total", 0.0), 1)})
    return rows


def run_datatrove(inp: Path, size_gb: float, out: Path, tasks: int, workers: int) -> dict:
    from curate.dedup.minhash import MinhashConfig

    config = MinhashConfig.for_threshold(0.8)
    cmd = [sys.executable, __file__, "--datatrove-child", str(inp), str(out), "--tasks", str(tasks),
           "--workers", str(workers), "--bands", str(config.bands), "--rows", str(config.rows)]
    m = run_child(cmd, out.parent / f"{out.name}.log")
    print(f"  datatrove {size_gb:.2f} GB: {m}", flush=True)
    return {"size_gb": round(size_gb, 3), **m, "phases": json.loads((out / "phases.json").read_text()),
            "stages": datatrove_stages(out), **rates(size_gb, m["wall_s"], m["cpu_s"], workers)}


# --- what each side keeps -------------------------------------------------------------------------------------


def kept(folder: Path) -> dict[str, int]:
    """Record id -> characters of every kept document under a parquet folder (ids without <urn:uuid:>)."""
    import pyarrow.parquet as pq

    docs = {}
    for path in sorted(folder.rglob("*.parquet")):
        table = pq.read_table(path, columns=["id", "text"])
        for doc_id, text in zip(table["id"].to_pylist(), table["text"].to_pylist()):
            docs[doc_id.strip("<>").removeprefix("urn:uuid:")] = len(text)
    return docs


def compare_kept(ours: Path, theirs: Path) -> dict:
    a, b = kept(ours), kept(theirs)
    both = a.keys() & b.keys()
    return {"ours": len(a), "datatrove": len(b), "both": len(both), "only_ours": len(a.keys() - b.keys()),
            "only_datatrove": len(b.keys() - a.keys()), "ours_chars": sum(a.values()), "datatrove_chars": sum(b.values())}


# --- kill and resume ------------------------------------------------------------------------------------------


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".parquet", ".gz")}


def kill_and_resume(inp: Path, reference: Path, work: Path, wall_s: float, tasks: int, workers: int, seed: int) -> dict:
    out = work / "killed"
    cmd = CURATE + ["run", str(REPO / "pipelines" / "web.yaml"), "--input", f"web={inp}", "-o", str(out),
                    "--tasks", str(tasks), "--workers", str(workers)]
    delay = random.Random(seed).uniform(0.2, 0.8) * wall_s
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "logs").glob("*/completions/*")))
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    resumed_s = time.monotonic() - start
    same_files = files_under(out / "data") == files_under(reference / "data")
    same_removed = files_under(out / "removed") == files_under(reference / "removed")
    ref_stats = json.loads((reference / "stats.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    return {"killed_after_s": round(delay, 1), "tasks_done_at_kill": done, "tasks": tasks,
            "resume_wall_s": round(resumed_s, 1), "same_data_bytes": same_files, "same_removed_bytes": same_removed,
            "same_totals": stats["totals"] == ref_stats["totals"], "conserved": stats["conserved"]}


# --- report -----------------------------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    lines = []
    for kind in ("web", "books"):
        runs = [r for r in results["recipes"] if r["kind"] == kind]
        if not runs:
            continue
        lines += [f"### {kind} recipe", "", "| input GB | form | wall s | CPU s | MB per CPU-s | MB/s/core (wall) | peak RSS MB (largest process) | peak RSS MB (tree) | kept docs |",
                  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in runs:
            lines.append(f"| {r['size_gb']} | {r.get('form', 'one command')} | {r['wall_s']} | {r['cpu_s']} | {r['mb_per_cpu_s']} | "
                         f"{r['mb_s_core_wall']} | {r['peak_rss_mb']} | {r['tree_rss_mb']} | {r['kept_docs']} |")
            if same := r.get("same_kept_as_before"):
                four = next(f for f in runs if f["size_gb"] == r["size_gb"] and f is not r)
                lines.append(f"| | one / four | {r['wall_s'] / four['wall_s']:.2f}x | {r['cpu_s'] / four['cpu_s']:.2f}x | | | | | "
                             f"{same['both']} of {same['one']} / {same['four']} the same ids |")
        big = runs[-1]
        lines += ["", f"Commands at {big['size_gb']} GB:", "", "| command | wall s | CPU s | peak RSS MB (tree) |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {c['command']} | {c['wall_s']} | {c['cpu_s']} | {c['tree_rss_mb']} |" for c in big["commands"]]
        lines += ["", f"Stages at {big['size_gb']} GB (core-seconds summed over tasks):", "",
                  "| stage | docs in | docs kept | M chars in | M chars kept | core-s | M chars/s/core |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in big["stages"]:
            rate = s["chars_in"] / 1e6 / s["time_s"] if s.get("time_s") else None
            chars = (f"{s['chars_in'] / 1e6:.1f} | {s['chars_out'] / 1e6:.1f}") if "chars_in" in s else " | "
            lines.append(f"| {s['stage']} | {s['in']} | {s['kept']} | {chars} | {s.get('time_s', '')} | {f'{rate:.2f}' if rate else ''} |")
        lines.append("")
    if dt := results.get("datatrove"):
        ours = next(r for r in results["recipes"] if r["kind"] == "web" and r["size_gb"] == dt["size_gb"]
                    and r.get("form") != "four commands (before)")  # the one command, not the --before run
        lines += [f"### web recipe, curate against datatrove alone, {dt['size_gb']} GB", "",
                  "| | wall s | CPU s | MB per CPU-s | MB/s/core (wall) | peak RSS MB (tree) | kept docs |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
                  f"| curate | {ours['wall_s']} | {ours['cpu_s']} | {ours['mb_per_cpu_s']} | {ours['mb_s_core_wall']} | {ours['tree_rss_mb']} | {ours['kept_docs']} |",
                  *([f"| curate, trafilatura | {t['wall_s']} | {t['cpu_s']} | {t['mb_per_cpu_s']} | {t['mb_s_core_wall']} | {t['tree_rss_mb']} | {t['kept_docs']} |"]
                    if (t := results.get("trafilatura")) else []),
                  f"| datatrove | {dt['wall_s']} | {dt['cpu_s']} | {dt['mb_per_cpu_s']} | {dt['mb_s_core_wall']} | {dt['tree_rss_mb']} | {results['kept']['datatrove']} |",
                  f"| **ratio** | | | **{ours['mb_per_cpu_s'] / dt['mb_per_cpu_s']:.1f}x** | **{ours['mb_s_core_wall'] / dt['mb_s_core_wall']:.1f}x** | | |", "",
                  f"datatrove phases (wall s): {dt['phases']}", "", "datatrove's filter steps (core-seconds summed over tasks):", "",
                  "| step | docs in | docs kept | core-s |", "| --- | ---: | ---: | ---: |",
                  *[f"| {s['stage']} | {s['in'] or ''} | {s['kept'] or ''} | {s['time_s']} |" for s in dt["stages"]], "",
                  f"Kept documents: {results['kept']}", ""]
    if k := results.get("kill"):
        lines += [f"Kill and resume at {k['size_gb']} GB: {k}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="a folder made by scripts/build_scale_corpus.py")
    parser.add_argument("--work", default="/tmp/curate-bench-pipeline")
    parser.add_argument("--sizes", default="0.25,0.5,1", help="input sizes in GB (the first files of the corpus)")
    parser.add_argument("--recipes", default="web,books")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--datatrove", action="store_true", help="also run the web recipe on datatrove alone")
    parser.add_argument("--datatrove-gb", type=float, help="its input size (default: the smallest of --sizes)")
    parser.add_argument("--kill", action="store_true", help="also kill and resume the web run at the largest size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", metavar="DIR", help="a checkout of curate whose recipes took four commands (ed81f65)")
    parser.add_argument("--datatrove-child", nargs=2, metavar=("INPUT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bands", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.datatrove_child:
        datatrove_child(*args.datatrove_child, args.tasks, args.workers, args.bands, args.rows)
        return

    corpus, work = Path(args.corpus).resolve(), Path(args.work).resolve()
    sizes = [float(s) for s in args.sizes.split(",")]
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "workers": args.workers, "recipes": []}
    for kind in args.recipes.split(","):
        for gb in sizes:
            inp, size = subset(corpus, work, kind, gb)
            tasks = max(args.workers, len(list(inp.iterdir())))
            if args.before:
                results["recipes"].append(run_recipe(kind, inp, size, work / f"{kind}-{gb}-before", tasks, args.workers,
                                                     before=Path(args.before).resolve()))
            results["recipes"].append(run_recipe(kind, inp, size, work / f"{kind}-{gb}", tasks, args.workers))
            if args.before:
                one, four = results["recipes"][-1], results["recipes"][-2]
                a, b = kept(Path(one["data"])), kept(Path(four["data"]))
                one["same_kept_as_before"] = {"one": len(a), "four": len(b), "both": len(a.keys() & b.keys()),
                                              "same_chars": sum(a.values()) == sum(b.values())}
            save(results, work)
        if kind == "web" and args.datatrove:
            gb = args.datatrove_gb or sizes[0]
            inp, size = subset(corpus, work, "web", gb)
            tasks = max(args.workers, len(list(inp.iterdir())))
            results["datatrove"] = run_datatrove(inp, size, work / f"datatrove-{gb}", tasks, args.workers)
            # like for like: curate's recipe with datatrove's extractor
            config = work / "web-trafilatura.yaml"
            config.write_text((REPO / "pipelines" / "web.yaml").read_text().replace("engine: resiliparse", "engine: trafilatura"))
            results["trafilatura"] = run_recipe("web", inp, size, work / f"web-trafilatura-{gb}", tasks, args.workers, config)
            results["kept"] = compare_kept(work / f"web-{gb}" / "out" / "data", work / f"datatrove-{gb}" / "final")
            save(results, work)
        if kind == "web" and args.kill:
            inp, size = subset(corpus, work, "web", sizes[-1])
            tasks = max(args.workers, len(list(inp.iterdir())))
            wall = next(c["wall_s"] for r in results["recipes"] if r["kind"] == "web" and r["size_gb"] == round(size, 3)
                        for c in r["commands"] if c["command"] == "run")
            reference = work / f"web-{sizes[-1]}" / "out"
            results["kill"] = {"size_gb": round(size, 3),
                               **kill_and_resume(inp, reference, work, wall, tasks, args.workers, args.seed)}
            save(results, work)
    save(results, work)
    print(markdown(results))


def save(results: dict, work: Path) -> None:
    """After every run, so that a benchmark stopped half-way keeps what it measured."""
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (work / "results.md").write_text(markdown(results) + "\n")


if __name__ == "__main__":
    main()
