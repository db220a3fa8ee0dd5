"""Tokenizer training: a recipe and curate's parquet shards in, a tokenizer folder out.

    card = train_tokenizer("tokenizer_training/bpe-32k.yaml", ["run/data"], "tok/")

`tok/` then holds:
    tokenizer.json      every library (sentencepiece's converted, `hf_files`); loads in `tokenizers`, and with
    tokenizer_config.json, special_tokens_map.json   in transformers' AutoTokenizer (4.40+ and 5.x)
    tokenizer.model     sentencepiece (library: sentencepiece); loads in `sentencepiece.SentencePieceProcessor`
    tokenizer.tiktoken  byte-level BPE (hf, rustbpe): tiktoken's format (`export.load_tiktoken`)
    token_bytes.npy     int32, the UTF-8 length in bytes of every token id (special tokens 0), for bits per byte
    card.json           recipe, inputs, documents and characters per source, vocabulary, what decoding changes
                        in a text (round_trip, text_changes), special token roles, versions, time_s
    heldout.json        {source: [held-out document ids]}, the documents the report measures on

Text reaches the trainer streamed (`curate.tokenizer.corpus`): memory holds what the trainer itself keeps
(the word-count table for HF and rustbpe, the sampled sentences for sentencepiece), never the corpus. The same
recipe, inputs and seed give the same tokenizer file bytes.
"""

import io
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from curate.tokenizer import byte_level
from curate.tokenizer.byte_level import bytes_to_unicode
from curate.tokenizer.corpus import HELDOUT_RULE, every_document, pieces, plan, sampled_texts
from curate.tokenizer.export import write_tiktoken
from curate.tokenizer.hf_files import save_tokenizer_json, sentencepiece_to_hf, write_transformers_config
from curate.tokenizer.recipe import SENTENCEPIECE_BUILTINS, Recipe, load_recipe
from curate.tokenizer.rust_bpe import train_rustbpe

# HF trainers take text in pieces of at most this many characters, cut at a newline or a space, so that a
# book or a 1 MB page is never one Python string handed across at once; words are never cut.
HF_PIECE_CHARS = 64_000
HF_BATCH = 256
# sentencepiece learns from sentences: each line, in pieces of at most this many bytes (its own default
# `max_sentence_length` of 4192 bytes silently skips longer lines, which would drop most of a web page).
SP_MAX_SENTENCE_BYTES = 16_384


# --- HF tokenizers ---------------------------------------------------------------------------------------


def build_hf(recipe: Recipe):
    """An untrained `tokenizers.Tokenizer` and its trainer, assembled from the recipe's parts."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    r = recipe
    if r.model == "bpe":
        tok = Tokenizer(models.BPE(unk_token=None if r.byte_level else r.unk_token))
    elif r.model == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=r.unk_token, continuing_subword_prefix="##"))
    else:
        tok = Tokenizer(models.Unigram())
    tok.normalizer = {
        "none": None,
        "nfc": normalizers.NFC(),
        "nfkc": normalizers.NFKC(),
        "bert": normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True),
    }[r.normalization]
    tok.pre_tokenizer = {
        "byte_level": byte_level.pre_tokenizer(r) if r.byte_level else None,
        "whitespace_punct": pre_tokenizers.BertPreTokenizer(),
        "whitespace": pre_tokenizers.WhitespaceSplit(),
        "metaspace": pre_tokenizers.Metaspace(),
        "none": None,
    }[r.pre_tokenization]
    if r.byte_level:
        tok.decoder = decoders.ByteLevel()
    elif r.model == "wordpiece":
        tok.decoder = decoders.WordPiece(prefix="##")
    elif r.pre_tokenization == "metaspace":
        tok.decoder = decoders.Metaspace()
    common = {"vocab_size": r.vocab_size, "special_tokens": list(r.special_tokens), "show_progress": False}
    if r.model == "bpe":
        extra = {"initial_alphabet": pre_tokenizers.ByteLevel.alphabet()} if r.byte_level else {}
        trainer = trainers.BpeTrainer(min_frequency=r.min_frequency, **common, **extra)
    elif r.model == "wordpiece":
        trainer = trainers.WordPieceTrainer(min_frequency=r.min_frequency, continuing_subword_prefix="##", **common)
    else:
        trainer = trainers.UnigramTrainer(unk_token=r.unk_token, **common)
    return tok, trainer


def hf_batches(texts: Iterator[str]) -> Iterator[list[str]]:
    batch = []
    for text in texts:
        for piece in pieces(text, HF_PIECE_CHARS):
            batch.append(piece)
            if len(batch) == HF_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def hf_token_bytes(tok, recipe: Recipe) -> np.ndarray:
    vocab = tok.get_vocab(with_added_tokens=True)
    special = {t.content for t in tok.get_added_tokens_decoder().values() if t.special}
    out = np.zeros(tok.get_vocab_size(with_added_tokens=True), dtype=np.int32)
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    for token, i in vocab.items():
        if token in special:
            continue
        if recipe.byte_level:
            out[i] = len(token)  # one alphabet character per byte
            assert all(c in byte_of for c in token), f"token {token!r} is not in the byte-level alphabet"
        elif recipe.model == "wordpiece":
            out[i] = len((token[2:] if token.startswith("##") else token).encode("utf-8"))
        else:
            out[i] = len(token.replace("▁", " ").encode("utf-8"))
    return out


def canonical_wordpiece(tok, recipe: Recipe):
    """The trained WordPiece tokenizer renumbered: special tokens first, then single characters ("e" before
    "##e"), then the learned tokens, each group in sorted order.

    Why: HF's trainer numbers the characters in the iteration order of a hash map, which changes from process
    to process, and merges of equal count then come out in another order (measured on the demo sample: 271 of
    4,096 ids moved between two runs, then 110-152 learned tokens swapped places with a tied neighbour after
    sorting the characters; the set of tokens was the same in 5 runs). WordPiece encodes by longest match in
    the vocabulary, so its ids carry no meaning of their own; sorted ids make the file the same bytes run
    after run."""
    from tokenizers import models

    vocab = sorted(tok.get_vocab(with_added_tokens=False).items(), key=lambda kv: kv[1])
    is_char = lambda t: len(t) == 1 or (t.startswith("##") and len(t) == 3)  # noqa: E731
    head = [t for t, _ in vocab if t in recipe.special_tokens]
    chars = sorted((t for t, _ in vocab if t not in recipe.special_tokens and is_char(t)),
                   key=lambda t: (t.startswith("##"), t))
    rest = sorted(t for t, _ in vocab if t not in recipe.special_tokens and not is_char(t))
    order = head + chars + rest
    tok.model = models.WordPiece(vocab={t: i for i, t in enumerate(order)}, unk_token=recipe.unk_token,
                                 continuing_subword_prefix="##")
    return tok


def train_hf(recipe: Recipe, texts: Iterator[str], out_dir: Path):
    tok, trainer = build_hf(recipe)
    tok.train_from_iterator(hf_batches(texts), trainer=trainer)
    if recipe.model == "wordpiece":
        tok = canonical_wordpiece(tok, recipe)
    trained = tok.get_vocab_size(with_added_tokens=True)
    if trained > recipe.vocab_size:
        raise ValueError(
            f"vocab_size: {recipe.vocab_size} is smaller than the {trained} tokens the trainer must keep "
            f"(the sample's alphabet plus {len(recipe.special_tokens)} special tokens); use at least {trained}"
        )
    save_tokenizer_json(tok, out_dir / "tokenizer.json")
    return tok


def hf_outputs(tok, recipe: Recipe, out_dir: Path) -> dict:
    """token_bytes.npy (and tokenizer.tiktoken for byte-level BPE) from a trained HF or rustbpe tokenizer."""
    np.save(out_dir / "token_bytes.npy", hf_token_bytes(tok, recipe))
    out = {"file": "tokenizer.json", "vocab_size": tok.get_vocab_size(with_added_tokens=True),
           "special_token_ids": {t: tok.token_to_id(t) for t in recipe.special_tokens}}
    if recipe.byte_level:
        out["tiktoken"] = write_tiktoken(out_dir, tok, recipe)
    return out


# --- sentencepiece ---------------------------------------------------------------------------------------


def sp_sentences(texts: Iterator[str]) -> Iterator[str]:
    for text in texts:
        for line in text.split("\n"):
            if not line.strip():
                continue
            if len(line) * 4 <= SP_MAX_SENTENCE_BYTES:
                yield line
                continue
            for piece in pieces(line, SP_MAX_SENTENCE_BYTES // 4):  # 4 bytes: the longest UTF-8 character
                yield piece


def sp_token_bytes(sp) -> np.ndarray:
    out = np.zeros(sp.get_piece_size(), dtype=np.int32)
    for i in range(sp.get_piece_size()):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            continue
        out[i] = 1 if sp.is_byte(i) else len(sp.id_to_piece(i).replace("▁", " ").encode("utf-8"))
    return out


def train_sentencepiece(recipe: Recipe, texts: Iterator[str], out_dir: Path) -> dict:
    import sentencepiece as spm

    r = recipe
    spm.set_random_generator_seed(r.seed)
    # The model is written to memory, not to a `model_prefix` path: sentencepiece records that path in the
    # model, so a temporary folder's name would make every run's bytes differ.
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sp_sentences(texts),
            model_writer=model,
            model_type=r.model,
            vocab_size=r.vocab_size,
            character_coverage=r.character_coverage,
            byte_fallback=r.byte_fallback,
            normalization_rule_name={"none": "identity"}.get(r.normalization, r.normalization),
            # Text comes back as it was: every space kept (runs of spaces, code indentation), no dummy space
            # put before the text (it would stand out at every cut of a long document encoded in pieces),
            # pieces made only of spaces allowed (indentation), as Llama's tokenizer is trained.
            remove_extra_whitespaces=r.remove_extra_whitespaces,
            add_dummy_prefix=False,
            allow_whitespace_only_pieces=True,
            control_symbols=[t for t in r.special_tokens if t not in SENTENCEPIECE_BUILTINS],
            max_sentence_length=SP_MAX_SENTENCE_BYTES,
            input_sentence_size=0,  # every sentence given: the budget already sampled them
            shuffle_input_sentence=False,
            num_threads=r.threads,
            minloglevel=2,
        )
    except RuntimeError as e:  # e.g. "Vocabulary size too high (32000). Please set it to a value <= 9215."
        raise ValueError(f"vocab_size: sentencepiece refused to train: {e}") from None
    tmp = out_dir / ".tokenizer.model.tmp"
    tmp.write_bytes(model.getvalue())
    os.replace(tmp, out_dir / "tokenizer.model")
    sp = spm.SentencePieceProcessor(model_file=str(out_dir / "tokenizer.model"))
    np.save(out_dir / "token_bytes.npy", sp_token_bytes(sp))
    save_tokenizer_json(sentencepiece_to_hf(out_dir / "tokenizer.model", r), out_dir / "tokenizer.json")
    return {"file": "tokenizer.model", "vocab_size": sp.get_piece_size(),
            "special_token_ids": {t: sp.piece_to_id(t) for t in r.special_tokens}}


# --- checks, card, the entry point -------------------------------------------------------------------------


def min_vocab_size(recipe: Recipe, alphabet: Counter) -> tuple[int, str]:
    """The smallest vocabulary the recipe can train, and why: the alphabet the model must hold plus the
    special tokens. Byte-level BPE: exactly 256 bytes. Others: estimated from the characters of the first
    few MB of every sampled source (sentencepiece: those covering `character_coverage` of them)."""
    r = recipe
    n_special = len(r.special_tokens)
    if r.byte_level:
        return 256 + n_special, f"256 bytes + {n_special} special tokens"
    chars = Counter({c: n for c, n in alphabet.items() if not c.isspace()})
    if r.library == "hf" and r.normalization != "none":  # count the characters the model sees
        normalizer = build_hf(r)[0].normalizer
        normalized = Counter()
        for c, n in chars.items():
            for nc in normalizer.normalize_str(c):
                if not nc.isspace():
                    normalized[nc] += n
        chars = normalized
    if r.library == "sentencepiece":
        total, covered, need = sum(chars.values()), 0, 0
        for _, n in chars.most_common():
            if total and covered / total >= r.character_coverage:
                break
            covered += n
            need += 1
        extra = {t for t in r.special_tokens} | set(SENTENCEPIECE_BUILTINS)
        size = need + len(extra) + (256 if r.byte_fallback else 0) + 1  # + the ▁ piece
        return size, f"about {need} characters (coverage {r.character_coverage}) + {len(extra)} special pieces" + (
            " + 256 byte pieces" if r.byte_fallback else "")
    return len(chars) + n_special, f"about {len(chars)} distinct characters in the sample + {n_special} special tokens"


def library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("curate", "tokenizers", "sentencepiece", "rustbpe"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _sampled(inputs, recipe, plans, counted: dict) -> Iterator[str]:
    stream = every_document if recipe.max_chars is None else sampled_texts
    for source, text in stream(inputs, recipe, plans):
        counted[source] = counted.get(source, 0) + len(text)
        yield text


def round_trip(recipe: Recipe) -> str:
    changes = recipe.text_changes()
    if not changes:
        return "exact"
    if len(changes) == 1 and "U+2581" in changes[0]:
        return "exact, except the character ▁ (U+2581), which comes back as a space"
    return "changes the text (see text_changes)"


def write_json(path: Path, payload) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def train_tokenizer(recipe: "str | dict | Recipe", inputs: list[str], out_dir: str) -> dict:
    """Trains the tokenizer a recipe describes on a sample of the documents under `inputs` (folders of
    curate parquet shards, e.g. a run's OUT/data, or parquet/JSONL files), writes it to `out_dir` with
    token_bytes.npy, heldout.json and card.json, and returns the card.

    ValueError, before any training, for: an unknown recipe key or value, a source in `sources` that no
    input has, inputs without any document text, a vocab_size below the alphabet plus the special tokens."""
    start = time.perf_counter()
    recipe = load_recipe(recipe)
    inputs = [str(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    plans = {} if recipe.max_chars is None else plan(inputs, recipe)  # {}: filled by the one pass
    alphabet = Counter()
    for p in plans.values():
        alphabet.update(p.alphabet)
    need, why = min_vocab_size(recipe, alphabet)
    if recipe.vocab_size < need:
        raise ValueError(f"vocab_size: {recipe.vocab_size} is too small for this recipe: it needs at least {need} "
                         f"({why}); raise vocab_size")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counted: dict[str, int] = {}
    texts = _sampled(inputs, recipe, plans, counted)
    extra = {}
    if recipe.library == "sentencepiece":
        trained = train_sentencepiece(recipe, texts, out)
    elif recipe.library == "rustbpe":
        tok, extra["rustbpe"] = train_rustbpe(recipe, texts, out)
        trained = hf_outputs(tok, recipe, out)
    else:
        trained = hf_outputs(train_hf(recipe, texts, out), recipe, out)
    roles = write_transformers_config(out, recipe)
    for s, p in plans.items():  # what reached the trainer, counted on the way, must be what was planned
        assert counted.get(s, 0) == p.sampled_chars, f"{s}: planned {p.sampled_chars} chars, fed {counted.get(s, 0)}"
    plans = dict(sorted(plans.items()))
    write_json(out / "heldout.json", {s: sorted(p.heldout_ids) for s, p in plans.items()})
    total = sum(p.sampled_chars for p in plans.values())
    card = {
        "recipe": recipe.to_dict(),
        "inputs": inputs,
        "library": recipe.library,
        "model": recipe.model,
        "tokenizer_file": trained["file"],
        "vocab_size": trained["vocab_size"],
        "special_token_ids": trained["special_token_ids"],
        "separator": recipe.separator,
        "separator_id": trained["special_token_ids"][recipe.separator],
        "sources": {s: {**p.card(), "share": round(p.sampled_chars / total, 4) if total else 0.0}
                    for s, p in plans.items()},
        "sampled_chars": total,
        "sampled_documents": sum(p.sampled_docs for p in plans.values()),
        "heldout": {"fraction": recipe.holdout_fraction, "rule": HELDOUT_RULE,
                    "documents": sum(p.heldout_docs for p in plans.values())},
        "min_vocab_size": need,
        # What decode(encode(text)) gives back, in words (empty: exactly the text).
        "round_trip": round_trip(recipe),
        "text_changes": recipe.text_changes(),
        "special_token_roles": roles,
        "transformers": {"files": ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"],
                         "load": "AutoTokenizer.from_pretrained(folder) or PreTrainedTokenizerFast.from_pretrained(folder)"},
        **({"tiktoken": trained["tiktoken"]} if "tiktoken" in trained else {}),
        **extra,
        # HF's Unigram trainer sums floats in hash-map order: its scores differ in the last digits from run to
        # run (measured); every other model here gives the same file bytes for the same recipe and inputs.
        "deterministic": not (recipe.library == "hf" and recipe.model == "unigram"),
        "versions": library_versions(),
        "time_s": round(time.perf_counter() - start, 3),
    }
    write_json(out / "card.json", card)
    return card
