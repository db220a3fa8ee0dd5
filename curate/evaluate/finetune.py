"""The finetune probe: how well does a pretrained proxy's representation serve a downstream classifier?

    from curate.evaluate.finetune import finetune_probe
    r = finetune_probe("runs/web70")                       # LoRA on the bundled Rotten Tomatoes task
    r = finetune_probe("runs/web70", mode="full", epochs=2)
    r["accuracy"], r["majority_baseline"], r["trainable_params"]

The proxy is loaded with `load_run`; texts are encoded with the run's own tokenizer (the run card names it)
as separator + text, cut to `max_len` tokens (the model's seq_len at most). The final RMSNorm'd hidden states
are mean-pooled over the text's tokens (right padding is invisible to a causal model) and a linear head
maps them to the classes. mode="full" trains every weight of the proxy (its LM head is not used) and the
classification head; mode="lora" freezes the proxy and adds LoRA adapters to every attention and MLP linear
layer (qkv, out, up, down): W x + (alpha / r) B A x with A (r x in, small random init) and B (out x r, zeros),
so training starts from the pretrained function exactly; only A, B and the head train.

Training: AdamW (no weight decay), `epochs` passes over the train split in a seeded order, linear warmup over
the first 5% of steps and linear decay to zero over the last 20% (the proxy's own schedule), gradient
clipping at 1.0. The accuracy is measured on the test split only. A given run, task, arguments and seed give
the same numbers (bit for bit on CPU).

Task file: JSONL, one example a line: {"text": str, "label": int >= 0, "split": "train" | "test", ...}; an
"id" field, when present, is checked to be unique. The bundled one is curate/data/tasks/rotten_tomatoes.jsonl
(provenance: curate/data/tasks/README.md).

Result (also written to RUN/finetune_<task>_<mode>.json): accuracy, majority_baseline (share of the test
split that the train split's most frequent label gets right), n_train, n_test, trainable_params,
total_params, train_loss (mean of the last epoch), the arguments, and seconds.
"""

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TASKS_DIR = Path(__file__).resolve().parent.parent / "data" / "tasks"
ROTTEN_TOMATOES = str(TASKS_DIR / "rotten_tomatoes.jsonl")
# Default learning rates (measured on the bundled task with CPU proxies of depth 1-2, tests/test_finetune.py):
# full finetuning takes the proxy's own peak pretraining lr (from the run card), LoRA adapters 3e-3 and the
# zero-initialised classification head 1e-2.
LORA_LR = 3e-3
HEAD_LR = 1e-2
GRAD_CLIP = 1.0
LORA_TARGETS = ("attn.qkv", "attn.out", "mlp.up", "mlp.down")

__all__ = ["finetune_probe", "load_classification_task", "LoRALinear", "add_lora", "ROTTEN_TOMATOES"]


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update: y = W x + (alpha / rank) * B (A x).
    A: (rank, in) ~ Normal(0, 1/sqrt(in)); B: (out, rank) = 0, so the wrapped layer starts equal to the base."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, generator: torch.Generator | None = None):
        super().__init__()
        if rank < 1:
            raise ValueError(f"lora_rank: expected >= 1, got {rank}")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.rank, self.alpha, self.scale = rank, alpha, alpha / rank
        w = base.weight
        a = torch.randn(rank, base.in_features, generator=generator) / math.sqrt(base.in_features)
        self.lora_A = nn.Parameter(a.to(device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, device=w.device, dtype=w.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale


def add_lora(model: nn.Module, rank: int, alpha: float, seed: int = 0,
             targets: tuple[str, ...] = LORA_TARGETS) -> list[str]:
    """Freezes every parameter of `model` and wraps each nn.Linear whose qualified name ends with one of
    `targets` in a LoRALinear (in place); returns the wrapped names."""
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    wrapped = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            if isinstance(child, nn.Linear) and full.endswith(targets):
                setattr(module, child_name, LoRALinear(child, rank, alpha, g))
                wrapped.append(full)
    if not wrapped:
        raise ValueError(f"add_lora: no linear layer named *{'|'.join(targets)} in the model")
    return wrapped


class Classifier(nn.Module):
    """The proxy's hidden states (final RMSNorm, before its LM head), pooled, then a linear layer."""

    def __init__(self, gpt: nn.Module, n_classes: int, pool: str = "mean"):
        super().__init__()
        if pool not in ("mean", "last"):
            raise ValueError(f"pool: expected 'mean' or 'last', got {pool!r}")
        self.gpt, self.pool = gpt, pool
        self.head = nn.Linear(gpt.config.width, n_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def hidden(self, idx_BT: torch.Tensor) -> torch.Tensor:
        g = self.gpt
        x_BTD = g.embed(idx_BT)
        for block in g.blocks:
            x_BTD = block(x_BTD, g.cos, g.sin)
        return F.rms_norm(x_BTD, (x_BTD.size(-1),))

    def forward(self, idx_BT: torch.Tensor, lengths_B: torch.Tensor) -> torch.Tensor:
        h_BTD = self.hidden(idx_BT)
        if self.pool == "last":
            pooled_BD = h_BTD[torch.arange(len(idx_BT), device=idx_BT.device), lengths_B - 1]
        else:
            mask_BT = (torch.arange(idx_BT.size(1), device=idx_BT.device)[None, :] < lengths_B[:, None]).to(h_BTD.dtype)
            pooled_BD = (h_BTD * mask_BT[..., None]).sum(1) / lengths_B[:, None].to(h_BTD.dtype)
        return self.head(pooled_BD)


def load_classification_task(path: str) -> dict[str, list[dict]]:
    """{"train": [...], "test": [...]} of a JSONL classification task (format in the module docstring); a bad
    line gives a one-line error naming the file and the line."""
    splits = {"train": [], "test": []}
    ids = set()
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not JSON ({e.msg})") from None
            ok = (isinstance(row, dict) and isinstance(row.get("text"), str) and row["text"].strip()
                  and isinstance(row.get("label"), int) and not isinstance(row["label"], bool) and row["label"] >= 0
                  and row.get("split") in splits)
            if not ok:
                raise ValueError(f"{path}:{line_no}: expected {{\"text\": non-empty str, \"label\": int >= 0, "
                                 f"\"split\": \"train\"|\"test\"}}, got {line.strip()[:200]}")
            if "id" in row:
                if row["id"] in ids:
                    raise ValueError(f"{path}:{line_no}: id {row['id']!r} appears twice")
                ids.add(row["id"])
            splits[row["split"]].append(row)
    for split, rows in splits.items():
        if not rows:
            raise ValueError(f"{path}: no {split!r} examples")
    return splits


def run_tokenizer(card: dict):
    """The tokenizer a run was trained with: the card's `tokenizer` folder, else the one the meta.json of its
    token data names."""
    from curate.tokenizer import TokenShards, load_tokenizer

    if card.get("tokenizer"):
        return load_tokenizer(card["tokenizer"])
    return TokenShards.open(card["args"]["data"]).load_tokenizer()


def encode(tok, separator_id: int, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (N, L) right-padded with 0, lengths (N,)): separator + the text's tokens, cut to max_len."""
    seqs = [([separator_id] + ids)[:max_len] for ids in tok.encode_batch(texts)]
    width = max(len(s) for s in seqs)
    ids_NL = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids_NL[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids_NL, torch.tensor([len(s) for s in seqs], dtype=torch.long)


def batches(n: int, batch_size: int, order: np.ndarray | None = None):
    idx = np.arange(n) if order is None else order
    for i in range(0, n, batch_size):
        yield torch.from_numpy(idx[i : i + batch_size].copy())


@torch.no_grad()
def predict(model: Classifier, ids_NL: torch.Tensor, len_N: torch.Tensor, batch_size: int, dev) -> np.ndarray:
    model.eval()
    preds = []
    for b in batches(len(ids_NL), batch_size):
        w = int(len_N[b].max())
        logits = model(ids_NL[b, :w].to(dev), len_N[b].to(dev))
        preds.append(logits.argmax(-1).cpu().numpy())
    return np.concatenate(preds)


def finetune_probe(run_dir: str, task_path: str = ROTTEN_TOMATOES, mode: str = "lora", epochs: int = 1,
                   lr: float | None = None, batch_size: int = 16, max_len: int = 128, seed: int = 0,
                   device: str = "auto", lora_rank: int = 8, lora_alpha: float | None = None, head_lr: float | None = None, pool: str = "mean",
                   write: bool = True, return_model: bool = False) -> dict:
    """Finetunes the proxy in `run_dir` on the train split of `task_path` (fully, or with LoRA adapters of
    rank `lora_rank`, alpha `lora_alpha` (default 2 * rank)) and returns its accuracy on the test split with
    the majority baseline and the trainable-parameter count; writes RUN/finetune_<task>_<mode>.json unless
    write=False. lr None: the proxy's peak pretraining lr (full) or 3e-3 (lora); head_lr None: 1e-2. return_model: the finetuned Classifier under "model"
    (not written to the file)."""
    from curate.train.loop import BETAS, lr_at, load_run, pick_device

    if mode not in ("full", "lora"):
        raise ValueError(f"mode: expected 'full' or 'lora', got {mode!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("max_len", max_len)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a whole number >= 1, got {value!r}")
    t0 = time.perf_counter()
    dev = pick_device(device)
    torch.manual_seed(seed)
    gpt, card = load_run(run_dir, str(dev))
    tok = run_tokenizer(card)
    if tok.vocab_size != gpt.config.vocab_size:
        raise ValueError(f"tokenizer {tok.folder} has {tok.vocab_size} tokens, the model {gpt.config.vocab_size}")
    separator_id = card.get("separator_id", tok.separator_id)
    max_len = min(max_len, gpt.config.seq_len)

    data = load_classification_task(task_path)
    train_rows, test_rows = data["train"], data["test"]
    n_classes = 1 + max(r["label"] for r in train_rows + test_rows)
    train_ids, train_len = encode(tok, separator_id, [r["text"] for r in train_rows], max_len)
    test_ids, test_len = encode(tok, separator_id, [r["text"] for r in test_rows], max_len)
    y_train = torch.tensor([r["label"] for r in train_rows], dtype=torch.long)
    y_test = np.array([r["label"] for r in test_rows])
    majority_label = int(np.bincount(y_train.numpy(), minlength=n_classes).argmax())

    base_params = sum(p.numel() for p in gpt.parameters())
    lora_alpha = float(2 * lora_rank if lora_alpha is None else lora_alpha)
    if mode == "lora":
        add_lora(gpt, lora_rank, lora_alpha, seed=seed)
    else:
        for p in gpt.parameters():
            p.requires_grad_(True)
    gpt.head.weight.requires_grad_(False)  # the LM head is not on the classifier's path
    model = Classifier(gpt, n_classes, pool).to(dev)
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    lr = float((gpt.config.lr if mode == "full" else LORA_LR) if lr is None else lr)
    head_lr = float(HEAD_LR if head_lr is None else head_lr)
    head_params = list(model.head.parameters())
    body = [p for p in trainable if all(p is not h for h in head_params)]
    optimizer = torch.optim.AdamW([{"params": body, "lr": lr, "peak": lr}, {"params": head_params, "lr": head_lr, "peak": head_lr}],
                                  betas=BETAS, weight_decay=0.0)

    steps_per_epoch = math.ceil(len(train_rows) / batch_size)
    steps = epochs * steps_per_epoch
    rng = np.random.default_rng(seed)
    step, epoch_losses = 0, []
    for epoch in range(epochs):
        model.train()
        losses = []
        for b in batches(len(train_rows), batch_size, rng.permutation(len(train_rows))):
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, steps, group["peak"])
            w = int(train_len[b].max())
            logits = model(train_ids[b, :w].to(dev), train_len[b].to(dev))
            loss = F.cross_entropy(logits.float(), y_train[b].to(dev))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, GRAD_CLIP)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            step += 1
        if not all(math.isfinite(v) for v in losses):
            raise FloatingPointError(f"finetune epoch {epoch}: loss is not finite; lower lr (now {lr:.3g})")
        epoch_losses.append(float(np.mean(losses)))

    pred = predict(model, test_ids, test_len, max(batch_size, 64), dev)
    train_pred = predict(model, train_ids, train_len, max(batch_size, 64), dev)
    task = Path(task_path).stem
    result = {
        "task": task, "task_file": str(Path(task_path).resolve()), "run": str(Path(run_dir).resolve()),
        "mode": mode, "accuracy": float((pred == y_test).mean()),
        "majority_baseline": float((y_test == majority_label).mean()), "majority_label": majority_label,
        "train_accuracy": float((train_pred == y_train.numpy()).mean()),
        "n_train": len(train_rows), "n_test": len(test_rows), "n_classes": n_classes,
        "trainable_params": n_trainable, "total_params": sum(p.numel() for p in model.parameters()),
        "base_params": base_params, "train_loss": epoch_losses[-1], "epoch_losses": epoch_losses,
        "epochs": epochs, "steps": steps, "lr": lr, "head_lr": head_lr, "batch_size": batch_size, "max_len": max_len, "seed": seed,
        "pool": pool, "lora_rank": lora_rank if mode == "lora" else None,
        "lora_alpha": lora_alpha if mode == "lora" else None, "device": str(dev),
        "truncated": int((train_len == max_len).sum() + (test_len == max_len).sum()),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    if write:
        out = Path(run_dir) / f"finetune_{task}_{mode}.json"
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, out)
    if return_model:
        result["model"] = model
    return result
