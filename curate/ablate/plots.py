"""The ablation's figures, each answering one question, read at a glance.

effects.png              What does each mixture change against the baseline?  Mixtures by metrics: the change of
                         each metric's mean over seeds, in % of the baseline's mean, coloured so that better is
                         blue and worse red whatever the metric's direction; `*` where the table flags it (beyond
                         twice the baseline's seed spread).
metrics_vs_weights.png   How does the target metric change with each source's weight?  One panel per source:
                         every mixture's mean over seeds (bars: min to max over seeds) against that source's
                         weight, the baseline as a red star; the curve is the proposing law along the tilt from
                         the natural mix toward that source (the other sources keep their natural proportions);
                         the proposal as a green diamond at its predicted value (and a green dot at its measured
                         one once verified). The target is the proposal's metric (else the first).
simplex.png              (exactly 3 sources) Where among all mixtures does the law put the best target metric?
                         The law's prediction over the whole simplex as filled contours, every tested mixture as
                         a dot in the same colours (the baseline larger), the trust region's KL bound dashed, the
                         proposal as a star.
"""

import math
from pathlib import Path

import numpy as np

from curate.ablate.fit import kl_to

SQRT3_2 = math.sqrt(3) / 2


def tilt(natural: np.ndarray, j: int, t: np.ndarray) -> np.ndarray:
    """Mixtures with weight t on source j and the others in their natural proportions."""
    rest = np.delete(natural, j)
    rest = rest / rest.sum() if rest.sum() > 0 else np.full(len(rest), 1 / len(rest))
    out = np.empty((len(t), len(natural)))
    out[:, j] = t
    out[:, np.arange(len(natural)) != j] = (1 - t)[:, None] * rest[None]
    return out


def _axis_label(m: str, spec) -> str:
    return f"{m} ({spec.unit}, {spec.better} is better)"


# What each figure answers, for the report's captions ({metric}: target_metric).
QUESTIONS = {
    "effects.png": "What does each mixture change against the baseline?",
    "metrics_vs_weights.png": "How does {metric} change with each source's weight?",
    "simplex.png": "Where among all mixtures of the three sources does the law put the best {metric}?",
}


def effect_matrix(mixtures: list[dict], metrics: list[str], specs: dict) -> np.ndarray:
    """Mixtures x metrics: the change of each mean against the baseline's, in % of the baseline's, signed so that
    + is better whichever way the metric points (NaN where a metric was not measured)."""
    change = np.full((len(mixtures), len(metrics)), np.nan)
    for i, row in enumerate(mixtures):
        for j, m in enumerate(metrics):
            c = row["metrics"].get(m)
            base = c["mean"] - c["delta"] if c else 0.0
            if c and base:
                change[i, j] = 100 * c["delta"] / abs(base) * (-1 if specs[m].minimize else 1)
    return change


def plot_effects(plt, name: str, rows: list[dict], metrics: list[str], specs: dict, path: Path) -> None:
    mixtures = [row for row in rows if row["tag"] != "baseline"]
    change = effect_matrix(mixtures, metrics, specs)
    top = float(np.nanmax(np.abs(change))) if np.isfinite(change).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.3 * len(metrics) + 3.5, 0.5 * len(mixtures) + 2.6))
    im = ax.imshow(change, cmap="RdBu", vmin=-top, vmax=top, aspect="auto")
    for i, row in enumerate(mixtures):
        for j, m in enumerate(metrics):
            if np.isfinite(change[i, j]):
                flagged = "*" if row["metrics"][m].get("flag") else ""
                ax.text(j, i, f"{change[i, j]:+.1f}{flagged}", ha="center", va="center", fontsize=8,
                        color="white" if abs(change[i, j]) > 0.6 * top else "black")
    ax.set_xticks(range(len(metrics)), [f"{m}\n({'lower' if specs[m].minimize else 'higher'} is better)" for m in metrics],
                  fontsize=7, rotation=30, ha="right")
    ax.set_yticks(range(len(mixtures)), [f"{row['mixture']} ({row['tag']})" if row["tag"] == "proposal" else row["mixture"]
                                         for row in mixtures], fontsize=8)
    ax.set_xlabel("metric (mean over seeds)")
    ax.set_ylabel("mixture")
    fig.colorbar(im, ax=ax, shrink=0.9).set_label("change against the baseline, % of its value\n(+: better, -: worse)",
                                                  fontsize=8)
    ax.set_title(f"{name}: what does each mixture change against the baseline?\n"
                 "(* beyond twice the baseline's spread over seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def target_metric(metrics: list[str], proposal: dict | None) -> str:
    """The metric the plots of the law follow: the proposal's, else the first."""
    return proposal["metric"] if proposal and proposal.get("metric") in metrics else metrics[0]


def plot_metrics_vs_weights(plt, name: str, rows: list[dict], m: str, spec, sources: list[str],
                            natural: np.ndarray, models: dict | None, proposal: dict | None, path: Path) -> None:
    cols = sources[:1] if len(sources) == 2 else sources
    fig, axes = plt.subplots(1, len(cols), figsize=(3.6 * len(cols), 3.4), squeeze=False)
    t = np.linspace(0, 1, 101)
    for j, s in enumerate(cols):
        ax = axes[0][j]
        for row in rows:
            c = row["metrics"].get(m)
            if c is None:
                continue
            x = row["weights"].get(s, 0.0)
            style = {"baseline": ("*", "tab:red", 110, "baseline (mean over seeds)"),
                     "proposal": ("o", "tab:green", 40, "proposal (measured)")}.get(
                row["tag"], ("o", "tab:blue", 25, "tested mixture (mean over seeds)"))
            ax.errorbar([x], [c["mean"]], yerr=[[c["mean"] - min(c["values"])], [max(c["values"]) - c["mean"]]],
                        fmt="none", ecolor=style[1], alpha=0.5, lw=0.8)
            ax.scatter([x], [c["mean"]], marker=style[0], color=style[1], s=style[2], zorder=3, label=style[3])
        if models and m in models:
            curve = models[m].predict(tilt(natural, sources.index(s), t))
            ax.plot(t, curve, color="k", lw=1.0, label="law, tilting the natural mix")
        if proposal and m in proposal.get("predicted", {}):
            ax.scatter([proposal["weights"][s]], [proposal["predicted"][m]], marker="D", color="tab:green", s=45,
                       edgecolors="k", zorder=4, label="proposal (predicted)")
        ax.set_xlim(-0.03, 1.03)
        ax.set_xlabel(f"weight of {s} (share of training tokens)", fontsize=8)
        ax.set_ylabel(_axis_label(m, spec), fontsize=8)
        ax.tick_params(labelsize=7)
    handles, labels = axes[0][0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), fontsize=7, loc="lower center", ncol=min(len(unique), 5), frameon=False)
    fig.suptitle(f"{name}: how does {m} change with each source's weight? (bars: min to max over seeds)", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.94))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def xy(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangle coordinates: source 0 at (0, 0), 1 at (1, 0), 2 at the top."""
    W = np.atleast_2d(W)
    return W[:, 1] + W[:, 2] / 2, W[:, 2] * SQRT3_2


def plot_simplex(plt, name: str, rows: list[dict], m: str, spec, sources: list[str], natural: np.ndarray,
                 models: dict | None, proposal: dict | None, kl_max: float | None, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    n = 60
    grid = np.array([(i / n, j / n, (n - i - j) / n) for i in range(n + 1) for j in range(n + 1 - i)])
    gx, gy = xy(grid)
    pts = [(row["weights"], row["metrics"][m]["mean"], row["tag"]) for row in rows if m in row["metrics"]]
    W = np.array([[w.get(s, 0.0) for s in sources] for w, _, _ in pts])
    vals = np.array([v for _, v, _ in pts])
    z = models[m].predict(grid) if models and m in models else None
    both = vals if z is None else np.r_[vals, z]
    lo, hi = float(both.min()), float(both.max())
    hi = hi if hi > lo else lo + 1e-9
    cmap = "viridis_r" if spec.minimize else "viridis"  # bright is better
    if z is not None:
        ax.tricontourf(gx, gy, z, levels=np.linspace(lo, hi, 14), cmap=cmap, vmin=lo, vmax=hi)
    px, py = xy(W)
    sc = ax.scatter(px, py, c=vals, cmap=cmap, vmin=lo, vmax=hi, edgecolors="k", zorder=3,
                    s=[150 if tag == "baseline" else 45 for _, _, tag in pts], marker="o")
    if kl_max is not None:
        ax.tricontour(gx, gy, kl_to(grid, np.maximum(natural, 1e-12)), levels=[kl_max], colors="w",
                      linestyles="--", linewidths=1.0)
    if proposal:
        qx, qy = xy(np.array([[proposal["weights"][s] for s in sources]]))
        ax.scatter(qx, qy, marker="*", s=260, color="tab:red", edgecolors="w", zorder=4)
    fig.colorbar(sc, ax=ax, shrink=0.8).set_label(f"{_axis_label(m, spec)}\n(bright: better)", fontsize=8)
    ax.plot([0, 1, 0.5, 0], [0, 0, SQRT3_2, 0], color="k", lw=0.8)
    for s, (x, y) in zip(sources, [(0, 0), (1, 0), (0.5, SQRT3_2)]):
        ax.annotate(f"100% {s}", (x, y), ha="center", va="top" if y == 0 else "bottom", fontsize=8)
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.12, SQRT3_2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{name}: where among mixtures of {', '.join(sources)}\ndoes the law put the best {m}?", fontsize=9)
    ax.text(0.5, -0.1, "shading: the law's prediction; dots: measured (large: baseline)\nred star: the proposal"
            + ("; dashed: the trust region (KL to the natural mix)" if kl_max is not None else ""),
            ha="center", va="top", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_all(name: str, rows: list[dict], metrics: list[str], specs: dict, sources: list[str], natural: dict,
             models: dict | None, proposal: dict | None, kl_max: float | None, out_dir: Path) -> list[str]:
    """Writes the figures that apply; returns their paths."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows or len(sources) < 2:
        return []
    q = np.array([natural[s] for s in sources], float)
    q = q / q.sum()
    files = [out_dir / "effects.png", out_dir / "metrics_vs_weights.png"]
    plot_effects(plt, name, rows, metrics, specs, files[0])
    m = target_metric(metrics, proposal)
    plot_metrics_vs_weights(plt, name, rows, m, specs[m], sources, q, models, proposal, files[1])
    if len(sources) == 3:
        files.append(out_dir / "simplex.png")
        plot_simplex(plt, name, rows, m, specs[m], sources, q, models, proposal, kl_max, files[2])
    return [str(f) for f in files]
