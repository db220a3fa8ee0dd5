"""Evaluation of trained proxies: bits per byte per source, multiple-choice cloze, eval.json."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from curate.evaluate import (bits_per_byte, build_lastword_task, evaluate_run, load_task, read_metrics, score_task,
                              write_task)
from curate.evaluate.bpb import (BLOCK_TOKENS, heldout_sample, heldout_size, heldout_warnings, load_token_bytes,
                                 plan_pieces, source_bpb)
from curate.evaluate.cloze import from_arc, from_hellaswag, from_piqa, heldout_documents
from curate.tokenizer import TokenShards
from curate.train import train


pytestmark = pytest.mark.usefixtures("one_thread")




def proxy(corpus: Path, out: Path, weights: dict, steps: int = 80, seed: int = 0) -> Path:
    train({s: str(corpus) for s in weights}, weights, depth=1, tokens=64 * 8 * steps, out_dir=str(out), seq_len=64,
          batch_size=8, seed=seed, device="cpu", progress=False)
    return out


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("proxies")
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # module-scoped: set up before the autouse fixture above
    yield {"books90": proxy(corpus, root / "books90", {"books": 0.9, "web": 0.1}),
            "web90": proxy(corpus, root / "web90", {"books": 0.1, "web": 0.9})}
    torch.set_num_threads(n)


def test_mixture_shows_in_bits_per_byte(runs, corpus):
    """The ablation's premise: more books in the mix -> lower books bits per byte (and the same for web)."""
    data = {"books": str(corpus), "web": str(corpus)}
    b = bits_per_byte(str(runs["books90"]), data, max_tokens=8192)
    w = bits_per_byte(str(runs["web90"]), data, max_tokens=8192)
    assert b["books"] < w["books"] - 0.1
    assert w["web"] < b["web"] - 0.1


def test_bits_per_byte_by_hand(runs, corpus):
    """bpb = nats over non-separator targets / (ln 2 * their bytes), windows of seq_len + 1 with stride seq_len."""
    from curate.train import load_run

    model, _ = load_run(str(runs["books90"]), "cpu")
    meta = json.loads((corpus / "meta.json").read_text())
    tb = load_token_bytes(meta["tokenizer"])
    assert tb[meta["separator_id"]] == 0 and (np.delete(tb, meta["separator_id"]) > 0).all()
    tokens = np.arange(1, 200, dtype=np.int64) % 500 + 1
    tokens[50] = meta["separator_id"]
    got = source_bpb(model, tokens, tb, seq_len=64)
    nats = nbytes = 0.0
    with torch.no_grad():
        for i in range(3):  # (199 - 1) // 64 windows
            w = torch.as_tensor(tokens[i * 64 : i * 64 + 65])[None]
            loss = model(w[:, :-1], w[:, 1:], reduction="none")[0].double()
            keep = tb[w[0, 1:].numpy()] > 0
            nats += float(loss[torch.as_tensor(keep)].sum())
            nbytes += float(tb[w[0, 1:].numpy()].sum())
    assert got["bpb"] == pytest.approx(nats / (math.log(2) * nbytes), rel=1e-9) and got["tokens"] == 3 * 64 - 1


def test_standard_error_by_hand(runs, corpus):
    """The ratio estimator's standard error over clusters: documents (a new one after every separator) and
    BLOCK_TOKENS-token blocks of a longer one."""
    from curate.train import load_run

    model, _ = load_run(str(runs["books90"]), "cpu")
    shards = TokenShards.open(corpus)
    tb, sep = load_token_bytes(shards.tokenizer), shards.separator_id
    n = BLOCK_TOKENS + 400
    tokens = np.arange(n, dtype=np.int64) % 400 + 1
    tokens[100] = sep  # clusters: positions 1..100 (document 0), 101..100+1024 and the rest (document 1, 2 blocks)
    got = source_bpb(model, tokens, tb, seq_len=64)
    windows = (n - 1) // 64
    with torch.no_grad():
        w = torch.as_tensor(np.stack([tokens[i * 64 : i * 64 + 65] for i in range(windows)]))
        loss = model(w[:, :-1], w[:, 1:], reduction="none").double().numpy().reshape(-1)
    pos = np.arange(1, windows * 64 + 1)
    nbytes = tb[tokens[pos]].astype(float)
    loss = np.where(nbytes > 0, loss, 0.0)
    cluster = np.where(pos <= 100, 0, 1 + (pos - 101) // BLOCK_TOKENS)
    nc, bc = np.bincount(cluster, loss), np.bincount(cluster, nbytes)
    r, m = loss.sum() / nbytes.sum(), 3
    se = math.sqrt(m / (m - 1) * ((nc - r * bc) ** 2).sum()) / nbytes.sum() / math.log(2)
    assert got["clusters"] == 3 and got["se"] == pytest.approx(se, rel=1e-9)


def test_held_out_text_is_spread_over_documents():
    """Water-filling: every document gives the same quota of its first tokens (a short one all of them); with
    quotas too short to be text, an evenly spaced subset of the documents is read instead."""
    assert plan_pieces([100, 10_000, 500, 50_000], 2000) == [(0, 100), (1, 700), (2, 500), (3, 700)]
    assert plan_pieces([10, 20], 400) == [(0, 10), (1, 20)]
    many = plan_pieces([1000] * 100, 1000)
    assert [i for i, _ in many] == [0, 50, 99] and all(t == 333 for _, t in many)


def test_held_out_sample_and_its_size_warnings(corpus):
    books = TokenShards.open(corpus)["books"]
    meta = json.loads((corpus / "meta.json").read_text())
    tokens, docs = heldout_sample(books, 4000)
    size = heldout_size(books, 4000)
    assert docs == size["documents_read"] == size["documents"] == meta["sources"]["books"]["heldout"]["documents"]
    assert len(tokens) == size["tokens_read"] <= 4001 and tokens[-1] == meta["separator_id"]
    assert int((tokens == meta["separator_id"]).sum()) == docs  # one piece per document, each closed
    assert heldout_warnings({"books": str(corpus)}, 4000, min_tokens=100, min_documents=1) == []
    [w] = heldout_warnings({"books": str(corpus)}, 4000, min_tokens=10**6, min_documents=10**3)
    assert w.startswith("held-out books:") and "holdout_fraction 0.1" in w and "curate tokenize" in w


def test_lastword_task_is_deterministic_and_well_formed(corpus, tmp_path):
    shards = TokenShards.open(corpus)
    docs = heldout_documents(shards["books"], shards.load_tokenizer())
    a = build_lastword_task(docs, n=30, seed=3)
    assert a == build_lastword_task(docs, n=30, seed=3)
    assert a != build_lastword_task(docs, n=30, seed=4)
    assert len(a) == 30
    for item in a:
        assert len(item["choices"]) == 4 and len(set(item["choices"])) == 4
        gold = item["choices"][item["gold"]].strip()
        assert gold.isalpha() and item["context"] and all(c.startswith(" ") for c in item["choices"])
    write_task(a, str(tmp_path / "t.jsonl"))
    assert load_task(str(tmp_path / "t.jsonl")) == a
    (tmp_path / "bad.jsonl").write_text('{"context": "x", "choices": ["a"], "gold": 0}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_task(str(tmp_path / "bad.jsonl"))


def test_cloze_scores_what_the_model_prefers(runs, corpus):
    """A choice repeated from the context (the model has learned to copy a little) vs random strings: the
    scorer must rank by byte-normalised log-likelihood, and gold_prob is a softmax over total ones."""
    from curate.tokenizer import load_tokenizer
    from curate.train import load_run

    model, _ = load_run(str(runs["books90"]), "cpu")
    meta = json.loads((corpus / "meta.json").read_text())
    tok = load_tokenizer(meta["tokenizer"])
    items = [{"context": "To be, or not to be, that is the", "choices": [" question", " qzxv", " xqj kz"], "gold": 0}]
    r = score_task(model, tok, meta["separator_id"], items)
    assert r["n"] == 1 and 0 < r["gold_prob"] < 1 and r["chance"] == pytest.approx(1 / 3)


def test_evaluate_run_writes_eval_json_reproducibly(runs, corpus):
    run = runs["web90"]
    first = evaluate_run(str(run), max_tokens=4096, lastword_items=40, seed=0, device="cpu")
    text = (run / "eval.json").read_text()
    second = evaluate_run(str(run), max_tokens=4096, lastword_items=40, seed=0, device="cpu")
    assert first == second and (run / "eval.json").read_text() == text
    assert set(first["bpb"]) == {"books", "web"} and set(first["tasks"]) == {"lastword_books", "lastword_web"}
    assert all(0 <= t["accuracy"] <= 1 and t["n"] > 0 for t in first["tasks"].values())
    # Each metric carries its declaration: direction and range, where the evaluation defines it.
    m = first["metrics"]
    assert set(m) == {"bpb_books", "bpb_web", "bpb_mean", "acc_lastword_books", "acc_lastword_web"}
    assert (m["bpb_books"]["better"], m["bpb_books"]["low"], m["bpb_books"]["high"]) == ("lower", 0.0, None)
    assert (m["acc_lastword_web"]["better"], m["acc_lastword_web"]["low"], m["acc_lastword_web"]["high"]) == ("higher", 0.0, 1.0)
    assert m["bpb_mean"]["derived"] and m["bpb_books"]["value"] == first["bpb"]["books"] and m["bpb_books"]["se"] > 0
    t = first["tasks"]["lastword_web"]
    assert t["se"] == pytest.approx(math.sqrt(t["accuracy"] * (1 - t["accuracy"]) / t["n"]))
    read = read_metrics(first)
    assert read["acc_lastword_web"]["metric"].loss(0.75) == pytest.approx(0.25) and not read["bpb_web"]["metric"].loss(0)


def test_benchmark_formats_map_to_items():
    h = from_hellaswag({"ctx": "A man sits.", "endings": ["He stands.", "He flies."], "label": "1"})
    assert h == {"context": "A man sits.", "choices": [" He stands.", " He flies."], "gold": 1}
    a = from_arc({"question": "2+2?", "choices": {"text": ["3", "4"], "label": ["A", "B"]}, "answerKey": "B"})
    assert a["gold"] == 1 and a["context"].endswith("Answer:")
    p = from_piqa({"goal": "Open a jar", "sol1": "twist", "sol2": "kick", "label": 0})
    assert p["choices"] == [" twist", " kick"] and p["gold"] == 0
