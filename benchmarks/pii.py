"""PII scrubbing, side by side on the same text: curate's `pii` stage, presidio with its own predefined
recognizers for the same entities (no NLP model, built offline) called once per document and through its
BatchAnalyzerEngine, and datatrove's PIIFormatter.

    python benchmarks/pii.py [--mb 3] [--runs 3] [--warm 1] [--sides ...]
    python benchmarks/pii.py --real-text     # the phone numbers found in the bundled real text, to be read

The text is the seeded evaluation set (curate/pii/evalset.py: real Wikipedia sentences with planted PII
and hard negatives), built with seeds 0, 1, 2... and cut at --mb megabytes; every side gets the same documents.
Each side runs in a process of its own that has scrubbed nothing before (phonenumbers, which curate and
presidio both use, loads a region's metadata on its first use): after building the scrubber and one warm-up
line that is not in the set, it times a COLD pass over every document, then --warm passes more (WARM). Each
round starts every side once, in an order that turns from round to round; --runs rounds. Throughput is MB of
UTF-8 text per CPU-second of the side's process (the figure to read on a loaded machine; wall seconds too),
median and spread (min-max) over the rounds, and curate's median over each peer's median.

The sides: `curate`, as its `pii` stage runs, on documents in groups of about scrubber.BATCH_CHARS characters
(`scrub_many`); `curate-1`, one document per call (`scrub`); `presidio`, AnalyzerEngine.analyze and
AnonymizerEngine.anonymize once per document; `presidio-batch`, presidio's BatchAnalyzerEngine.analyze_iterator
and BatchAnonymizerEngine.anonymize_list over the whole list (the same recognizers; with no NLP model the batch
engine saves the per-document NLP call, which is what it batches); `datatrove`, PIIFormatter.format per document.
Outcome checks: the share of documents whose scrubbed text is the same as presidio's per-document output, and
recall: share of planted PII values that no longer appear in their document, per entity type, per phone
format and per place a phone number is written in; survival: share of hard negatives that still do, per kind
(evalset.score).
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test kits (tests/kits)


def corpus(mb: float):
    from kits.pii_evalset import build_evalset

    docs, seed = [], 0
    while sum(len(d.text.encode()) for d in docs) < mb * 1e6:
        docs += build_evalset(seed=seed)
        seed += 1
    return docs


def take_mb(docs, mb: float):
    out, size = [], 0
    for d in docs:
        if size >= mb * 1e6:
            break
        out.append(d)
        size += len(d.text.encode())
    return out


def one_by_one(scrub):
    return lambda texts: [scrub(text) for text in texts]


def curate_scrub():
    from curate.pii.scrubber import PIIScrubber

    s = PIIScrubber()
    return lambda texts: [text for text, _ in s.scrub_many(texts)]


def curate_scrub_one_by_one():
    from curate.pii.scrubber import PIIScrubber

    s = PIIScrubber()
    return one_by_one(lambda text: s.scrub(text)[0])


def presidio_engines():
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    from curate.pii.engine import build_presidio_reference

    return build_presidio_reference(), AnonymizerEngine(), {"DEFAULT": OperatorConfig("replace", {})}


def presidio_scrub():
    analyzer, anonymizer, ops = presidio_engines()

    def scrub(text):
        results = analyzer.analyze(text, language="en")
        return anonymizer.anonymize(text, results, operators=ops).text

    return one_by_one(scrub)


def presidio_batch_scrub():
    from presidio_analyzer import BatchAnalyzerEngine
    from presidio_anonymizer import BatchAnonymizerEngine

    analyzer, anonymizer, ops = presidio_engines()
    batch_analyzer, batch_anonymizer = BatchAnalyzerEngine(analyzer), BatchAnonymizerEngine(anonymizer)

    def scrub(texts):
        results = batch_analyzer.analyze_iterator(texts, language="en")
        return batch_anonymizer.anonymize_list(texts, results, operators=ops)

    return scrub


def datatrove_scrub():
    from datatrove.pipeline.formatters import PIIFormatter

    f = PIIFormatter()
    return one_by_one(f.format)


SIDES = {"curate": curate_scrub, "curate-1": curate_scrub_one_by_one, "presidio": presidio_scrub,
         "presidio-batch": presidio_batch_scrub, "datatrove": datatrove_scrub}
WARM_UP = "Warm-up, not in the set: write to a@b.com or call 212-867-5309."


def run_side(side: str, mb: float, warm: int) -> dict:
    """In this (fresh) process: the cold pass and `warm` passes more of one side; CPU and wall seconds of each
    pass, the score of the cold pass's output and a digest of each scrubbed document, the load average."""
    import hashlib

    from kits.pii_evalset import score

    docs = take_mb(corpus(mb), mb)
    texts = [d.text for d in docs]
    scrub = SIDES[side]()  # texts -> scrubbed texts
    scrub([WARM_UP])
    # The set and the built engines stay alive to the end: out of the collector's scans, or a full collection
    # over them lands in one pass (0.27 s of a 0.36 s pass of curate's pii seen), whichever side it is.
    gc.freeze()
    passes, outputs, load_start = [], None, os.getloadavg()[0]
    for _ in range(1 + warm):
        start, cpu = time.perf_counter(), time.process_time()
        out = scrub(texts)
        passes.append({"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu})
        outputs = outputs or out
    result = {k: v for k, v in score(docs, outputs).items() if k != "misses"}
    return {"side": side, "mb": sum(len(t.encode()) for t in texts) / 1e6, "passes": passes, **result,
            "digests": [hashlib.sha1(o.encode()).hexdigest() for o in outputs],
            "load": [load_start, os.getloadavg()[0]]}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def side_by_side(args) -> None:
    import tempfile

    sides = args.sides.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="curate-pii-"))
    print(f"{args.runs} rounds x {len(sides)} sides on {args.mb} MB, a fresh process per side and round, "
          f"1 cold + {args.warm} warm passes; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = {side: [] for side in sides}
    for r in range(args.runs):
        for side in sides[r % len(sides):] + sides[: r % len(sides)]:  # who runs first turns from round to round
            out = tmp / f"{side}-{r}.json"
            subprocess.run([sys.executable, __file__, "--side", side, "--mb", str(args.mb), "--warm", str(args.warm),
                            "--out", str(out)], check=True)
            res = json.loads(out.read_text())
            results[side].append(res)
            warm = ", ".join(f"{res['mb'] / p['cpu_s']:.3f}" for p in res["passes"][1:])
            print(f"  round {r + 1} {side:15} cold {res['mb'] / res['passes'][0]['cpu_s']:8.3f} MB/CPU-s "
                  f"({res['passes'][0]['cpu_s']:.2f} CPU-s, {res['passes'][0]['wall_s']:.2f} s wall), warm {warm}; "
                  f"load {res['load'][0]:.2f}-{res['load'][1]:.2f}", flush=True)

    def rates(side, which):  # MB per CPU-second of each round: the cold pass, or the median warm pass
        return [run["mb"] / (run["passes"][0]["cpu_s"] if which == "cold" else
                             statistics.median(p["cpu_s"] for p in run["passes"][1:])) for run in results[side]]

    mb = results[sides[0]][0]["mb"]
    reference = results["presidio"][0]["digests"] if "presidio" in results else None
    print(f"\nMB per CPU-second, median [min-max] of {args.runs} rounds, {mb:.2f} MB; 'same as presidio': share of "
          f"documents scrubbed to the same text as presidio once per document")
    print(f"{'side':16} {'cold':>24} {'warm':>24} {'cold MB/s wall':>15} {'same as presidio':>17}")
    for side in sides:
        digests = results[side][0]["digests"]
        # only presidio's sides write presidio's replacement strings: the others' texts cannot be the same
        same = (f"{sum(a == b for a, b in zip(reference, digests)) / len(digests):.2%}"
                if reference and side.startswith("presidio") else "-")
        wall = statistics.median(run["mb"] / run["passes"][0]["wall_s"] for run in results[side])
        warm = spread(rates(side, "warm")) if args.warm else "-"
        print(f"{side:16} {spread(rates(side, 'cold')):>24} {warm:>24} {wall:15.3f} {same:>17}")
    for ours in (s for s in sides if s == "curate"):
        for peer in (s for s in sides if s.startswith("presidio")):
            for which in ("cold",) + (("warm",) if args.warm else ()):
                mine, theirs = rates(ours, which), rates(peer, which)
                print(f"{ours} / {peer}, {which}: {statistics.median(mine) / statistics.median(theirs):.1f}x (median / "
                      f"median; per round {', '.join(f'{a / b:.1f}' for a, b in zip(mine, theirs))})")
    rows = [results[side][0] for side in sides if side != "curate-1"]  # curate-1 finds the same spans as curate
    print(f"\n{'':60}" + "".join(f"{r['side'][:16]:>17}" for r in rows))
    for section, label in (("recall", "recall"), ("survival", "survival"), ("phone_formats", "phone format"),
                           ("phone_places", "phone place")):
        for k in rows[0][section]:
            print(f"{label:13} {k:46}" + "".join(f"{r[section].get(k, float('nan')):17.3f}" for r in rows))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def real_text_phones():
    """Phone numbers that curate's recognizer finds in the bundled real text (the Python docs pages of the WARC
    sample, the Wikipedia articles, the Gutenberg books), where nobody planted any: each one scrubbed is shown
    with its context, to be read; the numbers plausible but without phone context (score 0.4, left) counted."""
    import gzip
    from pathlib import Path

    import orjson
    from warcio.archiveiterator import ArchiveIterator

    from curate.extract import resiliparse_extract
    from curate.pii.phones import PhoneRecognizer

    data = Path(__file__).parent.parent / "curate" / "data"
    texts = []
    with gzip.open(data / "web" / "python-docs.warc.gz", "rb") as f:
        for record in ArchiveIterator(f):
            if record.rec_type == "response":
                texts.append(resiliparse_extract(record.content_stream().read().decode("utf-8", "replace")))
    texts += [orjson.loads(line)["text"] for line in (data / "wiki" / "enwiki.jsonl").read_text().splitlines()]
    texts += [p.read_text(encoding="utf-8") for p in sorted((data / "books").glob("*.txt"))]
    recognizer, unconfirmed = PhoneRecognizer(), 0
    print(f"real text: {len(texts)} documents, {sum(len(t.encode()) for t in texts) / 1e6:.1f} MB; scrubbed:")
    for text in texts:
        for start, end, score in recognizer.candidates(text):
            if score >= 0.5:
                print(f"  {text[max(0, start - 40):end + 20]!r}")
            else:
                unconfirmed += 1
    print(f"plausible national numbers without phone context (score 0.4, left): {unconfirmed}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=3)
    ap.add_argument("--runs", type=int, default=3, help="rounds: each side in a fresh process once per round")
    ap.add_argument("--warm", type=int, default=1, help="warm passes after the cold one, in the same process")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--real-text", action="store_true", help="only list the phone numbers found in the bundled real text")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # a child process: one side
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.real_text:
        real_text_phones()
    elif args.side:
        args.out.write_text(json.dumps(run_side(args.side, args.mb, args.warm)))
    else:
        side_by_side(args)


if __name__ == "__main__":
    main()
