"""Training loop overhead on CPU: `curate.train.train` against a plain loop written here, same model and batch.

    python benchmarks/train.py [--depth 2] [--seq-len 256] [--batch-size 8] [--steps 30] [--repeat 3] [--threads 1]

Both train the same `GPT` (float32, eager) on batches of the same shape from random token shards (vocab 4096).
The plain loop is what a user would write: batches sampled up front in memory, then forward, backward, AdamW
step, nothing else. Ours adds the mixture sampler (memory-mapped windows, drift check), the WSD schedule,
gradient clipping, loss logging, progress, and one checkpoint + loss.png at the end. tokens/s = steps x batch x
seq_len / wall time of the loop (ours: the whole `train()` call, setup and checkpoint included, and the
steady-state median of its per-step figures); each the median of --repeat runs; ratio = ours / plain.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train_gpu import random_shards  # noqa: E402


def plain_loop(depth: int, vocab: int, seq_len: int, batch_size: int, steps: int) -> float:
    import torch

    from curate.train import GPT, GPTConfig

    torch.manual_seed(0)
    config = GPTConfig.from_depth(depth, vocab, seq_len, verbose=False)
    model = GPT(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=0.1)
    batches = [torch.randint(0, vocab, (batch_size, seq_len + 1)) for _ in range(steps)]
    t = time.perf_counter()
    for b in batches:
        loss = model(b[:, :-1], b[:, 1:])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps * batch_size * seq_len / (time.perf_counter() - t)


def ours(data: Path, out: Path, depth: int, seq_len: int, batch_size: int, steps: int) -> tuple[float, float]:
    from curate.train import train

    t = time.perf_counter()
    card = train(str(data), {"a": 0.5, "b": 0.5}, depth=depth, tokens=steps * batch_size * seq_len, out_dir=str(out),
                 seq_len=seq_len, batch_size=batch_size, device="cpu", resume=False, progress=False,
                 ckpt_every=10**9, command=sys.argv)
    return card["tokens_trained"] / (time.perf_counter() - t), card["tokens_per_s"]


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
    with tempfile.TemporaryDirectory() as tmp:
        data = random_shards(Path(tmp), a.vocab, 2_000_000)
        plain, whole, steady = [], [], []
        for r in range(a.repeat):
            plain.append(plain_loop(a.depth, a.vocab, a.seq_len, a.batch_size, a.steps))
            w, s = ours(data, Path(tmp) / "run", a.depth, a.seq_len, a.batch_size, a.steps)
            whole.append(w)
            steady.append(s)
    res = {"args": vars(a), "torch": torch.__version__,
           "plain_tokens_per_s": statistics.median(plain), "ours_tokens_per_s": statistics.median(whole),
           "ours_steady_tokens_per_s": statistics.median(steady)}
    res["ratio"] = res["ours_tokens_per_s"] / res["plain_tokens_per_s"]
    res["ratio_steady"] = res["ours_steady_tokens_per_s"] / res["plain_tokens_per_s"]
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
