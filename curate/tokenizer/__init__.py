"""Tokenizer training (HF tokenizers BPE/WordPiece/Unigram, sentencepiece BPE/Unigram), the held-out report,
and token shards (parquet shards -> per-source uint16/uint32 memmaps with a document index).

    from curate.tokenizer import train_tokenizer, evaluate_tokenizers, tokenize_corpus, TokenShards
"""

from curate.tokenizer.encode import load_tokenizer
from curate.tokenizer.evaluate import evaluate_tokenizers
from curate.tokenizer.recipe import Recipe, load_recipe
from curate.tokenizer.shards import TokenShards, tokenize_corpus
from curate.tokenizer.train import train_tokenizer

__all__ = [
    "Recipe", "load_recipe", "train_tokenizer", "evaluate_tokenizers", "tokenize_corpus", "load_tokenizer",
    "TokenShards",
]
