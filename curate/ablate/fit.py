"""The mixing law: a log-linear regression of each metric on the mixture weights,

    metric ~ c + sum_i b_i * log(w_i + EPS)          (EPS = 1e-3, so a weight of 0 stays finite)

fitted by least squares (a tiny ridge, RIDGE, on the b_i keeps a fit with fewer mixtures than terms defined;
the intercept is not penalised). Its honesty check is leave-one-mixture-out: every seed of a mixture is held
out together, the law fitted on the others predicts it, and the Spearman rank correlation of predictions and
observed means across mixtures is reported (with a note when there are too few mixtures for it to say much).
The proposed mixture is the best predicted point of a simplex grid (step 0.01 for <= 3 sources, 0.05 for 4-5,
else 20,000 seeded Dirichlet(1) draws); it can lie outside the tested mixtures, where the law extrapolates.
"""

import itertools

import numpy as np

EPS = 1e-3
RIDGE = 1e-6


def design_matrix(W: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((len(W), 1)), np.log(np.asarray(W, float) + EPS)])


def fit_loglinear(W, y) -> np.ndarray:
    """Coefficients [c, b_1..b_k] of metric ~ c + sum_i b_i log(w_i + EPS), least squares with a tiny ridge."""
    X, y = design_matrix(W), np.asarray(y, float)
    penalty = RIDGE * len(y) * np.eye(X.shape[1])
    penalty[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + penalty, X.T @ y)


def predict(coef: np.ndarray, W) -> np.ndarray:
    return design_matrix(np.atleast_2d(W)) @ coef


def rankdata(x) -> np.ndarray:
    """Ranks 1..n, ties get their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a, b) -> float:
    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def loo_spearman(W, y, groups) -> dict:
    """Leave-one-mixture-out: {"spearman", "mixtures", "note", "predicted", "observed"} (per held-out mixture)."""
    W, y, groups = np.asarray(W, float), np.asarray(y, float), np.asarray(groups)
    names = list(dict.fromkeys(groups.tolist()))
    k = W.shape[1]
    pred, obs = [], []
    for g in names:
        held = groups == g
        if held.all():
            break
        coef = fit_loglinear(W[~held], y[~held])
        pred.append(float(predict(coef, W[held][0])[0]))
        obs.append(float(y[held].mean()))
    n = len(names)
    if n < 3:
        return {"spearman": None, "mixtures": n, "predicted": pred, "observed": obs,
                "note": f"{n} mixture(s): too few for a held-out rank correlation (needs >= 3)"}
    rho = spearman(pred, obs)
    note = ""
    if n - 1 < k + 1:
        note = (f"each held-out fit has {n - 1} mixtures for {k + 1} coefficients: underdetermined (the ridge picks "
                "one solution); treat the correlation as anecdotal")
    elif n < 8:
        note = f"only {n} mixtures: a rank correlation this small-sample is noisy"
    return {"spearman": None if np.isnan(rho) else rho, "mixtures": n, "predicted": pred, "observed": obs, "note": note}


def simplex_candidates(k: int, seed: int = 0) -> np.ndarray:
    if k <= 5:
        m = 100 if k <= 3 else 20
        pts = [p for p in itertools.product(range(m + 1), repeat=k - 1) if sum(p) <= m]
        return np.array([list(p) + [m - sum(p)] for p in pts], float) / m
    rng = np.random.default_rng(seed)
    return np.vstack([np.eye(k), rng.dirichlet(np.ones(k), size=20_000)])


def propose(coefs: dict[str, np.ndarray], sources: list[str], metric: str, minimize: bool) -> dict:
    """The mixture with the best predicted `metric`, and every metric's prediction there."""
    cand = simplex_candidates(len(sources))
    scores = predict(coefs[metric], cand)
    best = cand[int(np.argmin(scores) if minimize else np.argmax(scores))]
    return {"metric": metric, "minimize": minimize, "weights": {s: float(w) for s, w in zip(sources, best)},
            "predicted": {m: float(predict(c, best)[0]) for m, c in coefs.items()}}


def fit_all(W, metrics: dict[str, np.ndarray], groups, sources: list[str], metric: str | None,
            minimize: bool | None) -> dict:
    """Fits every metric; returns {"law", "eps", "coefficients", "held_out", "proposal"}."""
    W = np.asarray(W, float)
    coefs = {m: fit_loglinear(W, y) for m, y in metrics.items()}
    out = {"law": "metric ~ c + sum_i b_i * log(w_i + eps) (log-linear, least squares)", "eps": EPS,
           "runs": len(W), "coefficients": {m: {"c": float(c[0]), **{f"b_{s}": float(b) for s, b in zip(sources, c[1:])}}
                                             for m, c in coefs.items()},
           "held_out": {m: loo_spearman(W, y, groups) for m, y in metrics.items()}}
    if metric is not None:
        if metric not in coefs:
            raise ValueError(f"fit.metric: {metric!r} is not a metric of this ablation; expected one of {sorted(coefs)}")
        if minimize is None:
            minimize = not metric.startswith("acc_")
        out["proposal"] = propose(coefs, sources, metric, minimize)
    return out
