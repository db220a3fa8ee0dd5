"""Collecting the finished runs (from their eval.json files) into the report: report.md, table.csv,
ratios.csv + metrics.csv (olmix's layout: one row per run, a `run` column, then one column per source
weight / per metric), metrics_vs_weights.png, simplex.png (3 sources) and fit.json.

Table: one row per mixture and budget; each metric as mean +- std over seeds (sample std, ddof=1; 0 for one
seed), its change against the baseline's mean at the same budget, flagged ** where |change| > 2 x the
baseline's std over its seeds (no flag when that std is 0 or the baseline has one seed: said in the report).
"""

import csv
import json
import math
from pathlib import Path

import numpy as np

from curate.ablate.plan import AblationConfig, RunSpec
from curate.ablate.run import metrics_from_eval

FLAG = "**"


def collect(runs: list[RunSpec], out_dir: Path, finished: dict[str, dict]) -> list[dict]:
    """One record per finished run: spec fields + metrics read from runs/<id>/eval.json."""
    out = []
    for r in runs:
        if r.id not in finished:
            continue
        path = out_dir / "runs" / r.id / "eval.json"
        if not path.is_file():
            raise ValueError(f"{path}: missing, but the ledger lists run {r.id} as finished; delete its ledger line "
                             "(or the run folder) and rerun")
        out.append({"id": r.id, "tag": r.tag, "mixture": r.mixture, "weights": r.weights_dict(), "tokens": r.tokens,
                    "seed": r.seed, "metrics": metrics_from_eval(json.loads(path.read_text())),
                    "final_loss": finished[r.id].get("final_loss")})
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def table_rows(records: list[dict]) -> list[dict]:
    """Rows per (mixture, tokens), baseline first: weights, n, {metric: {mean, std, n, delta, flag}}."""
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        groups.setdefault((rec["mixture"], rec["tokens"]), []).append(rec)
    metrics = sorted({m for rec in records for m in rec["metrics"]}, key=metric_order)
    rows = []
    for (mixture, tokens), recs in groups.items():
        row = {"mixture": mixture, "tokens": tokens, "tag": recs[0]["tag"], "weights": recs[0]["weights"],
               "seeds": sorted(r["seed"] for r in recs), "runs": [r["id"] for r in recs], "metrics": {}}
        for m in metrics:
            vals = [r["metrics"][m] for r in recs if m in r["metrics"]]
            if vals:
                mean, std = mean_std(vals)
                row["metrics"][m] = {"mean": mean, "std": std, "n": len(vals), "values": vals}
        rows.append(row)
    for row in rows:
        base = next((b for b in rows if b["tag"] == "baseline" and b["tokens"] == row["tokens"]), None)
        for m, cell in row["metrics"].items():
            if base is None or m not in base["metrics"]:
                cell.update(delta=None, flag=False)
                continue
            b = base["metrics"][m]
            delta = cell["mean"] - b["mean"]
            cell.update(delta=delta, baseline_std=b["std"],
                        flag=bool(row["tag"] != "baseline" and b["n"] > 1 and b["std"] > 0 and abs(delta) > 2 * b["std"]))
    rows.sort(key=lambda r: (r["tokens"], r["tag"] != "baseline"))
    return rows


def metric_order(m: str) -> tuple:
    return (0 if m.startswith("bpb_") and m != "bpb_mean" else 1 if m == "bpb_mean" else 2, m)


def better(m: str) -> str:
    return "higher" if m.startswith("acc_") else "lower"


def weights_text(w: dict[str, float]) -> str:
    return " / ".join(f"{100 * w[s]:.0f}" for s in sorted(w))


def write_csvs(cfg: AblationConfig, records: list[dict], rows: list[dict], out_dir: Path) -> dict[str, str]:
    sources = list(cfg.sources)
    metrics = sorted({m for r in records for m in r["metrics"]}, key=metric_order)
    files = {}
    with open(out_dir / "ratios.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run"] + sources)
        for r in records:
            w.writerow([r["id"]] + [repr(r["weights"].get(s, 0.0)) for s in sources])
    with open(out_dir / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run"] + metrics)
        for r in records:
            w.writerow([r["id"]] + [repr(r["metrics"][m]) if m in r["metrics"] else "" for m in metrics])
    with open(out_dir / "table.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mixture", "tag", "tokens", "seeds"] + [f"w_{s}" for s in sources]
                   + [f"{m}_{k}" for m in metrics for k in ("mean", "std", "delta", "flag")])
        for row in rows:
            cells = []
            for m in metrics:
                c = row["metrics"].get(m)
                cells += ["", "", "", ""] if c is None else [
                    repr(c["mean"]), repr(c["std"]), "" if c["delta"] is None else repr(c["delta"]), int(c["flag"])]
            w.writerow([row["mixture"], row["tag"], row["tokens"], " ".join(map(str, row["seeds"]))]
                       + [repr(row["weights"].get(s, 0.0)) for s in sources] + cells)
    for name in ("ratios.csv", "metrics.csv", "table.csv"):
        files[name] = str(out_dir / name)
    return files


def markdown_table(cfg: AblationConfig, rows: list[dict]) -> tuple[str, list[str]]:
    sources = list(cfg.sources)
    metrics = sorted({m for row in rows for m in row["metrics"]}, key=metric_order)
    head = ["mixture", "tokens", "weights % (" + " / ".join(sources) + ")", "seeds"] + [
        f"{m} ({'↓' if better(m) == 'lower' else '↑'})" for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in rows:
        cells = [f"{row['mixture']}", f"{row['tokens']:,}", weights_text(row["weights"]), str(len(row["seeds"]))]
        for m in metrics:
            c = row["metrics"].get(m)
            if c is None:
                cells.append("")
                continue
            digits = 3 if m.startswith("acc_") else 4
            text = f"{c['mean']:.{digits}f}" + (f" ± {c['std']:.{digits}f}" if c["n"] > 1 else "")
            if row["tag"] != "baseline" and c["delta"] is not None:
                text += f" ({c['delta']:+.{digits}f}{' ' + FLAG if c['flag'] else ''})"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    for row in rows:
        if row["tag"] != "baseline":
            continue
        zero = [m for m, c in row["metrics"].items() if c["std"] == 0]
        if len(row["seeds"]) < 2:
            notes.append(f"The baseline at {row['tokens']:,} tokens has {len(row['seeds'])} seed: no std, so no change "
                         "is flagged; give baseline.seeds several seeds.")
        elif zero:
            notes.append(f"The baseline's std over its seeds is 0 for {', '.join(zero)} at {row['tokens']:,} tokens: "
                         "changes in those are not flagged (identical seeds, or a metric too coarse to vary).")
    if not any(r["tag"] == "baseline" for r in rows):
        notes.append("No baseline runs: no changes and no flags.")
    return "\n".join(lines), notes


def fit_section(cfg: AblationConfig, records: list[dict]) -> tuple[dict | None, list[str]]:
    from curate.ablate.fit import fit_all

    if not records:
        return None, ["No finished runs: nothing to fit."]
    budget = max(r["tokens"] for r in records)
    recs = [r for r in records if r["tokens"] == budget]
    active = [s for s in cfg.sources if any(r["weights"].get(s, 0) > 0 for r in recs)]
    metrics = sorted({m for r in recs for m in r["metrics"]}, key=metric_order)
    if len(active) < 2 or len({tuple(r["weights"][s] for s in active) for r in recs}) < 2:
        return None, ["Fewer than 2 distinct mixtures (or sources): no mixing law fitted."]
    W = np.array([[r["weights"][s] for s in active] for r in recs])
    ys = {m: np.array([r["metrics"][m] for r in recs]) for m in metrics if all(m in r["metrics"] for r in recs)}
    metric = cfg.fit.get("metric", "bpb_mean")
    fit = fit_all(W, ys, [r["mixture"] for r in recs], active, metric, cfg.fit.get("minimize"))
    fit.update(sources=active, tokens=budget)
    lines = [f"Law: `{fit['law']}`, eps = {fit['eps']:g}, fitted per metric on the {len(recs)} runs at "
             f"{budget:,} tokens over the sources {', '.join(active)}"
             + (" (other budgets are not in the fit)" if len({r['tokens'] for r in records}) > 1 else "") + ".", "",
             "| metric | c | " + " | ".join(f"b_{s}" for s in active) + " | held-out Spearman (leave one mixture out) |",
             "|" + "---|" * (3 + len(active))]
    for m in ys:
        c, h = fit["coefficients"][m], fit["held_out"][m]
        rho = "n/a" if h["spearman"] is None else f"{h['spearman']:+.2f}"
        lines.append(f"| {m} | {c['c']:.4f} | " + " | ".join(f"{c[f'b_{s}']:+.4f}" for s in active)
                     + f" | {rho} over {h['mixtures']} mixtures |")
    note = next((h["note"] for h in fit["held_out"].values() if h["note"]), "")
    if note:
        lines += ["", f"Held-out check: {note}."]
    if "proposal" in fit:
        p = fit["proposal"]
        lines += ["", f"Proposed mixture for {'lowest' if p['minimize'] else 'highest'} `{p['metric']}`: "
                  + ", ".join(f"{s} {100 * w:.0f}%" for s, w in p["weights"].items()) + ".",
                  "Predicted there: " + ", ".join(f"{m} {v:.4f}" for m, v in p["predicted"].items()) + "."]
        tested = np.array([[r["weights"][s] for s in active] for r in recs])
        best = np.array([p["weights"][s] for s in active])
        n_mix = len({tuple(row) for row in tested.tolist()})
        if n_mix < len(active) + 1:
            lines.append(f"The law has {len(active) + 1} coefficients and only {n_mix} distinct mixtures to fit them: "
                         "this proposal (and its predictions) is a shape of the fit, not evidence; test more mixtures "
                         "(e.g. design.kind: dirichlet).")
        if np.min(np.abs(tested - best).sum(axis=1)) > 0.1:
            lines.append("It lies away from every tested mixture (L1 distance > 0.1): the law extrapolates there; "
                         "train it as a check before trusting it.")
    return fit, lines


def plot_all(cfg: AblationConfig, records: list[dict], rows: list[dict], fit: dict | None, out_dir: Path) -> list[str]:
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    active = [s for s in cfg.sources if any(r["weights"].get(s, 0) > 0 for r in records)]
    metrics = sorted({m for r in records for m in r["metrics"]}, key=metric_order)
    if not records or not active:
        return files
    cols = active[:1] if len(active) == 2 else active
    fig, axes = plt.subplots(len(metrics), len(cols), figsize=(3.2 * len(cols), 2.4 * len(metrics)), squeeze=False)
    for i, m in enumerate(metrics):
        for j, s in enumerate(cols):
            ax = axes[i][j]
            for tag, marker, color in (("mixture", "o", "tab:blue"), ("baseline", "*", "tab:red")):
                pts = [(r["weights"].get(s, 0), r["metrics"][m]) for r in records if r["tag"] == tag and m in r["metrics"]]
                if pts:
                    ax.scatter(*zip(*pts), marker=marker, color=color, s=30 if marker == "o" else 70, label=tag,
                               alpha=0.8)
            ax.set_xlabel(f"weight of {s}")
            ax.set_ylabel(m)
            if i == 0 and j == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{cfg.name}: each metric against each source's weight (one point per run)")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out_dir / "metrics_vs_weights.png", dpi=90)
    plt.close(fig)
    files.append(str(out_dir / "metrics_vs_weights.png"))

    if len(active) == 3:
        from curate.ablate.fit import predict

        a, b, c = active

        def xy(w):
            return w[b] + w[c] / 2, w[c] * math.sqrt(3) / 2

        ncol = min(3, len(metrics))
        nrow = math.ceil(len(metrics) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 3.6 * nrow), squeeze=False)
        same = fit is not None and fit.get("sources") == active
        for k, m in enumerate(metrics):
            ax = axes[k // ncol][k % ncol]
            pts = [(xy(row["weights"]), row["metrics"][m]["mean"], row["tag"]) for row in rows if m in row["metrics"]]
            lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
            hi = hi if hi > lo else lo + 1e-9
            if same and m in fit.get("coefficients", {}):
                co = fit["coefficients"][m]
                coef = np.array([co["c"]] + [co[f"b_{s}"] for s in active])
                g = np.array([(i / 40, j / 40, 1 - (i + j) / 40) for i in range(41) for j in range(41 - i)])
                z = predict(coef, g)
                gx, gy = g[:, 1] + g[:, 2] / 2, g[:, 2] * math.sqrt(3) / 2
                ax.tricontourf(gx, gy, np.clip(z, lo, hi), levels=np.linspace(lo, hi, 12), cmap="viridis", alpha=0.35)
            sc = ax.scatter([p[0][0] for p in pts], [p[0][1] for p in pts], c=[p[1] for p in pts], cmap="viridis", vmin=lo, vmax=hi,
                            s=[160 if p[2] == "baseline" else 70 for p in pts], edgecolors="k",
                            marker="o")
            fig.colorbar(sc, ax=ax, shrink=0.8)
            ax.plot([0, 1, 0.5, 0], [0, 0, math.sqrt(3) / 2, 0], color="k", lw=0.8)
            for name, (x, y) in zip(active, [(0, 0), (1, 0), (0.5, math.sqrt(3) / 2)]):
                ax.annotate(name, (x, y), ha="center", va="top" if y == 0 else "bottom", fontsize=8)
            ax.set_title(f"{m} ({better(m)} is better)", fontsize=9)
            ax.set_aspect("equal")
            ax.axis("off")
        for k in range(len(metrics), nrow * ncol):
            axes[k // ncol][k % ncol].axis("off")
        fig.suptitle(f"{cfg.name}: mean over seeds per mixture (large: baseline); shading: the fitted law (same colours, clipped to the observed range)")
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        fig.savefig(out_dir / "simplex.png", dpi=90)
        plt.close(fig)
        files.append(str(out_dir / "simplex.png"))
    return files


def write_report(cfg: AblationConfig, runs: list[RunSpec], finished: dict[str, dict], out_dir: Path) -> dict:
    """Writes report.md, the CSVs, the plots and fit.json; returns the summary."""
    records = collect(runs, out_dir, finished)
    rows = table_rows(records)
    files = write_csvs(cfg, records, rows, out_dir)
    table, notes = markdown_table(cfg, rows)
    fit, fit_lines = fit_section(cfg, records)
    if fit is not None:
        (out_dir / "fit.json").write_text(json.dumps(fit, indent=2, sort_keys=True) + "\n")
        files["fit.json"] = str(out_dir / "fit.json")
    plots = plot_all(cfg, records, rows, fit, out_dir)
    p = cfg.proxy
    params = next((finished[r["id"]].get("params") for r in records if finished[r["id"]].get("params")), None)
    md = [f"# Ablation `{cfg.name}`", "",
          f"Config: `{cfg.path}`. {len(records)} of {len(runs)} planned runs finished"
          + ("." if len(records) == len(runs) else " (the report covers those; rerun to finish the others)."),
          f"Proxies: depth {p['depth']}" + (f" ({params:,} parameters)" if isinstance(params, int) else "")
          + f", seq_len {p['seq_len']}, batch {p['batch_size']} x {p['grad_accum']}, budgets "
          + ", ".join(f"{t:,}" for t in p["tokens"]) + f" tokens; seeds {cfg.seeds}, baseline seeds {cfg.baseline_seeds}.",
          "Baseline (natural mix, proportional to each source's train tokens): "
          + ", ".join(f"{s} {100 * w:.1f}%" for s, w in sorted(cfg.baseline.items())) + ".", "",
          "## Table", "",
          "Mean ± std over seeds (a single value: one seed); in parentheses the change against the baseline's mean at the same budget, "
          f"`{FLAG}` where |change| > 2 x the baseline's std over its seeds. bpb: bits per byte on each source's "
          "held-out shards (lower is better); acc: task accuracy (higher is better).", "", table, ""]
    md += [f"- {n}" for n in notes] + ([""] if notes else [])
    md += ["## Mixing law", ""] + fit_lines + [""]
    if plots:
        md += ["## Plots", ""] + [f"![{Path(f).stem}]({Path(f).name})" for f in plots] + [""]
    md += ["## Files", "", "- `ratios.csv`, `metrics.csv`: one row per run (olmix's layout); `table.csv`: the table;",
           "- `ledger.jsonl`: finished runs; `runs/<id>/`: run.json, loss.csv, eval.json of each run."]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")
    files["report.md"] = str(out_dir / "report.md")
    for f in plots:
        files[Path(f).name] = f
    summary = {"name": cfg.name, "out_dir": str(out_dir), "planned": len(runs), "finished": len(records),
               "complete": len(records) == len(runs), "baseline": cfg.baseline, "rows": rows, "fit": fit,
               "files": files, "table": table}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return summary
