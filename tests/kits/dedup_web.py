"""Web pages at crawl scale with planted near-duplicates, for document dedup at 10M documents.

Each page is built the way `scripts/build_scale_corpus.py` builds its article pages, as the extracted text a
recipe would hand to dedup: a site's header and footer around a run of real paragraphs of the bundled sample
(Wikipedia and books), with some of their words replaced by other words of the sample. Page lengths follow a
log-normal law with a median of about 2,200 characters. Unrelated pages stay unrelated: every page draws its
own paragraphs and replaces 10-20% of their words, so two pages that happen to share a paragraph have a
Jaccard of a few hundredths.

Planted near-duplicates, page g being a copy of an earlier page g' < g (anywhere in the corpus, so in any
file): 3% exact copies, 1% copies with case and whitespace changes (Jaccard 1.0 after normalisation), 7%
copies with 1% to 20% of their words replaced (Jaccard from about 0.4 to 0.95, measured per pair). A copy of
a copy makes a chain, as on the web.

Page g is a function of (seed, g) only, so a file's bytes do not depend on the other files or on the number
of processes that write them, and the first k files of a larger corpus are a smaller one.

    from kits.dedup_web import write_web_corpus
    write_web_corpus(Path("/data/web10m"), n_docs=10_000_000, files=100, processes=2)
"""

import json
import re
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from curate.config import DATA_DIR
from curate.dedup.minhash import jaccard, shingles

EDIT_RATES = (0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2)
PARAGRAPH = -1  # the token id of a paragraph break


@lru_cache(maxsize=1)
def _pool() -> tuple[list[np.ndarray], np.ndarray, int]:
    """(paragraphs as arrays of word ids, the words, how many of them are real words) of the bundled sample."""
    paragraphs = [p for line in open(DATA_DIR / "wiki" / "enwiki.jsonl", encoding="utf-8")
                  for p in json.loads(line)["text"].split("\n") if len(p) > 80]
    for path in sorted((DATA_DIR / "books").glob("*.txt")):
        paragraphs += [" ".join(p.split()) for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if len(p) > 80]
    vocab: dict[str, int] = {}
    ids = [np.array([vocab.setdefault(w, len(vocab)) for w in p.split()], np.int32) for p in paragraphs]
    words = np.array(list(vocab) + ["\n\n"], dtype=object)  # the last word: a paragraph break (PARAGRAPH)
    return ids, words, len(vocab)


def _site(g: int) -> tuple[str, str]:
    """The header and footer of page g's site (one of 50,000), a function of g only."""
    return _site_of(g % 50_000)


@lru_cache(maxsize=None)
def _site_of(site: int) -> tuple[str, str]:
    _, words, n = _pool()
    rng = np.random.default_rng([7, site])
    name = "".join(str(words[i]).lower().strip(".,;:()\"'") for i in rng.integers(0, n, 2)) + ".com"
    nav = " ".join(str(words[i]) for i in rng.integers(0, n, 5))
    return f"{name} Home About {nav} Contact\n\n", f"\n\nCopyright {name}. All rights reserved. Powered by WordPress."


def _page_ids(rng: np.random.Generator) -> np.ndarray:
    paragraphs, _, n = _pool()
    target = rng.lognormal(np.log(1700), 0.6)
    run, chars = [], 0
    while chars < target:
        p = paragraphs[rng.integers(len(paragraphs))]
        run += [p, np.array([PARAGRAPH], np.int32)]
        chars += 6 * len(p)
    ids = np.concatenate(run[:-1])
    return _replace(ids, rng.uniform(0.1, 0.2), rng)


def _replace(ids: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """`rate` of the words (never a paragraph break) replaced by words drawn from the whole vocabulary."""
    n = _pool()[2]
    hit = (rng.random(len(ids)) < rate) & (ids != PARAGRAPH)
    ids = ids.copy()
    ids[hit] = rng.integers(0, n, int(hit.sum()))
    return ids


def _text(ids: np.ndarray) -> str:
    return " ".join(_pool()[1][ids]).replace(" \n\n ", "\n\n")


def _case_space(text: str, rng: np.random.Generator) -> str:
    parts = text.split(" ")
    roll = rng.random(len(parts))
    return "".join(w.upper() + "  " if r < 0.1 else w + ("\n" if r > 0.95 else " ") for w, r in zip(parts, roll))


def web_page(seed: int, g: int) -> tuple[str, str | None, float | None]:
    """(text, kind, parameter) of page g; kind is None for an original page, else how it copies an earlier one."""
    rng = np.random.default_rng([seed, g])
    roll = rng.random()
    if g > 0 and roll < 0.11:
        base = int(rng.integers(0, g))
        brng = np.random.default_rng([seed, base])
        if brng.random() < 0.11 and base > 0:  # the base is a copy itself: rebuild it the long way
            text = web_page(seed, base)[0]
        else:
            head, foot = _site(base)
            text = head + _text(_page_ids(brng)) + foot
        if roll < 0.03:
            return text, "exact", base
        if roll < 0.04:
            return _case_space(text, rng), "case_space", base
        rate = EDIT_RATES[int(rng.integers(len(EDIT_RATES)))]
        words = text.split(" ")
        hit = np.flatnonzero(rng.random(len(words)) < rate)
        vocab, n = _pool()[1], _pool()[2]
        for i, j in zip(hit, rng.integers(0, n, len(hit))):
            words[i] = vocab[j]
        return " ".join(words), f"edit_{rate}", base
    head, foot = _site(g)
    return head + _text(_page_ids(rng)) + foot, None, None


def page_id(g: int) -> str:
    return f"web/{g:09d}"


def _write_file(job: tuple) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder, seed, k, per_file = job
    path = folder / "corpus" / "web" / f"{k:05d}.parquet"
    pairs_path = folder / "pairs" / f"{k:05d}.jsonl"
    if path.exists() and pairs_path.exists():
        return json.loads((folder / "pairs" / f"{k:05d}.json").read_text())
    ids, texts, pairs = [], [], []
    for g in range(k * per_file, (k + 1) * per_file):
        text, kind, base = web_page(seed, g)
        ids.append(page_id(g))
        texts.append(text)
        if kind is not None:
            j = 1.0 if kind in ("exact", "case_space") else round(jaccard(shingles(web_page(seed, base)[0]), shingles(text)), 4)
            pairs.append({"a": page_id(base), "b": page_id(g), "kind": kind, "param": None, "jaccard": j})
    lengths = np.array([len(t) for t in texts])
    n = len(ids)
    table = pa.table({"id": ids, "text": texts, "source": ["web"] * n})
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.rename(path)
    pairs_path.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    done = {"file": k, "documents": n, "chars": int(lengths.sum()), "median_chars": float(np.median(lengths)),
            "planted": len(pairs)}
    (folder / "pairs" / f"{k:05d}.json").write_text(json.dumps(done))
    return done


def write_web_corpus(folder: Path, n_docs: int, files: int, seed: int = 0, processes: int = 2) -> dict:
    """folder/corpus/web/<k>.parquet (id, text, source) and folder/pairs/<k>.jsonl (the planted pairs), and
    folder/corpus.json (documents, characters, median length, planted pairs). Resumes: finished files stay."""
    if n_docs % files:
        raise ValueError(f"n_docs {n_docs} is not a multiple of files {files}")
    (folder / "corpus" / "web").mkdir(parents=True, exist_ok=True)
    (folder / "pairs").mkdir(exist_ok=True)
    jobs = [(folder, seed, k, n_docs // files) for k in range(files)]
    with Pool(processes) as pool:
        parts = pool.map(_write_file, jobs, chunksize=1)
    summary = {"documents": sum(p["documents"] for p in parts), "chars": sum(p["chars"] for p in parts),
               "median_chars_of_file_medians": float(np.median([p["median_chars"] for p in parts])),
               "planted": sum(p["planted"] for p in parts), "files": files, "seed": seed}
    (folder / "corpus.json").write_text(json.dumps(summary, indent=1))
    return summary


def read_pairs(folder: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((folder / "pairs").glob("*.jsonl")) for line in open(path)]
