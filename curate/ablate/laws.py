"""Mixing laws: a metric predicted from the mixture weights. Every law is fitted to the metric's loss form
(lower is better, >= 0: bpb as it is, an accuracy as its error rate 1 - accuracy; `Metric.loss`), so one
fitting code serves both directions; `predict_metric` turns a prediction back and clips it to the metric's
range (an accuracy never predicted below 0 or above 1). A derived metric, the mean of others (bpb_mean), is
predicted as the mean of their predictions (`MeanOf`).

    log_linear    loss = exp(c) + exp(sum_i t_i w_i)
                  the data-mixing law of Ye et al. (2024) that olmix fits under the same name: an exponential of
                  a linear function of the weights above a floor exp(c). Fitted by robust least squares (Huber,
                  delta = 2% of the median loss) from two starts; a tiny ridge on t keeps a fit with fewer
                  mixtures than coefficients defined.
    log_weights   loss = c + sum_i b_i log(w_i + EPS)
                  linear in the log of each weight (curate's first law; EPS = 1e-3 keeps a weight of 0 finite),
                  ordinary least squares with the same tiny ridge.
    lightgbm      gradient-boosted trees on the weights, as RegMix fits them (Liu et al., 2024). Many small
                  trees with leaves of a few runs, since an ablation has tens of mixtures, not RegMix's 512;
                  its predictions are piecewise constant (ties are possible) and never leave the range of the
                  observed values, so it cannot extrapolate at all.
"""

import math

import numpy as np

from curate.evaluate.metrics import Metric

EPS = 1e-3
RIDGE = 1e-6
HUBER_FRACTION = 0.02
LAWS = ("log_linear", "log_weights", "lightgbm")


class LogLinear:
    name = "log_linear"
    formula = "loss = exp(c) + exp(sum_i t_i * w_i)"

    def fit(self, W: np.ndarray, loss: np.ndarray) -> "LogLinear":
        from scipy.optimize import least_squares

        W, loss = np.asarray(W, float), np.asarray(loss, float)
        k = W.shape[1]
        delta = max(HUBER_FRACTION * float(np.median(np.abs(loss))), 1e-9)
        floor = max(float(loss.min()), 1e-9)

        ridge = math.sqrt(RIDGE * len(loss))

        def residuals(p):
            return np.r_[np.exp(p[0]) + np.exp(W @ p[1:]) - loss, ridge * p[1:]]

        def jacobian(p):
            top = np.hstack([np.full((len(W), 1), np.exp(p[0])), np.exp(W @ p[1:])[:, None] * W])
            return np.vstack([top, np.hstack([np.zeros((k, 1)), ridge * np.eye(k)])])

        best = None
        for f in (0.9, 0.5):  # the floor exp(c) as a share of the smallest loss (on the benchmark swarm, 0.01, 0.5
            # and 0.9 all reach the same optimum; two starts guard against a bad one)
            c0 = math.log(f * floor)
            z = np.log(np.maximum(loss - math.exp(c0), 1e-12))
            t0 = np.linalg.solve(W.T @ W + RIDGE * len(loss) * np.eye(k), W.T @ z)
            # scipy's trust-region step divides by zero on a degenerate problem (fewer distinct mixtures than
            # coefficients) and warns; the ridge rows keep the solution defined, so the warning is noise.
            with np.errstate(divide="ignore", invalid="ignore"):
                r = least_squares(residuals, np.r_[c0, t0], jac=jacobian, loss="huber", f_scale=delta, method="trf",
                                  max_nfev=500)
            if best is None or r.cost < best.cost:
                best = r
        self.c, self.t = float(best.x[0]), best.x[1:].copy()
        return self

    def predict(self, W) -> np.ndarray:
        return math.exp(self.c) + np.exp(np.atleast_2d(np.asarray(W, float)) @ self.t)

    def params(self, sources: list[str]) -> dict:
        return {"c": self.c, **{f"t_{s}": float(t) for s, t in zip(sources, self.t)}}


class LogWeights:
    name = "log_weights"
    formula = f"loss = c + sum_i b_i * log(w_i + {EPS:g})"

    @staticmethod
    def design(W) -> np.ndarray:
        W = np.atleast_2d(np.asarray(W, float))
        return np.hstack([np.ones((len(W), 1)), np.log(W + EPS)])

    def fit(self, W, loss) -> "LogWeights":
        X, y = self.design(W), np.asarray(loss, float)
        penalty = RIDGE * len(y) * np.eye(X.shape[1])
        penalty[0, 0] = 0.0  # the intercept is not penalised
        self.coef = np.linalg.solve(X.T @ X + penalty, X.T @ y)
        return self

    def predict(self, W) -> np.ndarray:
        return self.design(W) @ self.coef

    def params(self, sources: list[str]) -> dict:
        return {"c": float(self.coef[0]), **{f"b_{s}": float(b) for s, b in zip(sources, self.coef[1:])}}


class LightGBM:
    name = "lightgbm"
    formula = "loss = gradient-boosted trees on the weights (RegMix-style)"

    def fit(self, W, loss) -> "LightGBM":
        import lightgbm as lgb

        W, loss = np.asarray(W, float), np.asarray(loss, float)
        # lightgbm's own API: its scikit-learn wrapper needs scikit-learn installed. min_data_in_leaf and
        # min_data_in_bin at their defaults (20, 3) would forbid any split on tens of runs.
        params = {"objective": "regression", "learning_rate": 0.04, "num_leaves": 8,
                  "min_data_in_leaf": max(2, len(W) // 10), "min_data_in_bin": 1, "min_sum_hessian_in_leaf": 0.0,
                  "seed": 0, "deterministic": True, "force_row_wise": True, "num_threads": 1, "verbosity": -1}
        self.model = lgb.train(params, lgb.Dataset(W, loss, params={"verbosity": -1}), num_boost_round=300)
        return self

    def predict(self, W) -> np.ndarray:
        return self.model.predict(np.atleast_2d(np.asarray(W, float)))

    def params(self, sources: list[str]) -> dict:
        return {"trees": int(self.model.num_trees()), "splits_per_source": {
            s: int(v) for s, v in zip(sources, self.model.feature_importance())}}


def make_law(name: str):
    try:
        return {"log_linear": LogLinear, "log_weights": LogWeights, "lightgbm": LightGBM}[name]()
    except KeyError:
        raise ValueError(f"fit.law: unknown law {name!r}; expected one of {list(LAWS)}") from None


def fit_law(name: str, W, values, metric: Metric):
    """A law fitted to a metric's values (turned into its loss form)."""
    return make_law(name).fit(np.asarray(W, float), metric.loss(values))


def predict_metric(law, W, metric: Metric) -> np.ndarray:
    """The law's prediction in the metric's own units, clipped to its range."""
    return metric.clip(metric.from_loss(law.predict(W)))


class Model:
    """A law fitted to one metric; predicts in the metric's units, clipped to its range."""

    def __init__(self, law, metric: Metric):
        self.law, self.metric = law, metric

    def predict(self, W) -> np.ndarray:
        return predict_metric(self.law, W, self.metric)

    def params(self, sources: list[str]) -> dict:
        return self.law.params(sources)


class MeanOf:
    """A metric that is the mean of others (bpb_mean) predicted as the mean of their models, the way olmix's
    objective averages per-metric predictions. Fitted directly, log_linear could not follow it: exp of a linear
    function is monotone along every line of the simplex, while a mean of per-source losses, each falling with
    its own source's weight, is lowest inside it."""

    def __init__(self, parts: dict[str, Model]):
        self.parts = parts

    def predict(self, W) -> np.ndarray:
        return np.mean([m.predict(W) for m in self.parts.values()], axis=0)

    def params(self, sources: list[str]) -> dict:
        return {"mean_of": list(self.parts)}


def fit_model(law: str, W, values: dict, metrics: dict, name: str, parts: list[str] | None = None):
    """The model of metric `name`: its own law, or the mean of its parts' laws."""
    if parts:
        return MeanOf({p: Model(fit_law(law, W, values[p], metrics[p]), metrics[p]) for p in parts})
    return Model(fit_law(law, W, values[name], metrics[name]), metrics[name])
