"""Byte-level BPE's parts shared by the HF and rustbpe trainers and the tiktoken export: GPT-2's printable
byte alphabet, the pre-tokenizer for a split pattern, and a tokenizer built from a vocabulary and merges."""

from curate.tokenizer.recipe import SPLIT_PATTERNS, Recipe


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: every byte value -> one printable character. Printable Latin-1 bytes
    stand for themselves; the others are moved to the code points from 256 upward, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping, extra = {}, 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def pre_tokenizer(recipe: Recipe):
    """The recipe's split pattern, then bytes to the printable alphabet. GPT-2's pattern is the one HF's
    ByteLevel pre-tokenizer applies itself; another goes in a Split step before it."""
    from tokenizers import Regex, pre_tokenizers

    if recipe.split_pattern == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERNS[recipe.split_pattern]), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])


def tokenizer_from_merges(token_bytes: list[bytes], merges: list[tuple[int, int]], recipe: Recipe):
    """An HF `tokenizers.Tokenizer`: id i is token_bytes[i] (each distinct), `merges` are pairs of ids in the
    order they apply, the recipe's special tokens take the ids after the last token."""
    from tokenizers import AddedToken, Tokenizer, decoders, models

    alphabet = bytes_to_unicode()
    text = ["".join(alphabet[b] for b in data) for data in token_bytes]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(text)}, merges=[(text[a], text[b]) for a, b in merges]))
    tok.pre_tokenizer = pre_tokenizer(recipe)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in recipe.special_tokens])
    return tok
