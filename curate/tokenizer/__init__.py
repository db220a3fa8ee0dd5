"""Tokenizer training (HF tokenizers BPE/WordPiece/Unigram, sentencepiece BPE/Unigram), the held-out report,
and token shards (parquet shards -> per-source uint16/uint32 memmaps with a document index).

    from curate.tokenizer import train_tokenizer, evaluate_tokenizers, tokenize_corpus, TokenShards

Names are imported when first used: token shards are a datatrove pipeline step, and importing datatrove (with
huggingface_hub) took 0.2 CPU-s that training a tokenizer does not need.
"""

from importlib import import_module

_WHERE = {
    "load_tokenizer": "curate.tokenizer.encode",
    "evaluate_tokenizers": "curate.tokenizer.evaluate",
    "Recipe": "curate.tokenizer.recipe",
    "load_recipe": "curate.tokenizer.recipe",
    "TokenShards": "curate.tokenizer.shards",
    "tokenize_corpus": "curate.tokenizer.shards",
    "train_tokenizer": "curate.tokenizer.train",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'curate.tokenizer' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
