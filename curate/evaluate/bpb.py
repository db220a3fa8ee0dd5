"""Bits per byte of a trained proxy on each source's held-out token shards.

    scores = bits_per_byte("runs/web70", TokenShards.open("tokens/"))   # {"books": 1.23, "web": 0.98, ...}

bits per byte = sum over predicted tokens of the cross-entropy in nats
               / (ln 2 * sum of the UTF-8 bytes of those target tokens)
which, unlike loss per token, compares models whatever their tokenizer.

How the held-out text is read: at most max_tokens + 1 tokens of a source's held-out shards, spread over its
documents (water-filling: every document gives the same quota of its first tokens, a short one all of them, so
20 documents are read rather than the first few), joined in shard order with a separator after each piece,
and cut into windows of seq_len + 1 tokens with a stride of seq_len, so every token but the first is predicted
exactly once, with the previous tokens of its window as context (windows do not overlap; the context resets
at each window start). Nothing is random: the score depends only on the checkpoint and data.

Its standard error (`se`) is the ratio estimator's over clusters of held-out text: a cluster is a document, or
a block of BLOCK_TOKENS tokens of a longer one. It says how precisely this held-out text pins the score down;
how well a handful of documents stands for a whole source it cannot say, which is why a source should have at
least MIN_HELDOUT_DOCUMENTS held-out documents and MIN_HELDOUT_TOKENS tokens read (`heldout_warnings`).

Separators (and any other special token) have 0 bytes in token_bytes.npy. They are left out of both sums:
predicting the end of a document is not predicting text, and counting its nats against 0 bytes would make the
score depend on document length. They still serve as context.
"""

import math
from pathlib import Path

import numpy as np
import torch

from curate.evaluate.metrics import Metric
from curate.tokenizer.shards import TokenShards, TokenSource


def load_token_bytes(tokenizer_dir: str) -> np.ndarray:
    """token_bytes.npy of a tokenizer folder (the UTF-8 bytes of every token id; 0 for special tokens)."""
    path = Path(tokenizer_dir) / "token_bytes.npy"
    if not path.is_file():
        raise ValueError(f"{path.parent}: no token_bytes.npy; pass token_bytes= the folder `curate tokenizer train` "
                         "wrote for these token shards")
    return np.load(path)


BPB = Metric("bpb", "lower", 0.0, math.inf, "bits per byte")
# A cluster for the standard error: a document, or a block of this many tokens of a longer one.
BLOCK_TOKENS = 1024
# Pieces shorter than this would score mostly document openings (harder to predict than the rest): with many
# short quotas, an evenly spaced subset of the documents is read instead.
MIN_PIECE_TOKENS = 256
# The least held-out text per source for its bits per byte to be read as the source's (warned below; the
# ablation config's eval.min_heldout_tokens / eval.min_heldout_documents change them).
MIN_HELDOUT_TOKENS = 10_000
MIN_HELDOUT_DOCUMENTS = 5


def plan_pieces(lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """(document index, tokens taken) for a budget of tokens spread over documents of `lengths` (see the module
    docstring): the largest quota q with sum(min(length, q)) <= budget, over an evenly spaced subset of the
    documents when q would fall under MIN_PIECE_TOKENS."""
    n = len(lengths)
    if n == 0:
        return []
    if sum(lengths) <= budget:
        return [(i, length) for i, length in enumerate(lengths)]

    def quota(chosen: list[int]) -> int:  # the largest q with sum(min(length, q)) <= budget
        lo, hi = 1, max(lengths[i] for i in chosen)
        while lo < hi:
            q = (lo + hi + 1) // 2
            if sum(min(lengths[i], q) for i in chosen) <= budget:
                lo = q
            else:
                hi = q - 1
        return lo

    chosen = list(range(n))
    q = quota(chosen)
    if q < MIN_PIECE_TOKENS:
        keep = max(1, budget // MIN_PIECE_TOKENS)
        chosen = sorted(set(np.linspace(0, n - 1, keep).round().astype(int).tolist()))
        q = quota(chosen)
    return [(i, min(lengths[i], q)) for i in chosen]


def heldout_sample(source: TokenSource, max_tokens: int) -> tuple[np.ndarray, int]:
    """(tokens, documents read): at most max_tokens + 1 held-out tokens spread over the documents, each piece
    followed by a separator."""
    separator = source.meta["separator_id"]
    docs = source.spans("heldout")
    pieces = plan_pieces([b - a for _, a, b in docs], max_tokens + 1)
    parts = []
    for i, take in pieces:
        shard, a, b = docs[i]
        if take == b - a:
            parts.append(np.asarray(shard[a:b], dtype=np.int64))
        else:  # a cut document: its first take - 1 tokens, then the separator
            parts.append(np.append(np.asarray(shard[a : a + take - 1], dtype=np.int64), separator))
    if not parts:
        raise ValueError(f"{source.folder}: no held-out documents; hold some out (the tokenizer's holdout_fraction) "
                         "and run `curate tokenize` again")
    return np.concatenate(parts), len(pieces)


def heldout_size(source: TokenSource, max_tokens: int) -> dict:
    """What bits per byte of this source would read at `max_tokens`, and what its held-out shards hold:
    {documents, tokens, documents_read, tokens_read, all_documents, holdout_fraction}."""
    docs = source.spans("heldout")
    lengths = [b - a for _, a, b in docs]
    pieces = plan_pieces(lengths, max_tokens + 1)
    every = source.documents("train") + source.documents("heldout")
    return {"documents": len(docs), "tokens": int(sum(lengths)), "documents_read": len(pieces),
            "tokens_read": int(sum(t for _, t in pieces)), "all_documents": every or None,
            "holdout_fraction": source.meta.get("heldout", {}).get("fraction")}


def heldout_warnings(data: "TokenShards | str | dict[str, str]", max_tokens: int, min_tokens: int = MIN_HELDOUT_TOKENS,
                     min_documents: int = MIN_HELDOUT_DOCUMENTS) -> list[str]:
    """One line per source whose held-out text read at max_tokens is under the minimum, saying how to get more."""
    out = []
    data = TokenShards.open(data)
    for source in data:
        h = heldout_size(data[source], max_tokens)
        if h["tokens_read"] >= min_tokens and h["documents_read"] >= min_documents:
            continue
        fixes = []
        if h["tokens"] > h["tokens_read"] and h["tokens_read"] < min_tokens:
            fixes.append(f"raise eval.max_tokens (the held-out shards have {h['tokens']:,} tokens)")
        of = f" of {h['all_documents']}" if h["all_documents"] else ""
        fixes.append(f"hold out more documents (holdout_fraction {h['holdout_fraction']} held out {h['documents']}"
                     f"{of}): train the tokenizer again with a larger holdout_fraction and run `curate tokenize` again")
        fixes.append("or add documents to this source")
        short = ([f"{h['tokens_read']:,} tokens (minimum {min_tokens:,})"] if h["tokens_read"] < min_tokens else []) + (
            [f"{h['documents_read']} document(s) (minimum {min_documents})"] if h["documents_read"] < min_documents else [])
        out.append(f"held-out {source}: bits per byte reads " + " of ".join(short) + f", so bpb_{source} measures "
                   "those few texts more than the source. To get more: " + "; ".join(fixes) + ".")
    return out


@torch.no_grad()
def source_bpb(model, tokens: np.ndarray, token_bytes: np.ndarray, seq_len: int, batch_size: int = 16) -> dict:
    """Bits per byte of one token stream (see the module docstring), with its standard error and the counts
    behind it."""
    device = next(model.parameters()).device
    n_windows = (len(tokens) - 1) // seq_len
    if n_windows < 1:
        raise ValueError(f"only {len(tokens)} held-out tokens: fewer than seq_len + 1 = {seq_len + 1}")
    tokens = np.asarray(tokens, dtype=np.int64)
    nats_T = np.zeros(n_windows * seq_len)  # T: target positions 1 .. n_windows * seq_len of `tokens`
    for start in range(0, n_windows, batch_size):
        rows = range(start, min(n_windows, start + batch_size))
        w_BW = torch.as_tensor(np.stack([tokens[i * seq_len : i * seq_len + seq_len + 1] for i in rows]), device=device)
        loss_BT = model(w_BW[:, :-1], w_BW[:, 1:], reduction="none").double()
        nats_T[start * seq_len : rows[-1] * seq_len + seq_len] = loss_BT.cpu().numpy().reshape(-1)
    targets = tokens[1 : n_windows * seq_len + 1]
    bytes_T = token_bytes[targets].astype(np.int64)
    counted_T = bytes_T > 0
    nats_T = np.where(counted_T, nats_T, 0.0)
    nats, nbytes, ntokens = float(nats_T.sum()), int(bytes_T.sum()), int(counted_T.sum())
    # Clusters: a new document starts after every 0-byte (special) token; long ones are cut into blocks.
    doc_P = np.cumsum(token_bytes[tokens] == 0)  # P: positions of `tokens`; doc_P[p] = separators at or before p
    starts = np.r_[0, np.flatnonzero(token_bytes[tokens] == 0) + 1]
    pos_T = np.arange(1, len(targets) + 1)
    doc_T = doc_P[pos_T - 1]
    block_T = (pos_T - starts[doc_T]) // BLOCK_TOKENS
    _, cluster_T = np.unique(doc_T * (len(tokens) // BLOCK_TOKENS + 2) + block_T, return_inverse=True)
    n_c = np.bincount(cluster_T, weights=nats_T)
    b_c = np.bincount(cluster_T, weights=bytes_T)
    m = int((b_c > 0).sum())
    ratio = nats / nbytes
    se = None
    if m > 1:
        se = math.sqrt(m / (m - 1) * float(((n_c - ratio * b_c) ** 2).sum())) / nbytes / math.log(2)
    return {"bpb": ratio / math.log(2), "se": se, "tokens": ntokens, "bytes": nbytes, "clusters": m,
            "loss_per_token": nats / ntokens}


def bits_per_byte(run_or_model, data: "TokenShards | str | dict[str, str]", token_bytes: "str | np.ndarray | None" = None,
                  max_tokens: int = 100_000, batch_size: int = 16, device: str = "auto", details: bool = False) -> dict:
    """Bits per byte per source on the held-out shards. run_or_model: a run folder written by `train`, or a
    GPT; data: the token shards (`TokenShards.open` takes a folder or source -> folder); token_bytes: the
    array, a tokenizer folder, or None (the tokenizer the shards were made with); max_tokens: per source.
    Returns source -> bpb (details=True: source -> {bpb, se, tokens, bytes, clusters, loss_per_token, documents}).
    """
    from curate.train.loop import load_run

    model = load_run(run_or_model, device)[0] if isinstance(run_or_model, (str, Path)) else run_or_model
    was_training = model.training
    model.eval()
    data = TokenShards.open(data)
    if not isinstance(token_bytes, np.ndarray):
        token_bytes = load_token_bytes(str(token_bytes or data.tokenizer))
    vocab = model.config.vocab_size
    if len(token_bytes) != vocab:
        raise ValueError(f"token_bytes has {len(token_bytes)} entries but the model's vocabulary is {vocab}: "
                         "another tokenizer than the one the model was trained with")
    if data.vocab_size != vocab:
        raise ValueError(f"{data}: tokenized with vocab_size {data.vocab_size}, the model has {vocab}")
    out = {}
    for source in data:
        tokens, documents = heldout_sample(data[source], max_tokens)
        r = source_bpb(model, tokens, token_bytes, model.config.seq_len, batch_size)
        out[source] = {**r, "documents": documents} if details else r["bpb"]
    model.train(was_training)
    return out
