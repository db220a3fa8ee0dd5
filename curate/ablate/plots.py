"""The ablation's two figures, made to be read at a glance.

metrics_vs_weights.png   one panel per metric and source: every mixture's mean over seeds (bars: min to max
                         over seeds) against that source's weight, the baseline as a red star; the curve is
                         the proposing law along the tilt from the natural mix toward that source (the other
                         sources keep their natural proportions); the proposal as a green diamond at its
                         predicted value (and a green dot at its measured one once verified).
simplex.png              (exactly 3 sources) one triangle per metric: the law's prediction over the whole
                         simplex as filled contours (levels span every predicted and observed value, so the
                         colours leave no holes), every tested mixture as a dot in the same colours (the
                         baseline larger), the trust region's KL bound dashed, the proposal as a star.
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


def plot_metrics_vs_weights(plt, name: str, rows: list[dict], metrics: list[str], specs: dict, sources: list[str],
                            natural: np.ndarray, models: dict | None, proposal: dict | None, path: Path) -> None:
    cols = sources[:1] if len(sources) == 2 else sources
    fig, axes = plt.subplots(len(metrics), len(cols), figsize=(3.3 * len(cols), 2.5 * len(metrics)), squeeze=False)
    t = np.linspace(0, 1, 101)
    for i, m in enumerate(metrics):
        for j, s in enumerate(cols):
            ax = axes[i][j]
            for row in rows:
                c = row["metrics"].get(m)
                if c is None:
                    continue
                x = row["weights"].get(s, 0.0)
                style = {"baseline": ("*", "tab:red", 90), "proposal": ("o", "tab:green", 40)}.get(
                    row["tag"], ("o", "tab:blue", 25))
                ax.errorbar([x], [c["mean"]], yerr=[[c["mean"] - min(c["values"])], [max(c["values"]) - c["mean"]]],
                            fmt="none", ecolor=style[1], alpha=0.5, lw=0.8)
                ax.scatter([x], [c["mean"]], marker=style[0], color=style[1], s=style[2], zorder=3)
            if models and m in models:
                curve = models[m].predict(tilt(natural, sources.index(s), t))
                ax.plot(t, curve, color="k", lw=1.0, label="law, tilting the natural mix")
            if proposal and m in proposal.get("predicted", {}):
                ax.scatter([proposal["weights"][s]], [proposal["predicted"][m]], marker="D", color="tab:green", s=45,
                           edgecolors="k", zorder=4, label="proposal (predicted)")
            ax.set_xlabel(f"weight of {s}", fontsize=8)
            ax.set_ylabel(f"{m} ({'↓' if specs[m].minimize else '↑'})", fontsize=8)
            ax.tick_params(labelsize=7)
            if i == 0 and j == 0 and (models or proposal):
                ax.legend(fontsize=6, loc="best")
    fig.suptitle(f"{name}: each metric against each source's weight (dots: mean over seeds; red star: baseline)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def xy(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Triangle coordinates: source 0 at (0, 0), 1 at (1, 0), 2 at the top."""
    W = np.atleast_2d(W)
    return W[:, 1] + W[:, 2] / 2, W[:, 2] * SQRT3_2


def plot_simplex(plt, name: str, rows: list[dict], metrics: list[str], specs: dict, sources: list[str],
                 natural: np.ndarray, models: dict | None, proposal: dict | None, kl_max: float | None,
                 path: Path) -> None:
    ncol = min(3, len(metrics))
    nrow = math.ceil(len(metrics) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    n = 60
    grid = np.array([(i / n, j / n, (n - i - j) / n) for i in range(n + 1) for j in range(n + 1 - i)])
    gx, gy = xy(grid)
    for k, m in enumerate(metrics):
        ax = axes[k // ncol][k % ncol]
        pts = [(row["weights"], row["metrics"][m]["mean"], row["tag"]) for row in rows if m in row["metrics"]]
        W = np.array([[w.get(s, 0.0) for s in sources] for w, _, _ in pts])
        vals = np.array([v for _, v, _ in pts])
        z = models[m].predict(grid) if models and m in models else None
        both = vals if z is None else np.r_[vals, z]
        lo, hi = float(both.min()), float(both.max())
        hi = hi if hi > lo else lo + 1e-9
        cmap = "viridis_r" if specs[m].minimize else "viridis"  # bright is better in every panel
        if z is not None:
            ax.tricontourf(gx, gy, z, levels=np.linspace(lo, hi, 14), cmap=cmap, vmin=lo, vmax=hi)
        px, py = xy(W)
        sc = ax.scatter(px, py, c=vals, cmap=cmap, vmin=lo, vmax=hi, edgecolors="k", zorder=3,
                        s=[150 if tag == "baseline" else 45 for _, _, tag in pts],
                        marker="o")
        if kl_max is not None:
            ax.tricontour(gx, gy, kl_to(grid, np.maximum(natural, 1e-12)), levels=[kl_max], colors="w",
                          linestyles="--", linewidths=1.0)
        if proposal:
            qx, qy = xy(np.array([[proposal["weights"][s] for s in sources]]))
            ax.scatter(qx, qy, marker="*", s=260, color="tab:red", edgecolors="w", zorder=4)
        fig.colorbar(sc, ax=ax, shrink=0.8)
        ax.plot([0, 1, 0.5, 0], [0, 0, SQRT3_2, 0], color="k", lw=0.8)
        for s, (x, y) in zip(sources, [(0, 0), (1, 0), (0.5, SQRT3_2)]):
            ax.annotate(s, (x, y), ha="center", va="top" if y == 0 else "bottom", fontsize=8)
        ax.set_title(f"{m} ({specs[m].better} is better)", fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    for k in range(len(metrics), nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    fig.suptitle(f"{name}: dots: tested mixtures (large: baseline); shading: the law; red star: the proposal; "
                 "dashed: the trust region's KL bound", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
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
    files = [out_dir / "metrics_vs_weights.png"]
    plot_metrics_vs_weights(plt, name, rows, metrics, specs, sources, q, models, proposal, files[0])
    if len(sources) == 3:
        files.append(out_dir / "simplex.png")
        plot_simplex(plt, name, rows, metrics, specs, sources, q, models, proposal, kl_max, files[1])
    return [str(f) for f in files]
