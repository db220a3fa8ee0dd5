"""Fitting the mixing laws (`laws`) to an ablation's runs, checking them on mixtures they did not see, and
proposing a mixture.

Held-out checks, per law and metric, on mixtures (every seed of a mixture is held out together; a law is fitted
on every run of the others): leave-one-mixture-out, and FOLDS-fold over mixtures (seeded). Each reports the
Spearman rank correlation of the held-out predictions with the observed means across mixtures, with a note when
there are too few mixtures for it to say much.

The proposal, for the config's target metric, is searched inside a trust region, because a law is only worth
believing near the mixtures it was fitted on and a mixture is only worth training if the data can feed it:
- KL(w || natural) <= kl_max (olmix's proposer regularises toward the natural mix the same way);
- every source's share of target_tokens at most max_epochs times its train tokens (the repetition limit);
over a simplex grid (step 0.01 for <= 3 sources, 0.05 for 4-5) or seeded Dirichlet draws (more sources), plus
draws concentrated around the natural mix. The best predicted candidate (ties: the nearest to the natural mix)
is then compared with the mixtures already measured (their mean over seeds, those inside the repetition limit):
when one of them measured at least as well as the law predicts for its candidate, that measured mixture is the
proposal. So a proposal is never predicted worse than a run already measured.
"""

import itertools
import math

import numpy as np

from curate.ablate.laws import LAWS, fit_model, make_law
from curate.evaluate.metrics import Metric

FOLDS = 5


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


def mixture_folds(names: list, folds: int | None, seed: int = 0) -> list[list]:
    """Groups of mixture names held out together: one each (folds=None) or `folds` seeded groups."""
    if folds is None or folds >= len(names):
        return [[n] for n in names]
    order = np.random.default_rng(seed).permutation(len(names))
    return [[names[i] for i in order[f::folds]] for f in range(folds)]


def held_out(law: str, W, y, groups, metric: Metric, folds: int | None = None, seed: int = 0,
             parts: dict | None = None) -> dict:
    """{"spearman", "mixtures", "predicted", "observed", "note"}: the law fitted without each group of
    mixtures predicts them (folds=None: leave one mixture out). parts: for a mean of other metrics, name ->
    (Metric, values) of each; the law is fitted to each and their predictions averaged."""
    W, y, groups = np.asarray(W, float), np.asarray(y, float), np.asarray(groups)
    parts = parts or {}
    values = {"y": y, **{p: np.asarray(v, float) for p, (_, v) in parts.items()}}
    metrics = {"y": metric, **{p: m for p, (m, _) in parts.items()}}
    names = list(dict.fromkeys(groups.tolist()))
    pred, obs = {}, {}
    for held in mixture_folds(names, folds, seed):
        mask = np.isin(groups, held)
        if mask.all():
            break
        model = fit_model(law, W[~mask], {k: v[~mask] for k, v in values.items()}, metrics, "y", list(parts) or None)
        for g in held:
            rows = groups == g
            pred[g] = float(model.predict(W[rows][:1])[0])
            obs[g] = float(y[rows].mean())
    n, k = len(names), W.shape[1]
    out = {"mixtures": n, "predicted": [pred[g] for g in names if g in pred],
           "observed": [obs[g] for g in names if g in obs], "spearman": None, "note": ""}
    if n < 3 or len(pred) < n:
        out["note"] = f"{n} mixture(s): too few for a held-out rank correlation (needs >= 3)"
        return out
    rho = spearman(out["predicted"], out["observed"])
    out["spearman"] = None if math.isnan(rho) else rho
    if n - 1 < k + 1:
        out["note"] = (f"each held-out fit has {n - 1} mixtures for {k + 1} coefficients: underdetermined (the ridge "
                       "picks one solution); treat the correlation as anecdotal")
    elif n < 8:
        out["note"] = f"only {n} mixtures: a rank correlation this small-sample is noisy"
    return out


def checks(law: str, W, y, groups, metric: Metric, folds: int, parts: dict | None) -> dict:
    """{"loo", "kfold"}; with `folds` mixtures or fewer, k-fold is leave-one-out (computed once)."""
    loo = held_out(law, W, y, groups, metric, parts=parts)
    if len(set(np.asarray(groups).tolist())) <= folds:
        return {"loo": loo, "kfold": loo}
    return {"loo": loo, "kfold": held_out(law, W, y, groups, metric, folds=folds, parts=parts)}


def simplex_candidates(k: int, natural: np.ndarray, seed: int = 0) -> np.ndarray:
    """The grid (or uniform Dirichlet draws) over the simplex, plus draws around the natural mix."""
    rng = np.random.default_rng(seed)
    if k <= 5:
        m = 100 if k <= 3 else 20
        pts = [p for p in itertools.product(range(m + 1), repeat=k - 1) if sum(p) <= m]
        grid = np.array([list(p) + [m - sum(p)] for p in pts], float) / m
    else:
        grid = np.vstack([np.eye(k), rng.dirichlet(np.ones(k), size=20_000)])
    alphas = np.exp(rng.uniform(np.log(2), np.log(500), size=5_000))  # concentration around the natural mix
    near = np.vstack([rng.dirichlet(np.maximum(a * natural, 1e-3)) for a in alphas])
    return np.vstack([grid, natural[None], near])


def kl_to(W: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(w || q) in nats for every row w (0 log 0 = 0)."""
    W = np.atleast_2d(W)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(W > 0, W * np.log(W / q), 0.0)
    return terms.sum(axis=1)


def epochs_at(W: np.ndarray, trust: dict, sources: list[str]) -> np.ndarray:
    """Epochs of each source's train tokens that target_tokens drawn at weights W repeat."""
    tokens = np.array([max(trust["train_tokens"][s], 1) for s in sources], float)
    return np.atleast_2d(W) * trust["target_tokens"] / tokens


def propose(models: dict, metrics: dict[str, Metric], target: str, sources: list[str], trust: dict,
            measured: dict[str, tuple[np.ndarray, dict]], law: str) -> dict:
    """The proposal for `target` (see the module docstring). models: metric -> fitted law; measured: mixture
    -> (weights, {metric: mean over seeds})."""
    metric = metrics[target]
    q = np.array([trust["natural"][s] for s in sources], float)
    q = np.maximum(q / q.sum(), 1e-12)
    cand = simplex_candidates(len(sources), q)
    kl, ep = kl_to(cand, q), epochs_at(cand, trust, sources)
    ok = ep.max(axis=1) <= trust["max_epochs"] + 1e-9
    if trust.get("kl_max") is not None:
        ok &= kl <= trust["kl_max"] + 1e-12
    if not ok.any():
        raise ValueError(f"fit: no mixture satisfies the trust region (kl_max {trust.get('kl_max')}, max_epochs "
                         f"{trust['max_epochs']} at {trust['target_tokens']:,} target tokens); loosen fit.kl_max, "
                         "raise fit.max_epochs or lower fit.target_tokens")
    cand, kl = cand[ok], kl[ok]
    pred = models[target].predict(cand)
    order = np.lexsort((kl, metric.loss(pred)))  # best predicted, then nearest to the natural mix
    best, best_pred = cand[order[0]], float(pred[order[0]])
    out = {"metric": target, "better": metric.better, "law": law, "basis": "law",
           "trust_region": {"kl_max": trust.get("kl_max"), "max_epochs": trust["max_epochs"],
                            "target_tokens": trust["target_tokens"], "candidates": int(ok.sum())}}
    feasible = {m: (w, v) for m, (w, v) in measured.items()
                if epochs_at(w, trust, sources).max() <= trust["max_epochs"] + 1e-9 and target in v}
    if feasible:
        name = min(feasible, key=lambda m: float(metric.loss(feasible[m][1][target])))
        w, values = feasible[name]
        out["best_measured"] = {"mixture": name, "value": values[target]}
        if metric.loss(values[target]) <= metric.loss(best_pred):
            best = np.asarray(w, float)
            out.update(basis="measured", mixture=name, measured={m: float(v) for m, v in values.items()})
    out["weights"] = {s: float(x) for s, x in zip(sources, best)}
    out["kl"] = float(kl_to(best, q)[0])
    out["epochs"] = {s: float(e) for s, e in zip(sources, epochs_at(best, trust, sources)[0])}
    out["predicted"] = {m: float(f.predict(best)[0]) for m, f in models.items()}
    return out


def fit_all(W, values: dict[str, np.ndarray], metrics: dict[str, Metric], groups, sources: list[str],
            target: str | None = None, law: str = "auto", laws=LAWS, trust: dict | None = None,
            folds: int = FOLDS, means: dict[str, list[str]] | None = None) -> tuple[dict, dict]:
    """Fits every law to every metric and checks each held out; proposes a mixture for `target` with `law`
    ("auto": the law with the best leave-one-out Spearman on the target; log_linear when none has one).
    means: metric -> the metrics it is the mean of (predicted as the mean of their predictions).
    Returns (the JSON-able result, {law: {metric: fitted model}})."""
    W, groups = np.asarray(W, float), np.asarray(groups)
    if trust is None:  # no data sizes known: the uniform mix as the centre, no bounds
        trust = {"natural": {s: 1 / len(sources) for s in sources}, "train_tokens": {s: 1 for s in sources},
                 "target_tokens": 1, "max_epochs": math.inf, "kl_max": None}
    for name in laws:
        make_law(name)  # an unknown name fails here, before any fitting
    means = {m: p for m, p in (means or {}).items() if m in values and p and all(x in values for x in p)}
    parts = {m: {x: (metrics[x], values[x]) for x in p} for m, p in means.items()}
    fitted = {name: {m: fit_model(name, W, values, metrics, m, means.get(m)) for m in values} for name in laws}
    out = {"runs": len(W), "sources": sources, "laws": {}, "means": means}
    for name in laws:
        out["laws"][name] = {
            "formula": make_law(name).formula,
            "parameters": {m: f.params(sources) for m, f in fitted[name].items()},
            "held_out": {m: checks(name, W, y, groups, metrics[m], folds, parts.get(m)) for m, y in values.items()}}
    if target is None:
        return out, fitted
    if target not in values:
        raise ValueError(f"fit.metric: {target!r} is not a metric of this ablation; expected one of {sorted(values)}")
    if law == "auto":
        scored = {n: out["laws"][n]["held_out"][target]["loo"]["spearman"] for n in laws}
        scored = {n: r for n, r in scored.items() if r is not None}
        law = max(scored, key=lambda n: (scored[n], n == "log_linear")) if scored else (
            "log_linear" if "log_linear" in laws else laws[0])
    elif law not in laws:
        raise ValueError(f"fit.law: {law!r} is not among the fitted laws {list(laws)}")
    measured = {}
    for g in dict.fromkeys(groups.tolist()):
        rows = groups == g
        measured[g] = (W[rows][0], {m: float(np.mean(y[rows])) for m, y in values.items()})
    out["proposal"] = propose(fitted[law], metrics, target, sources, trust, measured, law)
    return out, fitted
