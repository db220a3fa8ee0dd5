"""Planted near-duplicates in real text, with their measured Jaccard, to score dedup's precision and recall.

Base documents are real text bundled in curate/data (Wikipedia articles cut into groups of paragraphs, the
books cut into windows of lines). Each planted pair is a base document and one variant of it:

  exact        an identical copy                                   Jaccard 1.0
  case_space   random case changes, doubled spaces, joined lines   1.0 (the shingles normalise them away)
  edit         p of the words replaced by other words of the corpus (p from 2% to 40%)
  reorder      the paragraphs (or lines) in another order          close to 1.0
  boilerplate  real text of another document appended              n / (n + appended)

Each pair records its measured Jaccard over the same word 5-gram shingles dedup uses (`shingles`), so any
bin from 0.1 to 1.0 can be scored. `synthetic_corpus` makes many more distinct documents than the sample
holds (for benchmarks) by recombining real sentences; those are unrelated to each other (Jaccard ~0).
`short_corpus` makes millions of short ones (a sentence or two) with planted near-duplicates, for memory
at scale.
"""

import json
import random
import re
from pathlib import Path

from curate.config import DATA_DIR
from curate.dedup.minhash import jaccard, shingles

DATA = DATA_DIR  # the bundled sample
KINDS = ("exact", "case_space", "edit", "reorder", "boilerplate")
EDIT_RATES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
BINS = [round(0.1 * i, 1) for i in range(1, 10)] + [1.0]  # lower edges; the last bin is exactly 1.0


def base_texts(data_dir: Path = DATA, min_words: int = 120, max_words: int = 400) -> list[tuple[str, str]]:
    """(id, text) of real documents: Wikipedia paragraphs grouped to min..max words, book line windows."""
    out = []
    for line in open(data_dir / "wiki" / "enwiki.jsonl", encoding="utf-8"):
        art = json.loads(line)
        paras = [p for p in art["text"].split("\n") if p.strip()]
        group, n, part = [], 0, 0
        for p in paras:
            group.append(p)
            n += len(p.split())
            if n >= min_words:
                out.append((f"{art['id']}#{part}", "\n\n".join(group)))
                group, n, part = [], 0, part + 1
    for path in sorted((data_dir / "books").glob("*.txt")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        window, n, part = [], 0, 0
        for ln in lines:
            window.append(ln)
            n += len(ln.split())
            if n >= (min_words + max_words) // 2:
                out.append((f"{path.stem}#{part}", "\n".join(window)))
                window, n, part = [], 0, part + 1
    return out


def _tokens(text: str) -> list[str]:
    return re.split(r"(\s+)", text)


def edit_words(text: str, rate: float, vocab: list[str], rng: random.Random) -> str:
    parts = _tokens(text)
    idx = [i for i, t in enumerate(parts) if t and not t.isspace()]
    for i in rng.sample(idx, max(1, round(rate * len(idx)))):
        parts[i] = rng.choice(vocab)
    return "".join(parts)


def case_space(text: str, rng: random.Random) -> str:
    parts = _tokens(text)
    for i, t in enumerate(parts):
        if t.isspace():
            parts[i] = rng.choice([" ", "  ", "\n", t])
        elif rng.random() < 0.3:
            parts[i] = t.upper() if rng.random() < 0.5 else t.capitalize()
    return "".join(parts)


def reorder(text: str, rng: random.Random) -> str:
    sep = "\n\n" if "\n\n" in text else "\n"
    units = text.split(sep)
    for _ in range(5):
        shuffled = units[:]
        rng.shuffle(shuffled)
        if shuffled != units or len(units) < 2:
            break
    return sep.join(shuffled)


def plant_pairs(n_pairs: int | None = None, seed: int = 0, data_dir: Path = DATA, n_grams: int = 5,
                n_distractors: int | None = None) -> tuple[list[dict], list[dict]]:
    """(documents, pairs). documents: {id, text}; every base is used once. pairs: {a, b, kind, param, jaccard}.

    Half the bases (up to n_pairs) get a variant; the rest stay single, as distractors; a few are reserved as
    appended text for `boilerplate`.
    """
    rng = random.Random(seed)
    bases = base_texts(data_dir)
    rng.shuffle(bases)
    reserve, bases = bases[:40], bases[40:]
    n_pairs = min(n_pairs or len(bases) // 2, len(bases))
    vocab = sorted({w for _, t in bases[:200] for w in t.split()})
    docs, pairs = [], []
    if n_distractors is not None:
        bases = bases[:n_pairs + n_distractors]
    for i, (bid, text) in enumerate(bases):
        docs.append({"id": bid, "text": text})
        if i >= n_pairs:
            continue
        kind = KINDS[i % len(KINDS)]
        param = None
        if kind == "exact":
            variant = text
        elif kind == "case_space":
            variant = case_space(text, rng)
        elif kind == "edit":
            param = rng.choice(EDIT_RATES)
            variant = edit_words(text, param, vocab, rng)
        elif kind == "reorder":
            variant = reorder(text, rng)
        else:
            param = rng.choice([0.1, 0.2, 0.35, 0.5, 0.7, 1.0, 2.0, 4.0, 8.0])  # appended words / own words
            extra = " ".join(t for _, t in rng.sample(reserve, 12)).split()
            start = rng.randrange(0, max(1, len(extra) // 3))
            variant = text + "\n\n" + " ".join(extra[start:start + max(5, round(param * len(text.split())))])
        vid = f"{bid}~{kind}"
        docs.append({"id": vid, "text": variant})
        j = jaccard(shingles(text, n_grams), shingles(variant, n_grams))
        pairs.append({"a": bid, "b": vid, "kind": kind, "param": param, "jaccard": round(j, 4)})
    return docs, pairs


def real_sentences(data_dir: Path = DATA) -> list[str]:
    """Every sentence of four words or more of the bundled sample (about 53,000)."""
    sentences = []
    for _, text in base_texts(data_dir):
        sentences += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]
    return sentences


def synthetic_corpus(n_docs: int, seed: int = 0, data_dir: Path = DATA, sentences_per_doc: int = 12,
                     prefix: str = "mix") -> list[dict]:
    """n_docs distinct documents, each of real sentences drawn at random from the whole sample."""
    rng = random.Random(seed)
    sentences = real_sentences(data_dir)
    return [{"id": f"{prefix}/{i:07d}", "text": " ".join(rng.choice(sentences) for _ in range(sentences_per_doc))}
            for i in range(n_docs)]


SHORT_KINDS = ("exact", "case_space", "edit")


def short_corpus(n_docs: int, seed: int = 0, data_dir: Path = DATA, planted: float = 0.01,
                 edit_rate: float = 0.2) -> tuple[list[str], list[str], list[dict]]:
    """(ids, texts, pairs) of n_docs short documents: one or two real sentences with `edit_rate` of their
    words replaced by other words of the sample (so that two documents drawn from the same sentences are not
    near-duplicates by chance, Jaccard ~0.2), of which a share `planted` are variants of another document: an
    exact copy, case and space changes (Jaccard 1.0) or one word replaced (Jaccard ~0.6-0.9 on so few words).
    """
    rng = random.Random(seed)
    sentences = real_sentences(data_dir)
    vocab = sorted({w for s in sentences for w in s.split()})
    n_pairs = round(n_docs * planted)
    n_base = n_docs - n_pairs
    ids = [f"short/{i:07d}" for i in range(n_base)]
    texts = [edit_words(" ".join(rng.choice(sentences) for _ in range(rng.choice((1, 2)))), edit_rate, vocab, rng)
             for _ in range(n_base)]
    pairs = []
    for j in range(n_pairs):
        i = j * (n_base // n_pairs)  # bases spread over the corpus, so over every file
        kind = SHORT_KINDS[j % len(SHORT_KINDS)]
        variant = short_variant(kind, texts[i], vocab, rng)
        ids.append(f"{ids[i]}~{kind}")
        texts.append(variant)
        pairs.append({"a": ids[i], "b": ids[-1], "kind": kind, "param": None,
                      "jaccard": round(jaccard(shingles(texts[i]), shingles(variant)), 4)})
    return ids, texts, pairs


def short_variant(kind: str, text: str, vocab: list[str], rng: random.Random) -> str:
    if kind == "exact":
        return text
    if kind == "case_space":
        return case_space(text, rng)
    return edit_words(text, 0.0, vocab, rng)  # rate 0: the one word edit_words always replaces


def write_columns(ids: list[str], texts: list[str], folder: Path, source: str = "planted", files: int = 1) -> list[Path]:
    """Documents as curate parquet shards folder/<source>/<k>.parquet, document i in file i % files."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.io.writer import TYPED_COLUMNS, shard_schema

    (folder / source).mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(files):
        n = len(ids[k::files])
        table = pa.table({"id": ids[k::files], "text": texts[k::files], "source": [source] * n, "url": [None] * n,
                          **{name: [None] * n for name in TYPED_COLUMNS}, "metadata": ["{}"] * n}, schema=shard_schema())
        path = folder / source / f"{k:05d}.parquet"
        pq.write_table(table, path)
        paths.append(path)
    return paths


def write_corpus(docs: list[dict], folder: Path, source: str = "planted", files: int = 1) -> list[Path]:
    """Documents ({id, text}) as curate parquet shards: folder/<source>/<k>.parquet."""
    return write_columns([d["id"] for d in docs], [d["text"] for d in docs], folder, source, files)


def write_pairs(pairs: list[dict], path: Path) -> None:
    path.write_text("".join(json.dumps(p, sort_keys=True) + "\n" for p in pairs))


def bin_of(j: float) -> float:
    if j >= 1.0:
        return 1.0
    return max(b for b in BINS[:-1] + [0.0] if b <= j + 1e-9) if j >= 0.1 else 0.0


def score(pairs: list[dict], cluster_of: dict[str, str], threshold: float, margin: float = 0.05) -> dict:
    """Per Jaccard bin: pairs and the share found (same cluster). Recall over pairs with Jaccard >=
    threshold + margin, precision over found pairs (found with Jaccard >= threshold)."""
    bins: dict[float, list[int]] = {}
    found_ok = found = rel = rel_found = 0
    for p in pairs:
        hit = cluster_of.get(p["a"], p["a"]) == cluster_of.get(p["b"], p["b"])
        b = bins.setdefault(bin_of(p["jaccard"]), [0, 0])
        b[0] += 1
        b[1] += hit
        if hit:
            found += 1
            found_ok += p["jaccard"] >= threshold
        if p["jaccard"] >= threshold + margin:
            rel += 1
            rel_found += hit
    return {
        "threshold": threshold,
        "bins": {f"{k:.1f}": {"pairs": v[0], "found": round(v[1] / v[0], 4)} for k, v in sorted(bins.items())},
        "recall": round(rel_found / rel, 4) if rel else None,
        "precision": round(found_ok / found, 4) if found else None,
        "found": found,
        "relevant": rel,
    }


def clusters_from_removed(records) -> dict[str, str]:
    """id -> representative id, from dedup's removed/ records."""
    return {r["id"]: r["details"]["duplicate_of"] for r in records}
