"""A tokenizer recipe: one YAML file (or dict) that says which library trains which model on which sample.

```yaml
library: hf                 # hf (HF tokenizers) | sentencepiece
model: bpe                  # bpe | wordpiece | unigram   (sentencepiece: bpe | unigram)
vocab_size: 32000
special_tokens: ["<|endoftext|>"]   # the first one separates documents in token shards
normalization: none         # none | nfc | nfkc | bert  (sentencepiece: none | nfkc | nmt_nfkc)
pre_tokenization: byte_level   # byte_level | whitespace_punct | whitespace | metaspace | none  (hf only)
sources: {web: 0.5, books: 0.25, wiki: 0.25}   # characters sampled per source follow these weights
max_chars: 1_000_000_000    # total characters of training text
seed: 0
holdout_fraction: 0.01      # documents held out of training (per source, by a hash of the id) for the report
```

Every key is checked before anything is read: an unknown key, or a value outside its accepted set, is a
ValueError that names the key and what is accepted. `tokenizer_training/README.md` explains every key.
"""

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

LIBRARIES = ("hf", "sentencepiece")
MODELS = {"hf": ("bpe", "wordpiece", "unigram"), "sentencepiece": ("bpe", "unigram")}
NORMALIZATIONS = {"hf": ("none", "nfc", "nfkc", "bert"), "sentencepiece": ("none", "nfkc", "nmt_nfkc")}
PRE_TOKENIZATIONS = {
    "hf": ("byte_level", "whitespace_punct", "whitespace", "metaspace", "none"),
    "sentencepiece": ("none",),  # sentencepiece splits on whitespace itself (its ▁ pieces)
}
DEFAULT_PRE_TOKENIZATION = {
    ("hf", "bpe"): "byte_level",
    ("hf", "wordpiece"): "whitespace_punct",
    ("hf", "unigram"): "metaspace",
    ("sentencepiece", "bpe"): "none",
    ("sentencepiece", "unigram"): "none",
}
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
    # hf only: a pair must occur this often to be merged (BPE, WordPiece).
    min_frequency: int = 2
    # hf WordPiece only: the unknown token (must be one of special_tokens); Unigram: optional.
    unk_token: str | None = None
    # source name -> weight; None: every source found, in its natural proportions.
    sources: dict[str, float] | None = None
    max_chars: int = 1_000_000_000
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
        return self.library == "hf" and self.pre_tokenization == "byte_level"


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
    for key in ("max_chars", "max_chars_per_document"):
        value = getattr(r, key)
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
