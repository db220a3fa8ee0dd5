"""Tokenizer training and encoding, side by side: curate's `train_tokenizer` and `tokenize_corpus` against the
raw HF `tokenizers` calls a user would write instead, on the same text.

    python benchmarks/tokenizer.py --corpus /tmp/tok-corpus/data [--mb 20] [--vocab 8192] [--repeat 3]

The corpus: every document of the parquet shards under --corpus (a curate run's OUT/data), repeated (with
new ids) until it holds at least --mb MB of text, written as parquet shards. Training: byte-level BPE with the
same settings both ways; ours streams the shards (holdout_fraction 0, so both train on exactly the same
text), the raw one reads every text into a list and calls `Tokenizer.train_from_iterator`. Each run is a
fresh subprocess; wall time (read + train) and peak RSS (`ru_maxrss` of that process) are the median of
--repeat runs. Encoding: `tokenize_corpus(tasks=1)` (parquet in, token shards out) against
`Tokenizer.encode_batch_fast` over the same texts read into memory, one core each (RAYON_NUM_THREADS=1),
in MB of UTF-8 text per second.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def build_corpus(src: str, mb: float, out: Path) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.io.writer import shard_schema

    files = sorted(Path(src).rglob("*.parquet"))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    if not rows:
        raise SystemExit(f"{src}: no parquet rows; run `curate run pipelines/demo.yaml -o /tmp/tok-corpus` first")
    total = n = rep = 0
    by_source: dict[str, list] = {}
    while total < mb * 1e6:
        for r in rows:
            by_source.setdefault(r["source"], []).append({**r, "id": f"{r['id']}#{rep}"})
            total += len(r["text"].encode("utf-8"))
            n += 1
        rep += 1
    for source, docs in by_source.items():
        (out / source).mkdir(parents=True, exist_ok=True)
        for k in range(0, len(docs), 2000):
            pq.write_table(pa.Table.from_pylist(docs[k : k + 2000], schema=shard_schema()),
                           out / source / f"{k // 2000:05d}.parquet")
    return total, n


def child(job: dict) -> dict:
    """One measured run, in its own process."""
    import pyarrow.parquet as pq

    start = time.perf_counter()
    if job["kind"] in ("raw_train", "raw_encode"):
        texts = [t for f in sorted(Path(job["corpus"]).rglob("*.parquet"))
                 for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]
    if job["kind"] == "ours_train":
        from curate.tokenizer import train_tokenizer

        train_tokenizer(job["recipe"], [job["corpus"]], job["out"])
    elif job["kind"] == "raw_train":
        from curate.tokenizer.recipe import load_recipe
        from curate.tokenizer.train import build_hf

        tok, trainer = build_hf(load_recipe(job["recipe"]))
        tok.train_from_iterator(texts, trainer=trainer)
        tok.save(os.path.join(job["out"], "raw.json"))
    elif job["kind"] == "ours_encode":
        from curate.tokenizer import tokenize_corpus

        tokenize_corpus(job["tokenizer"], [job["corpus"]], job["out"], tasks=1, workers=1, overwrite=True)
    elif job["kind"] == "raw_encode":
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(job["tokenizer"], "tokenizer.json"))
        n = 0
        for k in range(0, len(texts), 1024):
            n += sum(len(e.ids) for e in tok.encode_batch_fast(texts[k : k + 1024], add_special_tokens=False))
    return {"time_s": time.perf_counter() - start,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(job: dict, repeat: int, env: dict | None = None) -> dict:
    runs = []
    for _ in range(repeat):
        p = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True,
                           env={**os.environ, **(env or {})}, cwd=REPO)
        if p.returncode:
            raise SystemExit(f"{job['kind']} failed:\n{p.stderr[-3000:]}")
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {"time_s": statistics.median(r["time_s"] for r in runs),
            "rss_mb": statistics.median(r["rss_mb"] for r in runs),
            "runs": [round(r["time_s"], 2) for r in runs]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/tmp/tok-corpus/data")
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="curate-bench-tok-"))
    nbytes, ndocs = build_corpus(args.corpus, args.mb, tmp / "corpus")
    recipe = {"library": "hf", "model": "bpe", "vocab_size": args.vocab, "special_tokens": ["<|endoftext|>"],
              "pre_tokenization": "byte_level", "min_frequency": 2, "holdout_fraction": 0.0,
              "max_chars": 10**12, "max_chars_per_document": 10**9}
    corpus = str(tmp / "corpus")
    print(f"corpus: {ndocs} documents, {nbytes / 1e6:.1f} MB; byte-level BPE, vocab {args.vocab}; "
          f"{os.cpu_count()} cores; median of {args.repeat}")
    ours = measure({"kind": "ours_train", "recipe": recipe, "corpus": corpus, "out": str(tmp / "ours")}, args.repeat)
    raw = measure({"kind": "raw_train", "recipe": recipe, "corpus": corpus, "out": str(tmp)}, args.repeat)
    same = (tmp / "ours" / "tokenizer.json").read_bytes() == (tmp / "raw.json").read_bytes()
    one_core = {"RAYON_NUM_THREADS": "1"}
    enc_ours = measure({"kind": "ours_encode", "tokenizer": str(tmp / "ours"), "corpus": corpus,
                        "out": str(tmp / "tokens")}, args.repeat, one_core)
    enc_raw = measure({"kind": "raw_encode", "tokenizer": str(tmp / "ours"), "corpus": corpus}, args.repeat, one_core)

    rows = [
        ("train: wall s (read + train)", f"{ours['time_s']:.2f}", f"{raw['time_s']:.2f}",
         f"{ours['time_s'] / raw['time_s']:.3f}"),
        ("train: peak RSS MB", f"{ours['rss_mb']:.0f}", f"{raw['rss_mb']:.0f}", f"{ours['rss_mb'] / raw['rss_mb']:.3f}"),
        ("encode: MB/s/core", f"{nbytes / 1e6 / enc_ours['time_s']:.2f}", f"{nbytes / 1e6 / enc_raw['time_s']:.2f}",
         f"{enc_raw['time_s'] / enc_ours['time_s']:.3f}"),
        ("encode: peak RSS MB", f"{enc_ours['rss_mb']:.0f}", f"{enc_raw['rss_mb']:.0f}",
         f"{enc_ours['rss_mb'] / enc_raw['rss_mb']:.3f}"),
    ]
    print(f"{'':32} {'curate':>10} {'raw tokenizers':>15} {'ratio':>8}")
    for name, a, b, r in rows:
        print(f"{name:32} {a:>10} {b:>15} {r:>8}")
    print(f"runs (s): train ours {ours['runs']}, raw {raw['runs']}; encode ours {enc_ours['runs']}, raw {enc_raw['runs']}")
    print(f"same tokenizer.json bytes from both trainings: {same}")


if __name__ == "__main__":
    main()
