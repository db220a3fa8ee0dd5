"""Tokenizer training at scale, side by side: curate's `train_tokenizer` with each engine (HF tokenizers
byte-level BPE, rustbpe, sentencepiece) against the raw library called on the same text, as a user would.

    python scripts/build_scale_corpus.py -o /tmp/scale --web-gb 0 --books-gb 1      # books only, ~1 GB
    python benchmarks/tokenizer.py --books /tmp/scale/books --mb 1000 --repeat 3 [--engines hf,rustbpe,sentencepiece]

The corpus (parquet shards, as a curate run writes them): `books`, the scale corpus's books (every book a
document) up to --mb MB of UTF-8 text; `wiki`, the bundled Wikipedia articles; `web`, the bundled Python
documentation pages as resiliparse extracts them. Documents are held out by curate's rule (hash of the id,
--holdout); every trainer, ours and raw, trains on exactly the other documents, and every tokenizer's
compression (UTF-8 bytes per token) is measured on the held-out documents of each source (the first
--eval-mb MB of each).

Per engine, each run a fresh child process (`measure.run_child`: CPU seconds and peak RSS of its whole
process tree, polled from /proc), median of --repeat runs:
    ours        train_tokenizer(recipe, [corpus], out): hf and rustbpe with `max_chars: null` (every
                training document, one streaming pass over the parquet shards), sentencepiece with a
                budget (pass 1: ids and parquet footers, then the lengths and texts of the lowest hashes
                of each source, as far as its budget needs; pass 2 hands the kept sample over); the
                imports, the trainer, then tokenizer.json (+ transformers files, tiktoken file,
                token_bytes, card)
    ours 2-pass (--two-pass) rustbpe with a budget larger than the corpus (max_chars 10^13): the two
                passes a recipe with a budget or source weights takes, on the same text as the one pass
    ours read   sentencepiece: curate's two passes and sentence splitting alone, no trainer: what reading
                the corpus costs, apart from the trainer (with the imports of curate and pyarrow)
    raw hf      Tokenizer(BPE()) with the same pre-tokenizer, train_from_iterator over the documents read
                from the same shards (whole documents, batches of 256)
    raw rustbpe rustbpe.Tokenizer().train_from_iterator over the documents cut to 10,000 characters (as
                nanochat feeds it; the rest follows as further pieces, so it sees the same text), its
                default buffer_size
    raw sp      SentencePieceTrainer.train(input=FILE) on a text file of the first --sp-mb MB of the training
                documents, one line a sentence, the same options as ours (ours gets max_chars = that size),
                the file written before the timing: the trainer alone (sentencepiece holds its sample in
                memory, so it is measured at a smaller size)
    raw sp read the same, with the file written inside the timing: pyarrow reads the training documents
                from the shards in file order until --sp-mb MB, writes them, the trainer runs: what a user of
                the raw library does to train on the same shards (a sample of the first documents, not a
                uniform one)
    raw sp sampler  sentencepiece's own sampling: input=FILE of every training document (written before the
                timing), input_sentence_size = the lines that hold --sp-mb MB on average,
                shuffle_input_sentence (its reservoir sample of lines): a uniform sample of the whole
                corpus, as ours is, from text already out of parquet
Speed is characters of training text per CPU-second (the figure that does not depend on the machine's load
or core count); memory is the peak of the largest process and of the tree's summed Pss (`measure.py`).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from measure import run_child  # noqa: E402

DATA = REPO / "curate" / "data"
SP_OPTIONS = dict(character_coverage=0.9995, byte_fallback=True, normalization_rule_name="identity",
                  remove_extra_whitespaces=False, add_dummy_prefix=False, allow_whitespace_only_pieces=True,
                  max_sentence_length=16384, num_threads=1, minloglevel=2)


def build_corpus(books: str, mb: float, out: Path, row_group: int) -> dict:
    """out/{books,wiki,web}/NNNNN.parquet; returns UTF-8 bytes and documents per source."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from warcio.archiveiterator import ArchiveIterator

    from curate.extract import resiliparse_extract
    from curate.io.writer import shard_schema

    def write(source: str, docs: list[dict], k: int) -> None:
        (out / source).mkdir(parents=True, exist_ok=True)
        rows = [{"id": d["id"], "text": d["text"], "source": source, "metadata": "{}"} for d in docs]
        # Row groups of --row-group documents: pyarrow decodes a whole row group's text column at once, so
        # a reader's memory is a few times the largest row group (200 books: ~150 MB of text, ~300 MB of RSS).
        pq.write_table(pa.Table.from_pylist(rows, schema=shard_schema()), out / source / f"{k:05d}.parquet",
                       row_group_size=row_group)

    sizes = {}
    files = sorted(Path(books).rglob("*.txt"))
    if not files:
        raise SystemExit(f"{books}: no .txt books; run scripts/build_scale_corpus.py --web-gb 0 --books-gb 1 -o DIR")
    total, batch, k, n = 0, [], 0, 0
    for f in files:
        text = f.read_text(encoding="utf-8")
        batch.append({"id": str(f.relative_to(books)), "text": text})
        total += len(text.encode("utf-8"))
        n += 1
        if len(batch) == 200:
            write("books", batch, k)
            batch, k = [], k + 1
        if total >= mb * 1e6:
            break
    if batch:
        write("books", batch, k)
    if total < mb * 1e6 * 0.98:
        raise SystemExit(f"{books}: only {total / 1e6:.0f} MB of books, --mb asks for {mb}")
    sizes["books"] = {"bytes": total, "documents": n}
    wiki = [json.loads(line) for line in open(DATA / "wiki" / "enwiki.jsonl", encoding="utf-8")]
    write("wiki", [{"id": f"wiki/{d['id']}", "text": d["text"]} for d in wiki], 0)
    sizes["wiki"] = {"bytes": sum(len(d["text"].encode()) for d in wiki), "documents": len(wiki)}
    web = []
    with open(DATA / "web" / "python-docs.warc.gz", "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                text = resiliparse_extract(record.content_stream().read().decode("utf-8", "replace"))
                if text.strip():
                    web.append({"id": record.rec_headers.get_header("WARC-Target-URI"), "text": text})
    write("web", web, 0)
    sizes["web"] = {"bytes": sum(len(d["text"].encode()) for d in web), "documents": len(web)}
    return sizes


def train_docs(corpus: str, holdout: float):
    """Texts of the training documents (not held out), in curate's file order."""
    from curate.tokenizer.corpus import documents, is_heldout

    for _, doc_id, text in documents([corpus]):
        if not is_heldout(doc_id, holdout):
            yield text


def write_lines(f, text: str) -> None:
    """A document as sentencepiece's input file holds it: one line a sentence, blank lines dropped."""
    f.write("\n".join(line for line in text.split("\n") if line.strip()) + "\n")


def child(job: dict) -> None:
    """One measured run, in its own process; writes what the parent needs to job["result"]."""
    kind, out = job["kind"], Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    chars = 0
    if kind == "ours":
        from curate.tokenizer import train_tokenizer

        card = train_tokenizer(job["recipe"], [job["corpus"]], str(out))
        chars = card["sampled_chars"]
    elif kind == "ours_read":
        from curate.tokenizer.corpus import plan, sampled_texts
        from curate.tokenizer.recipe import load_recipe
        from curate.tokenizer.train import sp_sentences

        recipe = load_recipe(job["recipe"])
        plans = plan([job["corpus"]], recipe)
        texts = (text for _, text in sampled_texts([job["corpus"]], recipe, plans))
        chars = sum(p.sampled_chars for p in plans.values())
        assert sum(map(len, sp_sentences(texts))) > 0
    elif kind == "raw_hf":
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(job["pattern"]), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=job["vocab"], min_frequency=2, special_tokens=["<|endoftext|>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        counted = []

        def batches():
            batch = []
            for text in train_docs(job["corpus"], job["holdout"]):
                counted.append(len(text))
                batch.append(text)
                if len(batch) == 256:
                    yield batch
                    batch = []
            if batch:
                yield batch

        tok.train_from_iterator(batches(), trainer=trainer)
        tok.save(str(out / "tokenizer.json"))
        chars = sum(counted)
    elif kind == "raw_rustbpe":
        import rustbpe

        counted = []

        def pieces():
            for text in train_docs(job["corpus"], job["holdout"]):
                counted.append(len(text))
                for k in range(0, len(text), 10_000):
                    yield text[k : k + 10_000]

        tok = rustbpe.Tokenizer()
        tok.train_from_iterator(pieces(), vocab_size=job["vocab"] - 1, pattern=job["pattern"])
        ranks = sorted(tok.get_mergeable_ranks(), key=lambda r: r[1])
        (out / "ranks.json").write_text(json.dumps([[list(b), r] for b, r in ranks]))
        chars = sum(counted)
    elif kind in ("raw_sp", "raw_sp_read", "raw_sp_sampler"):
        import sentencepiece as spm

        chars, sentences, text_file = job["chars"], job.get("sentences", 0), job["text_file"]
        if kind == "raw_sp_read":  # the user's own reading: pyarrow, file order, the first documents
            import hashlib

            import pyarrow.parquet as pq

            def is_heldout(doc_id: str, fraction: float) -> bool:  # curate's rule, written out (no curate import)
                digest = hashlib.blake2b(doc_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
                return int.from_bytes(digest, "big") / 2.0**64 < fraction

            text_file, chars = str(out / "sample.txt"), 0
            with open(text_file, "w", encoding="utf-8") as f:
                for path in sorted(Path(job["corpus"]).rglob("*.parquet")):
                    for batch in pq.ParquetFile(path).iter_batches(16, columns=["id", "text"]):
                        for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                            if text and not is_heldout(doc_id, job["holdout"]) and chars < job["chars"]:
                                text = text[: job["chars"] - chars]
                                write_lines(f, text)
                                chars += len(text)
                        if chars >= job["chars"]:
                            break
                    if chars >= job["chars"]:
                        break
        spm.SentencePieceTrainer.train(input=text_file, model_prefix=str(out / "raw"), model_type=job["model"],
                                       vocab_size=job["vocab"], control_symbols=["<|endoftext|>"],
                                       input_sentence_size=sentences, shuffle_input_sentence=sentences > 0,
                                       **SP_OPTIONS)
    Path(job["result"]).write_text(json.dumps({"chars": chars}))


def run_once(job: dict, i: int, log_dir: Path) -> dict:
    job = {**job, "result": str(log_dir / f"{job['name']}-{i}.json")}
    load = os.getloadavg()[0]
    usage = run_child([sys.executable, __file__, "--child", json.dumps(job)], log_dir / f"{job['name']}-{i}.log")
    usage["load"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    usage["chars"] = json.loads(Path(job["result"]).read_text())["chars"]
    print(f"  {job['name']} run {i + 1}: {usage}", flush=True)
    return usage


def summary(runs: list[dict]) -> dict:
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    return {"cpu_s": med("cpu_s"), "wall_s": med("wall_s"), "peak_rss_mb": med("peak_rss_mb"),
            "tree_rss_mb": med("tree_rss_mb"), "tree_pss_mb": med("tree_pss_mb"), "chars": runs[0]["chars"], "runs_cpu_s": [r["cpu_s"] for r in runs],
            "load": [runs[0]["load"][0], runs[-1]["load"][1]]}


def heldout_texts(corpus: str, holdout: float, eval_mb: float) -> dict[str, list[str]]:
    from curate.tokenizer.corpus import documents, is_heldout

    out: dict[str, list[str]] = {}
    size: dict[str, int] = {}
    for source, doc_id, text in documents([corpus]):
        if is_heldout(doc_id, holdout) and size.get(source, 0) < eval_mb * 1e6:
            out.setdefault(source, []).append(text)
            size[source] = size.get(source, 0) + len(text.encode("utf-8"))
    return out


def encoder(kind: str, folder: Path):
    """A function text -> number of tokens, for each kind of trained output."""
    if kind == "ours":
        from curate.tokenizer import load_tokenizer

        tok = load_tokenizer(str(folder))
        return lambda text: len(tok.encode_batch([text])[0])
    if kind == "raw_hf":
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    if kind == "raw_rustbpe":
        import tiktoken

        ranks = {bytes(b): r for b, r in json.loads((folder / "ranks.json").read_text())}
        from curate.tokenizer.recipe import SPLIT_PATTERNS

        enc = tiktoken.Encoding("raw", pat_str=SPLIT_PATTERNS["gpt4"], mergeable_ranks=ranks, special_tokens={})
        return lambda text: len(enc.encode(text, disallowed_special=()))
    import sentencepiece as spm  # every raw sentencepiece side

    sp = spm.SentencePieceProcessor(model_file=str(folder / "raw.model"))
    return lambda text: len(sp.encode(text))


def compression(kind: str, folder: Path, held: dict[str, list[str]]) -> dict[str, float]:
    count = encoder(kind, folder)
    return {s: round(sum(len(t.encode("utf-8")) for t in texts) / sum(count(t) for t in texts), 4)
            for s, texts in held.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--books", default="/tmp/scale/books", help="books/ of scripts/build_scale_corpus.py")
    ap.add_argument("--mb", type=float, default=1000, help="MB of books text in the corpus")
    ap.add_argument("--vocab", type=int, default=32768)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default="hf,rustbpe,sentencepiece")
    ap.add_argument("--sides", default="ours,raw", help="ours alone shows memory against corpus size, for less time")
    ap.add_argument("--two-pass", action="store_true", help="also rustbpe through curate with a budget (two passes)")
    ap.add_argument("--sp-mb", type=float, default=20, help="sentencepiece's sample, MB (it holds it in memory)")
    ap.add_argument("--sp-model", default="bpe", choices=["bpe", "unigram"])
    ap.add_argument("--holdout", type=float, default=0.01)
    ap.add_argument("--row-group", type=int, default=16, help="documents per parquet row group in the corpus")
    ap.add_argument("--eval-mb", type=float, default=2)
    ap.add_argument("--work", help="work folder (default: a new temporary one)")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="curate-bench-tok-"))
    corpus = work / "corpus"
    start = time.time()
    sizes = build_corpus(args.books, args.mb, corpus, args.row_group)
    total = sum(s["bytes"] for s in sizes.values())
    print(f"corpus: {total / 1e6:.0f} MB ({json.dumps(sizes)}), built in {time.time() - start:.0f} s; "
          f"vocab {args.vocab}; {os.cpu_count()} cores; load {os.getloadavg()}; median of {args.repeat}", flush=True)
    held = heldout_texts(str(corpus), args.holdout, args.eval_mb)
    from curate.tokenizer.recipe import SPLIT_PATTERNS

    base = {"vocab_size": args.vocab, "special_tokens": ["<|endoftext|>"], "holdout_fraction": args.holdout,
            "max_chars": None, "max_chars_per_document": 10**9}
    jobs = []  # (engine, side, job): the sides of one engine run one after the other
    engines = args.engines.split(",")
    if "hf" in engines:
        jobs += [("hf", "ours", {"kind": "ours", "recipe": {**base, "library": "hf", "split_pattern": "gpt4"}}),
                 ("hf", "raw", {"kind": "raw_hf", "pattern": SPLIT_PATTERNS["gpt4"]})]
    if "rustbpe" in engines:
        jobs += [("rustbpe", "ours", {"kind": "ours", "recipe": {**base, "library": "rustbpe"}}),
                 ("rustbpe", "raw", {"kind": "raw_rustbpe", "pattern": SPLIT_PATTERNS["gpt4"]}),
                 *[("rustbpe", "ours 2-pass", {"kind": "ours", "recipe": {**base, "library": "rustbpe",
                                                                           "max_chars": 10**13}})] * args.two_pass]
    if "sentencepiece" in engines:
        sp_chars = int(args.sp_mb * 1e6)
        text_file, written = work / "sp-sample.txt", 0
        with open(text_file, "w", encoding="utf-8") as f:
            for text in train_docs(str(corpus), args.holdout):
                text = text[: sp_chars - written]
                write_lines(f, text)
                written += len(text)
                if written >= sp_chars:
                    break
        all_file, all_chars = work / "sp-all.txt", 0
        with open(all_file, "w", encoding="utf-8") as f:
            for text in train_docs(str(corpus), args.holdout):
                write_lines(f, text)
                all_chars += len(text)
        with open(all_file, "rb") as f:
            all_lines = sum(1 for _ in f)
        recipe = {**base, "library": "sentencepiece", "model": args.sp_model, "byte_fallback": True,
                  "max_chars": sp_chars}
        jobs += [("sentencepiece", "ours", {"kind": "ours", "recipe": recipe}),
                 ("sentencepiece", "raw", {"kind": "raw_sp", "model": args.sp_model, "text_file": str(text_file),
                                           "chars": written}),
                 ("sentencepiece", "raw read", {"kind": "raw_sp_read", "model": args.sp_model, "text_file": "",
                                                "chars": sp_chars}),
                 ("sentencepiece", "raw sampler", {"kind": "raw_sp_sampler", "model": args.sp_model,
                                                   "text_file": str(all_file), "chars": sp_chars,
                                                   "sentences": round(all_lines * sp_chars / all_chars)}),
                 ("sentencepiece", "ours read", {"kind": "ours_read", "recipe": recipe})]
    # The sides of an engine take turns (ours, raw, ours, raw, ...), so that a change in the machine's load
    # falls on both; the ratios of the runs taken together are the figures to read.
    runs: dict[tuple[str, str], list[dict]] = {}
    named = {}
    for engine, side, job in jobs:
        if side.split()[0] in args.sides.split(","):
            name = f"{engine}-{side.replace(' ', '-')}"
            named[engine, side] = {**job, "name": name, "corpus": str(corpus), "holdout": args.holdout,
                                   "vocab": args.vocab, "out": str(work / name)}
    for engine in dict.fromkeys(e for e, _ in named):
        for i in range(args.repeat):
            for (e, side), job in named.items():
                if e == engine:
                    runs.setdefault((e, side), []).append(run_once(job, i, work))
    results = {}
    for key, job in named.items():
        results[key] = summary(runs[key])
        if job["kind"] != "ours_read":
            results[key]["bytes_per_token"] = compression(job["kind"], Path(job["out"]), held)
    print(f"\nload after: {os.getloadavg()}")
    print(f"| engine | side | train chars | chars/CPU-s | CPU s (runs) | peak MB (largest / tree Pss) | "
          f"train text / tree Pss | load (first / last run) | bytes/token held out ({', '.join(held)}) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for (engine, side), r in results.items():
        bpt = ", ".join(f"{v:.3f}" for v in r.get("bytes_per_token", {}).values()) or "-"
        print(f"| {engine} | {side} | {r['chars'] / 1e6:.0f} M | {r['chars'] / r['cpu_s'] / 1e6:.2f} M | "
              f"{r['cpu_s']:.1f} ({', '.join(f'{c:.1f}' for c in r['runs_cpu_s'])}) | {r['peak_rss_mb']:.0f} / "
              f"{r['tree_pss_mb']:.0f} | {r['chars'] / 2**20 / r['tree_pss_mb']:.1f}x | "
              f"{r['load'][0]} -> {r['load'][1]} | {bpt} |")
    rate = lambda r: r["chars"] / r["cpu_s"]  # noqa: E731
    for (engine, side), o in results.items():
        for (e, raw), w in results.items():
            if side.startswith("raw") or e != engine or not raw.startswith("raw"):
                continue
            per_run = [round(o["chars"] / a / (w["chars"] / b), 3) for a, b in zip(o["runs_cpu_s"], w["runs_cpu_s"])]
            print(f"{engine}: {side} / {raw}: chars per CPU-s {rate(o) / rate(w):.3f} (run by run: {per_run}), "
                  f"CPU-s {o['cpu_s'] / w['cpu_s']:.3f}, peak memory (tree Pss) {o['tree_pss_mb'] / w['tree_pss_mb']:.2f}")
    (work / "results.json").write_text(json.dumps(
        {"sizes": sizes, "results": {f"{e} {s}": r for (e, s), r in results.items()}}, indent=1))
    print(f"results: {work / 'results.json'}")


if __name__ == "__main__":
    main()
