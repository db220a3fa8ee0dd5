"""Heuristic rules, side by side: datatrove's Gopher repetition + Gopher quality + C4 + FineWeb chain (with its
spaCy word tokenizer) against curate's, on the same real text, in one process, one core.

    python benchmarks/filters.py [--repeat 3] [--min-mb 20] [--labelled] [--extraction]

The corpus: the bundled sample read and extracted (web pages after trafilatura, code blocks fenced, books,
Wikipedia; no filtering), plus every one of those documents cut into ~5 KB pieces at paragraph breaks,
repeated until it holds at least --min-mb of text. Prints documents per second for three chains measured side
by side: datatrove's, curate's (code_aware off: datatrove's decisions) and curate's code-aware chain with
web.yaml's thresholds (these two timed in turns on chunks of 50 documents, so that load changes fall on
both), the ratios, and the keep/drop agreement of the first two with every disagreement listed (document,
datatrove's decision, ours). Then fastText prediction throughput: language id (bundled lid.176)
and a quality classifier trained on the same text.

Times are wall seconds and CPU seconds of this process (the CPU figure is the one to read on a loaded machine),
with the load average at the start and end of the run.

--extraction: html_extract's engines on the sample's pages and the labelled set's, as the stage calls them,
timed side by side: plain text, with code blocks fenced (code_blocks), and with the checks on the main content
(max_link_density, min_main_share) as well; CPU seconds, median of --repeat.

--labelled: the share of each label of the labelled quality set (tests/kits/quality_pages.py) that `web.yaml`
keeps or removes, run as `curate run` would, with each engine (web.yaml's extraction settings and rules), and
with datatrove's rules on plain extracted text (code_blocks and the main-content checks off) for comparison.
"""

import argparse
import copy
import os
import statistics
import tempfile
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test kits (tests/kits)
EXTRACT_ONLY = """
readers:
  - warc: {path: "{data}/web", source: web}
  - books: {path: "{data}/books", source: books}
  - jsonl: {path: "{data}/wiki", source: wiki}
steps:
  - html_extract: {timeout: 5, code_blocks: true}
"""


def corpus(min_mb: float) -> list[str]:
    import pyarrow.parquet as pq

    from curate.pipeline import run_pipeline

    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-"))
    (tmp / "extract.yaml").write_text(EXTRACT_ONLY)
    out = tmp / "extracted"
    run_pipeline(str(tmp / "extract.yaml"), str(out), tasks=2, workers=2)
    docs = []
    for path in sorted((out / "data").rglob("*.parquet")):
        docs += pq.read_table(path, columns=["text"]).column("text").to_pylist()
    pieces = []
    for text in docs:
        piece = []
        for para in text.split("\n\n"):
            piece.append(para)
            if sum(map(len, piece)) > 5000:
                pieces.append("\n\n".join(piece))
                piece = []
    texts = docs + pieces
    base = list(texts)
    while sum(map(len, texts)) < min_mb * 1e6:
        texts += base
    return texts, out / "data"


def fasttext_throughput(docs, data_dir: Path, repeat: int) -> None:
    from curate.quality.classifier import FastTextQualityFilter, train_classifier
    from curate.quality.langid import LanguageFilter

    model = data_dir.parent / "quality.bin"
    train_classifier([str(data_dir / "wiki"), str(data_dir / "books")], [str(data_dir / "web")], str(model))
    for stage in (LanguageFilter(languages=None), FastTextQualityFilter(str(model), annotate_only=True)):
        times = []
        for _ in range(repeat):
            batch = copy.deepcopy(docs)
            start = time.perf_counter()
            for d in batch:
                stage.process(d)
            times.append(time.perf_counter() - start)
        t = statistics.median(times)
        print(f"fastText {stage.name}: {len(docs) / t:9.1f} docs/s/core  median of {repeat}: {t:.2f} s")


def datatrove_chain():
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    return [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]


def curate_chain():
    from curate.quality.heuristics import C4Quality, FineWebQuality, GopherQuality, GopherRepetition

    return [GopherRepetition(), GopherQuality(), C4Quality(), FineWebQuality()]


def code_aware_chain():
    """The four rule sets as web.yaml configures them (code_aware, calibrated thresholds)."""
    import yaml

    from curate.config import STEPS

    steps = yaml.safe_load((REPO / "pipelines" / "web.yaml").read_text())["steps"]
    chain = []
    for kind in ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"):
        (args,) = [step[kind] for step in steps if kind in step]
        chain.append(STEPS[kind](**args))
    return chain


LABELLED_RECIPE = """
readers:
  - warc: {{path: "{pages}", source: web}}
steps:
  - html_extract: {{engine: {engine}, timeout: 60{extract}}}
  - language: {{languages: [en], min_score: 0.65{aware}}}
{rules}
writer:
  parquet: {{}}
"""


def labelled(workers: int) -> None:
    import pyarrow.parquet as pq
    import yaml

    from curate.pipeline import run_pipeline
    from kits import quality_pages as evalset

    tmp = Path(tempfile.mkdtemp(prefix="curate-labelled-"))
    pages = evalset.evaluation_pages()
    (tmp / "pages").mkdir()
    evalset.write_warc(tmp / "pages" / "eval.warc.gz", pages)
    web_steps = yaml.safe_load((REPO / "pipelines" / "web.yaml").read_text())["steps"]
    web_rules = yaml.safe_dump([s for s in web_steps if next(iter(s)) in
                                ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")])
    plain_rules = "  - gopher_repetition: {}\n  - gopher_quality: {}\n  - c4_quality: {}\n  - fineweb_quality: {}"
    print(f"labelled set: {len(pages)} pages; share of content kept, share of the other labels removed")
    (web_extract,) = [s["html_extract"] for s in web_steps if "html_extract" in s]
    # web.yaml's extraction settings (code blocks, checks on the main content), with the engine of the row
    extract = "".join(f", {k}: {v if not isinstance(v, bool) else str(v).lower()}" for k, v in web_extract.items()
                      if k not in ("engine", "timeout"))
    for engine in ("resiliparse", "trafilatura"):
        for name, rules, aware in (("web.yaml (code-aware)", "  " + web_rules.replace("\n", "\n  "), ", code_aware: true"),
                                   ("datatrove's rules", plain_rules, "")):
            recipe = tmp / f"{engine}-{len(aware)}.yaml"
            recipe.write_text(LABELLED_RECIPE.format(pages=tmp / "pages", engine=engine, aware=aware, rules=rules,
                                                     extract=extract if aware else ""))
            out = tmp / recipe.stem
            run_pipeline(str(recipe), str(out), tasks=workers, workers=workers)
            urls = set()
            for path in (out / "data").rglob("*.parquet"):
                urls |= set(pq.read_table(path, columns=["url"]).column("url").to_pylist())
            score = evalset.score(pages, urls)
            cells = ", ".join(f"{label} {s['kept']}/{s['pages']} kept" if label in evalset.KEEP else
                              f"{label} {s['removed']}/{s['pages']} removed" for label, s in score.items())
            print(f"  {engine:11} {name:22} {cells}")


def decide_datatrove(chain, doc):
    for f in chain:
        result = f.filter(doc)
        if result is not True:
            return result[1] if isinstance(result, tuple) else "dropped"
    return None


def decide_curate(chain, doc):
    from curate.stage import Drop

    for f in chain:
        result = f.process(doc)
        if isinstance(result, Drop):
            return result.reason
    return None


def timed(decide, chain, docs) -> tuple[float, float, list]:
    """(wall seconds, CPU seconds, decisions)."""
    docs = copy.deepcopy(docs)  # C4 rewrites the text of the documents it keeps
    start, cpu = time.perf_counter(), time.process_time()
    decisions = [decide(chain, d) for d in docs]
    return time.perf_counter() - start, time.process_time() - cpu, decisions


def interleaved(chains: list, docs, chunk: int = 50) -> list[tuple[float, float, list]]:
    """(wall s, CPU s, decisions) of each of curate's `chains` over `docs`, timed in turns on chunks of `chunk`
    documents (the order of the turns alternating), so that a change of load on a shared machine falls on
    every chain alike."""
    docs = copy.deepcopy(docs)
    copies = [docs] + [copy.deepcopy(docs) for _ in chains[1:]]  # C4 rewrites the text of what it keeps
    wall, cpu, decisions = [0.0] * len(chains), [0.0] * len(chains), [[] for _ in chains]
    for n, start in enumerate(range(0, len(docs), chunk)):
        order = range(len(chains)) if n % 2 == 0 else reversed(range(len(chains)))
        for i in order:
            batch = copies[i][start : start + chunk]
            t, c = time.perf_counter(), time.process_time()
            decisions[i] += [decide_curate(chains[i], d) for d in batch]
            wall[i] += time.perf_counter() - t
            cpu[i] += time.process_time() - c
    return list(zip(wall, cpu, decisions))


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def extraction(repeat: int, engines: list[str]) -> None:
    """CPU seconds of html_extract's variants over the same pages, alternated, median of `repeat`."""
    from curate.extract import HtmlExtract
    from kits import quality_pages as evalset

    pages = [p.html.decode("utf-8", "replace") for p in evalset.real_pages()]
    mb = sum(map(len, pages)) / 1e6
    print(f"extraction: {len(pages)} pages, {mb:.1f} MB of HTML; {load()}")
    for engine in engines:
        variants = {"plain": HtmlExtract(engine), "code_blocks": HtmlExtract(engine, code_blocks=True),
                    "code_blocks + max_link_density": HtmlExtract(engine, code_blocks=True, max_link_density=0.5),
                    "code_blocks + both checks": HtmlExtract(engine, code_blocks=True, max_link_density=0.5,
                                                             min_main_share=0.5)}
        times = {name: [] for name in variants}
        for _ in range(repeat):
            for name, step in variants.items():
                start = time.process_time()
                for page in pages:
                    step._extract(page)  # what the stage runs in its sandbox for each page
                times[name].append(time.process_time() - start)
        base = statistics.median(times["plain"])
        for name, t in times.items():
            t = statistics.median(t)
            print(f"  {engine:11} {name:36} {t:7.2f} CPU s ({mb / t:6.2f} MB/CPU-s)  {t / base:.2f}x plain  "
                  f"runs: {', '.join(f'{x:.2f}' for x in times[name])}")
    print(f"  {load()}")


def main() -> None:
    from datatrove.data import Document

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--min-mb", type=float, default=20)
    ap.add_argument("--labelled", action="store_true", help="only the labelled-set figures")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--extraction", action="store_true", help="only the extraction timings")
    ap.add_argument("--engines", default="resiliparse,trafilatura", help="with --extraction: the engines to time")
    args = ap.parse_args()
    if args.labelled:
        labelled(args.workers)
        return
    if args.extraction:
        extraction(args.repeat, args.engines.split(","))
        return
    texts, data_dir = corpus(args.min_mb)
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    mb = sum(map(len, texts)) / 1e6
    print(f"corpus: {len(docs)} documents, {mb:.1f} M characters; {load()}")
    dt_chain, cu_chain, ca_chain = datatrove_chain(), curate_chain(), code_aware_chain()
    timed(decide_datatrove, dt_chain, docs[:50])  # warm up spaCy
    dt_times, cu_times, ca_times, cu_cpu, ca_cpu = [], [], [], [], []
    for _ in range(args.repeat):
        t, _, dt_decisions = timed(decide_datatrove, dt_chain, docs)
        dt_times.append(t)
        (t, cpu, cu_decisions), (t2, cpu2, ca_decisions) = interleaved([cu_chain, ca_chain], docs)
        cu_times.append(t)
        cu_cpu.append(cpu)
        ca_times.append(t2)
        ca_cpu.append(cpu2)
        print(f"  run: code-aware / curate chain {ca_times[-1] / cu_times[-1]:.2f}x wall, {ca_cpu[-1] / cu_cpu[-1]:.2f}x "
              f"CPU; {load()}")
    dt, cu, ca = statistics.median(dt_times), statistics.median(cu_times), statistics.median(ca_times)
    agree = sum((a is None) == (b is None) for a, b in zip(dt_decisions, cu_decisions))
    same_reason = sum(a == b for a, b in zip(dt_decisions, cu_decisions))
    print(f"datatrove: {len(docs) / dt:9.1f} docs/s/core ({mb / dt:.2f} MB/s)  median of {args.repeat}: {dt:.2f} s")
    print(f"curate:    {len(docs) / cu:9.1f} docs/s/core ({mb / cu:.2f} MB/s)  median of {args.repeat}: {cu:.2f} s")
    print(f"code-aware: {len(docs) / ca:9.1f} docs/s/core ({mb / ca:.2f} MB/s)  median of {args.repeat}: {ca:.2f} s; "
          f"kept {sum(d is None for d in ca_decisions)}")
    print(f"speed-up: {dt / cu:.1f}x; code-aware chain / curate chain: {ca / cu:.2f}x the time "
          f"({statistics.median(ca_cpu) / statistics.median(cu_cpu):.2f}x the CPU seconds: "
          f"{statistics.median(ca_cpu):.2f} against {statistics.median(cu_cpu):.2f}); {load()}")
    print(f"keep/drop agreement: {agree}/{len(docs)} = {agree / len(docs):.4%}; same reason: {same_reason / len(docs):.4%}")
    kept = sum(d is None for d in cu_decisions)
    print(f"kept: datatrove {sum(d is None for d in dt_decisions)}, curate {kept}")
    seen = set()
    for doc, a, b in zip(docs, dt_decisions, cu_decisions):
        if (a is None) != (b is None) and doc.text[:80] not in seen:
            seen.add(doc.text[:80])
            print(f"  differs: doc {doc.id} ({len(doc.text)} chars): datatrove {a or 'keep'}, curate {b or 'keep'}: {doc.text[:70]!r}")
    fasttext_throughput(docs, data_dir, args.repeat)


if __name__ == "__main__":
    main()
