"""Collecting the finished runs (from their eval.json files) into the report: report.md, table.csv, runs.csv,
fit.json, the olmix hand-off (`olmix`: ratios.csv, metrics.csv, priors.json, olmix-fit.yaml) and the plots.

Every metric's direction and range come from eval.json, where the evaluation declared them (`Metric`).
Table: one row per mixture and budget; each metric as mean +- std over seeds (sample std, ddof=1; 0 for one
seed), its change against the baseline's mean at the same budget, flagged `** better` / `** worse` where
|change| > 2 x the baseline's std over its seeds (the seed noise floor; no flag when that std is 0 or the
baseline has one seed: said in the report). Every run is scored on the same held-out text and items, so the
comparison is paired and the floor is the seed spread; the evaluation's standard errors (how precisely a
level is measured on that text) are listed beside it.
"""

import csv
import json
from pathlib import Path

import numpy as np

from curate.ablate.plan import AblationConfig, RunSpec
from curate.evaluate import read_metrics
from curate.evaluate.metrics import Metric

FLAG = "**"


def metric_order(m: str) -> tuple:
    return (0 if m.startswith("bpb_") and m != "bpb_mean" else 1 if m == "bpb_mean" else 2, m)


def collect(runs: list[RunSpec], out_dir: Path, finished: dict[str, dict]) -> tuple[list[dict], dict, dict]:
    """(records, specs, derived): one record per finished run (spec fields, metric values, their standard
    errors); metric name -> Metric; derived metric name -> the metrics it is the mean of (None: unknown)."""
    records, specs, derived = [], {}, {}
    for r in runs:
        if r.id not in finished:
            continue
        path = out_dir / "runs" / r.id / "eval.json"
        if not path.is_file():
            raise ValueError(f"{path}: missing, but the ledger lists run {r.id} as finished; delete its ledger line "
                             "(or the run folder) and rerun")
        ev = json.loads(path.read_text())
        metrics = read_metrics(ev)
        for m, e in metrics.items():
            if specs.setdefault(m, e["metric"]) != e["metric"]:
                raise ValueError(f"{path}: metric {m} is declared {e['metric']}, other runs declare {specs[m]}")
            if e["derived"]:
                derived[m] = e["mean_of"]
        records.append({"id": r.id, "tag": r.tag, "mixture": r.mixture, "weights": r.weights_dict(),
                        "tokens": r.tokens, "seed": r.seed, "metrics": {m: e["value"] for m, e in metrics.items()},
                        "se": {m: e["se"] for m, e in metrics.items()}, "eval": ev,
                        "final_loss": finished[r.id].get("final_loss")})
    specs = {m: specs[m] for m in sorted(specs, key=metric_order)}
    return records, specs, derived


def mean_std(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values, float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def table_rows(records: list[dict], specs: dict[str, Metric]) -> list[dict]:
    """Rows per (mixture, tokens), baseline first, verification runs last: weights, seeds,
    {metric: {mean, std, n, values, delta, flag}}; flag: 1 better, -1 worse, 0 within the noise floor."""
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        groups.setdefault((rec["mixture"], rec["tokens"]), []).append(rec)
    rows = []
    for (mixture, tokens), recs in groups.items():
        row = {"mixture": mixture, "tokens": tokens, "tag": recs[0]["tag"], "weights": recs[0]["weights"],
               "seeds": sorted(r["seed"] for r in recs), "runs": [r["id"] for r in recs], "metrics": {}}
        for m in specs:
            vals = [r["metrics"][m] for r in recs if m in r["metrics"]]
            if vals:
                mean, std = mean_std(vals)
                row["metrics"][m] = {"mean": mean, "std": std, "n": len(vals), "values": vals}
        rows.append(row)
    for row in rows:
        base = next((b for b in rows if b["tag"] == "baseline" and b["tokens"] == row["tokens"]), None)
        for m, cell in row["metrics"].items():
            if base is None or m not in base["metrics"]:
                cell.update(delta=None, flag=0)
                continue
            b = base["metrics"][m]
            delta = cell["mean"] - b["mean"]
            noisy = row["tag"] == "baseline" or b["n"] < 2 or b["std"] == 0 or abs(delta) <= 2 * b["std"]
            cell.update(delta=delta, baseline_std=b["std"], flag=0 if noisy else int(np.sign(specs[m].gain(delta))))
    rows.sort(key=lambda r: (r["tokens"], {"baseline": 0, "mixture": 1}.get(r["tag"], 2)))
    return rows


def weights_text(w: dict[str, float]) -> str:
    return " / ".join(f"{100 * w[s]:.0f}" for s in sorted(w))


def digits(m: Metric) -> int:
    return 3 if m.kind == "accuracy" else 4


def write_tables(cfg: AblationConfig, records: list[dict], rows: list[dict], specs: dict, out_dir: Path) -> dict:
    """runs.csv (one row per run: weights and metric values as measured) and table.csv (the table)."""
    sources = list(cfg.sources)
    with open(out_dir / "runs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "tag", "mixture", "tokens", "seed"] + sources + list(specs))
        for r in records:
            w.writerow([r["id"], r["tag"], r["mixture"], r["tokens"], r["seed"]]
                       + [repr(r["weights"].get(s, 0.0)) for s in sources]
                       + [repr(r["metrics"][m]) if m in r["metrics"] else "" for m in specs])
    with open(out_dir / "table.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mixture", "tag", "tokens", "seeds"] + [f"w_{s}" for s in sources]
                   + [f"{m}_{k}" for m in specs for k in ("mean", "std", "delta", "flag")])
        for row in rows:
            cells = []
            for m in specs:
                c = row["metrics"].get(m)
                cells += ["", "", "", ""] if c is None else [
                    repr(c["mean"]), repr(c["std"]), "" if c["delta"] is None else repr(c["delta"]), c["flag"]]
            w.writerow([row["mixture"], row["tag"], row["tokens"], " ".join(map(str, row["seeds"]))]
                       + [repr(row["weights"].get(s, 0.0)) for s in sources] + cells)
    return {n: str(out_dir / n) for n in ("runs.csv", "table.csv")}


def markdown_table(cfg: AblationConfig, rows: list[dict], specs: dict) -> tuple[str, list[str]]:
    sources = list(cfg.sources)
    head = ["mixture", "tokens", "weights % (" + " / ".join(sources) + ")", "seeds"] + [
        f"{m} ({'↓' if specs[m].minimize else '↑'})" for m in specs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in rows:
        cells = [row["mixture"] + (" (verification)" if row["tag"] == "proposal" else ""), f"{row['tokens']:,}",
                 weights_text(row["weights"]), str(len(row["seeds"]))]
        for m, spec in specs.items():
            c = row["metrics"].get(m)
            if c is None:
                cells.append("")
                continue
            d = digits(spec)
            text = f"{c['mean']:.{d}f}" + (f" ± {c['std']:.{d}f}" if c["n"] > 1 else "")
            if row["tag"] != "baseline" and c["delta"] is not None:
                flag = {1: f" {FLAG} better", -1: f" {FLAG} worse"}.get(c["flag"], "")
                text += f" ({c['delta']:+.{d}f}{flag})"
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


def evaluation_section(records: list[dict], rows: list[dict], specs: dict, warnings: list[str]) -> list[str]:
    """How much text and how many items each metric rests on, its standard error, and the seed noise floor."""
    ref = next((r for r in records if r["tag"] == "baseline"), records[0] if records else None)
    if ref is None:
        return []
    base = next((row for row in rows if row["tag"] == "baseline" and row["tokens"] == ref["tokens"]), None)
    entries = ref["eval"].get("metrics", {})
    lines = ["| metric | measured on | standard error (one run) | seed std of the baseline |", "|---|---|---|---|"]
    for m, spec in specs.items():
        e = entries.get(m, {})
        if e.get("derived"):
            continue
        if spec.kind == "bpb":
            on = f"{e['tokens']:,} tokens of {e['documents']} documents" if e.get("tokens") is not None else "?"
        else:
            on = f"{e['n']} items" if e.get("n") else "?"
        se = ref["se"].get(m)
        std = base["metrics"][m]["std"] if base and m in base["metrics"] and base["metrics"][m]["n"] > 1 else None
        d = digits(spec)
        lines.append(f"| {m} | {on} | {'n/a' if se is None else f'{se:.{d}f}'} | "
                     f"{'n/a' if std is None else f'{std:.{d}f}'} |")
    lines += ["", "The standard error says how precisely one run's score is measured on this text (bits per byte: "
              "over documents and 1,024-token blocks; accuracy: binomial). Every run is scored on the same text, so "
              "a change between mixtures is compared with the seed spread (the flags), not with it; a large one "
              "says the held-out text is too small to stand for its source."]
    if warnings:
        lines += [""] + [f"- {w}" for w in warnings]
    return lines


def fit_section(cfg: AblationConfig, records: list[dict], specs: dict,
                derived: dict) -> tuple[dict | None, dict, list[str]]:
    """(fit.json content, fitted laws of the proposing law per metric, markdown lines)."""
    from curate.ablate.fit import fit_all

    records = [r for r in records if r["tag"] != "proposal"]
    if not records:
        return None, {}, ["No finished runs: nothing to fit."]
    budget = max(r["tokens"] for r in records)
    recs = [r for r in records if r["tokens"] == budget]
    active = [s for s in cfg.sources if any(r["weights"].get(s, 0) > 0 for r in recs)]
    if len(active) < 2 or len({tuple(r["weights"][s] for s in active) for r in recs}) < 2:
        return None, {}, ["Fewer than 2 distinct mixtures (or sources): no mixing law fitted."]
    W = np.array([[r["weights"][s] for s in active] for r in recs])
    values = {m: np.array([r["metrics"][m] for r in recs]) for m in specs if all(m in r["metrics"] for r in recs)}
    natural = {s: cfg.natural[s] for s in active}
    trust = {"natural": {s: w / sum(natural.values()) for s, w in natural.items()}, "train_tokens": cfg.train_tokens,
             "target_tokens": cfg.fit["target_tokens"], "max_epochs": cfg.fit["max_epochs"], "kl_max": cfg.fit["kl_max"]}
    fit, fitted = fit_all(W, values, specs, [r["mixture"] for r in recs], active, cfg.fit["metric"], cfg.fit["law"],
                          cfg.fit["laws"], trust, means=derived)
    fit.update(tokens=budget, trust=trust)
    p = fit["proposal"]
    laws = cfg.fit["laws"]
    lines = [f"Fitted per metric on the {len(recs)} runs at {budget:,} tokens over {', '.join(active)}"
             + (" (other budgets are not in the fit)" if len({r['tokens'] for r in records}) > 1 else "")
             + ", to each metric's lower-is-better form (bpb as it is, accuracy as 1 - accuracy); predictions are "
             "clipped to the metric's range. Laws:", ""]
    lines += [f"- `{n}`: `{fit['laws'][n]['formula']}`" for n in laws]
    lines += [f"- `{m}`: the mean of the laws' predictions of {', '.join(p)} (as olmix averages its per-metric "
              "predictions)" for m, p in fit["means"].items()]
    lines += ["", "Held-out Spearman of predicted and observed means across mixtures, leave one mixture out / "
              "5-fold over mixtures (the same thing with 5 mixtures or fewer):", "",
              "| metric | " + " | ".join(laws) + " |", "|" + "---|" * (len(laws) + 1)]
    for m in values:
        cells = []
        for n in laws:
            h = fit["laws"][n]["held_out"][m]
            cells.append(" / ".join("n/a" if h[k]["spearman"] is None else f"{h[k]['spearman']:+.2f}"
                                    for k in ("loo", "kfold")))
        lines.append(f"| {m} ({specs[m].better} is better) | " + " | ".join(cells) + " |")
    h = fit["laws"][p["law"]]["held_out"][p["metric"]]["loo"]
    lines += ["", f"Over {h['mixtures']} mixtures." + (f" {h['note'][0].upper()}{h['note'][1:]}." if h["note"] else "")]
    lines += ["", proposal_text(p, cfg, specs)]
    tested = {tuple(r["weights"][s] for s in active) for r in recs}
    if len(tested) < len(active) + 1:
        lines.append(f"The laws have {len(active) + 1} coefficients and only {len(tested)} distinct mixtures to fit them: "
                     "this proposal is a shape of the fit, not evidence; test more mixtures (design.kind: dirichlet).")
    best = np.array([p["weights"][s] for s in active])
    if p["basis"] == "law" and np.min(np.abs(np.array(sorted(tested)) - best).sum(axis=1)) > 0.1:
        lines.append("It lies away from every tested mixture (L1 distance > 0.1): the law extrapolates there; "
                     "`curate ablate --verify` trains it and reports predicted against measured.")
    return fit, fitted[p["law"]], lines


def proposal_text(p: dict, cfg: AblationConfig, specs: dict) -> str:
    spec = specs[p["metric"]]
    d = digits(spec)
    mix = ", ".join(f"{s} {100 * w:.0f}%" for s, w in p["weights"].items())
    tr = p["trust_region"]
    region = (f"KL to the natural mix {p['kl']:.2f} nats" + (f" (bound {tr['kl_max']:g})" if tr["kl_max"] else "")
              + f"; at {tr['target_tokens']:,} target tokens each source repeats at most "
              f"{max(p['epochs'].values()):.2f} epochs (limit {tr['max_epochs']:g})")
    predicted = ", ".join(f"{m} {v:.{digits(specs[m])}f}" for m, v in p["predicted"].items())
    if p["basis"] == "measured":
        head = (f"Proposed mixture for `{p['metric']}` ({spec.better} is better): {mix}, the measured mixture "
                f"`{p['mixture']}` ({p['metric']} {p['measured'][p['metric']]:.{d}f} over its seeds). No mixture in "
                f"the trust region is predicted by the `{p['law']}` law to beat it, so none is proposed in its place.")
    else:
        bm = p.get("best_measured")
        head = (f"Proposed mixture for `{p['metric']}` ({spec.better} is better), by the `{p['law']}` law"
                + (" (chosen by held-out Spearman)" if cfg.fit["law"] == "auto" else "") + f": {mix}. "
                + (f"It is predicted to beat the best measured mixture, `{bm['mixture']}` ({bm['value']:.{d}f})."
                   if bm else ""))
    return f"{head} Trust region: {region}. The law there predicts: {predicted}."


def verification_section(verify: dict, specs: dict) -> list[str]:
    how = (f"trained with seeds {verify['seeds']} after the fit" if verify["basis"] == "law" else
           f"a mixture measured before (seeds {verify['seeds']}, in the fit)")
    lines = [f"`{verify['mixture']}`, {how}: the `{verify['law']}` law's prediction against the measurement; the "
             "noise floor is twice the baseline's seed std.", "",
             "| metric | predicted | measured (mean ± std) | measured - predicted | noise floor | within |",
             "|---|---|---|---|---|---|"]
    for m, v in verify["metrics"].items():
        d = digits(specs[m])
        floor = "n/a" if v["floor"] is None else f"{v['floor']:.{d}f}"
        within = "n/a" if v["floor"] is None else ("yes" if abs(v["error"]) <= v["floor"] else "no")
        lines.append(f"| {m} | {v['predicted']:.{d}f} | {v['mean']:.{d}f} ± {v['std']:.{d}f} | {v['error']:+.{d}f} | "
                     f"{floor} | {within} |")
    return lines


def write_report(cfg: AblationConfig, runs: list[RunSpec], finished: dict[str, dict], out_dir: Path,
                 warnings: list[str] | None = None, verify: dict | None = None) -> dict:
    """Writes report.md, the CSVs, the olmix files, the plots and fit.json; returns the summary."""
    from curate.ablate.olmix import write_olmix
    from curate.ablate.plots import QUESTIONS, plot_all, target_metric

    records, specs, derived = collect(runs, out_dir, finished)
    rows = table_rows(records, specs)
    files = write_tables(cfg, records, rows, specs, out_dir)
    table, notes = markdown_table(cfg, rows, specs)
    fit, models, fit_lines = fit_section(cfg, records, specs, derived)
    if fit is not None:
        (out_dir / "fit.json").write_text(json.dumps(fit, indent=2, sort_keys=True) + "\n")
        files["fit.json"] = str(out_dir / "fit.json")
        fitted = [r for r in records if r["tag"] != "proposal" and r["tokens"] == fit["tokens"]]
        files.update(write_olmix(out_dir, fitted, specs, derived, list(cfg.sources), cfg.natural, cfg.train_tokens,
                                 cfg.fit["target_tokens"], cfg.fit["max_epochs"]))
        budget_rows = [row for row in rows if row["tokens"] == fit["tokens"]]
        plots = plot_all(cfg.name, budget_rows, list(specs), specs, fit["sources"], cfg.natural, models,
                         fit.get("proposal"), cfg.fit["kl_max"], out_dir)
    else:
        plots = []
    p = cfg.proxy
    params = next((finished[r["id"]].get("params") for r in records if finished[r["id"]].get("params")), None)
    md = [f"# Ablation `{cfg.name}`", "",
          f"Config: `{cfg.path}`. {len(records)} of {len(runs)} planned runs finished"
          + ("." if len(records) == len(runs) else " (the report covers those; rerun to finish the others)."),
          f"Proxies: depth {p['depth']}" + (f" ({params:,} parameters)" if isinstance(params, int) else "")
          + f", seq_len {p['seq_len']}, batch {p['batch_size']} x {p['grad_accum']}, budgets "
          + ", ".join(f"{t:,}" for t in p["tokens"]) + f" tokens; seeds {cfg.seeds}, baseline seeds {cfg.baseline_seeds}.",
          "Baseline: " + ", ".join(f"{s} {100 * w:.1f}%" for s, w in sorted(cfg.baseline.items()))
          + ("" if cfg.baseline == cfg.natural else " (given); natural mix: "
             + ", ".join(f"{s} {100 * w:.1f}%" for s, w in sorted(cfg.natural.items()))) + ".", "",
          "## Table", "",
          "Mean ± std over seeds (a single value: one seed); in parentheses the change against the baseline's mean at "
          f"the same budget, `{FLAG} better` / `{FLAG} worse` where |change| > 2 x the baseline's std over its seeds. "
          "↓: lower is better (bits per byte on each source's held-out text), ↑: higher is better (task accuracy).",
          "", table, ""]
    md += [f"- {n}" for n in notes] + ([""] if notes else [])
    md += ["## Evaluation size", ""] + evaluation_section(records, rows, specs, warnings or []) + [""]
    md += ["## Mixing laws", ""] + fit_lines + [""]
    if verify:
        md += ["## Verification", ""] + verification_section(verify, specs) + [""]
        (out_dir / "verify.json").write_text(json.dumps(verify, indent=2, sort_keys=True) + "\n")
        files["verify.json"] = str(out_dir / "verify.json")
    else:  # a verification of an earlier fit must not sit beside this report
        (out_dir / "verify.json").unlink(missing_ok=True)
    if plots:
        md += ["## Plots", ""]
        for f in plots:
            question = QUESTIONS[Path(f).name].format(metric=f"`{target_metric(list(specs), fit.get('proposal'))}`")
            md += [question, "", f"![{Path(f).stem}]({Path(f).name})", ""]
    md += ["## Files", "",
           "- `ratios.csv`, `metrics.csv`, `priors.json`, `olmix-fit.yaml`: the hand-off to olmix "
           "(`olmix fit --config olmix-fit.yaml --output-dir DIR`); metrics.csv is lower-is-better throughout "
           "(accuracy as err_<task> = 1 - accuracy; bpb_mean left out);",
           "- `runs.csv`: every run's weights and metrics as measured; `table.csv`: the table; `fit.json`: the laws, "
           "their held-out checks and the proposal;",
           "- `ledger.jsonl`: finished runs; `runs/<id>/`: run.json, loss.csv, eval.json of each run."]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")
    files["report.md"] = str(out_dir / "report.md")
    for f in plots:
        files[Path(f).name] = f
    summary = {"name": cfg.name, "out_dir": str(out_dir), "planned": len(runs), "finished": len(records),
               "complete": len(records) == len(runs), "baseline": cfg.baseline, "rows": rows, "fit": fit,
               "files": files, "table": table, "warnings": warnings or [], "verify": verify}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return summary
