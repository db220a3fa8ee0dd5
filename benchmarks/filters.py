"""Heuristic rules, side by side: datatrove's Gopher repetition + Gopher quality + C4 + FineWeb chain against
curate's, on the same real text, each chain in a fresh process of its own, one core.

    python benchmarks/filters.py [--runs 3] [--warm 1] [--max-mb 0] [--sides ...] [--fasttext]
    python benchmarks/filters.py --labelled | --extraction [--warc DIR --pages 400]

The corpus: the bundled sample read and extracted (web pages after trafilatura, code blocks fenced, books,
Wikipedia; no filtering), each document once. Each side (a chain) runs in a process of its own that has
processed no document before: after building the chain and one warm-up sentence that is not in the corpus
(spaCy's pipeline is built on its first call), it times a COLD pass over every document, then --warm passes
more over the same documents (the WARM figures: word caches filled, curate's and spaCy's alike). Each round
starts every side once, in an order that turns from round to round; --runs rounds. The figures: documents and
MB per CPU-second of the side's process (the one to read on a loaded machine; wall seconds too), median and
spread (min-max) over the rounds, cold and warm apart, and curate's median over each datatrove side's median.

The sides: `datatrove` as shipped (its spaCy English word tokenizer, which each filter calls, and spaCy's
sentencizer, which C4 calls on every line); `datatrove-regex` and `datatrove-whitespace`, datatrove's filters
given a cheap word tokenizer through their `language` argument (which takes a WordTokenizer instance:
datatrove/utils/word_tokenizers.py, load_word_tokenizer), the best configuration a datatrove user could pick
without writing a filter; `curate` (code_aware off: datatrove's rules, curate's words) and `curate-code-aware`
(the chain as web.yaml configures it). Outcome check: the share of documents on which each side takes
datatrove default's keep/remove decision (and the same reason), every disagreement of `curate` listed.

--fasttext: fastText prediction throughput as well: language id (bundled lid.176) and a quality classifier
trained on the same text.

--extraction: html_extract's engines on the sample's pages and the labelled set's (or, with --warc DIR, the first
--pages pages of the WARC files there), as the stage calls them, timed side by side: plain text, with code
blocks fenced (code_blocks), and with the checks on the main content (max_link_density, min_main_share) as
well; CPU seconds, median of --repeat.

--labelled: the share of each label of the labelled quality set (tests/kits/quality_pages.py) that `web.yaml`
keeps or removes, run as `curate run` would, with each engine (web.yaml's extraction settings and rules), and
with datatrove's rules on plain extracted text (code_blocks and the main-content checks off) for comparison.
"""

import argparse
import gc
import copy
import json
import os
import statistics
import subprocess
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
# Built into each chain before the timed passes (spaCy builds its pipeline on the first call); not in the corpus.
WARM_UP = "Warm-up: this sentence is not in the corpus. It only makes each chain load what it loads lazily."
SIDES = ("datatrove", "datatrove-regex", "datatrove-whitespace", "curate", "curate-code-aware")


def corpus(max_mb: float) -> tuple[list[str], Path]:
    """The extracted sample, each document once (at most `max_mb` M characters, taken in turn from each source
    so that the web pages, books and articles all stay in it; 0: all), and the folder of the extracted data."""
    import pyarrow.parquet as pq

    from curate.pipeline import run_pipeline

    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-"))
    (tmp / "extract.yaml").write_text(EXTRACT_ONLY)
    out = tmp / "extracted"
    run_pipeline(str(tmp / "extract.yaml"), str(out), tasks=2, workers=2)
    by_source = {}
    for path in sorted((out / "data").rglob("*.parquet")):
        by_source.setdefault(path.relative_to(out / "data").parts[0], []).extend(
            pq.read_table(path, columns=["text"]).column("text").to_pylist())
    texts, size, queues = [], 0, [list(v) for v in by_source.values()]
    while any(queues) and (not max_mb or size < max_mb * 1e6):
        for queue in queues:
            if queue and (not max_mb or size < max_mb * 1e6):
                texts.append(queue.pop(0))
                size += len(texts[-1])
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


def datatrove_chain(words: str | None = None):
    """datatrove's four filters at their defaults; `words` "regex" or "whitespace": given that word tokenizer."""
    import regex
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.utils.word_tokenizers import WhitespaceTokenizer

    class CheapWords(WhitespaceTokenizer):
        """datatrove's WhitespaceTokenizer keeps its regex sentence splitter (what C4 counts sentences with) but
        splits words with spaCy's multilingual pipeline; these split them with one regex or str.split."""

        WORD = regex.compile(r"\w+|[^\w\s]+")

        def word_tokenize(self, text: str) -> list[str]:
            return self.WORD.findall(text) if words == "regex" else text.split()

    # The filters hand `language` to load_word_tokenizer, which returns a WordTokenizer instance as it is.
    language = {} if words is None else {"language": CheapWords()}
    return [GopherRepetitionFilter(**language), GopherQualityFilter(**language), C4QualityFilter(**language),
            FineWebQualityFilter(**language)]


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


def chain_of(side: str):
    """(chain, decide) of one side."""
    if side.startswith("datatrove"):
        return datatrove_chain(side.partition("-")[2] or None), decide_datatrove
    return (code_aware_chain() if side == "curate-code-aware" else curate_chain()), decide_curate


def run_side(side: str, texts_path: Path, warm: int) -> dict:
    """In this (fresh) process: the cold pass and `warm` passes more of one side over the documents, each pass
    on fresh copies (C4 rewrites the text of the documents it keeps); CPU and wall seconds of each pass, the
    decisions of the cold pass, the load average before and after."""
    from datatrove.data import Document

    texts = json.loads(texts_path.read_text())
    chain, decide = chain_of(side)
    decide(chain, Document(text=WARM_UP, id="warm-up"))
    # The set and the built engines stay alive to the end: out of the collector's scans, or a full collection
    # over them lands in one pass (0.27 s of a 0.36 s pass of curate's pii seen), whichever side it is.
    gc.freeze()
    passes, decisions, load_start = [], None, os.getloadavg()[0]
    for _ in range(1 + warm):
        docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
        start, cpu = time.perf_counter(), time.process_time()
        out = [decide(chain, d) for d in docs]
        passes.append({"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu})
        decisions = decisions or out
    return {"side": side, "passes": passes, "decisions": decisions, "load": [load_start, os.getloadavg()[0]]}


def spread(values: list[float], fmt: str = "{:.1f}") -> str:
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def side_by_side(args) -> None:
    """Each side in a fresh process per round; cold and warm rates, ratios, decisions against datatrove's."""
    texts, data_dir = corpus(args.max_mb)
    mb = sum(map(len, texts)) / 1e6
    tmp = Path(tempfile.mkdtemp(prefix="curate-filters-"))
    (tmp / "texts.json").write_text(json.dumps(texts))
    sides = args.sides.split(",")
    print(f"corpus: {len(texts)} documents, {mb:.1f} M characters, each once; {load()}; "
          f"{args.runs} rounds x {len(sides)} sides, a fresh process per side and round, 1 cold + {args.warm} warm passes")
    results = {side: [] for side in sides}
    for r in range(args.runs):
        order = sides[r % len(sides):] + sides[: r % len(sides)]  # who runs first turns from round to round
        for side in order:
            out = tmp / f"{side}-{r}.json"
            subprocess.run([sys.executable, __file__, "--side", side, "--texts", str(tmp / "texts.json"),
                            "--warm", str(args.warm), "--out", str(out)], check=True)
            res = json.loads(out.read_text())
            results[side].append(res)
            cold, warm = res["passes"][0], [f"{len(texts) / p['cpu_s']:.1f}" for p in res["passes"][1:]]
            print(f"  round {r + 1} {side:21} cold {len(texts) / cold['cpu_s']:7.1f} docs/CPU-s "
                  f"({cold['cpu_s']:.1f} CPU-s, {cold['wall_s']:.1f} s wall), warm {', '.join(warm)}; "
                  f"load {res['load'][0]:.2f}-{res['load'][1]:.2f}", flush=True)

    def rates(side, which):  # docs per CPU-second of each round: the cold pass, or the median warm pass
        return [len(texts) / (run["passes"][0]["cpu_s"] if which == "cold" else
                              statistics.median(p["cpu_s"] for p in run["passes"][1:])) for run in results[side]]

    reference = results[sides[0]][0]["decisions"]
    print(f"\ndocs per CPU-second, median [min-max] of {args.runs} rounds; MB per CPU-second of the cold median; "
          f"decisions of the cold pass of round 1 against {sides[0]}'s")
    print(f"{'side':22} {'cold':>22} {'MB/CPU-s':>9} {'warm':>22} {'same keep/remove':>17} {'same reason':>12} {'kept':>5}")
    for side in sides:
        decisions = results[side][0]["decisions"]
        same = sum((a is None) == (b is None) for a, b in zip(reference, decisions)) / len(texts)
        reason = sum(a == b for a, b in zip(reference, decisions)) / len(texts)
        warm = spread(rates(side, "warm")) if args.warm else "-"
        cold_mb = statistics.median(rates(side, "cold")) * mb / len(texts)
        print(f"{side:22} {spread(rates(side, 'cold')):>22} {cold_mb:9.3f} {warm:>22} {same:17.2%} {reason:12.2%} "
              f"{sum(d is None for d in decisions):5}")
    for ours in (s for s in sides if s.startswith("curate")):
        for peer in (s for s in sides if s.startswith("datatrove")):
            for which in ("cold",) + (("warm",) if args.warm else ()):
                mine, theirs = rates(ours, which), rates(peer, which)
                paired = [a / b for a, b in zip(mine, theirs)]
                print(f"{ours} / {peer}, {which}: {statistics.median(mine) / statistics.median(theirs):.2f}x "
                      f"(median / median; per round {', '.join(f'{x:.2f}' for x in paired)})")
    seen = set()
    if "curate" in sides:
        for i, (a, b) in enumerate(zip(reference, results["curate"][0]["decisions"])):
            if (a is None) != (b is None) and texts[i][:80] not in seen:
                seen.add(texts[i][:80])
                print(f"  differs: doc {i} ({len(texts[i])} chars): {sides[0]} {a or 'keep'}, curate {b or 'keep'}: "
                      f"{texts[i][:70]!r}")
    print(load())
    if args.fasttext:
        from datatrove.data import Document

        fasttext_throughput([Document(text=t, id=str(i)) for i, t in enumerate(texts)], data_dir, args.runs)


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def warc_pages(folder: Path, n: int) -> list[str]:
    """The first `n` HTML responses of the WARC files in `folder`, in file order."""
    from warcio.archiveiterator import ArchiveIterator

    pages = []
    for path in sorted(folder.glob("*.warc*")):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type == "response":
                    pages.append(record.content_stream().read().decode("utf-8", "replace"))
                    if len(pages) == n:
                        return pages
    return pages


def extraction(repeat: int, engines: list[str], warc: Path | None, n_pages: int) -> None:
    """CPU seconds of html_extract's variants over the same pages, alternated, median of `repeat`: the labelled
    set's pages, or the first `n_pages` pages of the WARC files in `warc` (a corpus of
    scripts/build_scale_corpus.py)."""
    from curate.extract import HtmlExtract
    from kits import quality_pages as evalset

    if warc:
        pages = warc_pages(warc, n_pages)
    else:
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
        base, blocks = statistics.median(times["plain"]), statistics.median(times["code_blocks"])
        for name, t in times.items():
            t = statistics.median(t)
            print(f"  {engine:11} {name:32} {t:7.2f} CPU s {t / len(pages) * 1e3:6.3f} ms/page "
                  f"({mb / t:6.2f} MB/CPU-s)  {t / base:.2f}x plain  {t / blocks:.2f}x code_blocks  "
                  f"runs: {', '.join(f'{x:.2f}' for x in times[name])}")
    print(f"  {load()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="rounds: each side in a fresh process once per round")
    ap.add_argument("--warm", type=int, default=1, help="warm passes after the cold one, in the same process")
    ap.add_argument("--max-mb", type=float, default=0, help="at most this many M characters of the sample (0: all)")
    ap.add_argument("--sides", default=",".join(SIDES), help="the first is the reference of the decisions")
    ap.add_argument("--fasttext", action="store_true", help="fastText prediction throughput as well")
    ap.add_argument("--repeat", type=int, default=3, help="with --extraction: runs")
    ap.add_argument("--labelled", action="store_true", help="only the labelled-set figures")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--extraction", action="store_true", help="only the extraction timings")
    ap.add_argument("--engines", default="resiliparse,trafilatura", help="with --extraction: the engines to time")
    ap.add_argument("--warc", type=Path, help="with --extraction: time pages of these WARC files instead")
    ap.add_argument("--pages", type=int, default=400, help="with --warc: this many pages")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # a child process: one side
    ap.add_argument("--texts", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        args.out.write_text(json.dumps(run_side(args.side, args.texts, args.warm)))
    elif args.labelled:
        labelled(args.workers)
    elif args.extraction:
        extraction(args.repeat, args.engines.split(","), args.warc, args.pages)
    else:
        side_by_side(args)


if __name__ == "__main__":
    main()
