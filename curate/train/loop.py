"""Training a proxy GPT on a data mixture: `curate train`.

    result = train("tokens/", {"web": 0.7, "books": 0.3}, depth=4, tokens=50_000_000, out_dir="runs/web70")

One dial, `depth`, sets the model (GPTConfig.from_depth prints width, heads, learning rate, params, FLOPs).
AdamW (betas 0.9/0.95, weight decay 0.1 on matrices only), warmup-stable-decay schedule (linear warmup over
the first 5% of steps, constant, linear decay to zero over the last 20%), gradient accumulation, gradient
clipping at norm 1.0. On CUDA: bf16 autocast and torch.compile; on CPU: float32, eager.

Out folder:
    ckpt.pt     model, optimizer, sampler position, step, RNG states (every `ckpt_every` steps and at the end;
                written to a temporary file and renamed, so a kill never leaves a broken one)
    loss.csv    step, tokens, loss, lr, tokens_per_s (one row per optimizer step)
    loss.png    the loss curve
    run.json    the card: config and derived values, arguments, data (folders + meta.json sha256), weights,
                tokens drawn per source, versions, final loss

Resume: with resume=True and a ckpt.pt of the same arguments in out_dir, training continues from its step
and gives the same losses, bit for bit on CPU, as a run never stopped (the sampler derives batch i from
(seed, i); loss.csv is cut back to the checkpoint's step). Other arguments in an existing out_dir are refused.
"""

import csv
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from curate.io.files import write_json_atomic
from curate.tokenizer.shards import TokenShards
from curate.train.data import MixtureSampler
from curate.train.model import GPT, GPTConfig

WARMUP_FRACTION = 0.05
DECAY_FRACTION = 0.20
WEIGHT_DECAY = 0.1
BETAS = (0.9, 0.95)
GRAD_CLIP = 1.0


def lr_at(step: int, steps: int, peak: float) -> float:
    """Warmup-stable-decay: linear warmup over the first 5% of steps, flat, linear to 0 over the last 20%."""
    warmup = max(1, round(WARMUP_FRACTION * steps))
    decay = max(1, round(DECAY_FRACTION * steps))
    if step < warmup:
        return peak * (step + 1) / warmup
    if step >= steps - decay:
        return peak * (steps - step) / decay
    return peak


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def versions() -> dict:
    import curate

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "curate": getattr(curate, "__version__", "unknown")}


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device) -> dict:
    """A checkpoint of `train`: tensors, numbers, strings and containers only. `weights_only=True` makes
    torch refuse anything else, so a crafted ckpt.pt cannot run code on load (a full unpickle would)."""
    import pickle

    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path}: not a checkpoint written by `curate train`, refused without running it ({first[:200]})") from None


def plot_loss(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:  # the curve is in loss.csv; the plot is a convenience
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["tokens"] for r in rows], [r["loss"] for r in rows])
    ax.set_xlabel("tokens")
    ax.set_ylabel("train loss (nats/token)")
    ax.set_title(path.parent.name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_loss_csv(path: Path, upto_step: int) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        rows = [{"step": int(r["step"]), "tokens": int(r["tokens"]), "loss": float(r["loss"]), "lr": float(r["lr"]),
                 "tokens_per_s": float(r["tokens_per_s"])} for r in csv.DictReader(f)]
    return [r for r in rows if r["step"] <= upto_step]


def write_loss_csv(rows: list[dict], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "tokens", "loss", "lr", "tokens_per_s"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "loss": repr(r["loss"])})
    os.replace(tmp, path)


def train(data: "TokenShards | dict[str, str] | str", weights: dict[str, float], depth: int, tokens: int, out_dir: str,
          seq_len: int = 256, batch_size: int = 32, grad_accum: int = 1, seed: int = 0, device: str = "auto",
          resume: bool = True, lr: float | None = None, ckpt_every: int | None = None, max_epochs: float = 4.0,
          strict: bool = False, stop_after: int | None = None, stop_after_seconds: float | None = None, compile: bool | None = None,
          progress: bool = True, command: list[str] | None = None) -> dict:
    """Trains a GPT of `depth` on `tokens` tokens drawn from `data` (opened token shards, source -> token
    shards folder, or one `curate tokenize` output folder: its sources that `weights` names) in the
    proportions `weights` (source -> weight), into
    `out_dir`; returns the run card (also written to out_dir/run.json).

    batch_size sequences of seq_len tokens per micro-batch, grad_accum micro-batches per optimizer step;
    steps = ceil(tokens / (batch_size * grad_accum * seq_len)). lr: None takes the one derived from depth.
    ckpt_every: steps between checkpoints (None: a tenth of the run). resume=False starts over, deleting
    a checkpoint and loss.csv already in out_dir. stop_after: stop (with a checkpoint)
    after this step, as if killed there; a later call with the same arguments resumes (stop_after_seconds: the
    same after that much training time, e.g. for a throughput benchmark). compile: None uses
    torch.compile on CUDA only."""
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(weights, (list, tuple)):
        raise ValueError("weights: expected a dict source -> weight")
    shards = TokenShards.open(data)
    if isinstance(data, (str, os.PathLike)):  # a whole `curate tokenize` folder: the sources the weights name
        shards = shards.select(weights)
    if not isinstance(tokens, int) or tokens < 1:
        raise ValueError(f"tokens: expected a whole number >= 1, got {tokens!r}")
    if grad_accum < 1:
        raise ValueError(f"grad_accum: expected >= 1, got {grad_accum}")
    dev = pick_device(device)
    use_cuda = dev.type == "cuda"
    compile = use_cuda if compile is None else compile

    config = GPTConfig.from_depth(depth, shards.vocab_size, seq_len, verbose=progress)
    if lr is not None:
        config.lr = float(lr)
    tokens_per_step = batch_size * grad_accum * seq_len
    steps = max(1, math.ceil(tokens / tokens_per_step))
    ckpt_every = ckpt_every or max(1, steps // 10)

    args = {"data": {s: str(Path(p).resolve()) for s, p in shards.folders().items()}, "weights": dict(weights),
            "depth": depth, "tokens": tokens, "seq_len": seq_len, "batch_size": batch_size, "grad_accum": grad_accum,
            "seed": seed, "lr": config.lr, "max_epochs": max_epochs}
    sampler = MixtureSampler(shards, weights, seq_len, batch_size, seed=seed, max_epochs=max_epochs,
                             budget_tokens=steps * tokens_per_step, strict=strict)

    torch.manual_seed(seed)
    model = GPT(config).to(dev)
    # fused: one kernel for all parameters, on CPU too (8x faster than the default foreach step at depth 2)
    optimizer = torch.optim.AdamW(model.param_groups(WEIGHT_DECAY), lr=config.lr, betas=BETAS, eps=1e-8,
                                  fused=dev.type in ("cuda", "cpu"))
    step = 0
    ckpt_path = out / "ckpt.pt"
    card_path = out / "run.json"
    if ckpt_path.is_file() and not resume:
        for name in ("ckpt.pt", "loss.csv", "loss.png", "run.json"):
            (out / name).unlink(missing_ok=True)
    if ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, dev)
        if ckpt["args"] != args:
            changed = sorted(k for k in args if ckpt["args"].get(k) != args[k])
            raise ValueError(f"{out}: its checkpoint was trained with other arguments ({', '.join(changed)}); "
                             "resume with the same arguments or choose a new out_dir")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        sampler.load_state_dict(ckpt["sampler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if use_cuda and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"])
        step = ckpt["step"]
    rows = read_loss_csv(out / "loss.csv", step)

    run_model = torch.compile(model) if compile else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if use_cuda else torch.autocast("cpu", enabled=False)

    def checkpoint() -> None:
        rng = {"torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state() if use_cuda else None}
        save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "sampler": sampler.state_dict(),
                     "step": step, "rng": rng, "config": config.to_dict(), "args": args}, ckpt_path)
        write_loss_csv(rows, out / "loss.csv")

    last = stop_after if stop_after is not None else steps
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, initial=step, unit="step", desc=out.name, dynamic_ncols=True)
    model.train()
    t_loop, first_step = time.perf_counter(), step
    while step < min(last, steps):
        t0 = time.perf_counter()
        lr_now = lr_at(step, steps, config.lr)
        for group in optimizer.param_groups:
            group["lr"] = lr_now
        loss_sum = 0.0
        for _ in range(grad_accum):
            x_BT, y_BT = sampler.next_batch()
            x_BT, y_BT = x_BT.to(dev, non_blocking=True), y_BT.to(dev, non_blocking=True)
            with autocast:
                loss = run_model(x_BT, y_BT)
            (loss / grad_accum).backward()
            loss_sum += loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = float(loss_sum) / grad_accum
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"step {step}: loss is {loss_value}; lower the learning rate (now {config.lr:.3g})")
        step += 1
        dt = time.perf_counter() - t0
        rows.append({"step": step, "tokens": step * tokens_per_step, "loss": loss_value, "lr": lr_now,
                     "tokens_per_s": round(tokens_per_step / dt, 1)})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tokens_per_step / dt:,.0f}")
        if step == first_step + 1:
            t_loop = time.perf_counter()  # the clock of stop_after_seconds starts after the first (compiling) step
        out_of_time = stop_after_seconds is not None and time.perf_counter() - t_loop > stop_after_seconds
        if step % ckpt_every == 0 or step == steps or step == last or out_of_time:
            checkpoint()
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    if not ckpt_path.is_file() or step == 0:
        checkpoint()

    measured = [r["tokens_per_s"] for r in rows[1:]] or [r["tokens_per_s"] for r in rows]
    tokens_per_s = float(np.median(measured)) if measured else 0.0
    derived = config.derived()
    card = {
        "config": config.to_dict(), "derived": derived, "args": args,
        "command": command if command is not None else sys.argv,
        "data": {s: {"folder": args["data"][s], "meta_sha256": shards[s].meta_sha256,
                     "train_tokens": sampler.shards[s].tokens if s in sampler.shards else 0} for s in shards},
        "tokenizer": shards.tokenizer, "tokenizer_sha256": shards.tokenizer_sha256,
        "separator_id": shards.separator_id,
        "weights": dict(zip(sampler.sources, sampler.weights.tolist())),
        "tokens_drawn": sampler.tokens_drawn(), "epochs": sampler.epochs,
        "steps": steps, "step": step, "finished": step >= steps, "tokens_per_step": tokens_per_step,
        "tokens_trained": step * tokens_per_step, "device": str(dev), "compile": bool(compile),
        "precision": "bf16 autocast" if use_cuda else "float32",
        "final_loss": rows[-1]["loss"] if rows else None, "tokens_per_s": tokens_per_s,
        "mfu_flops_per_s": tokens_per_s * derived["flops_per_token"],
        "versions": versions(), "seconds": round(time.perf_counter() - t_start, 2),
    }
    write_json_atomic(card_path, card)
    if rows:
        plot_loss(rows, out / "loss.png")
    return card


def load_run(run_dir: str, device: str = "auto") -> tuple[GPT, dict]:
    """(model in eval mode, run card) of a run folder written by `train`."""
    run = Path(run_dir)
    if not (run / "ckpt.pt").is_file():
        raise ValueError(f"{run}: no ckpt.pt; expected a run folder written by `curate train`")
    dev = pick_device(device)
    ckpt = load_checkpoint(run / "ckpt.pt", dev)
    model = GPT(GPTConfig(**ckpt["config"])).to(dev)
    model.load_state_dict(ckpt["model"])
    model.eval()
    card = json.loads((run / "run.json").read_text()) if (run / "run.json").is_file() else {"args": ckpt["args"]}
    return model, card
