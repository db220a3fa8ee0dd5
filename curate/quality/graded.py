"""A fastText quality model trained on graded labels: JSONL of {"text", "score"}, scores 0-5 as an LLM
annotation run writes them (FineWeb-Edu's scale).

    card = train_graded(["annotations.jsonl"], "edu.bin")       # also writes edu.bin.json
    step = FastTextQualityFilter("edu.bin", threshold=2.5)      # the score is the expected grade

The model has one label per grade (`__label__0` ... `__label__5`); a document's score is the expected grade
under the model's probabilities, a number in [0, 5], so thresholds, percentiles and ensembles work on it as
on a probability. The card records where the labels came from, their histogram, and held-out accuracy (of
the most probable grade) and Spearman correlation (of the expected grade against the true one), measured on a
stratified held-out share of the labelled documents. Training is deterministic, as `train_classifier`'s.
"""

import gzip
import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import orjson

from curate.io.files import sha256_file
from curate.io.texts import input_files, read_documents
from curate.quality.classifier import MAX_CHARS, _write_atomically, chunks, fasttext_version, fit_supervised, normalize
from curate.quality.fasttext_model import predict

GRADES = tuple(range(6))
GRADE_PREFIX = "__label__"
TRAIN_COMMAND = "curate quality train --graded LABELS.jsonl -o MODEL.bin"
MIN_DOCS = 20
# Training examples per document at most: without a cap a 20,000-character article gives 30 examples and a
# short spam page 2, so the grades of long documents swamp the others (on the test labels, spam pages of
# grade 0 then scored 3.1 on average).
MAX_CHUNKS_PER_DOC = 10


def is_graded(model) -> bool:
    return set(model.get_labels()) <= {f"{GRADE_PREFIX}{g}" for g in GRADES}


def expected_grade(model, normalized: str) -> float:
    """The expected grade of text already passed through `normalize`: sum of grade x probability."""
    pairs = predict(model, normalized, k=len(GRADES))
    total = sum(p for _, p in pairs)
    return sum(int(label.removeprefix(GRADE_PREFIX)) * p for label, p in pairs) / total if total else 0.0


def read_graded(paths: list[str]) -> tuple[list[tuple[str, int]], dict]:
    """(normalised text, grade) of every labelled record, and counts. A score must be a number from 0 to 5;
    fractional scores (an average of several annotators) are rounded to the nearest grade."""
    docs, empty = [], 0
    for path in paths:
        for file in input_files(str(path)):
            if file.name.endswith(".parquet"):
                raise ValueError(f"{file}: graded labels are JSONL lines of {{\"text\", \"score\"}}, not parquet")
            opener = gzip.open if file.name.endswith(".gz") else open
            with opener(file, "rb") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError as e:
                        raise ValueError(f"{file}: line {n}: not valid JSON ({e})") from None
                    score = record.get("score") if isinstance(record, dict) else None
                    text = record.get("text") if isinstance(record, dict) else None
                    if not isinstance(text, str) or isinstance(score, bool) or not isinstance(score, (int, float)):
                        raise ValueError(f"{file}: line {n}: expected {{\"text\": string, \"score\": number 0-5}}")
                    if not 0 <= score <= 5:
                        raise ValueError(f"{file}: line {n}: score {score} is outside 0-5")
                    if not text[:MAX_CHARS].strip():
                        empty += 1
                        continue
                    docs.append((normalize(text), int(round(score))))
    if len(docs) < MIN_DOCS:
        raise ValueError(f"{paths}: {len(docs)} labelled document(s) with text; a graded model needs at least {MIN_DOCS}")
    return docs, {"documents": len(docs), "empty_skipped": empty}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties get their average rank); 0.0 when either side is constant."""
    def ranks(x):
        _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        return (ends - (counts - 1) / 2.0)[inverse]

    ra, rb = ranks(np.asarray(a, dtype=float)), ranks(np.asarray(b, dtype=float))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def train_graded(
    labels: list[str],
    out: str,
    *,
    seed: int = 0,
    holdout: float = 0.1,
    epoch: int = 30,
    lr: float = 0.1,
    wordNgrams: int = 2,
    dim: int = 64,
    bucket: int = 200_000,
    chunk_words: int | None = 100,
    threads: int = 1,
) -> dict:
    """Trains a fastText model of the grade on `labels` (JSONL files of {"text", "score"}), saves it to `out`
    and its card to `out + ".json"`, and returns the card. The hyperparameters are `train_classifier`'s but
    for `epoch`: six classes learn slower than two (on the test labels, 10 epochs gave a held-out Spearman of
    0.74, 30 epochs 0.86)."""
    if not 0.0 <= holdout < 0.5:
        raise ValueError(f"holdout must be in [0, 0.5), got {holdout}")
    labels = [labels] if isinstance(labels, (str, os.PathLike)) else list(labels)
    rng = random.Random(seed)
    docs, counts = read_graded(labels)
    histogram = {str(g): sum(1 for _, s in docs if s == g) for g in GRADES}
    by_grade = {g: [d for d in docs if d[1] == g] for g in GRADES}
    train, held = [], []
    for g in GRADES:  # stratified: each grade keeps its share in the held-out set
        group = by_grade[g]
        rng.shuffle(group)
        n_hold = round(holdout * len(group)) if len(group) > 1 else 0
        held += group[:n_hold]
        train += group[n_hold:]
    hyper = {"epoch": epoch, "lr": lr, "wordNgrams": wordNgrams, "dim": dim, "bucket": bucket, "minCount": 1,
             "loss": "softmax", "thread": threads, "seed": seed}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".curate-quality-", dir=Path(out).parent) as tmp:
        lines = [f"{GRADE_PREFIX}{g} {c}\n" for text, g in train for c in chunks(text, chunk_words)[:MAX_CHUNKS_PER_DOC]]
        rng.shuffle(lines)
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8", errors="replace") as f:
            f.writelines(lines)
        model = fit_supervised(train_file, hyper)
    _write_atomically(out, model.save_model)

    metrics = None
    if held:
        true = np.array([g for _, g in held])
        expected = np.array([expected_grade(model, t) for t, _ in held])
        top = np.array([int(predict(model, t, k=1)[0][0].removeprefix(GRADE_PREFIX)) for t, _ in held])
        metrics = {
            "documents": len(held),
            "accuracy": round(float((top == true).mean()), 4),
            "within_one": round(float((np.abs(top - true) <= 1).mean()), 4),
            "spearman": round(spearman(expected, true), 4),
            "mae_expected_grade": round(float(np.abs(expected - true).mean()), 4),
        }
    card = {
        "kind": "graded",
        "model": os.path.basename(out),
        "model_sha256": sha256_file(out),
        "labels": {"source": [str(p) for p in labels], "scale": "0-5 (FineWeb-Edu style)",
                   "grade_labels": [f"{GRADE_PREFIX}{g}" for g in GRADES]},
        "score": "expected grade: sum of grade x probability, in [0, 5]",
        "grade_histogram": histogram,
        "counts": counts,
        "normalize": {"function": "curate.quality.classifier.normalize", "max_chars": MAX_CHARS},
        "train": {"documents": len(train), "chunk_words": chunk_words, "examples": len(lines)},
        "holdout": {"fraction": holdout, "documents": len(held)},
        "hyperparameters": hyper,
        "fasttext": fasttext_version(),
        "metrics": metrics,
    }
    payload = json.dumps(card, indent=2, sort_keys=True) + "\n"
    _write_atomically(out + ".json", lambda tmp: Path(tmp).write_text(payload))
    return card
