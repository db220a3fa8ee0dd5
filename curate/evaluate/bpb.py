"""Bits per byte of a trained proxy on each source's held-out token shards.

    scores = bits_per_byte("runs/web70", "tokens/")          # {"books": 1.23, "web": 0.98, ...}

bits per byte = sum over predicted tokens of the cross-entropy in nats
               / (ln 2 * sum of the UTF-8 bytes of those target tokens)
which, unlike loss per token, compares models whatever their tokenizer.

How the held-out text is read: a source's held-out shards, in order, are concatenated (at most max_tokens + 1
tokens) and cut into windows of seq_len + 1 tokens with a stride of seq_len, so every token but the first is
predicted exactly once, with the previous tokens of its window as context (windows do not overlap; the
context resets at each window start). Nothing is random: the score depends only on the checkpoint and data.

Separators (and any other special token) have 0 bytes in token_bytes.npy. They are left out of both sums:
predicting the end of a document is not predicting text, and counting its nats against 0 bytes would make the
score depend on document length. They still serve as context.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch

from curate.train.data import SourceShards, find_meta, resolve_sources


def load_token_bytes(token_dir_or_tokenizer: str) -> np.ndarray:
    """token_bytes.npy of a tokenizer folder, or of the tokenizer a token shards folder's meta.json names."""
    path = Path(token_dir_or_tokenizer)
    if (path / "token_bytes.npy").is_file():
        return np.load(path / "token_bytes.npy")
    meta_path = path / "meta.json" if (path / "meta.json").is_file() else path.parent / "meta.json"
    if meta_path.is_file():
        tok = Path(json.loads(meta_path.read_text())["tokenizer"])
        if (tok / "token_bytes.npy").is_file():
            return np.load(tok / "token_bytes.npy")
    raise ValueError(f"{path}: no token_bytes.npy here or in the tokenizer folder its meta.json names; pass "
                     "token_bytes= the tokenizer folder")


def heldout_tokens(source_dir: Path, max_tokens: int) -> np.ndarray:
    shards = SourceShards(source_dir, "heldout", 2)
    parts, n = [], 0
    for s in shards.shards:
        take = min(len(s), max_tokens + 1 - n)
        parts.append(np.asarray(s[:take], dtype=np.int64))
        n += take
        if n >= max_tokens + 1:
            break
    return np.concatenate(parts)


@torch.no_grad()
def source_bpb(model, tokens: np.ndarray, token_bytes: np.ndarray, seq_len: int, batch_size: int = 16) -> dict:
    """Bits per byte of one token stream (see the module docstring), with the counts behind it."""
    device = next(model.parameters()).device
    n_windows = (len(tokens) - 1) // seq_len
    if n_windows < 1:
        raise ValueError(f"only {len(tokens)} held-out tokens: fewer than seq_len + 1 = {seq_len + 1}")
    tb = torch.as_tensor(token_bytes.astype(np.int64), device=device)
    nats, nbytes, ntokens = 0.0, 0, 0
    for start in range(0, n_windows, batch_size):
        rows = range(start, min(n_windows, start + batch_size))
        w_BW = torch.as_tensor(np.stack([tokens[i * seq_len : i * seq_len + seq_len + 1] for i in rows]), device=device)
        x_BT, y_BT = w_BW[:, :-1], w_BW[:, 1:]
        loss_BT = model(x_BT, y_BT, reduction="none").double()
        bytes_BT = tb[y_BT]
        counted_BT = bytes_BT > 0
        nats += float(loss_BT[counted_BT].sum())
        nbytes += int(bytes_BT.sum())
        ntokens += int(counted_BT.sum())
    return {"bpb": nats / (math.log(2) * nbytes), "tokens": ntokens, "bytes": nbytes,
            "loss_per_token": nats / ntokens}


def bits_per_byte(run_or_model, token_dir: "str | dict[str, str]", token_bytes: "str | np.ndarray | None" = None,
                  max_tokens: int = 100_000, batch_size: int = 16, device: str = "auto", details: bool = False) -> dict:
    """Bits per byte per source on the held-out shards. run_or_model: a run folder written by `train`, or a
    GPT; token_dir: a token shards folder (every source in it) or source -> source folder; token_bytes: the
    array, a tokenizer folder, or None (the tokenizer meta.json names); max_tokens: per source.
    Returns source -> bpb (details=True: source -> {bpb, tokens, bytes, loss_per_token})."""
    from curate.train.loop import load_run

    model = load_run(run_or_model, device)[0] if isinstance(run_or_model, (str, Path)) else run_or_model
    was_training = model.training
    model.eval()
    sources = resolve_sources(token_dir)
    if token_bytes is None:
        token_bytes = load_token_bytes(str(next(iter(sources.values()))))
    elif not isinstance(token_bytes, np.ndarray):
        token_bytes = load_token_bytes(str(token_bytes))
    vocab = model.config.vocab_size
    if len(token_bytes) != vocab:
        raise ValueError(f"token_bytes has {len(token_bytes)} entries but the model's vocabulary is {vocab}: "
                         "another tokenizer than the one the model was trained with")
    out = {}
    for source, folder in sources.items():
        if find_meta(folder)["vocab_size"] != vocab:
            raise ValueError(f"source {source!r}: {folder} was tokenized with vocab_size "
                             f"{find_meta(folder)['vocab_size']}, the model has {vocab}")
        tokens = heldout_tokens(folder, max_tokens)
        r = source_bpb(model, tokens, token_bytes, model.config.seq_len, batch_size)
        out[source] = r if details else r["bpb"]
    model.train(was_training)
    return out
