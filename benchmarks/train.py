"""Training loop overhead on CPU: `curate.train.train` against a plain loop written here, same model and batch.

    python benchmarks/train.py [--depth 2] [--seq-len 256] [--batch-size 8] [--steps 30] [--repeat 3] [--threads 1]

Both train the same `GPT` (float32, eager) on batches of the same shape from random token shards (vocab 4096).
The plain loop is what a user would write: batches sampled up front in memory, then forward, backward, AdamW
step, nothing else; it runs twice, with torch's default AdamW and with `fused=True` as ours uses it. Ours adds
the mixture sampler (memory-mapped windows, drift check), the WSD schedule, gradient clipping, loss logging,
progress, and one checkpoint + loss.png at the end.

The same statistic on both sides: the median step, over steps 2..N of a run (the first warms the allocator;
curate's `tokens_per_s` figure drops it too), as tokens per second (steps x batch x seq_len over the step's wall
time); each side's figure is the median over --repeat runs, with the spread (min-max) of the runs. The three
loops run in turns in one process, the order turning from run to run. Beside it: curate's whole `train()`
call (setup and checkpoint included) against the plain loop's whole loop, tokens over wall time.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train_gpu import random_shards  # noqa: E402


def plain_loop(depth: int, vocab: int, seq_len: int, batch_size: int, steps: int, fused: bool = False
               ) -> tuple[float, float]:
    """(tokens/s of the median step after the first, tokens/s of the whole loop); `fused`: AdamW's one-kernel
    step, as curate's loop uses it (torch's default on CPU is the per-tensor `foreach` step)."""
    import torch

    from curate.train import GPT, GPTConfig

    torch.manual_seed(0)
    config = GPTConfig.from_depth(depth, vocab, seq_len, verbose=False)
    model = GPT(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=0.1, fused=fused)
    batches = [torch.randint(0, vocab, (batch_size, seq_len + 1)) for _ in range(steps)]
    step_s = []
    t = time.perf_counter()
    for b in batches:
        t0 = time.perf_counter()
        loss = model(b[:, :-1], b[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        step_s.append(time.perf_counter() - t0)
    whole = time.perf_counter() - t
    tokens_per_step = batch_size * seq_len
    return tokens_per_step / statistics.median(step_s[1:]), steps * tokens_per_step / whole


def ours(data: Path, out: Path, depth: int, seq_len: int, batch_size: int, steps: int) -> tuple[float, float]:
    """(tokens/s of the median step after the first, as train() reports it; tokens/s of the whole call)."""
    from curate.train import train

    t = time.perf_counter()
    card = train(str(data), {"a": 0.5, "b": 0.5}, depth=depth, tokens=steps * batch_size * seq_len, out_dir=str(out),
                 seq_len=seq_len, batch_size=batch_size, device="cpu", resume=False, progress=False,
                 ckpt_every=10**9, command=sys.argv)
    return card["tokens_per_s"], card["tokens_trained"] / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--vocab", type=int, default=4096)
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    load_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        data = random_shards(Path(tmp), a.vocab, 2_000_000)
        sides = ("plain", "plain_fused", "ours")
        runs = {f"{side}_{k}": [] for side in sides for k in ("step", "whole")}
        for r in range(a.repeat):
            for side in sides[r % 3:] + sides[: r % 3]:  # who runs first turns from run to run
                if side.startswith("plain"):
                    step, whole = plain_loop(a.depth, a.vocab, a.seq_len, a.batch_size, a.steps, side == "plain_fused")
                else:
                    step, whole = ours(data, Path(tmp) / "run", a.depth, a.seq_len, a.batch_size, a.steps)
                runs[f"{side}_step"].append(step)
                runs[f"{side}_whole"].append(whole)
    res = {"args": vars(a), "torch": torch.__version__, "load_average_start": load_start,
           "load_average_end": [round(x, 2) for x in os.getloadavg()]}
    for key, values in runs.items():
        res[f"{key}_tokens_per_s"] = {"median": round(statistics.median(values)), "min": round(min(values)),
                                      "max": round(max(values)), "runs": [round(v) for v in values]}
    res["ratio_step"] = statistics.median(runs["ours_step"]) / statistics.median(runs["plain_step"])
    res["ratio_whole"] = statistics.median(runs["ours_whole"]) / statistics.median(runs["plain_whole"])
    res["ratio_step_per_run"] = [round(o / p, 3) for o, p in zip(runs["ours_step"], runs["plain_step"])]
    res["ratio_step_fused"] = statistics.median(runs["ours_step"]) / statistics.median(runs["plain_fused_step"])
    res["ratio_step_fused_per_run"] = [round(o / p, 3) for o, p in zip(runs["ours_step"], runs["plain_fused_step"])]
    print(json.dumps(res, indent=2))

if __name__ == "__main__":
    main()
