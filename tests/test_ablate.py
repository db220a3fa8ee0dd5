"""`curate ablate`: the mixture designs, the config checks, the resumable ledger, the report's numbers against
the runs' eval.json files, and the mixing-law fit against a known synthetic law."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from curate.ablate import ablate, load_ablation_config, make_plan
from curate.ablate.fit import EPS, fit_all, loo_spearman, spearman
from curate.ablate.plan import dirichlet_mixtures, grid_mixtures
from curate.config import ConfigError

TINY = {"depth": 1, "seq_len": 32, "batch_size": 4, "tokens": [32 * 4 * 12], "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_thread")




def write_config(tmp: Path, corpus: Path, **kw) -> Path:
    cfg = {"name": "t", "sources": "{tokens}",
           "design": {"kind": "explicit", "mixtures": [{"books": 0.9, "web": 0.1}, {"books": 1, "web": 3}]},
           "baseline": {"seeds": [0, 1]}, "seeds": [0], "proxy": TINY,
           "eval": {"max_tokens": 2048, "lastword_items": 8}}
    cfg.update(kw)
    path = tmp / "ablation.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def load(tmp, corpus, **kw):
    return load_ablation_config(str(write_config(tmp, corpus, **kw)), {"tokens": str(corpus)})


# ---- designs and config ----------------------------------------------------------------------------------

def test_grid_step_half_over_three_sources_gives_the_six_simplex_points(corpus, tmp_path):
    cfg = load(tmp_path, corpus, design={"kind": "grid", "step": 0.5})
    got = sorted(tuple(m[s] for s in ("books", "web", "wiki")) for m in cfg.mixtures)
    assert got == sorted([(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)])
    assert len(grid_mixtures(["a", "b"], 0.25)) == 5
    with pytest.raises(ConfigError, match="design.step"):
        load(tmp_path, corpus, design={"kind": "grid", "step": 0.3})


def test_dirichlet_draws_n_reproducible_mixtures(corpus, tmp_path):
    a = load(tmp_path, corpus, design={"kind": "dirichlet", "n": 7, "alpha": 0.5, "seed": 3}).mixtures
    b = load(tmp_path, corpus, design={"kind": "dirichlet", "n": 7, "alpha": 0.5, "seed": 3}).mixtures
    c = dirichlet_mixtures(["books", "web", "wiki"], 7, 0.5, 4)
    assert len(a) == 7 and a == b and [list(m.values()) for m in a] != [list(m.values()) for m in c]
    assert all(abs(sum(m.values()) - 1) < 1e-9 and min(m.values()) >= 0 for m in a)
    two = load(tmp_path, corpus, design={"kind": "dirichlet", "n": 3, "sources": ["books", "wiki"]}).mixtures
    assert all(m["web"] == 0 for m in two)


def test_explicit_mixtures_are_normalised_and_bad_ones_refused(corpus, tmp_path):
    cfg = load(tmp_path, corpus)
    assert cfg.mixtures[1] == {"books": 0.25, "web": 0.75, "wiki": 0.0}
    assert cfg.baseline_seeds == [0, 1]
    meta = json.loads((corpus / "meta.json").read_text())["sources"]
    total = sum(v["train"]["tokens"] for v in meta.values())
    assert cfg.baseline == pytest.approx({s: v["train"]["tokens"] / total for s, v in meta.items()})
    for bad, match in [({"books": -1, "web": 1}, r"mixtures\[0\].*>= 0"), ({"books": 0, "web": 0}, "sum to 0"),
                       ({"novels": 1}, "unknown source.*novels"), ({"books": "a lot"}, ">= 0")]:
        with pytest.raises(ConfigError, match=match):
            load(tmp_path, corpus, design={"kind": "explicit", "mixtures": [bad]})
    for kw, match in [({"proxy": {**TINY, "depth": 0}}, "proxy.depth"), ({"proxy": {"width": 3}}, "proxy.*width"),
                      ({"seeds": []}, "seeds"), ({"colour": 1}, "unknown top-level.*colour"),
                      ({"design": {"kind": "latin"}}, "design.kind"), ({"eval": {"tasks": ["nope.jsonl"]}}, "eval.tasks"),
                      ({"fit": {"minimize": "yes"}}, "fit.minimize")]:
        with pytest.raises(ConfigError, match=match):
            load(tmp_path, corpus, **kw)
    with pytest.raises(ConfigError, match="unknown variable"):
        load_ablation_config(str(write_config(tmp_path, corpus)))


def test_plan_ids_are_stable_and_baseline_tagged(corpus, tmp_path):
    cfg = load(tmp_path, corpus, proxy={**TINY, "tokens": [1536, 200_000]})
    runs = make_plan(cfg)
    ids = [r.id for r in runs]
    assert len(ids) == len(set(ids)) == 2 * (2 + 2)
    assert "books90-web10_t1.54k_s0" in ids and "books25-web75_t200k_s0" in ids and "baseline_t200k_s1" in ids
    assert [r.tag for r in runs].count("baseline") == 4
    assert ids == [r.id for r in make_plan(load(tmp_path, corpus, proxy={**TINY, "tokens": [1536, 200_000]}))]


# ---- running, the ledger, the report ----------------------------------------------------------------------

def ran(lines: list[str]) -> list[str]:
    return [line.split()[1] for line in lines if line.startswith("running ")]


def test_ledger_resumes_and_report_matches_eval_files(corpus, tmp_path):
    config = write_config(tmp_path, corpus, fit={"metric": "bpb_books"})
    out = tmp_path / "abl"
    logs: list[str] = []
    s = ablate(str(config), str(out), overrides={"tokens": str(corpus)}, max_runs=2, log=logs.append)
    assert ran(logs) == ["baseline_t1.54k_s0", "baseline_t1.54k_s1"] and s["finished"] == 2 and not s["complete"]

    logs.clear()
    s = ablate(str(config), str(out), overrides={"tokens": str(corpus)}, log=logs.append)
    assert ran(logs) == ["books90-web10_t1.54k_s0", "books25-web75_t1.54k_s0"] and s["complete"]
    assert any("[4/4]" in line and "ETA" not in line for line in logs)

    # Drop one ledger line: only that run executes again (its checkpoint is there: training resumes at the end).
    ledger = out / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    ledger.write_text("\n".join(line for line in lines if "baseline_t1.54k_s1" not in line) + "\n")
    logs.clear()
    s = ablate(str(config), str(out), overrides={"tokens": str(corpus)}, log=logs.append)
    assert ran(logs) == ["baseline_t1.54k_s1"]
    logs.clear()
    ablate(str(config), str(out), overrides={"tokens": str(corpus)}, log=logs.append)
    assert ran(logs) == []

    # A changed config (another eval budget) reruns everything.
    logs.clear()
    ablate(str(config), str(out), overrides={"tokens": str(corpus), "eval.max_tokens": 1024}, max_runs=1,
           log=logs.append)
    assert ran(logs) == ["baseline_t1.54k_s0"] and any("changed config" in line for line in logs)
    ablate(str(config), str(out), overrides={"tokens": str(corpus)}, max_runs=1, log=logs.append)

    # The report's numbers, recomputed from the eval.json files.
    evals = {p.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/eval.json")}
    assert len(evals) == 4
    with open(out / "metrics.csv", newline="") as f:
        metrics = {r["run"]: r for r in csv.DictReader(f)}
    with open(out / "ratios.csv", newline="") as f:
        ratios = {r["run"]: r for r in csv.DictReader(f)}
    assert set(metrics) == set(ratios) == set(evals)
    assert list(next(iter(ratios.values()))) == ["run", "books", "web", "wiki"]
    assert float(ratios["books25-web75_t1.54k_s0"]["web"]) == pytest.approx(0.75)
    for run, ev in evals.items():
        for source, bpb in ev["bpb"].items():
            assert float(metrics[run][f"bpb_{source}"]) == bpb
        for task, r in ev["tasks"].items():
            assert float(metrics[run][f"acc_{task}"]) == r["accuracy"]
    with open(out / "table.csv", newline="") as f:
        table = {r["mixture"]: r for r in csv.DictReader(f)}
    base = [evals["baseline_t1.54k_s0"]["bpb"]["books"], evals["baseline_t1.54k_s1"]["bpb"]["books"]]
    b_mean, b_std = np.mean(base), np.std(base, ddof=1)
    assert float(table["baseline"]["bpb_books_mean"]) == pytest.approx(b_mean)
    assert float(table["baseline"]["bpb_books_std"]) == pytest.approx(b_std)
    x = evals["books90-web10_t1.54k_s0"]["bpb"]["books"]
    assert float(table["books90-web10"]["bpb_books_delta"]) == pytest.approx(x - b_mean)
    assert table["books90-web10"]["bpb_books_flag"] == str(int(abs(x - b_mean) > 2 * b_std))
    report = (out / "report.md").read_text()
    assert f"{b_mean:.4f} ± {b_std:.4f}" in report and f"({x - b_mean:+.4f}" in report
    assert "Spearman" in report and "underdetermined" in report and "Proposed mixture for lowest `bpb_books`" in report
    assert (out / "metrics_vs_weights.png").stat().st_size > 0 and (out / "simplex.png").is_file()


# ---- the mixing law ---------------------------------------------------------------------------------------

def test_fit_recovers_a_known_log_linear_law():
    """metric = 2 - sum_i a_i log(w_i + eps) is lowest at w_i proportional to a_i (Lagrange): (0.5, 0.3, 0.2)."""
    rng = np.random.default_rng(0)
    W = rng.dirichlet([1, 1, 1], size=24)
    a = np.array([0.5, 0.3, 0.2])
    y = 2 - np.log(W + EPS) @ a + rng.normal(0, 1e-3, len(W))
    acc = 0.3 + 0.1 * np.log(W[:, 0] + EPS)
    fit = fit_all(W, {"bpb_x": y, "acc_x": acc}, [f"m{i}" for i in range(len(W))], ["a", "b", "c"], "bpb_x", None)
    p = fit["proposal"]
    assert p["minimize"] and [p["weights"][s] for s in "abc"] == pytest.approx(list(a), abs=0.02)
    assert fit["coefficients"]["bpb_x"]["b_a"] == pytest.approx(-0.5, abs=0.01)
    assert fit["held_out"]["bpb_x"]["spearman"] > 0.95 and fit["held_out"]["bpb_x"]["note"] == ""
    assert fit_all(W, {"acc_x": acc}, list(range(len(W))), ["a", "b", "c"], "acc_x", None)["proposal"]["weights"]["a"] == 1
    few = loo_spearman(W[:2], y[:2], ["m0", "m1"])
    assert few["spearman"] is None and "too few" in few["note"]
    # Seeds of one mixture are held out together.
    assert loo_spearman(np.vstack([W[:4], W[:4]]), np.r_[y[:4], y[:4]], [0, 1, 2, 3] * 2)["mixtures"] == 4
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)


def test_ray_executor_gives_the_local_results(corpus, tmp_path):
    """Runs as Ray tasks (a local Ray instance, offline; in a subprocess so Ray stops with it): the same
    ledger, and the same scores as the runs made here."""
    import subprocess
    import sys

    config = write_config(tmp_path, corpus, baseline={"seeds": [0]},
                          design={"kind": "explicit", "mixtures": [{"books": 0.9, "web": 0.1}]})
    local = ablate(str(config), str(tmp_path / "local"), overrides={"tokens": str(corpus)}, log=lambda *a: None)
    code = ("from curate.ablate import ablate; import sys; "
            f"s = ablate({str(config)!r}, {str(tmp_path / 'ray')!r}, executor='ray', overrides={{'tokens': {str(corpus)!r}}}, "
            "threads=1); sys.exit(0 if s['complete'] else 1)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "ray: 2 runs as tasks" in proc.stdout
    for row_l, row_r in zip(local["rows"], json.loads((tmp_path / "ray" / "summary.json").read_text())["rows"]):
        assert row_l["mixture"] == row_r["mixture"]
        for m, cell in row_l["metrics"].items():
            assert row_r["metrics"][m]["mean"] == pytest.approx(cell["mean"], rel=1e-6), m


def test_a_run_killed_mid_training_resumes_from_its_checkpoint(corpus, tmp_path, monkeypatch):
    import curate.train

    real = curate.train.train
    calls = []

    def killed(*args, **kw):
        real(*args, **{**kw, "stop_after": 4})  # checkpoint at step 4, as if killed there
        raise KeyboardInterrupt("killed")

    config = write_config(tmp_path, corpus, baseline={"seeds": [0]})
    monkeypatch.setattr(curate.train, "train", killed)
    with pytest.raises(KeyboardInterrupt):
        ablate(str(config), str(tmp_path / "abl"), overrides={"tokens": str(corpus)}, log=lambda *a: None)
    run = tmp_path / "abl" / "runs" / "baseline_t1.54k_s0"
    assert (run / "ckpt.pt").is_file() and not (run / "eval.json").exists()
    assert not (tmp_path / "abl" / "ledger.jsonl").exists()

    def spy(*args, **kw):
        calls.append((kw["resume"], json.loads((run / "run.json").read_text())["step"] if kw["out_dir"] == str(run) else None))
        return real(*args, **kw)

    monkeypatch.setattr(curate.train, "train", spy)
    s = ablate(str(config), str(tmp_path / "abl"), overrides={"tokens": str(corpus)}, log=lambda *a: None)
    assert s["complete"] and calls[0] == (True, 4)
    card = json.loads((run / "run.json").read_text())
    assert card["step"] == card["steps"] == 12 and (run / "eval.json").is_file()
    with open(run / "loss.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 13))
