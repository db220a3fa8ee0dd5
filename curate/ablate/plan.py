"""The ablation config (YAML, every key validated) and the plan: the list of proxy runs it asks for.

A run is (mixture, token budget, seed). Its id names it, e.g. `books60-web20-wiki20_t200k_s0`, or
`baseline_t200k_s1` for the natural mix (weights proportional to the train tokens each source has, from the
token shards' meta.json). Mixture designs: `explicit` (listed mixtures, normalised), `grid` (every point of the
simplex with coordinates in multiples of `step`), `dirichlet` (`n` seeded draws of Dirichlet(alpha)).
"""

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from curate.config import ConfigError, substitute
from curate.tokenizer.shards import TokenShards

TOP_KEYS = {"name", "sources", "design", "baseline", "proxy", "eval", "seeds", "fit", "out_dir"}
DESIGN_KEYS = {"explicit": {"kind", "mixtures"}, "grid": {"kind", "step", "sources"},
               "dirichlet": {"kind", "n", "alpha", "seed", "sources"}}
PROXY_DEFAULTS = {"depth": 1, "seq_len": 64, "batch_size": 8, "grad_accum": 1, "tokens": [200_000], "lr": None,
                  "device": "auto", "max_epochs": 4.0}
EVAL_DEFAULTS = {"max_tokens": 20_000, "lastword_items": 50, "tasks": [], "seed": 0}
# Checks of the held-out size (not part of a run's fingerprint: they change no score).
HELDOUT_CHECKS = {"min_heldout_tokens": None, "min_heldout_documents": None, "heldout_check": "warn"}
FIT_KEYS = {"metric", "law", "laws", "kl_max", "max_epochs", "target_tokens", "verify_seeds", "minimize"}


@dataclass
class AblationConfig:
    """A validated ablation config. Paths are absolute; weights are normalised dicts source -> weight."""

    name: str
    path: Path                              # the config file
    data: TokenShards                       # the sources' token shards, opened
    mixtures: list[dict[str, float]]        # the design's mixtures, normalised, over all sources
    design: dict                            # the design section as given
    baseline_seeds: list[int]               # [] : no baseline
    baseline: dict[str, float]              # the natural mix (or the one given as baseline.mixture)
    natural: dict[str, float]               # weights proportional to each source's train tokens
    train_tokens: dict[str, int]            # train tokens per source (meta.json)
    proxy: dict                             # depth, seq_len, batch_size, grad_accum, tokens (list), lr, device, max_epochs
    eval: dict                              # max_tokens, lastword_items, tasks (absolute paths), seed
    seeds: list[int]
    fit: dict = field(default_factory=dict)  # metric, law, laws, kl_max, max_epochs, target_tokens, verify_seeds
    out_dir: Path | None = None

    @property
    def sources(self) -> dict[str, str]:
        """source -> its token shards folder (tokens/<source>)."""
        return self.data.folders()


@dataclass(frozen=True)
class RunSpec:
    """One proxy run of the plan."""

    id: str
    tag: str                  # "baseline" or "mixture"
    mixture: str              # the mixture's label (shared by its seeds and budgets)
    weights: tuple            # ((source, weight), ...) sorted by source
    tokens: int
    seed: int

    def weights_dict(self) -> dict[str, float]:
        return dict(self.weights)


def _err(path, key: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {message}")


def _number(path, key, value, low=None, integer=False, strict_low=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if ok and low is not None:
        ok = value > low if strict_low else value >= low
    if not ok:
        kind = "a whole number" if integer else "a number"
        bound = "" if low is None else f" {'>' if strict_low else '>='} {low}"
        raise _err(path, key, f"expected {kind}{bound}, got {value!r}")
    return int(value) if integer else float(value)


def _int_list(path, key, value, low=None) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _err(path, key, f"expected a non-empty list of whole numbers, got {value!r}")
    out = [_number(path, f"{key}[{i}]", v, low, integer=True) for i, v in enumerate(value)]
    if len(set(out)) != len(out):
        raise _err(path, key, f"repeated values in {out}")
    return out


def _section(path, raw: dict, key: str, allowed: set) -> dict:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise _err(path, key, f"expected a mapping, got {value!r}")
    if unknown := sorted(set(value) - allowed):
        raise _err(path, key, f"unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    return value


def normalise(mixture, sources: list[str], where: str) -> dict[str, float]:
    """{source: weight} -> weights over all `sources` summing to 1 (missing sources: 0). Raises ConfigError on
    an unknown source, a weight that is not a number >= 0, or an all-zero mixture."""
    if not isinstance(mixture, dict) or not mixture:
        raise ConfigError(f"{where}: expected a mapping source -> weight, got {mixture!r}")
    if unknown := sorted(set(mixture) - set(sources)):
        raise ConfigError(f"{where}: unknown source(s) {unknown}; the sources are {sources}")
    bad = {s: w for s, w in mixture.items()
           if isinstance(w, bool) or not isinstance(w, (int, float)) or not np.isfinite(w) or w < 0}
    if bad:
        raise ConfigError(f"{where}: weights must be numbers >= 0, got {bad}")
    total = float(sum(mixture.values()))
    if total <= 0:
        raise ConfigError(f"{where}: the weights sum to 0; give at least one positive weight")
    return {s: float(mixture.get(s, 0.0)) / total for s in sources}


def grid_mixtures(sources: list[str], step: float) -> list[dict[str, float]]:
    """Every point of the simplex over `sources` whose weights are multiples of `step` (1/step whole)."""
    k = round(1 / step)
    if k < 1 or abs(k * step - 1) > 1e-9:
        raise ValueError(f"design.step: 1/step must be a whole number >= 1, got step={step}")
    out = []
    for parts in itertools.product(range(k + 1), repeat=len(sources)):
        if sum(parts) == k:
            out.append({s: p / k for s, p in zip(sources, parts)})
    return out


def dirichlet_mixtures(sources: list[str], n: int, alpha: float, seed: int) -> list[dict[str, float]]:
    """`n` draws of Dirichlet(alpha, ..., alpha) over `sources`, reproducible from `seed`; weights rounded to
    4 decimals (then renormalised), so run ids and the ledger are stable across numpy versions' last bits."""
    rng = np.random.default_rng(seed)
    draws = rng.dirichlet([alpha] * len(sources), size=n)
    out = []
    for d in draws:
        d = np.round(d, 4)
        d = d / d.sum()
        out.append({s: float(w) for s, w in zip(sources, d)})
    return out


def natural_mixture(counts: dict[str, int]) -> dict[str, float]:
    """Weights proportional to each source's train tokens."""
    total = sum(counts.values())
    if total <= 0:
        raise ConfigError(f"sources: no train tokens in {sorted(counts)}; cannot form the natural mix")
    return {s: c / total for s, c in counts.items()}


def parse_overrides(overrides: dict | None) -> tuple[dict, dict]:
    """overrides -> (config key overrides, variables). A name that is a top-level key or contains a dot
    ("proxy.tokens") sets that config key (a string value is read as YAML: "[1000, 2000]" is a list); any
    other name fills `{name}` placeholders."""
    keys, variables = {}, {}
    for name, value in (overrides or {}).items():
        if "." in name or name in TOP_KEYS:
            keys[name] = yaml.safe_load(value) if isinstance(value, str) else value
        else:
            variables[name] = value
    return keys, variables


def _apply(raw: dict, key: str, value) -> None:
    parts = key.split(".")
    node = raw
    for p in parts[:-1]:
        if node.get(p) is None:
            node[p] = {}
        if not isinstance(node[p], dict):
            raise ConfigError(f"override {key}: {p} is not a mapping in the config")
        node = node[p]
    node[parts[-1]] = value


def _resolve(path: Path, value: str, variables: dict, where: str) -> str:
    value = substitute(value, variables, where)
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (path.parent / p).resolve())


def load_ablation_config(config_path: str, overrides: dict | None = None) -> AblationConfig:
    """Reads and validates an ablation config; errors name the file and the key."""
    from curate.config import DATA_DIR

    path = Path(config_path).resolve()
    if not path.is_file():
        raise ConfigError(f"{config_path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with name, sources, design, proxy, ...")
    key_overrides, variables = parse_overrides(overrides)
    variables = {"data": str(DATA_DIR), **variables}
    for k, v in key_overrides.items():
        _apply(raw, k, v)
    if unknown := sorted(set(raw) - TOP_KEYS):
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; expected some of {sorted(TOP_KEYS)}")
    for required in ("name", "sources", "design"):
        if raw.get(required) is None:
            raise _err(path, required, "missing (required)")
    name = raw["name"]
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise _err(path, "name", f"expected a short name without '/', got {name!r}")

    # sources: one `curate tokenize` root (every source in it), or source -> folder
    src = raw["sources"]
    try:
        if isinstance(src, str):
            data = TokenShards.open(_resolve(path, src, variables, "sources"))
        elif isinstance(src, dict) and src:
            data = TokenShards.open({s: _resolve(path, f, variables, f"sources.{s}") for s, f in src.items()})
        else:
            raise _err(path, "sources", f"expected a token shards folder or a mapping source -> folder, got {src!r}")
    except ValueError as e:
        raise _err(path, "sources", str(e)) from None
    names = list(data)

    # design
    design = raw["design"]
    if not isinstance(design, dict) or design.get("kind") not in DESIGN_KEYS:
        got = design.get("kind") if isinstance(design, dict) else design
        raise _err(path, "design.kind", f"expected one of {sorted(DESIGN_KEYS)}, got {got!r}")
    kind = design["kind"]
    if unknown := sorted(set(design) - DESIGN_KEYS[kind]):
        raise _err(path, "design", f"unknown key(s) {unknown} for kind {kind}; expected {sorted(DESIGN_KEYS[kind])}")
    if kind == "explicit":
        listed = design.get("mixtures")
        if not isinstance(listed, list) or not listed:
            raise _err(path, "design.mixtures", f"expected a non-empty list of mappings source -> weight, got {listed!r}")
        mixtures = [normalise(m, names, f"{path}: design.mixtures[{i}]") for i, m in enumerate(listed)]
    else:
        over = design.get("sources", names)
        if not isinstance(over, list) or len(over) < 2 or set(over) - set(names) or len(set(over)) != len(over):
            raise _err(path, "design.sources", f"expected a list of at least 2 distinct sources of {names}, got {over!r}")
        over = sorted(over)
        if kind == "grid":
            step = _number(path, "design.step", design.get("step"), 0, strict_low=True)
            try:
                mixtures = grid_mixtures(over, step)
            except ValueError as e:
                raise _err(path, "design.step", str(e)) from None
        else:
            n = _number(path, "design.n", design.get("n"), 1, integer=True)
            alpha = _number(path, "design.alpha", design.get("alpha", 1.0), 0, strict_low=True)
            seed = _number(path, "design.seed", design.get("seed", 0), 0, integer=True)
            mixtures = dirichlet_mixtures(over, n, alpha, seed)
        mixtures = [{s: m.get(s, 0.0) for s in names} for m in mixtures]

    # baseline
    base = raw.get("baseline", {"seeds": [0]})
    if base in (None, False):
        base = {"seeds": []}
    base = _section(path, {"baseline": base}, "baseline", {"seeds", "mixture"})
    baseline_seeds = [] if base.get("seeds") in (None, []) else _int_list(path, "baseline.seeds", base["seeds"], 0)
    train_tokens = {s: data[s].tokens("train") for s in data}
    natural = natural_mixture(train_tokens)
    if base.get("mixture") is not None:
        baseline = normalise(base["mixture"], names, f"{path}: baseline.mixture")
    else:
        baseline = natural

    proxy_raw = _section(path, raw, "proxy", set(PROXY_DEFAULTS))
    proxy = {**PROXY_DEFAULTS, **proxy_raw}
    for k in ("depth", "seq_len", "batch_size", "grad_accum"):
        proxy[k] = _number(path, f"proxy.{k}", proxy[k], 1, integer=True)
    proxy["tokens"] = _int_list(path, "proxy.tokens", proxy["tokens"], 1)
    if proxy["lr"] is not None:
        proxy["lr"] = _number(path, "proxy.lr", proxy["lr"], 0, strict_low=True)
    proxy["max_epochs"] = _number(path, "proxy.max_epochs", proxy["max_epochs"], 0, strict_low=True)
    if not isinstance(proxy["device"], str) or not proxy["device"]:
        raise _err(path, "proxy.device", f"expected auto, cpu, cuda or cuda:N, got {proxy['device']!r}")

    ev = {**EVAL_DEFAULTS, **HELDOUT_CHECKS, **_section(path, raw, "eval", set(EVAL_DEFAULTS) | set(HELDOUT_CHECKS))}
    ev["max_tokens"] = _number(path, "eval.max_tokens", ev["max_tokens"], 1, integer=True)
    from curate.evaluate.bpb import MIN_HELDOUT_DOCUMENTS, MIN_HELDOUT_TOKENS

    for key, default in (("min_heldout_tokens", MIN_HELDOUT_TOKENS), ("min_heldout_documents", MIN_HELDOUT_DOCUMENTS)):
        ev[key] = default if ev[key] is None else _number(path, f"eval.{key}", ev[key], 0, integer=True)
    if ev["heldout_check"] not in ("warn", "refuse"):
        raise _err(path, "eval.heldout_check", f"expected warn or refuse, got {ev['heldout_check']!r}")
    ev["lastword_items"] = _number(path, "eval.lastword_items", ev["lastword_items"], 1, integer=True)
    ev["seed"] = _number(path, "eval.seed", ev["seed"], 0, integer=True)
    tasks = ev["tasks"] or []
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise _err(path, "eval.tasks", f"expected a list of task files (JSONL), got {tasks!r}")
    ev["tasks"] = [_resolve(path, t, variables, "eval.tasks") for t in tasks]
    for t in ev["tasks"]:
        if not Path(t).is_file():
            raise _err(path, "eval.tasks", f"{t}: no such task file")

    seeds = _int_list(path, "seeds", raw.get("seeds", [0]), 0)

    fit = load_fit_section(path, raw, names, proxy, baseline_seeds or seeds)
    out_dir = raw.get("out_dir")
    if out_dir is not None and not isinstance(out_dir, str):
        raise _err(path, "out_dir", f"expected a folder path, got {out_dir!r}")
    return AblationConfig(name=name, path=path, data=data, mixtures=mixtures, design=design,
                          baseline_seeds=baseline_seeds, baseline=baseline, natural=natural,
                          train_tokens=train_tokens, proxy=proxy, eval=ev, seeds=seeds, fit=fit,
                          out_dir=Path(_resolve(path, out_dir, variables, "out_dir")) if out_dir else None)


def load_fit_section(path, raw: dict, names: list[str], proxy: dict, default_seeds: list[int]) -> dict:
    """The fit section with its defaults: metric (bpb_mean), law (auto), laws (all), kl_max (0.5 nats),
    max_epochs (proxy.max_epochs), target_tokens (the largest proxy budget), verify_seeds (the baseline's)."""
    from curate.ablate.laws import LAWS

    fit = _section(path, raw, "fit", FIT_KEYS)
    if "minimize" in fit:
        raise _err(path, "fit.minimize", "no longer read: every metric declares whether lower or higher is better "
                   "(bpb lower, acc higher); remove the key")
    out = {"metric": fit.get("metric", "bpb_mean"), "law": fit.get("law", "auto"), "laws": fit.get("laws", list(LAWS)),
           "kl_max": fit.get("kl_max", 0.5), "max_epochs": fit.get("max_epochs", proxy["max_epochs"]),
           "target_tokens": fit.get("target_tokens", max(proxy["tokens"])),
           "verify_seeds": fit.get("verify_seeds", default_seeds)}
    if not isinstance(out["metric"], str):
        raise _err(path, "fit.metric", f"expected a metric name such as bpb_{names[0]}, got {out['metric']!r}")
    laws = out["laws"]
    if not isinstance(laws, list) or not laws or any(law not in LAWS for law in laws) or len(set(laws)) < len(laws):
        raise _err(path, "fit.laws", f"expected a list of distinct laws among {list(LAWS)}, got {laws!r}")
    if out["law"] != "auto" and out["law"] not in laws:
        raise _err(path, "fit.law", f"expected auto or one of fit.laws {laws}, got {out['law']!r}")
    if out["kl_max"] is not None:
        out["kl_max"] = _number(path, "fit.kl_max", out["kl_max"], 0, strict_low=True)
    out["max_epochs"] = _number(path, "fit.max_epochs", out["max_epochs"], 0, strict_low=True)
    out["target_tokens"] = _number(path, "fit.target_tokens", out["target_tokens"], 1, integer=True)
    out["verify_seeds"] = _int_list(path, "fit.verify_seeds", out["verify_seeds"], 0)
    return out


def mixture_label(weights: dict[str, float]) -> str:
    """`books60-web20-wiki20`: sources with a weight, in percent (rounded; `books0.5` under 1%)."""
    parts = []
    for s, w in sorted(weights.items()):
        if w <= 0:
            continue
        pct = 100 * w
        parts.append(f"{s}{round(pct)}" if pct >= 1 else f"{s}{pct:.1g}")
    return "-".join(parts)


def short_tokens(n: int) -> str:
    """200000 -> 200k, 150000000 -> 150M (3 significant digits)."""
    for unit, div in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


def weights_key(weights: dict[str, float]) -> tuple:
    return tuple((s, round(float(w), 6)) for s, w in sorted(weights.items()))


def make_plan(cfg: AblationConfig) -> list[RunSpec]:
    """Every run, baseline first: (mixture, budget, seed) with a stable id. Mixtures whose rounded labels
    collide get a short hash of their weights appended; a design mixture repeated is planned once."""
    mixtures, seen = [], set()
    for m in cfg.mixtures:
        key = weights_key(m)
        if key not in seen:
            seen.add(key)
            mixtures.append(m)
    labels = [mixture_label(m) for m in mixtures]
    for i, m in enumerate(mixtures):
        if labels.count(labels[i]) > 1:
            digest = hashlib.sha256(json.dumps(weights_key(m)).encode()).hexdigest()[:6]
            labels[i] = f"{labels[i]}-{digest}"
    budgets = {tokens: short_tokens(tokens) for tokens in cfg.proxy["tokens"]}
    if len(set(budgets.values())) < len(budgets):
        budgets = {tokens: str(tokens) for tokens in budgets}
    runs = []
    for tokens, t in budgets.items():
        for seed in cfg.baseline_seeds:
            runs.append(RunSpec(f"baseline_t{t}_s{seed}", "baseline", "baseline", weights_key(cfg.baseline), tokens, seed))
        for label, m in zip(labels, mixtures):
            for seed in cfg.seeds:
                runs.append(RunSpec(f"{label}_t{t}_s{seed}", "mixture", label, weights_key(m), tokens, seed))
    return runs


def format_plan(cfg: AblationConfig, runs: list[RunSpec]) -> str:
    names = list(cfg.sources)
    head = f"{'run':<40} {'tag':<9} " + " ".join(f"{s[:10]:>10}" for s in names) + f" {'tokens':>10} seed"
    lines = [f"ablation {cfg.name}: {len(runs)} runs ({len(cfg.mixtures)} design mixtures x {len(cfg.seeds)} seed(s)"
             f" + baseline x {len(cfg.baseline_seeds)} seed(s), x {len(cfg.proxy['tokens'])} budget(s))", head]
    for r in runs:
        w = r.weights_dict()
        lines.append(f"{r.id:<40} {r.tag:<9} " + " ".join(f"{w.get(s, 0):>10.3f}" for s in names)
                     + f" {r.tokens:>10,} {r.seed:>4}")
    return "\n".join(lines)
