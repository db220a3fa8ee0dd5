"""Do the mixing laws predict mixtures they have not seen? A Dirichlet swarm over the bundled sources, on CPU.

    python benchmarks/ablation.py [--mixtures 20] [--seeds 2] [--tokens 150000] [--out DIR] [--threads 1]

1. Corpus: the bundled sample read without quality filters (books cut into 4,000-character documents so a
   source has many; the web pages of the sample WARC extracted with resiliparse; the Wikipedia articles), a
   4,096-token byte-level BPE with 10% of the documents held out, token shards per source.
2. Swarm: `curate ablate` with a Dirichlet(1) design of --mixtures mixtures x --seeds seeds over books, web and
   wiki, plus the natural mix with 3 seeds; proxies of depth 1 at --tokens tokens each; bits per byte on 20,000
   held-out tokens per source, a last-word cloze of 200 items per source.
3. For every law and metric: Spearman of held-out predictions and observed means across mixtures, leave one
   mixture out and 5-fold; the same with one seed per mixture only; the noise ceiling (seed 0 against seed 1
   across mixtures, and the best correlation any law could reach against a mean of that reliability); the
   Spearman of leave-one-out against the number of mixtures (random subsets); the known-answer check (a law
   and the runs agree that tilting the natural mix toward a source lowers that source's bits per byte).

Prints the tables for benchmarks/RESULTS.md and writes OUT/bench.json. The ablation folder keeps its ledger, so
a second run with the same arguments only redoes the analysis.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO / "curate" / "data"
SOURCES = ["books", "web", "wiki"]
TOKENIZER = {"library": "hf", "model": "bpe", "vocab_size": 4096, "special_tokens": ["<|endoftext|>"],
             "pre_tokenization": "byte_level", "normalization": "none", "min_frequency": 2, "seed": 0,
             "holdout_fraction": 0.1, "sources": {"books": 1.0, "web": 1.0, "wiki": 1.0}}


def build_corpus(root: Path) -> Path:
    """root/tokens from the bundled sample (see the module docstring); built once."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from warcio.archiveiterator import ArchiveIterator

    from curate.io.html import resiliparse_extract
    from curate.tokenizer import tokenize_corpus, train_tokenizer

    tokens = root / "tokens"
    if (tokens / "meta.json").is_file():
        return tokens
    docs = {s: [] for s in SOURCES}
    for book in sorted((DATA / "books").glob("*.txt")):
        text = book.read_text(encoding="utf-8")
        docs["books"] += [{"id": f"{book.stem}#{k}", "text": text[i : i + 4000]}
                          for k, i in enumerate(range(0, len(text), 4000))]
    for warc in sorted((DATA / "web").glob("*.warc.gz")):
        with open(warc, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type != "response":
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                text = resiliparse_extract(rec.content_stream().read().decode("utf-8", "replace"))
                if len(text) > 500:
                    docs["web"].append({"id": url, "text": text})
    with open(DATA / "wiki" / "enwiki.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            docs["wiki"].append({"id": f"wiki/{d['id']}", "text": d["text"]})
    for s, rows in docs.items():
        (root / "data" / s).mkdir(parents=True, exist_ok=True)
        table = pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows], "source": [s] * len(rows)})
        pq.write_table(table, root / "data" / s / "00000.parquet")
    train_tokenizer(TOKENIZER, [str(root / "data")], str(root / "tok"))
    tokenize_corpus(str(root / "tok"), [str(root / "data")], str(tokens), overwrite=True)
    return tokens


def write_config(root: Path, args) -> Path:
    import yaml

    cfg = {"name": "bench", "sources": "{tokens}",
           "design": {"kind": "dirichlet", "n": args.mixtures, "alpha": 1.0, "seed": 0},
           "baseline": {"seeds": [0, 1, 2]}, "seeds": list(range(args.seeds)),
           "proxy": {"depth": 1, "seq_len": 64, "batch_size": 8, "tokens": [args.tokens], "device": "cpu"},
           "eval": {"max_tokens": 20_000, "lastword_items": 200}, "fit": {"metric": "bpb_mean"}}
    path = root / "ablation.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def loo_subsets(W, y, groups, metric, law, sizes, draws=5) -> dict:
    """Median leave-one-out Spearman over `draws` random subsets of each size of mixtures."""
    from curate.ablate.fit import held_out

    names = list(dict.fromkeys(groups.tolist()))
    rng = np.random.default_rng(0)
    out = {}
    for n in sizes:
        rhos = []
        for _ in range(draws if n < len(names) else 1):
            keep = set(rng.choice(names, size=n, replace=False).tolist())
            mask = np.array([g in keep for g in groups])
            rho = held_out(law, W[mask], y[mask], groups[mask], metric)["spearman"]
            rhos.append(np.nan if rho is None else rho)
        out[n] = float(np.nanmedian(rhos))
    return out


def analyse(summary: dict, cfg, args) -> dict:
    from curate.ablate.fit import held_out, spearman
    from curate.ablate.laws import LAWS, fit_law, predict_metric
    from curate.ablate.plots import tilt
    from curate.ablate.report import collect
    from curate.ablate.plan import make_plan
    from curate.ablate.run import read_ledger

    out_dir = Path(summary["out_dir"])
    runs = make_plan(cfg)
    records, specs, derived = collect(runs, out_dir, read_ledger(out_dir / "ledger.jsonl"))
    W = np.array([[r["weights"][s] for s in SOURCES] for r in records])
    groups = np.array([r["mixture"] for r in records])
    seeds = np.array([r["seed"] for r in records])
    base = np.array([r["tag"] == "baseline" for r in records])
    metrics = list(specs)
    parts = {m: {x: (specs[x], np.array([r["metrics"][x] for r in records])) for x in of}
             for m, of in derived.items() if of}
    result = {"runs": len(records), "mixtures": len(set(groups.tolist())), "laws": {}, "ceiling": {}, "subsets": {},
              "known_answer": {}}
    one = (seeds == 0) | base  # one seed per design mixture (the baseline keeps its three)
    for law in LAWS:
        result["laws"][law] = {}
        for m in metrics:
            y = np.array([r["metrics"][m] for r in records])
            t0 = time.process_time()
            p = parts.get(m)
            loo = held_out(law, W, y, groups, specs[m], parts=p)["spearman"]
            kf = held_out(law, W, y, groups, specs[m], folds=5, parts=p)["spearman"]
            p1 = {x: (spec, v[one]) for x, (spec, v) in p.items()} if p else None
            loo1 = held_out(law, W[one], y[one], groups[one], specs[m], parts=p1)["spearman"]
            result["laws"][law][m] = {"loo": loo, "kfold": kf, "loo_one_seed": loo1,
                                      "cpu_s": round(time.process_time() - t0, 2)}
    design = ~base
    for m in metrics:  # the noise ceiling: how well seed 0 ranks the mixtures as seed 1 does
        y = np.array([r["metrics"][m] for r in records])
        s0 = {g: v for g, v, s in zip(groups[design], y[design], seeds[design]) if s == 0}
        s1 = {g: v for g, v, s in zip(groups[design], y[design], seeds[design]) if s == 1}
        common = sorted(set(s0) & set(s1))
        if len(common) >= 3:
            r = spearman([s0[g] for g in common], [s1[g] for g in common])
            reliability = 2 * r / (1 + r) if r > -1 else float("nan")  # Spearman-Brown: the mean of two seeds
            result["ceiling"][m] = {"seed0_vs_seed1": r, "reliability_of_mean": reliability,
                                    "max_spearman_mean": float(np.sqrt(max(reliability, 0))),
                                    "max_spearman_one_seed": float(np.sqrt(max(r, 0)))}
    n_design = len(set(groups[~base].tolist()))
    sizes = [n for n in (10, 20, 30) if n < n_design] + [n_design]
    for law in LAWS:
        result["subsets"][law] = {}
        for m in [f"bpb_{s}" for s in SOURCES]:
            y = np.array([r["metrics"][m] for r in records])
            result["subsets"][law][m] = loo_subsets(W[design], y[design], groups[design], specs[m], law, sizes)
    q = np.array([cfg.natural[s] for s in SOURCES])
    for j, s in enumerate(SOURCES):
        m = f"bpb_{s}"
        y = np.array([r["metrics"][m] for r in records])
        entry = {"runs_spearman_weight_vs_bpb": spearman(W[:, j], y)}
        for law in LAWS:
            f = fit_law(law, W, y, specs[m])
            at = predict_metric(f, np.vstack([q, tilt(q, j, np.array([min(1.0, q[j] + 0.2)]))]), specs[m])
            entry[law] = {"natural": float(at[0]), "tilted": float(at[1]), "lower": bool(at[1] < at[0])}
        result["known_answer"][s] = entry
    return result


def fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:+.2f}"


def markdown(result: dict, args, seconds: float, load: str) -> str:
    from curate.ablate.laws import LAWS

    lines = [f"### Swarm: {result['mixtures'] - 1} Dirichlet(1) mixtures x {args.seeds} seeds + the natural mix x 3 "
             f"({result['runs']} runs of {args.tokens:,} tokens, depth 1), {seconds / 60:.1f} min, load {load}; "
             f"CPU-seconds: {result['cpu_s_corpus_and_runs']:,.0f} corpus and runs (0 when the ledger had them), "
             f"{result['cpu_s_analysis']:,.0f} analysis", "",
             "Held-out Spearman (leave one mixture out / 5-fold / leave-one-out with one seed per mixture):", "",
             "| metric | " + " | ".join(LAWS) + " | noise ceiling (mean of 2 seeds / 1 seed) |",
             "|" + "---|" * (len(LAWS) + 2)]
    for m in result["laws"][LAWS[0]]:
        cells = [" / ".join(fmt(result["laws"][law][m][k]) for k in ("loo", "kfold", "loo_one_seed")) for law in LAWS]
        c = result["ceiling"].get(m)
        ceiling = f"{c['max_spearman_mean']:.2f} / {c['max_spearman_one_seed']:.2f}" if c else "n/a"
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {ceiling} |")
    lines += ["", "Leave-one-out Spearman against the number of mixtures (median of 5 random subsets):", "",
              "| law | metric | " + " | ".join(str(n) for n in next(iter(next(iter(result['subsets'].values())).values())))
              + " |", "|---|---|" + "---|" * len(next(iter(next(iter(result['subsets'].values())).values())))]
    for law, per in result["subsets"].items():
        for m, curve in per.items():
            lines.append(f"| {law} | {m} | " + " | ".join(fmt(v) for v in curve.values()) + " |")
    lines += ["", "Known answer (tilting the natural mix +0.2 toward a source lowers its bits per byte):", "",
              "| source | runs: Spearman(weight, bpb) | " + " | ".join(f"{law}: natural -> tilted" for law in LAWS) + " |",
              "|" + "---|" * (len(LAWS) + 2)]
    for s, e in result["known_answer"].items():
        lines.append(f"| {s} | {e['runs_spearman_weight_vs_bpb']:+.2f} | " + " | ".join(
            f"{e[law]['natural']:.4f} -> {e[law]['tilted']:.4f} {'ok' if e[law]['lower'] else 'WRONG'}" for law in LAWS)
            + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mixtures", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=150_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="/tmp/curate-ablation-bench")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from curate.ablate import ablate, load_ablation_config

    root = Path(args.out)
    root.mkdir(parents=True, exist_ok=True)
    t0, cpu0 = time.perf_counter(), time.process_time()
    tokens = build_corpus(root)
    config = write_config(root, args)
    abl_dir = root / f"abl-{args.mixtures}x{args.seeds}-{args.tokens}"
    summary = ablate(str(config), str(abl_dir), overrides={"tokens": str(tokens)}, threads=args.threads,
                     log=lambda line: print(line, flush=True) if line.startswith(("[", "warning", "ledger")) else None)
    cpu_runs = time.process_time() - cpu0  # the runs train in this process (the local executor)
    cfg = load_ablation_config(str(config), {"tokens": str(tokens)})
    t1 = time.process_time()
    result = analyse(summary, cfg, args)
    seconds = time.perf_counter() - t0
    result.update(cpu_s_corpus_and_runs=round(cpu_runs, 1), cpu_s_analysis=round(time.process_time() - t1, 1))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    result.update(seconds=round(seconds, 1), load=load, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                  args=vars(args))
    (root / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result, args, seconds, load))


if __name__ == "__main__":
    main()
