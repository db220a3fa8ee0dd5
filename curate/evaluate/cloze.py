"""Multiple-choice tasks scored by a proxy's log-likelihood of each choice.

A task is a JSONL file, one item a line:

    {"context": "It was the best of times, it was the worst of", "choices": [" times", " ages", ...], "gold": 0}

The choice follows the context directly (put its leading space in the choice). Each choice is scored by its
log-likelihood given the separator token + the context (left-truncated to the model's seq_len), normalised by
the choice's UTF-8 bytes; the prediction is the best normalised score. Reported: `accuracy` (byte-normalised,
the headline), its standard error `se` (binomial, sqrt(acc (1 - acc) / n): 50 items at 50% give .07, so a task
needs hundreds of items before a few points of accuracy mean anything), `accuracy_raw` (unnormalised sum),
`gold_prob` (mean over items of the gold choice's probability under a softmax over the choices' total
log-likelihoods), `chance` and `n`.

Other benchmarks map onto this format (convert them once to JSONL; `from_hellaswag`, `from_arc`, `from_piqa`
do it for one record):
    HellaSwag  context = ctx (ctx_a + " " + ctx_b),  choices = [" " + e for e in endings],  gold = int(label)
    ARC        context = "Question: " + question + "\\nAnswer:",  choices = [" " + t for t in choices["text"]],
               gold = choices["label"].index(answerKey)
    PIQA       context = "Question: " + goal + "\\nAnswer:",  choices = [" " + sol1, " " + sol2],  gold = label

The bundled task is built from the held-out documents themselves (`build_lastword_task`): a last-word cloze.
"""

import hashlib
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from curate.evaluate.metrics import Metric
from curate.tokenizer.shards import TokenShards, TokenSource

ACCURACY = Metric("accuracy", "higher", 0.0, 1.0, "fraction of items right")

WORD = re.compile(r"[A-Za-z]+")
# A sentence: text up to . ! or ? followed by whitespace; its last word is letters only, 3+ of them.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LAST_WORD = re.compile(r"^(?P<head>.*\S)\s+(?P<word>[A-Za-z]{3,})(?P<punct>[.!?])$", re.S)
# Preceding characters of the document kept before the sentence, as extra context.
CONTEXT_CHARS = 300
MIN_SENTENCE_WORDS = 6
# Distractors are drawn among this many words nearest the gold word in the source's frequency ranking.
NEIGHBOURS = 20


def load_task(path: str) -> list[dict]:
    """The items of a JSONL task file, each checked: context a string, choices >= 2 strings, gold an index."""
    items = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not JSON ({e.msg})") from None
            ok = (isinstance(item, dict) and isinstance(item.get("context"), str)
                  and isinstance(item.get("choices"), list) and len(item["choices"]) >= 2
                  and all(isinstance(c, str) and c for c in item["choices"])
                  and isinstance(item.get("gold"), int) and 0 <= item["gold"] < len(item["choices"]))
            if not ok:
                raise ValueError(f"{path}:{line_no}: expected {{\"context\": str, \"choices\": [>= 2 non-empty str], "
                                 f"\"gold\": index into choices}}, got {line.strip()[:200]}")
            items.append(item)
    if not items:
        raise ValueError(f"{path}: no items")
    return items


def write_task(items: list[dict], path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def from_hellaswag(r: dict) -> dict:
    ctx = r.get("ctx") or (r["ctx_a"] + " " + r["ctx_b"]).strip()
    return {"context": ctx, "choices": [" " + e for e in r["endings"]], "gold": int(r["label"])}


def from_arc(r: dict) -> dict:
    return {"context": f"Question: {r['question']}\nAnswer:", "choices": [" " + t for t in r["choices"]["text"]],
            "gold": r["choices"]["label"].index(r["answerKey"])}


def from_piqa(r: dict) -> dict:
    return {"context": f"Question: {r['goal']}\nAnswer:", "choices": [" " + r["sol1"], " " + r["sol2"]],
            "gold": int(r["label"])}


def heldout_documents(source: TokenSource, tokenizer) -> list[str]:
    """The held-out documents of one source, decoded with `tokenizer` (the one its shards were made with)."""
    return [tokenizer.decode(tokens[start : end - 1]) for tokens, start, end in source.spans("heldout")]


def build_lastword_task(docs: list[str], n: int = 200, seed: int = 0, where: str = "texts") -> list[dict]:
    """A last-word cloze from documents (a source's held-out ones: `heldout_documents`; `where` names them in
    an error): context = up to 300 preceding
    characters of the document + a sentence of 6+ words without its last word; choices = that word and 3
    distractors drawn (seeded) among the 20 words nearest it in the frequency ranking of the same text, each
    with a leading space; the gold position is shuffled. At most n items, the sentences chosen by the seed;
    the same inputs and seed give the same items."""
    freq = Counter(w.lower() for d in docs for w in WORD.findall(d))
    # Words of equal count are ordered by a hash, not alphabetically (neighbours would share a prefix).
    ranked = [w for w, _ in sorted(freq.items(), key=lambda kv: (-kv[1], hashlib.sha1(kv[0].encode()).digest()))]
    rank = {w: i for i, w in enumerate(ranked)}
    candidates = []
    for d_i, doc in enumerate(docs):
        pos = 0
        for sentence in SENTENCE_END.split(doc):
            start = doc.find(sentence, pos)
            pos = start + len(sentence)
            m = LAST_WORD.match(sentence.strip())
            if m and len(m["head"].split()) + 1 >= MIN_SENTENCE_WORDS and "\n" not in m["head"][-80:]:
                candidates.append((d_i, start, m["head"], m["word"]))
    if len(ranked) < 4 or not candidates:
        raise ValueError(f"{where}: too little held-out text for a last-word task "
                         f"({len(candidates)} sentences, {len(ranked)} distinct words)")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(candidates))[:n]
    items = []
    for c in sorted(order):
        d_i, start, head, word = candidates[c]
        r = rank[word.lower()]
        lo = max(0, min(r - NEIGHBOURS // 2, len(ranked) - NEIGHBOURS - 1))
        pool = [w for w in ranked[lo : lo + NEIGHBOURS + 1] if w != word.lower()]
        distractors = [pool[i] for i in rng.choice(len(pool), size=min(3, len(pool)), replace=False)]
        if word[0].isupper():
            distractors = [w.capitalize() for w in distractors]
        choices = [word] + distractors
        perm = rng.permutation(len(choices))
        preceding = docs[d_i][max(0, start - CONTEXT_CHARS) : start]
        items.append({"context": preceding + head, "choices": [" " + choices[i] for i in perm],
                      "gold": int(np.argmax(perm == 0))})
    return items


@torch.no_grad()
def score_item(model, tokenizer, separator_id: int, item: dict) -> list[float]:
    """Total log-likelihood (nats) of each choice given separator + context."""
    device = next(model.parameters()).device
    seq_len = model.config.seq_len
    ctx_ids = [separator_id] + tokenizer.encode_batch([item["context"]])[0]
    choice_ids = tokenizer.encode_batch(item["choices"])
    rows, spans = [], []
    for ids in choice_ids:
        ids = ids[-(seq_len - 1):] if len(ids) >= seq_len else ids
        full = (ctx_ids + ids)[-(seq_len + 1):]
        rows.append(full)
        spans.append(len(ids))
    width = max(len(r) for r in rows)
    x_BT = torch.zeros(len(rows), width - 1, dtype=torch.long)
    y_BT = torch.full((len(rows), width - 1), -1, dtype=torch.long)
    for b, (r, k) in enumerate(zip(rows, spans)):
        x_BT[b, : len(r) - 1] = torch.tensor(r[:-1])
        y_BT[b, len(r) - 1 - k : len(r) - 1] = torch.tensor(r[-k:])
    loss_BT = model(x_BT.to(device), y_BT.to(device), reduction="none").double().cpu()
    return [-float(loss_BT[b][y_BT[b] >= 0].sum()) for b in range(len(rows))]


def score_task(model, tokenizer, separator_id: int, items: list[dict]) -> dict:
    """accuracy (byte-normalised log-likelihood), se, accuracy_raw, gold_prob, chance, n (module docstring)."""
    was_training = model.training
    model.eval()
    correct = correct_raw = 0
    gold_probs = []
    for item in items:
        ll = np.array(score_item(model, tokenizer, separator_id, item))
        nbytes = np.array([len(c.encode("utf-8")) for c in item["choices"]])
        correct += int(np.argmax(ll / nbytes) == item["gold"])
        correct_raw += int(np.argmax(ll) == item["gold"])
        p = np.exp(ll - ll.max())
        gold_probs.append(float(p[item["gold"]] / p.sum()))
    model.train(was_training)
    n = len(items)
    acc = correct / n
    return {"accuracy": acc, "se": math.sqrt(acc * (1 - acc) / n), "accuracy_raw": correct_raw / n,
            "gold_prob": float(np.mean(gold_probs)), "n": n,
            "chance": float(np.mean([1 / len(i["choices"]) for i in items]))}


def evaluate_tasks(model, data: TokenShards, tasks: list[str]) -> dict:
    """task name (file stem) -> score_task result, with the tokenizer the token shards were made with."""
    tok = data.load_tokenizer()
    if tok.vocab_size != model.config.vocab_size:
        raise ValueError(f"tokenizer {data.tokenizer} has {tok.vocab_size} tokens, the model {model.config.vocab_size}")
    return {Path(t).stem: score_task(model, tok, data.separator_id, load_task(t)) for t in tasks}
