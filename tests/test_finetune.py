"""The finetune probe (full and LoRA) on a tiny real proxy, and the bundled evaluation tasks."""

import hashlib
import json
from pathlib import Path

import pytest
import torch

from helpers import build_corpus

from curate.evaluate.cloze import load_task, score_task
from curate.evaluate.finetune import (ROTTEN_TOMATOES, LoRALinear, finetune_probe, load_classification_task,
                                      run_tokenizer)
from curate.train import train

TASKS = Path(__file__).parent.parent / "curate" / "data" / "tasks"
BIGBENCH = {"bigbench_anachronisms.jsonl": 230, "bigbench_phrase_relatedness.jsonl": 100}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A depth-1 proxy pretrained on 20,480 tokens of the three real sources (about 3 s on one CPU thread)."""
    torch.set_num_threads(1)
    corpus = build_corpus(tmp_path_factory.getbasetemp() / "train-corpus")
    out = tmp_path_factory.mktemp("ft") / "run"
    train(data=str(corpus), weights={"books": 0.5, "web": 0.3, "wiki": 0.2}, depth=1, tokens=128 * 8 * 20,
          out_dir=str(out), seq_len=128, batch_size=8, seed=0, device="cpu", progress=False)
    return out


@pytest.fixture(scope="module")
def small_task(tmp_path_factory) -> Path:
    """240 train + 80 test examples of the bundled Rotten Tomatoes task (balanced), for the fast tests."""
    data = load_classification_task(ROTTEN_TOMATOES)
    rows = []
    for split, n in (("train", 120), ("test", 40)):
        for label in (0, 1):
            rows += [r for r in data[split] if r["label"] == label][:n]
    path = tmp_path_factory.mktemp("tasks") / "rt_small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ckpt_weights(run: Path) -> dict:
    return torch.load(run / "ckpt.pt", weights_only=False)["model"]


def test_bundled_rotten_tomatoes_is_balanced_and_splits_do_not_overlap():
    data = load_classification_task(ROTTEN_TOMATOES)
    assert len(data["train"]) == 2000 and len(data["test"]) == 500
    for split, rows in data.items():
        assert sum(r["label"] for r in rows) * 2 == len(rows)  # balanced: half fresh (1), half rotten (0)
    for key in ("id", "text", "movie"):  # split by movie: no snippet, and no movie, on both sides
        assert not {r[key] for r in data["train"]} & {r[key] for r in data["test"]}
    assert all(r["text"].strip() and 20 <= len(r["text"]) <= 400 for r in data["train"] + data["test"])


def test_bad_task_file_gives_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": 1, "split": "train"}\n{"text": "x", "label": "pos", "split": "train"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: expected"):
        load_classification_task(str(bad))
    bad.write_text('{"text": "fine", "label": 1, "split": "train"}\n')
    with pytest.raises(ValueError, match="no 'test' examples"):
        load_classification_task(str(bad))


def test_lora_trains_only_adapters_and_head(run, small_task):
    before = ckpt_weights(run)
    ckpt_sha = hashlib.sha256((run / "ckpt.pt").read_bytes()).hexdigest()
    r = finetune_probe(str(run), str(small_task), mode="lora", lora_rank=4, device="cpu", return_model=True)
    model = r.pop("model")
    D, r_ = 64, 4
    # per block: qkv (D -> 3D), out (D -> D), up (D -> 4D), down (4D -> D); A is r x in, B is out x r
    adapters = r_ * ((D + 3 * D) + (D + D) + (D + 4 * D) + (4 * D + D))
    assert r["trainable_params"] == adapters + D * 2 + 2
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("head.") or n.endswith(("lora_A", "lora_B")) for n in trainable)
    assert sum(isinstance(m, LoRALinear) for m in model.modules()) == 4
    # the base weights are unchanged; the adapters did train (B starts at zero)
    state = model.gpt.state_dict()
    for name, w in before.items():
        key = name.replace(".weight", ".base.weight") if any(t in name for t in ("qkv", "out", "up", "down")) else name
        assert torch.equal(state[key], w), name
    assert any(m.lora_B.abs().sum() > 0 for m in model.modules() if isinstance(m, LoRALinear))
    assert hashlib.sha256((run / "ckpt.pt").read_bytes()).hexdigest() == ckpt_sha
    saved = json.loads((run / "finetune_rt_small_lora.json").read_text())
    assert saved["accuracy"] == r["accuracy"] and saved["trainable_params"] == r["trainable_params"]


def test_full_finetune_changes_base_weights(run, small_task):
    before = ckpt_weights(run)
    r = finetune_probe(str(run), str(small_task), mode="full", device="cpu", write=False, return_model=True)
    state = r.pop("model").gpt.state_dict()
    changed = [n for n in before if n != "head.weight" and not torch.equal(state[n], before[n])]
    assert len(changed) == len(before) - 1  # every matrix of the proxy moved; its LM head is not used
    assert r["trainable_params"] == r["base_params"] - 64 * 512 + 64 * 2 + 2
    assert not (run / "finetune_rt_small_full.json").exists()


def test_results_are_reproducible_for_a_seed(run, small_task):
    a = finetune_probe(str(run), str(small_task), mode="lora", seed=3, device="cpu", write=False)
    b = finetune_probe(str(run), str(small_task), mode="lora", seed=3, device="cpu", write=False)
    c = finetune_probe(str(run), str(small_task), mode="lora", seed=4, device="cpu", write=False)
    drop = ("seconds",)
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    assert a["epoch_losses"] != c["epoch_losses"]


def test_accuracy_is_measured_on_the_test_split_only(run, tmp_path):
    data = load_classification_task(ROTTEN_TOMATOES)
    # The test examples carry a label (2) that no train example has: a classifier trained on the train split
    # never predicts it, so accuracy is 0 on the test split (and > 0 if train examples were counted).
    rows = data["train"][:200] + [{**r, "label": 2} for r in data["test"][:50]]
    task = tmp_path / "unseen_label.jsonl"
    task.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = finetune_probe(str(run), str(task), mode="lora", device="cpu", write=False)
    assert r["n_train"] == 200 and r["n_test"] == 50 and r["n_classes"] == 3
    assert r["accuracy"] == 0.0 and r["majority_baseline"] == 0.0 and r["train_accuracy"] > 0.4
    for value in (r["accuracy"], r["train_accuracy"], r["majority_baseline"]):
        assert isinstance(value, float) and 0.0 <= value <= 1.0


def test_finetuned_classifier_beats_the_majority_baseline_on_rotten_tomatoes(run):
    """Measured on this tiny CPU proxy (depth 1, width 64, 20k pretraining tokens, 512-token BPE): full
    finetuning, 3 epochs: 0.55 test accuracy; LoRA rank 8, 1 epoch: 0.548; majority baseline 0.50 (500
    balanced test snippets, so one standard error is about 0.022). A depth-2 proxy pretrained on 204,800
    tokens (too slow for this suite) gave 0.61 (full, 3 epochs) and 0.58 (LoRA, 3 epochs). This test guards
    that the probe learns the task at all."""
    full = finetune_probe(str(run), mode="full", epochs=3, device="cpu")
    lora = finetune_probe(str(run), mode="lora", epochs=1, device="cpu")
    for r in (full, lora):
        assert r["n_train"] == 2000 and r["n_test"] == 500 and r["majority_baseline"] == 0.5
    assert full["accuracy"] >= full["majority_baseline"] + 0.03, full["accuracy"]
    assert lora["accuracy"] >= lora["majority_baseline"] + 0.03, lora["accuracy"]
    assert lora["trainable_params"] < full["trainable_params"] / 5
    assert (run / "finetune_rotten_tomatoes_full.json").is_file() and (run / "finetune_rotten_tomatoes_lora.json").is_file()


@pytest.mark.parametrize("name", sorted(BIGBENCH))
def test_bundled_bigbench_tasks_load_and_score(run, name):
    from curate.train.loop import load_run

    items = load_task(str(TASKS / name))
    assert len(items) == BIGBENCH[name]
    assert len({i["id"] for i in items}) == len(items) and all(i["choices"][0].startswith(" ") for i in items)
    model, card = load_run(str(run), "cpu")
    tok = run_tokenizer(card)
    scores = score_task(model, tok, card["separator_id"], items[:40])
    assert scores["n"] == 40 and 0.0 <= scores["accuracy"] <= 1.0 and 0.0 < scores["gold_prob"] < 1.0
    assert scores["chance"] == pytest.approx(1 / len(items[0]["choices"]))
