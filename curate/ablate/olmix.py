"""The hand-off to olmix (allenai/olmix, `olmix fit --config olmix-fit.yaml --output-dir DIR`): its swarm files,
its priors and a fit config that names them.

    ratios.csv       run, then one column per source: the run's mixture weights (each row sums to 1)
    metrics.csv      run, then one column per metric, every one lower-is-better, as olmix's fit assumes of
                     all of them (it minimises their mean): bpb_<source> as measured; an accuracy turned into
                     its error rate, err_<task> = 1 - acc_<task>; bpb_mean left out (it would count every
                     source a second time in that mean)
    priors.json      {"relative_sizes": the natural mix, "token_counts": train tokens per source}, the
                     `priors` block of olmix's fit config
    olmix-fit.yaml   swarm + priors, regression log_linear (the law curate fits under the same name), the exact
                     proposer, and the repetition constraint at fit.target_tokens and fit.max_epochs

The rows are the runs the mixing laws are fitted on (the largest budget; not the verification runs), so
olmix and curate fit the same data. olmix's loader accepts `run` as the id column and skips it when it looks
for source and metric columns.
"""

import csv
import json
from pathlib import Path

import yaml

from curate.evaluate.metrics import Metric


def olmix_name(name: str, metric: Metric) -> str:
    if metric.minimize:
        return name
    return "err_" + name[len("acc_"):] if name.startswith("acc_") else f"loss_{name}"


def write_olmix(out_dir: Path, records: list[dict], specs: dict[str, Metric], derived: dict, sources: list[str],
                natural: dict[str, float], train_tokens: dict[str, int], target_tokens: int,
                max_epochs: float) -> dict[str, str]:
    """Writes the four files (module docstring) for `records` (the fitted runs); returns name -> path."""
    metrics = [m for m in specs if m not in derived]
    with open(out_dir / "ratios.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run"] + sources)
        for r in records:
            w.writerow([r["id"]] + [repr(r["weights"].get(s, 0.0)) for s in sources])
    with open(out_dir / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run"] + [olmix_name(m, specs[m]) for m in metrics])
        for r in records:
            w.writerow([r["id"]] + [repr(float(specs[m].loss(r["metrics"][m]))) if m in r["metrics"] else ""
                                    for m in metrics])
    priors = {"relative_sizes": {s: natural[s] for s in sources}, "token_counts": {s: int(train_tokens[s]) for s in sources}}
    (out_dir / "priors.json").write_text(json.dumps(priors, indent=2) + "\n")
    config = {"swarm": {"ratios": str(out_dir / "ratios.csv"), "metrics": str(out_dir / "metrics.csv")},
              "priors": priors,
              "regression": {"type": "log_linear", "seed": 0, "n_test": 0, "train_split": 1.0},
              "proposer": {"type": "exact", "kl_reg": 0.1, "fit_only": False},
              "constraints": {"enabled": True, "target_tokens": int(target_tokens), "repetition_factor": float(max_epochs)}}
    (out_dir / "olmix-fit.yaml").write_text(
        "# olmix fit --config olmix-fit.yaml --output-dir olmix-out   (written by curate ablate)\n"
        + yaml.safe_dump(config, sort_keys=False))
    return {n: str(out_dir / n) for n in ("ratios.csv", "metrics.csv", "priors.json", "olmix-fit.yaml")}
