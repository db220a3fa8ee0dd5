"""GPT-4-style byte-level BPE trained by rustbpe (the Rust trainer of nanochat), saved as an HF tokenizer.json.

    library: rustbpe        # in a recipe; model bpe, split_pattern gpt4 (default) or gpt2

rustbpe streams the texts (it takes them 256 at a time, splits them with the regex on every core and counts
the words in one table), then merges from the word table: its memory is that table, not the corpus.

rustbpe numbers bytes 0-255 in byte order and merge k as 256 + k, and exposes only each id's bytes
(`get_mergeable_ranks`), not which pair made it. The pair is recovered by encoding the id's bytes with the
merges learned before it (`_split`): BPE applies merges in the order they were learned, so those bytes come
out as exactly the two tokens that were merged. Two merges can make the same bytes (a run of 5 spaces as
2 + 3 and later as 4 + 1); an HF vocabulary holds each string once, so the second merge points at the first
token and the ids are renumbered without the gap: HF's ids are rustbpe's, shifted down past every repeat
(`card["rustbpe"]["repeated_tokens"]` counts them). Special tokens take the ids after the learned ones.
"""

from pathlib import Path
from typing import Iterator

from curate.tokenizer.byte_level import tokenizer_from_merges
from curate.tokenizer.corpus import pieces
from curate.tokenizer.recipe import SPLIT_PATTERNS, Recipe

# Texts handed over per batch, and their size: a batch is 1,024 x 64,000 characters at most in memory (64 MB;
# rustbpe's default batch, 8,192 texts of nanochat's 10,000 characters, is 80 MB). Each batch ends in a
# single-threaded step (the batch's word counts merged into the table, the next batch read under the GIL)
# while the other cores wait: batches of 256 texts (16 MB) cost ~5% more CPU time than 1,024 at 200 MB and
# 1 GB of books on 2 cores, which was most of what separated curate from raw rustbpe (benchmarks/RESULTS.md).
BUFFER_TEXTS = 1024
PIECE_CHARS = 64_000


def _split(data: bytes, merges: dict[tuple[int, int], int], limit: int) -> list[int]:
    """`data` encoded with the merges whose id is below `limit`, lowest id first (as rustbpe encodes and
    trains), stopping at two tokens: one more merge would make an earlier token with the same bytes."""
    ids = list(data)
    while len(ids) > 2:
        best, at = limit, -1
        for i in range(len(ids) - 1):
            new = merges.get((ids[i], ids[i + 1]), limit)
            if new < best:
                best, at = new, i
        if at < 0:
            break
        ids[at : at + 2] = [best]
    return ids


def recover_merges(ranks: list[tuple[bytes, int]]) -> list[tuple[int, int, int]]:
    """(left id, right id, new id) of every merge, in the order rustbpe learned them."""
    merges: dict[tuple[int, int], int] = {}
    out = []
    for data, new in sorted(ranks, key=lambda r: r[1]):
        if new < 256:
            continue
        parts = _split(bytes(data), merges, new)
        if len(parts) != 2:
            raise RuntimeError(f"rustbpe token {new} ({bytes(data)!r}) is not one merge of earlier tokens: {parts}")
        merges[parts[0], parts[1]] = new
        out.append((parts[0], parts[1], new))
    return out


def rustbpe_texts(texts: Iterator[str]) -> Iterator[str]:
    for text in texts:
        yield from pieces(text, PIECE_CHARS)


def train_rustbpe(recipe: Recipe, texts: Iterator[str], out_dir: Path):
    """Trains, writes tokenizer.json; returns the HF tokenizer and the card's \"rustbpe\" entry."""
    import rustbpe

    from curate.tokenizer.hf_files import save_tokenizer_json

    learned = recipe.vocab_size - len(recipe.special_tokens)
    trainer = rustbpe.Tokenizer()
    trainer.train_from_iterator(rustbpe_texts(texts), vocab_size=learned, buffer_size=BUFFER_TEXTS,
                                pattern=SPLIT_PATTERNS[recipe.split_pattern])
    ranks = trainer.get_mergeable_ranks()
    by_id = {rank: bytes(data) for data, rank in ranks}
    hf_id: dict[int, int] = {}  # rustbpe id -> HF id (repeats map to the first token with the same bytes)
    first: dict[bytes, int] = {}
    token_bytes: list[bytes] = []
    for rank in sorted(by_id):
        data = by_id[rank]
        if data not in first:
            first[data] = len(token_bytes)
            token_bytes.append(data)
        hf_id[rank] = first[data]
    merges = [(hf_id[a], hf_id[b]) for a, b, _ in recover_merges(ranks)]
    tok = tokenizer_from_merges(token_bytes, merges, recipe)
    save_tokenizer_json(tok, out_dir / "tokenizer.json")
    return tok, {"merges": len(merges), "repeated_tokens": len(by_id) - len(token_bytes)}
