"""What a score means: each kind of metric declares, where it is defined (`BPB` in bpb.py, `ACCURACY` in
cloze.py), whether lower or higher is better and the range its values can take. eval.json carries the
declaration next to every value, so whoever reads the file (the ablation table, its flags, the mixing laws,
the proposal, the olmix hand-off) takes the direction from there instead of guessing it from a name.

    from curate.evaluate.metrics import Metric
    m = Metric.from_dict(eval_json["metrics"]["acc_lastword_web"])
    m.better                 # "higher"
    m.loss(0.7)              # 0.3: the lower-is-better, >= 0 form a fit minimises (high - value)
    m.clip(-0.1)             # 0.0: a prediction outside the range is clipped into it
"""

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    kind: str            # "bpb" or "accuracy"
    better: str          # "lower" or "higher"
    low: float           # the smallest value the metric can take
    high: float          # the largest (math.inf when unbounded)
    unit: str

    def __post_init__(self):
        if self.better not in ("lower", "higher"):
            raise ValueError(f"metric {self.kind}: better must be 'lower' or 'higher', got {self.better!r}")
        if self.better == "higher" and not math.isfinite(self.high):
            raise ValueError(f"metric {self.kind}: a higher-is-better metric needs a finite upper bound for its loss form")

    def as_dict(self) -> dict:
        """JSON-safe (an infinite bound is written as null)."""
        return {"kind": self.kind, "better": self.better, "low": _finite(self.low), "high": _finite(self.high),
                "unit": self.unit}

    @classmethod
    def from_dict(cls, d: dict) -> "Metric":
        return cls(d["kind"], d["better"], -math.inf if d["low"] is None else float(d["low"]),
                   math.inf if d["high"] is None else float(d["high"]), d["unit"])

    @property
    def minimize(self) -> bool:
        return self.better == "lower"

    def clip(self, x):
        return np.clip(x, self.low, self.high)

    def loss(self, x):
        """The lower-is-better form, >= 0 on the metric's range: value - low (lower is better) or high - value
        (higher is better; an accuracy becomes the error rate 1 - accuracy)."""
        x = np.asarray(x, float)
        return x - self.low if self.minimize else self.high - x

    def from_loss(self, loss):
        loss = np.asarray(loss, float)
        return loss + self.low if self.minimize else self.high - loss

    def gain(self, delta):
        """A change turned into an improvement: positive when the change is for the better."""
        return -delta if self.minimize else delta

    def best(self, values) -> int:
        """Index of the best of `values`."""
        return int(np.argmin(values) if self.minimize else np.argmax(values))


def _finite(x: float):
    return x if math.isfinite(x) else None
