"""The thresholds of web.yaml, calibrated on one manual and evaluated on the other.

    python benchmarks/quality_split.py [--engines resiliparse,trafilatura]

web.yaml's relaxed thresholds were read off the labelled pages of both manuals (tests/kits/quality_pages.py), and the
bars are measured on the same pages. Here the same procedure runs on one half and is scored on the other:

- the halves: the Python manual (docs.python.org: its content, navigation and boilerplate pages) and the
  Node.js manual with the XZ Utils man pages (nodejs.org, tukaani.org: content, navigation, and the man pages
  in seven other languages); each half gets its own built chrome and spam pages, made from its own content
  pages only (evalset.boilerplate_pages, soft_404_pages, spam_pages), so nothing of the other half leaks in;
- the procedure: every threshold that web.yaml relaxes from datatrove's default (the rules listed in
  CALIBRATED) is set on the calibration half's content pages that the rest of the chain keeps: datatrove's
  default where all of them pass it, else the most extreme value among them, rounded outward to 0.01. Every
  other setting is web.yaml's (code_aware, C4's curly-bracket rule off, max_link_density 0.5);
- scored on the held-out half with the real chain: the share of content kept, of each other label removed.

Then the margin of each of web.yaml's thresholds on all pages: the worst content page the rule lets through
(how close it came), and how many pages of each kind depend on the rule alone (kept if it were turned off).
"""

import argparse
import copy
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test kits (tests/kits)
RULE_SETS = ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality")
# (step, argument, n-gram size or None, signal, bound, datatrove's default, fully open value)
CALIBRATED = [
    ("gopher_repetition", "dup_line_frac", None, "dup_line_frac", "max", 0.3, None),
    ("gopher_repetition", "dup_para_frac", None, "dup_para_frac", "max", 0.3, None),
    ("gopher_repetition", "dup_line_char_frac", None, "dup_line_char_frac", "max", 0.2, None),
    ("gopher_repetition", "dup_para_char_frac", None, "dup_para_char_frac", "max", 0.2, None),
    *[("gopher_repetition", "dup_n_grams", n, f"duplicated_{n}_n_grams", "max", t, 1.0)
      for n, t in ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))],
    ("gopher_quality", "min_alpha_words_ratio", None, "alpha_words_ratio", "min", 0.8, None),
    ("fineweb_quality", "char_duplicates_ratio", None, "char_dup_ratio", "max", 0.01, 1.0),
]


def halves(pages):
    from kits import quality_pages as evalset

    def half_of(url: str) -> str:
        return "python" if "docs.python.org" in url else "nodejs+xz"

    out = {}
    for name in ("python", "nodejs+xz"):
        real = [p for p in pages if half_of(p.url) == name]
        content = [p for p in real if p.label == "content"]
        out[name] = (real + evalset.boilerplate_pages(content, 20) + evalset.soft_404_pages(content, 20)
                     + evalset.spam_pages(content, 20))
    return out


def web_steps() -> dict:
    import yaml

    steps = yaml.safe_load((REPO / "pipelines" / "web.yaml").read_text())["steps"]
    return {kind: dict(args or {}) for step in steps for kind, args in step.items()}


def with_values(args: dict, values: dict) -> dict:
    """web.yaml's arguments of the four rule sets with the calibrated ones replaced by `values`
    ({(step, argument, n): value})."""
    args = copy.deepcopy({k: args[k] for k in RULE_SETS})
    for (step, arg, n), value in values.items():
        if n is None:
            args[step][arg] = value
        else:
            args[step][arg] = [[m, value if m == n else t] for m, t in args[step][arg]]
    return args


def build_chain(args: dict):
    from curate.config import STEPS

    return [STEPS[kind](**args[kind]) for kind in RULE_SETS]


def extracted(pages, engine: str, steps: dict) -> dict:
    """url -> the text the language filter keeps, or the reason the page went before the rules."""
    from datatrove.data import Document

    from curate.config import STEPS
    from curate.extract import HtmlExtract
    from curate.stage import Drop

    extract = HtmlExtract(**{**steps["html_extract"], "engine": engine})
    language = STEPS["language"](**steps["language"])
    out = {}
    for p in pages:
        text = extract._extract(p.html.decode("utf-8", "replace"))  # what the stage runs for each page
        if isinstance(text, Drop) or not text or not text.strip():
            out[p.url] = text.reason if isinstance(text, Drop) else "extraction_empty"
            continue
        result = language.process(Document(text=text, id=p.url, metadata={}))
        out[p.url] = result.reason if isinstance(result, Drop) else text
    return out


def run_chain(chain, text: str, signals: dict | None = None) -> str | None:
    """The reason the chain removes `text`, or None; with `signals`, every signal each rule set measured."""
    from datatrove.data import Document

    from curate.stage import Drop

    doc = Document(text=text, id="x", metadata={})
    for rule_set in chain:
        if signals is not None:
            signals.update({name: value for name, value in (s for s in rule_set.measure(doc.text)
                                                             if not isinstance(s, Drop))})
        result = rule_set.process(doc)
        if isinstance(result, Drop):
            return f"{rule_set.name}:{result.reason}"
    return None


def calibrate(pages, texts: dict, steps: dict) -> dict:
    """{(step, argument, n): threshold} from the content pages among `pages`, as the module docstring says."""
    open_values = {(s, a, n): opened for s, a, n, _, _, _, opened in CALIBRATED}
    chain = build_chain(with_values(steps, open_values))
    measured = []
    for p in pages:
        text = texts[p.url]
        if p.label != "content" or text in REASONS:
            continue
        signals: dict = {}
        if run_chain(chain, text, signals) is None:  # the pages the calibrated rules could cost
            measured.append(signals)
    values = {}
    for step, arg, n, signal, bound, default, _ in CALIBRATED:
        seen = [s[signal] for s in measured if signal in s]
        if bound == "max":
            worst = max(seen, default=0.0)
            values[(step, arg, n)] = default if worst <= default else math.ceil(worst * 100) / 100
        else:
            worst = min(seen, default=1.0)
            values[(step, arg, n)] = default if worst >= default else math.floor(worst * 100) / 100
    return values


REASONS = {"link_dense", "no_main_content", "outside_main_content", "extraction_empty", "wrong_language", "low_language_score",
           "no_text_for_language_id"}


def score(pages, texts: dict, chain) -> dict:
    from kits import quality_pages as evalset

    kept = {p.url for p in pages if texts[p.url] not in REASONS and run_chain(chain, texts[p.url]) is None}
    return evalset.score(pages, kept)


def lost_content(pages, texts: dict, chain) -> list[str]:
    """"page (reason)" of every content page the chain removes."""
    out = []
    for p in pages:
        if p.label == "content":
            reason = texts[p.url] if texts[p.url] in REASONS else run_chain(chain, texts[p.url])
            if reason:
                out.append(f"{p.url.rsplit('/', 1)[-1]} ({reason.split(':')[-1]})")
    return out


def cells(s: dict) -> str:
    out = []
    for label, v in s.items():
        if v["pages"]:
            n = v["kept"] if label == "content" else v["removed"]
            share = v["share_kept"] if label == "content" else v["share_removed"]
            out.append(f"{n}/{v['pages']} ({share:.1%})")
        else:
            out.append("-")
    return " | ".join(out)


def describe(values: dict) -> str:
    parts = []
    for (step, arg, n), v in values.items():
        parts.append(f"{arg}{'' if n is None else f'[{n}]'}={v}")
    return ", ".join(parts)


def margins(pages, texts: dict, steps: dict) -> None:
    """For each of web.yaml's calibrated thresholds: the worst content value the chain lets through, and the
    pages whose decision flips if the rule alone is opened."""
    base = build_chain(with_values(steps, {}))
    base_kept = {p.url for p in pages if texts[p.url] not in REASONS and run_chain(base, texts[p.url]) is None}
    print("| rule | web.yaml | datatrove | worst content value kept | content pages it alone removes | "
          "other pages it alone removes |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    signals = {}
    for p in pages:
        if p.url in base_kept:
            signals[p.url] = {}
            run_chain(base, texts[p.url], signals[p.url])
    for step, arg, n, signal, bound, default, opened in CALIBRATED:
        current = steps[step].get(arg) if n is None else dict((int(m), t) for m, t in steps[step][arg])[n]
        chain = build_chain(with_values(steps, {(step, arg, n): opened}))
        flipped = [p for p in pages if p.url not in base_kept and texts[p.url] not in REASONS
                   and run_chain(chain, texts[p.url]) is None]
        content_values = [signals[p.url][signal] for p in pages if p.label == "content" and p.url in signals
                          and signal in signals[p.url]]
        worst = (max if bound == "max" else min)(content_values, default=float("nan"))
        by_label = {}
        for p in flipped:
            by_label[p.label] = by_label.get(p.label, 0) + 1
        lost = by_label.pop("content", 0)
        name = f"{arg}{'' if n is None else f'[{n}]'}"
        print(f"| {name} | {current} | {default} | {worst:.3f} | {lost} | "
              f"{', '.join(f'{k} {v}' for k, v in sorted(by_label.items())) or 'none'} |")


def main() -> None:
    from kits import quality_pages as evalset

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="resiliparse,trafilatura")
    args = ap.parse_args()
    steps = web_steps()
    split = halves(evalset.real_pages())
    everything = [p for half in split.values() for p in half]
    print(f"halves: {', '.join(f'{k} {len(v)} pages' for k, v in split.items())}")
    for engine in args.engines.split(","):
        start = time.perf_counter()
        texts = extracted(everything, engine, steps)
        print(f"\n## {engine} (extraction and language: {time.perf_counter() - start:.0f} s)\n")
        print("| calibrated on | evaluated on | content kept | navigation removed | boilerplate removed | "
              "non-English removed | spam removed |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        chosen, losses = {}, {}
        for cal, held in (("python", "nodejs+xz"), ("nodejs+xz", "python")):
            values = chosen[cal] = calibrate(split[cal], texts, steps)
            chain = build_chain(with_values(steps, values))
            print(f"| {cal} | {cal} (itself) | {cells(score(split[cal], texts, chain))} |")
            print(f"| {cal} | **{held}** | {cells(score(split[held], texts, chain))} |")
            losses[f"calibrated on {cal}, {held}"] = lost_content(split[held], texts, chain)
        web = build_chain(with_values(steps, {}))
        for half in split:
            print(f"| web.yaml (both) | {half} | {cells(score(split[half], texts, web))} |")
        print()
        for cal, values in chosen.items():
            print(f"- calibrated on {cal}: {describe(values)}")
        for name, lost in losses.items():
            print(f"- content removed, {name}: {', '.join(lost) or 'none'}")
        print(f"\nMargins of web.yaml's thresholds ({engine}, both halves, {len(everything)} pages):\n")
        margins(everything, texts, steps)


if __name__ == "__main__":
    main()
