"""The tokenizer report: how well one tokenizer (and a second one beside it) compresses the documents that the
first one held out of its training, per source.

    report = evaluate_tokenizers(["tok-bpe/", "tok-unigram/"], ["run/data"])   # tok-bpe/report.{md,json}

Figures, per source and over all held-out documents:
    bytes_per_token      UTF-8 bytes of the original text / tokens (higher: fewer tokens for the same text)
    tokens_per_word      tokens / whitespace-separated words (fertility)
    unk_rate             unknown tokens / tokens (WordPiece, Unigram; null where the model has no unknown token)
    byte_fallback_rate   sentencepiece <0xNN> byte pieces / tokens (null for HF tokenizers)
"""

import json

import numpy as np

from curate.tokenizer.corpus import documents
from curate.tokenizer.encode import load_tokenizer
from curate.tokenizer.train import write_json

BATCH_DOCS = 64
METRICS = ("bytes_per_token", "tokens_per_word", "unk_rate", "byte_fallback_rate")


class _Tally:
    def __init__(self):
        self.documents = self.bytes = self.words = 0
        self.tokens: list[int] = []
        self.unk: list[int] = []
        self.byte: list[int] = []

    def figures(self, i: int, tok) -> dict:
        tokens = self.tokens[i]
        return {
            "tokens": tokens,
            "bytes_per_token": round(self.bytes / tokens, 4) if tokens else None,
            "tokens_per_word": round(tokens / self.words, 4) if self.words else None,
            "unk_rate": round(self.unk[i] / tokens, 6) if tok.unk_id is not None and tokens else None,
            "byte_fallback_rate": round(self.byte[i] / tokens, 6) if tok.library == "sentencepiece" and tokens else None,
        }


def evaluate_tokenizers(tokenizer_dirs: list[str], inputs: list[str] | None = None) -> dict:
    """Measures every tokenizer on the held-out documents of the first (its heldout.json), read from
    `inputs` (default: the inputs its card names); writes report.md and report.json into the first
    tokenizer's folder and returns the report."""
    if not tokenizer_dirs:
        raise ValueError("no tokenizer folders given")
    toks = [load_tokenizer(d) for d in tokenizer_dirs]
    first = toks[0]
    inputs = [str(p) for p in (inputs or first.card["inputs"])]
    heldout = json.loads((first.folder / "heldout.json").read_text(encoding="utf-8"))
    wanted = {s: set(ids) for s, ids in heldout.items()}
    if not any(wanted.values()):
        raise ValueError(f"{first.folder}: no held-out documents (holdout_fraction "
                         f"{first.card['heldout']['fraction']}); train with holdout_fraction > 0 to get a report")
    tallies: dict[str, _Tally] = {s: _Tally() for s in sorted(wanted)}
    for t in tallies.values():
        t.tokens, t.unk, t.byte = [0] * len(toks), [0] * len(toks), [0] * len(toks)
    batch: list[tuple[str, str]] = []

    def flush():
        texts = [text for _, text in batch]
        for i, tok in enumerate(toks):
            for (source, _), ids in zip(batch, tok.encode_batch(texts)):
                ids = np.asarray(ids, dtype=np.int64)
                t = tallies[source]
                t.tokens[i] += len(ids)
                if tok.unk_id is not None:
                    t.unk[i] += int((ids == tok.unk_id).sum())
                if len(tok.byte_ids):
                    t.byte[i] += int(np.isin(ids, tok.byte_ids).sum())
        batch.clear()

    for source, doc_id, text in documents(inputs, lambda source, doc_id: doc_id in wanted.get(source, ())):
        t = tallies[source]
        t.documents += 1
        t.bytes += len(text.encode("utf-8", "surrogatepass"))
        t.words += len(text.split())
        batch.append((source, text))
        if len(batch) >= BATCH_DOCS:
            flush()
    if batch:
        flush()

    total = _Tally()
    total.tokens = [sum(t.tokens[i] for t in tallies.values()) for i in range(len(toks))]
    total.unk = [sum(t.unk[i] for t in tallies.values()) for i in range(len(toks))]
    total.byte = [sum(t.byte[i] for t in tallies.values()) for i in range(len(toks))]
    for t in tallies.values():
        total.documents += t.documents
        total.bytes += t.bytes
        total.words += t.words
    if total.documents == 0:
        raise ValueError(f"none of the held-out documents of {first.folder} is in {inputs}")

    def entry(t: _Tally, listed: int) -> dict:
        return {"documents": t.documents, "listed": listed, "bytes": t.bytes, "words": t.words,
                "tokenizers": [t.figures(i, tok) for i, tok in enumerate(toks)]}

    report = {
        "heldout_of": str(first.folder),
        "inputs": inputs,
        "tokenizers": [{"folder": str(t.folder), "name": t.name, "library": t.card["library"], "model": t.card["model"],
                        "vocab_size": t.vocab_size} for t in toks],
        "sources": {s: entry(t, len(wanted[s])) for s, t in tallies.items()},
        "all": entry(total, sum(map(len, wanted.values()))),
    }
    write_json(first.folder / "report.json", report)
    (first.folder / "report.md").write_text(markdown(report), encoding="utf-8")
    return report


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value < 0.01:
        return f"{value:.2e}" if value else "0"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown(report: dict) -> str:
    names = [f"{t['name']} ({t['library']} {t['model']}, {t['vocab_size']})" for t in report["tokenizers"]]
    lines = [
        "# Tokenizer report",
        "",
        f"Held-out documents of `{report['heldout_of']}` (never seen in its training), read from "
        f"{', '.join(f'`{p}`' for p in report['inputs'])}.",
        "bytes/token: UTF-8 bytes of the text per token (higher is better compression); tokens/word: tokens per "
        "whitespace-separated word; unk and byte-fallback rates: share of tokens.",
        "",
    ]
    for source, e in [*report["sources"].items(), ("all sources", report["all"])]:
        lines += [f"## {source}", "",
                  f"{e['documents']} documents ({e['listed']} listed as held out), {e['bytes']:,} bytes, "
                  f"{e['words']:,} words.", "",
                  "| metric | " + " | ".join(names) + " |",
                  "| --- |" + " ---: |" * len(names)]
        for metric in ("tokens",) + METRICS:
            lines.append(f"| {metric} | " + " | ".join(_fmt(f[metric]) for f in e["tokenizers"]) + " |")
        lines.append("")
    return "\n".join(lines)
