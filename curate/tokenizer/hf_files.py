"""The files that make a tokenizer folder load in transformers, 4.40 and later as well as 5.x:

    AutoTokenizer.from_pretrained("tok/")          # or PreTrainedTokenizerFast.from_pretrained("tok/")

    tokenizer.json            every library; sentencepiece models converted here (ids equal to sentencepiece's:
                              BPE always, Unigram up to the order of equal-scoring pieces, see below)
    tokenizer_config.json     tokenizer_class PreTrainedTokenizerFast, bos/eos/pad/unk tokens, no space clean-up
    special_tokens_map.json   the same four roles (transformers 4.x reads them from here too)

Why the merges are rewritten: tokenizers 0.20 and later save BPE merges as pairs (`[["a", "b"], ...]`), which
tokenizers 0.19 (the version transformers 4.40 pins) refuses ("data did not match any variant of untagged enum
ModelWrapper"); the older form, one "a b" string per merge, loads in both. It cannot hold a token that
contains a space, which none of ours do (byte-level BPE maps the space to Ġ, sentencepiece to ▁); such a file
keeps the new form.

Why clean_up_tokenization_spaces is false: transformers 4.x defaults it to true, and then `decode` removes
the space before "." "," "?" "!" and in "n't" / "'s", so it would not give the text back.
"""

import json
import re
from pathlib import Path

from curate.tokenizer.recipe import Recipe

TOKENIZER_CLASS = "PreTrainedTokenizerFast"


def save_tokenizer_json(tok, path: Path) -> None:
    """`tok.save(path)` with BPE merges in the "a b" form that tokenizers 0.19 and later all read."""
    data = json.loads(tok.to_str())
    model = data.get("model") or {}
    merges = model.get("merges")
    if merges and isinstance(merges[0], list) and not any(" " in a or " " in b for a, b in merges):
        model["merges"] = [f"{a} {b}" for a, b in merges]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def write_transformers_config(out_dir: Path, recipe: Recipe) -> dict:
    """tokenizer_config.json and special_tokens_map.json; returns the roles for the card."""
    roles = recipe.roles()
    config = {"tokenizer_class": TOKENIZER_CLASS, **roles, "clean_up_tokenization_spaces": False}
    for name, payload in (("tokenizer_config.json", config), ("special_tokens_map.json", roles)):
        (out_dir / name).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return roles


# --- sentencepiece -> tokenizer.json ------------------------------------------------------------------------


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _proto_field(buf: bytes, number: int) -> bytes | None:
    """The first length-delimited field `number` of a serialized protobuf message (wire format read directly:
    the two fields we need do not justify depending on protobuf)."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _read_varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _read_varint(buf, i)
            if field == number:
                return buf[i : i + n]
            i += n
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return None


def precompiled_charsmap(model_file: Path) -> bytes:
    """sentencepiece's normalisation table (ModelProto.normalizer_spec = 3, NormalizerSpec.precompiled_charsmap
    = 2); empty for the identity rule."""
    spec = _proto_field(model_file.read_bytes(), 3) or b""
    return _proto_field(spec, 2) or b""


def sentencepiece_to_hf(model_file: Path, recipe: Recipe):
    """A `tokenizers.Tokenizer` that encodes as the sentencepiece model does, without sentencepiece.

    BPE: sentencepiece merges the adjacent pair whose joined piece scores highest; HF merges by the rank of
    the pair in its merge list. Listing, for every piece in score order, each split of it into two pieces of
    the vocabulary gives HF the same order (the same ids on the bundled text, tested). Unigram: the same
    pieces and scores, so the same text back, but not always the same ids: where two cuts score the same or
    nearly (a run of spaces cut 5 + 1 or 1 + 5; HF adds the scores of a long text in another order than
    sentencepiece), and around the characters cut off below.
    Both keep text as the recipe does: no dummy prefix (our sentencepiece models are trained without one),
    spaces as ▁, byte fallback through <0xNN> pieces."""
    import sentencepiece as spm
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    special = [i for i in range(len(pieces)) if sp.is_control(i) or sp.is_unknown(i)]
    unk = pieces[sp.unk_id()]
    if recipe.model == "unigram":
        model = models.Unigram([(p, sp.get_score(i)) for i, p in enumerate(pieces)], unk_id=sp.unk_id(),
                               byte_fallback=recipe.byte_fallback)
    else:
        vocab = {p: i for i, p in enumerate(pieces)}
        merges = []
        for i, piece in enumerate(pieces):
            if i in special or sp.is_byte(i) or sp.is_unused(i):
                continue
            for k in range(1, len(piece)):
                left, right = piece[:k], piece[k:]
                if left in vocab and right in vocab:
                    merges.append((i, vocab[left], vocab[right]))
        merges.sort()
        model = models.BPE(vocab=vocab, merges=[(pieces[a], pieces[b]) for _, a, b in merges], unk_token=unk,
                           fuse_unk=True, byte_fallback=recipe.byte_fallback)
    tok = Tokenizer(model)
    if recipe.model == "unigram":
        # sentencepiece never cuts text into a byte piece (<0x41>), a control piece (<s>, <|endoftext|>) or
        # <unk>; HF's Unigram takes any piece of its vocabulary, and these score 0, the best score there is:
        # "<0x41>" written in a text would come back as "A". Their first characters are cut off on their own
        # before the model runs, so no such piece can match; a piece of ordinary text that starts with or holds
        # one of those characters ("<" mostly) is not used either (ids differ from sentencepiece there).
        firsts = sorted({pieces[i][0] for i in special} | ({"<"} if recipe.byte_fallback else set()))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex("|".join(map(re.escape, firsts))), behavior="isolated")
    steps = []
    charsmap = precompiled_charsmap(model_file)
    if charsmap:
        steps.append(normalizers.Precompiled(charsmap))
    if recipe.remove_extra_whitespaces:
        steps += [normalizers.Strip(), normalizers.Replace(Regex(" {2,}"), " ")]
    steps.append(normalizers.Replace(" ", "▁"))
    tok.normalizer = normalizers.Sequence(steps)
    parts = [decoders.Replace("▁", " ")]
    if recipe.byte_fallback:
        parts.append(decoders.ByteFallback())
    tok.decoder = decoders.Sequence(parts + [decoders.Fuse()])
    tok.add_special_tokens([AddedToken(pieces[i], special=True, normalized=False) for i in special])
    return tok
