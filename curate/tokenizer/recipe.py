"""A tokenizer recipe: one YAML file (or dict) that says which library trains which model on which sample.

```yaml
library: hf                 # hf (HF tokenizers) | sentencepiece | rustbpe (GPT-4-style byte-level BPE in Rust)
model: bpe                  # bpe | wordpiece | unigram   (sentencepiece: bpe | unigram; rustbpe: bpe)
vocab_size: 32000
special_tokens: ["<|endoftext|>"]   # the first one separates documents in token shards
normalization: none         # none | nfc | nfkc | bert  (sentencepiece: none | nfkc | nmt_nfkc)
pre_tokenization: byte_level   # byte_level | whitespace_punct | whitespace | metaspace | none  (hf only)
sources: {web: 0.5, books: 0.25, wiki: 0.25}   # characters sampled per source follow these weights
max_chars: 1_000_000_000    # total characters of training text (null: every document, byte-level BPE only)
seed: 0
holdout_fraction: 0.01      # documents held out of training (per source, by a hash of the id) for the report
```

Every key is checked before anything is read: an unknown key, or a value outside its accepted set, is a
ValueError that names the key and what is accepted. `tokenizer_training/README.md` explains every key.
"""

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

LIBRARIES = ("hf", "sentencepiece", "rustbpe")
MODELS = {"hf": ("bpe", "wordpiece", "unigram"), "sentencepiece": ("bpe", "unigram"), "rustbpe": ("bpe",)}
NORMALIZATIONS = {"hf": ("none", "nfc", "nfkc", "bert"), "sentencepiece": ("none", "nfkc", "nmt_nfkc"),
                  "rustbpe": ("none",)}
PRE_TOKENIZATIONS = {
    "hf": ("byte_level", "whitespace_punct", "whitespace", "metaspace", "none"),
    "sentencepiece": ("none",),  # sentencepiece splits on whitespace itself (its ▁ pieces)
    "rustbpe": ("byte_level",),
}
DEFAULT_PRE_TOKENIZATION = {
    ("hf", "bpe"): "byte_level",
    ("hf", "wordpiece"): "whitespace_punct",
    ("hf", "unigram"): "metaspace",
    ("sentencepiece", "bpe"): "none",
    ("sentencepiece", "unigram"): "none",
    ("rustbpe", "bpe"): "byte_level",
}
# The regular expressions that cut text into words before byte-level BPE: GPT-2's (HF's ByteLevel
# pre-tokenizer, tiktoken's r50k_base) and GPT-4's (cl100k_base, rustbpe's default: case-insensitive
# contractions, numbers in groups of at most 3 digits, newlines kept apart from other whitespace).
SPLIT_PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "gpt4": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+""",
}
DEFAULT_SPLIT_PATTERN = {"hf": "gpt2", "rustbpe": "gpt4"}
# Pieces sentencepiece always has (unk, bos, eos); a recipe may list them, they are not added twice.
SENTENCEPIECE_BUILTINS = ("<unk>", "<s>", "</s>")


@dataclass
class Recipe:
    """One field per recipe key; `load_recipe` builds it from YAML and `check` validates it."""

    library: str = "hf"
    model: str = "bpe"
    vocab_size: int = 32_000
    # The first special token is the end-of-document separator of token shards.
    special_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])
    normalization: str = "none"
    # None: the usual one for the model (hf bpe: byte_level, wordpiece: whitespace_punct, unigram: metaspace;
    # sentencepiece: none, it splits on whitespace itself).
    pre_tokenization: str | None = None
    # sentencepiece only: characters outside the vocabulary become <0xNN> byte pieces instead of <unk>.
    byte_fallback: bool = False
    # sentencepiece only: share of characters the alphabet must cover (rarer ones become <unk> or bytes).
    character_coverage: float = 0.9995
    # sentencepiece only: collapse runs of whitespace into one space and strip the ends (T5's setting; it
    # loses text, so it is off: Llama's tokenizer keeps every space too).
    remove_extra_whitespaces: bool = False
    # byte-level BPE (hf, rustbpe): the regex that cuts words, `gpt2` or `gpt4` (None: gpt2 for hf, gpt4 for rustbpe).
    split_pattern: str | None = None
    # hf only: a pair must occur this often to be merged (BPE, WordPiece).
    min_frequency: int = 2
    # hf WordPiece only: the unknown token (must be one of special_tokens); Unigram: optional.
    unk_token: str | None = None
    # The roles transformers reads from tokenizer_config.json (each one of special_tokens, or a sentencepiece
    # builtin). None: eos is the separator; bos is <s> for sentencepiece, else the separator; pad is eos.
    bos_token: str | None = None
    eos_token: str | None = None
    pad_token: str | None = None
    # source name -> weight; None: every source found, in its natural proportions.
    sources: dict[str, float] | None = None
    # null: every training document, read in one pass (no sample; byte-level BPE only, see `check`).
    max_chars: int | None = 1_000_000_000
    max_chars_per_source: int | None = None
    # A document contributes at most this many characters to training (a 50 MB one-line page would
    # otherwise dominate its source's sample and the trainer's memory).
    max_chars_per_document: int = 1_000_000
    seed: int = 0
    holdout_fraction: float = 0.01
    # Training threads for sentencepiece (HF tokenizers' BPE/WordPiece training is deterministic at any
    # thread count; sentencepiece's is not, so it trains on one thread unless told otherwise).
    threads: int = 1
    name: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def separator(self) -> str:
        return self.special_tokens[0]

    @property
    def byte_level(self) -> bool:
        return self.library in ("hf", "rustbpe") and self.pre_tokenization == "byte_level"

    def roles(self) -> dict[str, str]:
        """bos, eos, pad and unk tokens as transformers declares them. unk: the model's unknown token; byte-level
        BPE has none (every byte is a token), so it names the separator, as GPT-2's files do: no text maps to it."""
        sp = self.library == "sentencepiece"
        eos = self.eos_token or self.separator
        return {
            "bos_token": self.bos_token or ("<s>" if sp else self.separator),
            "eos_token": eos,
            "pad_token": self.pad_token or eos,
            "unk_token": self.unk_token or ("<unk>" if sp else self.separator),
        }

    def text_changes(self) -> list[str]:
        """What `decode(encode(text))` changes in a text, in words; empty: it gives the text back exactly."""
        if self.library == "sentencepiece":
            return _sentencepiece_changes(self)
        if self.byte_level and self.normalization == "none":
            return []
        changes = [NORMALIZER_CHANGES[self.normalization]] if self.normalization != "none" else []
        if self.pre_tokenization in ("whitespace_punct", "whitespace"):
            changes.append("whitespace is not kept: decoding joins words with one space (runs of spaces, tabs and "
                           "newlines become one space" + (", and spaces appear around punctuation" if
                                                          self.pre_tokenization == "whitespace_punct" else "") + ")")
        if self.pre_tokenization == "metaspace":
            changes.append("the character ▁ (U+2581, the space marker) comes back as a space; a space at the "
                           "start of the text is dropped")
        if not self.byte_level:
            changes.append(f"characters not in the vocabulary become {self.unk_token or 'nothing (they are dropped)'}")
        return changes


NORMALIZER_CHANGES = {
    "nfc": "Unicode NFC: decomposed characters are composed (e + U+0301 becomes é)",
    "nfkc": "Unicode NFKC: compatibility characters are folded (ﬁ becomes fi, full-width Ａ becomes A, ² becomes 2, "
            "a no-break space becomes a space)",
    "nmt_nfkc": "Unicode NFKC (ﬁ becomes fi, full-width Ａ becomes A, ² becomes 2), plus sentencepiece's nmt rules: "
                "control characters (tab, newline, carriage return included) are removed or become spaces, and "
                "other space characters become a space",
    "bert": "BERT's normaliser: control characters removed, every whitespace character becomes a space, spaces "
            "put around CJK characters, text lowercased and accents stripped (é becomes e)",
}


def _sentencepiece_changes(r: "Recipe") -> list[str]:
    changes = [NORMALIZER_CHANGES[r.normalization]] if r.normalization != "none" else []
    if r.remove_extra_whitespaces:
        changes.append("runs of whitespace become one space, and spaces at the start and end are removed")
    changes.append("the character ▁ (U+2581, sentencepiece's space marker) comes back as a space")
    if not r.byte_fallback:
        changes.append("characters outside the vocabulary (rarer than character_coverage) become <unk>; "
                       "newlines, never in a training sentence, are among them")
    return changes


def _fail(where: str, key: str, message: str) -> None:
    raise ValueError(f"{where}: {key}: {message}")


def check(recipe: Recipe, where: str = "recipe") -> Recipe:
    """Validates every field; a ValueError names the field, the value and what is accepted."""
    r = recipe
    if r.library not in LIBRARIES:
        _fail(where, "library", f"{r.library!r} is not one of {list(LIBRARIES)}")
    if r.model not in MODELS[r.library]:
        _fail(where, "model", f"{r.model!r}: library {r.library} trains {list(MODELS[r.library])}")
    if r.normalization not in NORMALIZATIONS[r.library]:
        _fail(where, "normalization", f"{r.normalization!r}: library {r.library} accepts {list(NORMALIZATIONS[r.library])}")
    if r.pre_tokenization is None:
        r.pre_tokenization = DEFAULT_PRE_TOKENIZATION[r.library, r.model]
    if r.pre_tokenization not in PRE_TOKENIZATIONS[r.library]:
        _fail(where, "pre_tokenization",
              f"{r.pre_tokenization!r}: library {r.library} accepts {list(PRE_TOKENIZATIONS[r.library])}")
    if r.byte_level and r.model != "bpe":
        _fail(where, "pre_tokenization", f"byte_level goes with model bpe, not {r.model}")
    if r.byte_fallback and r.library != "sentencepiece":
        _fail(where, "byte_fallback", "is a sentencepiece option (byte-level BPE never needs it)")
    if r.remove_extra_whitespaces and r.library != "sentencepiece":
        _fail(where, "remove_extra_whitespaces", "is a sentencepiece option")
    if r.split_pattern is None and r.byte_level:
        r.split_pattern = DEFAULT_SPLIT_PATTERN[r.library]
    if r.split_pattern is not None and (not r.byte_level or r.split_pattern not in SPLIT_PATTERNS):
        _fail(where, "split_pattern", f"{r.split_pattern!r}: byte-level BPE accepts {list(SPLIT_PATTERNS)}; "
                                      "other models take none")
    if not isinstance(r.vocab_size, int) or r.vocab_size < 2:
        _fail(where, "vocab_size", f"expected a whole number >= 2, got {r.vocab_size!r}")
    if not isinstance(r.special_tokens, list) or not r.special_tokens or not all(
        isinstance(t, str) and t for t in r.special_tokens
    ):
        _fail(where, "special_tokens", "expected a non-empty list of strings; the first one separates documents")
    if len(set(r.special_tokens)) != len(r.special_tokens):
        _fail(where, "special_tokens", f"listed twice: {r.special_tokens}")
    if r.model == "wordpiece":
        r.unk_token = r.unk_token or "[UNK]"
    if r.unk_token is not None and r.unk_token not in r.special_tokens:
        _fail(where, "unk_token", f"{r.unk_token!r} must also be in special_tokens {r.special_tokens}")
    if r.library == "sentencepiece" and r.separator in SENTENCEPIECE_BUILTINS[:1]:
        _fail(where, "special_tokens", "the first special token separates documents; it cannot be <unk>")
    known = r.special_tokens + list(SENTENCEPIECE_BUILTINS if r.library == "sentencepiece" else ())
    for key in ("bos_token", "eos_token", "pad_token"):
        value = getattr(r, key)
        if value is not None and value not in known:
            _fail(where, key, f"{value!r} must be one of {known} (add it to special_tokens)")
    if not 0.0 < r.character_coverage <= 1.0:
        _fail(where, "character_coverage", f"expected a number in (0, 1], got {r.character_coverage!r}")
    if not isinstance(r.min_frequency, int) or r.min_frequency < 0:
        _fail(where, "min_frequency", f"expected a whole number >= 0, got {r.min_frequency!r}")
    if r.sources is not None:
        if not isinstance(r.sources, dict) or not r.sources:
            _fail(where, "sources", "expected a mapping of source name to weight, e.g. {web: 0.5, books: 0.5}")
        for name, weight in r.sources.items():
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight <= 0:
                _fail(where, f"sources.{name}", f"weight must be a positive number, got {weight!r}")
    if r.max_chars is None:
        # No budget, no sample: the trainer gets every document in one pass (no pass 1 to count them). Only
        # where nothing must be known before training: weights and per-source caps need every source's
        # size; sentencepiece holds its whole sample in memory; other models' alphabets set the smallest
        # vocabulary, checked before training.
        if not r.byte_level:
            _fail(where, "max_chars", "null (every document, one pass) is for byte-level BPE (library rustbpe, or "
                                      "hf with pre_tokenization byte_level); give a number of characters")
        for key in ("sources", "max_chars_per_source"):
            if getattr(r, key) is not None:
                _fail(where, "max_chars", f"null (every document) cannot go with {key}, which needs a budget; "
                                          "give a number of characters")
    for key in ("max_chars", "max_chars_per_document"):
        value = getattr(r, key)
        if key == "max_chars" and value is None:
            continue
        if not isinstance(value, int) or value < 1:
            _fail(where, key, f"expected a positive whole number of characters, got {value!r}")
    if r.max_chars_per_source is not None and (not isinstance(r.max_chars_per_source, int) or r.max_chars_per_source < 1):
        _fail(where, "max_chars_per_source", f"expected a positive whole number or null, got {r.max_chars_per_source!r}")
    if not isinstance(r.seed, int):
        _fail(where, "seed", f"expected a whole number, got {r.seed!r}")
    if not isinstance(r.holdout_fraction, (int, float)) or not 0.0 <= r.holdout_fraction < 0.5:
        _fail(where, "holdout_fraction", f"expected a number in [0, 0.5), got {r.holdout_fraction!r}")
    if not isinstance(r.threads, int) or r.threads < 1:
        _fail(where, "threads", f"expected a whole number >= 1, got {r.threads!r}")
    return r


def load_recipe(recipe: "str | Path | dict | Recipe") -> Recipe:
    """A Recipe from a YAML file, a dict or a Recipe; validated. Unknown keys are refused by name."""
    if isinstance(recipe, Recipe):
        return check(Recipe(**recipe.to_dict()))
    where = "recipe"
    if isinstance(recipe, (str, Path)):
        where = str(recipe)
        path = Path(recipe)
        if not path.is_file():
            raise ValueError(f"{where}: no such recipe file (ready ones are in tokenizer_training/)")
        try:
            recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ValueError(f"{where}: not valid YAML ({e})") from None
        if isinstance(recipe, dict):
            recipe.setdefault("name", path.stem)
    if not isinstance(recipe, dict):
        raise ValueError(f"{where}: expected a mapping of recipe keys, got {type(recipe).__name__}")
    accepted = [f.name for f in fields(Recipe)]
    unknown = sorted(set(recipe) - set(accepted))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; accepted keys: {accepted}")
    values = dict(recipe)
    if isinstance(values.get("special_tokens"), tuple):
        values["special_tokens"] = list(values["special_tokens"])
    return check(Recipe(**values), where)
