"""PII scrubbing, side by side on the same text: curate's `pii` stage, presidio with its own predefined
recognizers for the same entities (no NLP model, built offline), and datatrove's PIIFormatter.

    python benchmarks/pii.py [--mb 10] [--presidio-mb 1] [--runs 3]

The text is the seeded evaluation set (curate/pii/evalset.py: real Wikipedia sentences with planted PII
and hard negatives), built with seeds 0, 1, 2... until it holds --mb megabytes. Throughput is MB of UTF-8
text per second of one process (one core), median of --runs runs. presidio is timed on the first
--presidio-mb MB only (it is too slow for the whole set in a benchmark that runs in minutes); its recall is
measured on that subset. curate is timed as its `pii` stage runs, on documents in groups of about
scrubber.BATCH_CHARS characters (`scrub_many`), and also one document per call (`scrub`) for comparison; the
others are given one document per call, which is how their APIs take text. Recall: share of planted PII
values that no longer appear in their document, per entity type, per phone format and per place a phone
number is written in; survival: share of hard negatives that still do, per kind (evalset.score).
"""

import argparse
import statistics
import time


def corpus(mb: float):
    from curate.pii.evalset import build_evalset

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


def presidio_scrub():
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    from curate.pii.engine import build_presidio_reference

    analyzer, anonymizer = build_presidio_reference(), AnonymizerEngine()
    ops = {"DEFAULT": OperatorConfig("replace", {})}

    def scrub(text):
        results = analyzer.analyze(text, language="en")
        return anonymizer.anonymize(text, results, operators=ops).text

    return one_by_one(scrub)


def datatrove_scrub():
    from datatrove.pipeline.formatters import PIIFormatter

    f = PIIFormatter()
    return one_by_one(f.format)


def measure(name, make, docs, runs):
    scrub = make()  # texts -> scrubbed texts
    scrub(["warm up: a@b.com 212-867-5309"])
    mb = sum(len(d.text.encode()) for d in docs) / 1e6
    times, outputs = [], None
    for _ in range(runs):
        start = time.perf_counter()
        outputs = scrub([d.text for d in docs])
        times.append(time.perf_counter() - start)
    from curate.pii.evalset import score

    t = statistics.median(times)
    return {"name": name, "mb": mb, "s": t, "mb_s": mb / t, **score(docs, outputs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--presidio-mb", type=float, default=1)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    docs = corpus(args.mb)
    rows = [
        measure("curate pii", curate_scrub, docs, args.runs),
        measure("curate pii, 1 doc/call", curate_scrub_one_by_one, docs, args.runs),
        measure("datatrove PIIFormatter", datatrove_scrub, docs, args.runs),
        measure("presidio (predefined, no NLP)", presidio_scrub, take_mb(docs, args.presidio_mb), args.runs),
    ]
    print(f"{'scrubber':32} {'MB':>6} {'median s':>9} {'MB/s/core':>10}")
    for r in rows:
        print(f"{r['name']:32} {r['mb']:6.2f} {r['s']:9.2f} {r['mb_s']:10.3f}")
    ours, presidio = rows[0], rows[3]
    print(f"\ncurate / presidio throughput: {ours['mb_s'] / presidio['mb_s']:.1f}x")
    rows = [rows[0], rows[2], rows[3]]  # the one-document-per-call row finds the same spans as the first
    print(f"\n{'':60}" + "".join(f"{r['name'][:22]:>24}" for r in rows))
    for section, label in (("recall", "recall"), ("survival", "survival"), ("phone_formats", "phone format"),
                           ("phone_places", "phone place")):
        for k in rows[0][section]:
            print(f"{label:13} {k:46}" + "".join(f"{r[section].get(k, float('nan')):24.3f}" for r in rows))


if __name__ == "__main__":
    main()
