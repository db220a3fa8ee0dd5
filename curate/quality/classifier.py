"""The fastText quality classifier: train it on the user's own good and bad documents, then filter with it.

    card = train_classifier(["good-run/"], ["crawl-run/"], "quality.bin")   # also writes quality.bin.json
    step = FastTextQualityFilter("quality.bin", threshold=card["suggested_threshold"])

Both sides see text through the same `normalize`, so the model scores at inference exactly what it learnt from.
Training is deterministic: the same inputs and seed give the same model bytes (one fastText thread by default,
seeded sampling and split), and the JSON card beside the model holds no dates, so it is identical too.

Models load through `curate.quality.fasttext_model`, which reloads a model retrained to the same path.
"""

import json
import os
import random
import re
import tempfile
from pathlib import Path

import numpy as np
from datatrove.data import Document

from curate.io.files import sha256_file
from curate.io.texts import input_files, read_documents
from curate.quality.fasttext_model import FastTextStage, load_model, predict
from curate.stage import Drop

POSITIVE = "__label__hq"
NEGATIVE = "__label__lq"
# Only the start of a document is classified: it bounds the cost of a 50 MB document at inference and of a
# whole book at training, and the first 20,000 characters (~3,500 words) say enough about a document's kind.
MAX_CHARS = 20_000
MIN_DOCS_PER_CLASS = 20
TRAIN_COMMAND = "curate quality train --positive DIR --negative DIR -o MODEL.bin"

_PUNCTUATION = re.compile(r"([^\w\s])")


def normalize(text: str, max_chars: int = MAX_CHARS) -> str:
    """The text the classifier sees, at training and at inference: the first `max_chars` characters,
    lowercased, each punctuation mark a token of its own ("end." -> "end ."), whitespace (newlines included,
    which fastText would take as the end of an example) collapsed to single spaces."""
    text = _PUNCTUATION.sub(r" \1 ", text[:max_chars].lower())
    return " ".join(text.split())


def positive_probability(model, normalized: str) -> float:
    """P(hq) for text already passed through `normalize`."""
    for label, prob in predict(model, normalized, k=2):
        if label == POSITIVE:
            return prob
    return 0.0  # fastText leaves out labels whose probability rounds to zero


def load_quality_model(path: str):
    from curate.quality.graded import is_graded

    model = load_model(path)
    labels = set(model.get_labels())
    if labels != {POSITIVE, NEGATIVE} and not is_graded(model):
        raise ValueError(
            f"{path}: not a curate quality model: its labels are {sorted(labels)}, expected "
            f"{[POSITIVE, NEGATIVE]} or grades __label__0..5; train one with `{TRAIN_COMMAND}`"
        )
    return model


def model_kind(model) -> str:
    """"binary" (P(hq), in [0, 1]) or "graded" (expected grade, in [0, 5])."""
    return "binary" if POSITIVE in model.get_labels() else "graded"


def score_text(model, normalized: str) -> float:
    """The model's quality score of text already passed through `normalize` (see `model_kind`)."""
    from curate.quality.graded import expected_grade

    return positive_probability(model, normalized) if model_kind(model) == "binary" else expected_grade(model, normalized)


# --- training ------------------------------------------------------------------------------------------------


def collect(paths: list[str], what: str, rng: random.Random, max_docs: int | None) -> tuple[list[str], dict]:
    """Normalised texts of one class, and counts. With `max_docs`, a uniform sample of that many (reservoir
    sampling, seeded), so memory stays bounded whatever the size of the input."""
    if not paths:
        raise ValueError(f"{what}: no input paths given")
    files = [f for path in paths for f in input_files(str(path))]
    kept: list[str] = []
    seen = empty = 0
    for file in files:
        for doc in read_documents(file):
            text = doc and doc["text"]
            if text is None or not text[:MAX_CHARS].strip():
                empty += 1
                continue
            seen += 1
            if max_docs is None or len(kept) < max_docs:
                kept.append(normalize(text))
            elif (j := rng.randrange(seen)) < max_docs:
                kept[j] = normalize(text)
    if seen == 0:
        raise ValueError(f"{what}: no documents with text in {[str(p) for p in paths]}")
    if seen < MIN_DOCS_PER_CLASS:
        raise ValueError(
            f"{what}: only {seen} document(s) with text in {[str(p) for p in paths]}; "
            f"a classifier needs at least {MIN_DOCS_PER_CLASS} per class (thousands for a useful one)"
        )
    return kept, {"files": len(files), "documents": seen, "empty_skipped": empty, "sampled": len(kept)}


def chunks(normalized: str, words: int | None) -> list[str]:
    """Training examples from one normalised document: consecutive pieces of `words` words.

    Why: fastText divides each example's gradient by its number of tokens and starts its output layer at
    zero, so a few hundred whole documents of thousands of words leave every score at 0.50 +- 0.01 (measured
    on the bundled sample, 10 epochs). Pieces of 100 words train it properly: wiki articles then score
    0.67-1.0 and web pages at most 0.12. Scoring whole documents stays consistent with this: fastText's logit
    is linear in the mean of the token vectors, so a document's logit is the length-weighted mean of its
    pieces' logits.
    """
    if not words:
        return [normalized]
    tokens = normalized.split(" ")
    return [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative
    (ties count one half), from the rank sum of the positives (Mann-Whitney U)."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both positive and negative examples")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = ends - (counts - 1) / 2.0  # 1-based rank, averaged over tied scores
    rank_sum = average_rank[inverse][labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    predicted = scores >= threshold
    tp = int((predicted & labels).sum())
    fp = int((predicted & ~labels).sum())
    fn = int((~predicted & labels).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    accuracy = float((predicted == labels).mean())
    return {
        "threshold": round(threshold, 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "accuracy": round(accuracy, 4),
    }


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold with the best F1 on held-out scores (ties: higher precision, then the higher threshold),
    placed halfway down to the next lower held-out score so it does not sit on a document's exact score."""
    def quality(t: float) -> tuple:
        m = binary_metrics(labels, scores, t)
        return m["f1"], m["precision"], t

    candidates = [float(t) for t in np.unique(scores)]
    best = max(candidates, key=quality)
    below = [t for t in candidates if t < best]
    return round((best + (below[-1] if below else 0.0)) / 2.0, 4)


def fasttext_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("fasttext-numpy2-wheel", "fasttext"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return "unknown"


def _write_atomically(path: str, write) -> None:
    """`write(tmp_path)`, then rename over `path`: readers never see half a file, and the new file is a new
    inode, so `load_model` can tell it from the one it replaced."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def fit_supervised(train_file: str, hyper: dict):
    """fastText's supervised training on `train_file` with `hyper`. A run that diverges ("Encountered NaN.":
    seen twice in three full test runs, on labels and a seed that trained in every other run, so not only a
    rate too high) is run again at the same rate, then at half of it; hyper["lr"] is left at the rate that
    trained, so the model card records it."""
    import fasttext

    rates = [hyper["lr"], hyper["lr"], hyper["lr"] / 2]
    for attempt, rate in enumerate(rates):
        hyper["lr"] = rate
        try:
            return fasttext.train_supervised(input=train_file, verbose=0, **hyper)
        except RuntimeError as e:
            if "NaN" not in str(e) or attempt == len(rates) - 1:
                raise ValueError(f"fastText training failed ({e}) at lr {rate}; try a lower lr") from None


def train_classifier(
    positive: list[str],
    negative: list[str],
    out: str,
    *,
    seed: int = 0,
    holdout: float = 0.1,
    epoch: int = 10,
    lr: float = 0.1,
    wordNgrams: int = 2,
    dim: int = 64,
    bucket: int = 200_000,
    minCount: int = 1,
    chunk_words: int | None = 100,
    max_docs_per_class: int | None = None,
    threads: int = 1,
) -> dict:
    """Trains a fastText classifier of good (`positive`) against bad (`negative`) documents, saves it to `out`
    and its card to `out + ".json"`, and returns the card.

    Each of `positive`/`negative` lists paths: a folder of curate parquet shards (e.g. a run's `OUT/` or
    `OUT/data/<source>/`), a .parquet file, or a .jsonl/.jsonl.gz file; every record's `text` is one document.
    The larger class is down-sampled to the size of the smaller (seeded), and a stratified `holdout` fraction
    of each class is kept out of training to measure precision, recall, F1 (at 0.5) and ROC AUC, and to
    suggest the threshold with the best F1; these are measured on whole documents, as the filter scores them.
    Training examples are pieces of `chunk_words` words of each training document (None: whole documents).
    `bucket` x `dim` x 4 bytes is about the model's size on disk (51 MB by default). `epoch=10` rather than
    fastText's 5: on a few hundred documents 5 epochs leave the scores near 0.5 (held-out F1 at 0.5 of
    0.64-0.71 with 40 documents a class, 0.86-1.0 with 10 epochs). `threads=1` keeps training deterministic;
    more threads train faster (fastText's lock-free updates) but the model then differs from run to run.
    """
    if not 0.0 <= holdout < 0.5:
        raise ValueError(f"holdout must be in [0, 0.5), got {holdout}")
    if chunk_words is not None and chunk_words < 1:
        raise ValueError(f"chunk_words must be a positive number of words or None, got {chunk_words}")
    if max_docs_per_class is not None and max_docs_per_class < MIN_DOCS_PER_CLASS:
        raise ValueError(f"max_docs_per_class must be at least {MIN_DOCS_PER_CLASS}, got {max_docs_per_class}")
    positive = [positive] if isinstance(positive, (str, os.PathLike)) else list(positive)
    negative = [negative] if isinstance(negative, (str, os.PathLike)) else list(negative)
    rng = random.Random(seed)
    pos, pos_counts = collect(positive, "positive", rng, max_docs_per_class)
    neg, neg_counts = collect(negative, "negative", rng, max_docs_per_class)

    n = min(len(pos), len(neg))
    pos = rng.sample(pos, n) if len(pos) > n else pos
    neg = rng.sample(neg, n) if len(neg) > n else neg
    pos_counts["balanced"] = neg_counts["balanced"] = n
    n_hold = max(1, round(holdout * n)) if holdout > 0 else 0
    rng.shuffle(pos)
    rng.shuffle(neg)
    held_pos, train_pos = pos[:n_hold], pos[n_hold:]
    held_neg, train_neg = neg[:n_hold], neg[n_hold:]

    hyper = {
        "epoch": epoch, "lr": lr, "wordNgrams": wordNgrams, "dim": dim, "bucket": bucket, "minCount": minCount,
        "loss": "softmax", "thread": threads, "seed": seed,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    # The training file goes beside the model: the user chose that disk for big files, /tmp may be small.
    with tempfile.TemporaryDirectory(prefix=".curate-quality-", dir=Path(out).parent) as tmp:
        pos_lines = [f"{POSITIVE} {c}\n" for t in train_pos for c in chunks(t, chunk_words)]
        neg_lines = [f"{NEGATIVE} {c}\n" for t in train_neg for c in chunks(t, chunk_words)]
        n_examples = {"positive": len(pos_lines), "negative": len(neg_lines)}
        lines = pos_lines + neg_lines
        rng.shuffle(lines)  # SGD sees the classes mixed, in an order fixed by the seed
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8", errors="replace") as f:
            f.writelines(lines)
        del lines
        model = fit_supervised(train_file, hyper)
    _write_atomically(out, model.save_model)

    card = {
        "model": os.path.basename(out),
        "model_sha256": sha256_file(out),
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "normalize": {"function": "curate.quality.classifier.normalize", "max_chars": MAX_CHARS},
        "sources": {"positive": [str(p) for p in positive], "negative": [str(p) for p in negative]},
        "counts": {"positive": pos_counts, "negative": neg_counts},
        "train": {"positive": len(train_pos), "negative": len(train_neg), "chunk_words": chunk_words,
                  "examples": n_examples},
        "holdout": {"fraction": holdout, "positive": len(held_pos), "negative": len(held_neg)},
        "max_docs_per_class": max_docs_per_class,
        "hyperparameters": hyper,
        "fasttext": fasttext_version(),
        "metrics": None,
        "suggested_threshold": None,
        "metrics_at_suggested_threshold": None,
    }
    if n_hold:
        labels = np.array([True] * len(held_pos) + [False] * len(held_neg))
        scores = np.array([positive_probability(model, t) for t in held_pos + held_neg])
        suggested = best_f1_threshold(labels, scores)
        card["metrics"] = {**binary_metrics(labels, scores, 0.5), "roc_auc": round(roc_auc(labels, scores), 4)}
        card["suggested_threshold"] = suggested
        card["metrics_at_suggested_threshold"] = binary_metrics(labels, scores, suggested)
    payload = json.dumps(card, indent=2, sort_keys=True) + "\n"
    _write_atomically(out + ".json", lambda tmp: Path(tmp).write_text(payload))
    return card


# --- the filter stage ----------------------------------------------------------------------------------------


# Default cut and bucket edges per kind of model: P(hq) >= 0.5; an expected grade >= 2.5, which is FineWeb-Edu's
# "rounded score of 3 or more"; buckets of 0.2 in probability, one per (rounded) grade.
DEFAULT_THRESHOLD = {"binary": 0.5, "graded": 2.5}
DEFAULT_BUCKET_EDGES = {"binary": [0.2, 0.4, 0.6, 0.8], "graded": [0.5, 1.5, 2.5, 3.5, 4.5]}
COMBINE = {"mean": lambda s: sum(s) / len(s), "max": max}


class FastTextQualityFilter(FastTextStage):
    """Scores every document with one quality model from `curate quality train` (or several: an ensemble,
    whose score is the `combine` of theirs: "mean" or "max") and keeps those whose score is at least the cut.

    The score is the probability of "good" for a model trained on positives and negatives, the expected grade
    (0-5) for a model trained on graded labels; all the models of an ensemble must be of one kind. It goes into
    `metadata["quality_score"]` (rounded to 4 decimals; the decision uses that same number), and with `buckets`
    its bucket into `metadata["quality_bucket"]`: how many of `bucket_edges` it reaches (by default, for a
    graded model, the rounded grade), so that an ablation can take one bucket as a source.

    The cut: `threshold` (by default 0.5 for probabilities, 2.5 for grades), or `percentile` P: keep the top
    P% of the corpus at `percentile_of` (folders of curate shards or JSONL; the documents this step will see,
    e.g. the `dedup` output that web-final.yaml reads). That cut is computed once, when the pipeline is built,
    from at most `percentile_max_docs` documents (a seeded uniform sample), so every task uses the same value.
    With `annotate_only`, every document is kept and only scored. Removed: "low_quality_score".
    """

    name = "quality_classifier"

    def __init__(
        self,
        model_path: str | list[str],
        threshold: float | None = None,
        annotate_only: bool = False,
        percentile: float | None = None,
        percentile_of: str | list[str] | None = None,
        percentile_max_docs: int = 100_000,
        combine: str = "mean",
        buckets: bool = False,
        bucket_edges: list[float] | None = None,
    ):
        super().__init__()
        paths = [model_path] if isinstance(model_path, (str, os.PathLike)) else list(model_path)
        if not paths:
            raise ValueError("quality_classifier: model_path is empty; give one model file or a list of them")
        for path in paths:
            if not os.path.isfile(path):
                raise ValueError(
                    f"quality_classifier: no model file at {path}; train one with `{TRAIN_COMMAND}` (e.g. -o {path})"
                )
        if combine not in COMBINE:
            raise ValueError(f"quality_classifier: combine must be one of {sorted(COMBINE)}, got {combine!r}")
        self.model_paths = [str(p) for p in paths]
        self.model_path = self.model_paths[0]
        self.combine = combine
        self.annotate_only = annotate_only
        kinds = {model_kind(load_quality_model(p)) for p in self.model_paths}  # a wrong file fails here, not in a task
        if len(kinds) > 1:
            raise ValueError(f"quality_classifier: {self.model_paths} mix binary and graded models; their scores "
                             "are on different scales, so an ensemble takes one kind")
        self.kind = kinds.pop()
        high = 5.0 if self.kind == "graded" else 1.0
        if percentile is not None:
            if threshold is not None:
                raise ValueError("quality_classifier: give threshold or percentile, not both")
            if not 0 < percentile <= 100:
                raise ValueError(f"quality_classifier: percentile is the share of documents kept, in (0, 100]; got {percentile}")
            if not percentile_of:
                raise ValueError("quality_classifier: percentile needs percentile_of: the corpus (shard folders or "
                                 "JSONL) the cut is computed on, e.g. the input of this pipeline")
            threshold, self.cut = self.percentile_cut(percentile, percentile_of, percentile_max_docs)
        else:
            self.cut = None
        self.threshold = DEFAULT_THRESHOLD[self.kind] if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= high:
            raise ValueError(f"quality_classifier: threshold must be in [0, {high:g}] for a {self.kind} model, "
                             f"got {self.threshold}")
        self.buckets = buckets
        self.bucket_edges = sorted(bucket_edges) if bucket_edges is not None else DEFAULT_BUCKET_EDGES[self.kind]

    def load(self):
        return [load_quality_model(p) for p in self.model_paths]

    def score(self, models, text: str) -> float:
        normalized = normalize(text)
        return round(COMBINE[self.combine]([score_text(m, normalized) for m in models]), 4)

    def percentile_cut(self, percentile: float, corpus: str | list[str], max_docs: int) -> tuple[float, dict]:
        """The score above which `percentile`% of the corpus lies, and how it was computed (first pass)."""
        paths = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
        rng = random.Random(0)
        texts, seen = [], 0
        for file in (f for p in paths for f in input_files(str(p))):
            for doc in read_documents(file):
                if doc is None:
                    continue
                seen += 1
                if len(texts) < max_docs:
                    texts.append(doc["text"])
                elif (j := rng.randrange(seen)) < max_docs:
                    texts[j] = doc["text"]
        if not texts:
            raise ValueError(f"quality_classifier: percentile_of {paths}: no documents to compute the cut on")
        models = self.load()
        scores = np.array([self.score(models, t) for t in texts])
        # keep the top percentile: the cut is the (100 - percentile)th percentile, taken at an observed score
        # ("lower") so that documents with exactly the cut's score are kept
        cut = float(np.percentile(scores, 100 - percentile, method="lower"))
        return cut, {"percentile": percentile, "of": [str(p) for p in paths], "documents_seen": seen,
                     "documents_scored": len(texts), "cut": cut}

    def process(self, doc: Document) -> Document | Drop:
        score = self.score(self.model(), doc.text)
        doc.metadata["quality_score"] = score
        if self.buckets:
            doc.metadata["quality_bucket"] = int(np.searchsorted(self.bucket_edges, score, side="right"))
        if self.annotate_only or score >= self.threshold:
            return doc
        details = {"score": score, "threshold": self.threshold}
        if self.cut is not None:
            details["percentile"] = self.cut["percentile"]
        return Drop("low_quality_score", details)
