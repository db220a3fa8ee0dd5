"""PII scrubbing, side by side on the same text: curate's `pii` stage, presidio with its own predefined
recognizers for the same entities (no NLP model, built offline), and datatrove's PIIFormatter.

    python benchmarks/pii.py [--mb 10] [--presidio-mb 1] [--runs 3]
    python benchmarks/pii.py --real-text     # the phone numbers found in the bundled real text, to be read

The text is the seeded evaluation set (curate/pii/evalset.py: real Wikipedia sentences with planted PII
and hard negatives), built with seeds 0, 1, 2... until it holds --mb megabytes. Throughput is MB of UTF-8
text per second of one process (one core), median of --runs runs, in wall time and in CPU time (the figure to
read on a loaded machine). presidio is timed on the first --presidio-mb MB only (it is too slow for the whole
set in a benchmark that runs in minutes); its recall is measured on that subset. curate is timed as its `pii` stage runs, on documents in groups of about
scrubber.BATCH_CHARS characters (`scrub_many`), and also one document per call (`scrub`) for comparison; the
others are given one document per call, which is how their APIs take text. Recall: share of planted PII
values that no longer appear in their document, per entity type, per phone format and per place a phone
number is written in; survival: share of hard negatives that still do, per kind (evalset.score).
"""

import argparse
import statistics
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
    times, cpu_times, outputs = [], [], None
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        outputs = scrub([d.text for d in docs])
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    from kits.pii_evalset import score

    t, cpu = statistics.median(times), statistics.median(cpu_times)
    return {"name": name, "mb": mb, "s": t, "mb_s": mb / t, "cpu_s": cpu, "mb_cpu_s": mb / cpu, **score(docs, outputs)}


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
    ap.add_argument("--mb", type=float, default=10)
    ap.add_argument("--presidio-mb", type=float, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--real-text", action="store_true", help="only list the phone numbers found in the bundled real text")
    args = ap.parse_args()
    if args.real_text:
        return real_text_phones()

    docs = corpus(args.mb)
    rows = [
        measure("curate pii", curate_scrub, docs, args.runs),
        measure("curate pii, 1 doc/call", curate_scrub_one_by_one, docs, args.runs),
        measure("datatrove PIIFormatter", datatrove_scrub, docs, args.runs),
        measure("presidio (predefined, no NLP)", presidio_scrub, take_mb(docs, args.presidio_mb), args.runs),
    ]
    print(f"{'scrubber':32} {'MB':>6} {'median s':>9} {'MB/s/core':>10} {'median CPU-s':>13} {'MB per CPU-s':>13}")
    for r in rows:
        print(f"{r['name']:32} {r['mb']:6.2f} {r['s']:9.2f} {r['mb_s']:10.3f} {r['cpu_s']:13.2f} {r['mb_cpu_s']:13.3f}")
    ours, presidio = rows[0], rows[3]
    print(f"\ncurate / presidio throughput: {ours['mb_s'] / presidio['mb_s']:.1f}x (wall), "
          f"{ours['mb_cpu_s'] / presidio['mb_cpu_s']:.1f}x (CPU)")
    rows = [rows[0], rows[2], rows[3]]  # the one-document-per-call row finds the same spans as the first
    print(f"\n{'':60}" + "".join(f"{r['name'][:22]:>24}" for r in rows))
    for section, label in (("recall", "recall"), ("survival", "survival"), ("phone_formats", "phone format"),
                           ("phone_places", "phone place")):
        for k in rows[0][section]:
            print(f"{label:13} {k:46}" + "".join(f"{r[section].get(k, float('nan')):24.3f}" for r in rows))


if __name__ == "__main__":
    main()
