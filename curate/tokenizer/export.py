"""Formats other tools read: tiktoken's BPE file for byte-level BPE tokenizers, and datatrove's tokenized files
(what nanotron trains from) for token shards.

    enc = load_tiktoken("tok/")                          # a tiktoken.Encoding; needs `pip install tiktoken`
    export_datatrove("tokens/", "tokens-datatrove/")     # <source>/<split>/<k>.ds + .ds.index + .ds.metadata

tiktoken (`tok/tokenizer.tiktoken`, written by training for every byte-level recipe): one line per token,
base64 of its bytes and its id (tiktoken's `load_tiktoken_bpe` format); the split pattern and the special
tokens are in card.json under "tiktoken". tiktoken merges the adjacent pair whose joined bytes have the lowest
id; HF merges by its merge list. The two agree when every token is made by one merge, which holds for
tokenizers trained here on the bundled text (tested); `decode` gives the same bytes either way.

datatrove: why this format and not Megatron's .bin/.idx: datatrove is already how curate runs its pipelines,
its reader (`datatrove.utils.dataset.DatatroveFolderDataset`) installs with it here, so the export is tested
against that reader; and it is the layout nanotron's Nanoset reads. Megatron's reader lives in megatron-core,
a large install for one test. The format is ours with another index: `<k>.ds` holds the same little-endian
uint16/uint32 ids as our `<k>.bin` (hard-linked where the file system allows, else copied), `<k>.ds.index` the
uint64 end offset of every document (our idx[1:]), `<k>.ds.metadata` "tokenizer|token_size", the token count
and the count in words, as datatrove's `DocumentTokenizer` writes them. Every document ends with the
separator, as datatrove's tokenizer ends them with its eos token.
"""

import base64
import json
import os
import shutil
from pathlib import Path

TIKTOKEN_FILE = "tokenizer.tiktoken"


def write_tiktoken(out_dir: Path, tok, recipe) -> dict:
    """`tokenizer.tiktoken` from a byte-level HF tokenizer; returns the card's "tiktoken" entry."""
    from curate.tokenizer.recipe import SPLIT_PATTERNS
    from curate.tokenizer.byte_level import bytes_to_unicode

    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    special = set(recipe.special_tokens)
    lines = []
    for token, i in sorted(tok.get_vocab(with_added_tokens=True).items(), key=lambda kv: kv[1]):
        if token not in special:
            lines.append(f"{base64.b64encode(bytes(byte_of[c] for c in token)).decode('ascii')} {i}\n")
    (out_dir / TIKTOKEN_FILE).write_text("".join(lines), encoding="ascii")
    return {"file": TIKTOKEN_FILE, "pattern": SPLIT_PATTERNS[recipe.split_pattern],
            "special_tokens": {t: tok.token_to_id(t) for t in recipe.special_tokens}}


def load_tiktoken(folder: str):
    """The byte-level tokenizer in `folder` as a `tiktoken.Encoding` (ids as in tokenizer.json)."""
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
    except ImportError:
        raise ImportError("load_tiktoken needs tiktoken: pip install tiktoken") from None
    folder = Path(folder)
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    if "tiktoken" not in card:
        raise ValueError(f"{folder}: only byte-level BPE tokenizers export to tiktoken (this one is "
                         f"{card['library']} {card['model']})")
    spec = card["tiktoken"]
    return tiktoken.Encoding(name=card["recipe"].get("name") or folder.name, pat_str=spec["pattern"],
                             mergeable_ranks=load_tiktoken_bpe(str(folder / spec["file"])),
                             special_tokens=spec["special_tokens"])


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def export_datatrove(data, out_dir: str) -> dict:
    """Writes token shards (opened, or a `tokenize_corpus` output folder: `TokenShards.open` takes it) in
    datatrove's tokenized format under `out_dir`, one folder per source and split (a nanotron dataset folder
    each); returns what it wrote."""
    from curate.tokenizer.shards import SPLITS, TokenShards

    data, out = TokenShards.open(data), Path(out_dir)
    token_size = data.dtype.itemsize
    written = {}
    out.mkdir(parents=True, exist_ok=True)
    for name in data:
        source = data[name]
        for split in SPLITS:
            for shard in source.shards(split):
                _, idx = source.load(shard)  # opening checked the .bin's size against meta.json
                dst = out / name / split / (shard.path.name[: -len(".bin")] + ".ds")
                dst.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(shard.path, dst)
                idx[1:].astype("<u8").tofile(dst.with_name(dst.name + ".index"))
                count = int(idx[-1])
                dst.with_name(dst.name + ".metadata").write_text(
                    f"{data.tokenizer}|{token_size}\n{count}\n{count / 1e6:.2f} MT", encoding="utf-8")
                written[str(dst.relative_to(out))] = {"documents": len(idx) - 1, "tokens": count}
    summary = {"format": "datatrove tokenized files", "token_size": token_size, "separator_id": data.separator_id,
               "vocab_size": data.vocab_size, "from": {s: str(Path(f).resolve()) for s, f in data.folders().items()},
               "files": written}
    (out / "export.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
