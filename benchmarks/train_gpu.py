"""Proxy training throughput on one NVIDIA H100: tokens/s and MFU of `curate.train.train`, plus an ablation.

    python benchmarks/train_gpu.py                 # on the GPU machine, from the repository root (< 6 min)
    python benchmarks/train_gpu.py --cpu-smoke     # a tiny run on CPU that checks the script end to end

Builds random token shards (two sources, vocab 32768, uint16, no tokenizer needed), then runs, each for a
fixed wall-clock time (the loop's `stop_after_seconds`), with bf16 autocast:
    main      depth 12, seq_len 2048, batch 16, torch.compile           (--main-seconds, default 100)
    eager     the same without torch.compile                            (--ablation-seconds, default 35)
    batch8    torch.compile, batch 8                                    (--ablation-seconds)
tokens/s is the median of the per-step figures the loop logs (the first, compiling step excluded);
MFU = FLOPs per token (GPTConfig.flops_per_token: 6 N + attention) * tokens/s / 989e12 (H100 SXM bf16 dense).
A run that fails is recorded with its error and the next one runs; results are written after every run to
$OUT/train_gpu.json (or ./train_gpu.json without $OUT) and printed at the end. Ablations are skipped when the
time used so far leaves less than --deadline allows.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.tokenizer.shards import write_token_arrays  # noqa: E402

H100_BF16_FLOPS = 989e12


def random_shards(root: Path, vocab_size: int, tokens_per_source: int, sources=("a", "b"), seed: int = 0) -> Path:
    """root/tokens: token shards of random ids (one document per split and source), written by curate's writer."""
    rng = np.random.default_rng(seed)
    docs = {s: {split: [rng.integers(1, vocab_size, size=n - 1, dtype=np.int64)]
                for split, n in (("train", tokens_per_source), ("heldout", max(4096, tokens_per_source // 100)))}
            for s in sources}
    return write_token_arrays(root / "tokens", docs, vocab_size, separator_id=0, tokenizer="none (random tokens)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on CPU, a few seconds per run")
    p.add_argument("--depth", type=int, default=12)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--vocab", type=int, default=32768)
    p.add_argument("--main-seconds", type=float, default=100)
    p.add_argument("--ablation-seconds", type=float, default=35)
    p.add_argument("--deadline", type=float, default=330, help="skip runs that would start after this many seconds")
    a = p.parse_args()
    t0 = time.perf_counter()

    import torch

    from curate.train import train

    device = "cpu" if a.cpu_smoke else "cuda"
    if a.cpu_smoke:
        a.depth, a.seq_len, a.batch_size, a.vocab = 1, 64, 4, 512
        a.main_seconds, a.ablation_seconds = 3, 2
    out_dir = Path(os.environ.get("OUT") or ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / "train_gpu.json"
    results = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
               "torch": torch.__version__, "cuda": torch.version.cuda, "args": vars(a),
               "peak_flops": H100_BF16_FLOPS, "runs": {}}
    if not a.cpu_smoke and not torch.cuda.is_available():
        results["error"] = "no CUDA device visible to torch; use --cpu-smoke for a CPU check"
        result_path.write_text(json.dumps(results, indent=2))
        print(json.dumps(results, indent=2))
        sys.exit(1)
    if not a.cpu_smoke:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    work = Path(tempfile.mkdtemp(prefix="curate-train-gpu-"))
    try:
        # enough tokens that no source is repeated within the runs (the loop only warns if it is)
        data = random_shards(work, a.vocab, 2_000_000 if a.cpu_smoke else 50_000_000)
        results["shards_seconds"] = round(time.perf_counter() - t0, 1)
        plans = [
            ("main", dict(batch_size=a.batch_size, compile=not a.cpu_smoke), a.main_seconds),
            ("eager", dict(batch_size=a.batch_size, compile=False), a.ablation_seconds),
            (f"batch{a.batch_size // 2}", dict(batch_size=max(1, a.batch_size // 2), compile=not a.cpu_smoke),
             a.ablation_seconds),
        ]
        for name, kw, seconds in plans:
            elapsed = time.perf_counter() - t0
            # a compiled run costs about a minute more than its seconds (compilation)
            need = seconds + (60 if kw["compile"] else 10)
            if elapsed + need > a.deadline:
                results["runs"][name] = {"skipped": f"{elapsed:.0f} s used, {need:.0f} s more would pass the deadline"}
                continue
            t_run = time.perf_counter()
            try:
                card = train(str(data), {"a": 0.5, "b": 0.5}, depth=a.depth, tokens=10**12, out_dir=str(work / name),
                             seq_len=a.seq_len, seed=0, device=device, ckpt_every=10**9, progress=False,
                             stop_after_seconds=seconds, max_epochs=1e9, command=sys.argv, **kw)
                fpt = card["derived"]["flops_per_token"]
                results["runs"][name] = {
                    "batch_size": kw["batch_size"], "compile": kw["compile"], "seq_len": a.seq_len, "depth": a.depth,
                    "steps": card["step"], "tokens": card["tokens_trained"], "tokens_per_s": card["tokens_per_s"],
                    "flops_per_token": fpt, "params": card["derived"]["params"],
                    "mfu": card["tokens_per_s"] * fpt / H100_BF16_FLOPS, "final_loss": card["final_loss"],
                    "wall_seconds": round(time.perf_counter() - t_run, 1),
                    "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
                }
            except Exception as e:  # record and go on: this script cannot be debugged where it runs
                results["runs"][name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
            finally:
                shutil.rmtree(work / name, ignore_errors=True)
                if device == "cuda":
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
            results["total_seconds"] = round(time.perf_counter() - t0, 1)
            result_path.write_text(json.dumps(results, indent=2))
            print(f"{name}: {json.dumps({k: v for k, v in results['runs'][name].items() if k != 'traceback'})}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    result_path.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: v for k, v in results.items()}, indent=2, default=str))
    print(f"wrote {result_path}")


if __name__ == "__main__":
    main()
