"""Proxy training on real token shards: the model, the mixture sampler, the loop, checkpoints and resume."""

import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from curate.train import GPT, GPTConfig, MixtureDriftError, MixtureSampler, train
from curate.train.loop import lr_at

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(tmp: Path, corpus: Path, name: str, **kw) -> dict:
    args = dict(data=str(corpus), weights={"books": 0.5, "web": 0.3, "wiki": 0.2}, depth=1, tokens=64 * 8 * 40,
                out_dir=str(tmp / name), seq_len=64, batch_size=8, seed=0, device="cpu", progress=False)
    args.update(kw)
    return train(**args)


def losses(run: Path) -> list[float]:
    with open(run / "loss.csv", newline="") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_config_from_depth_derives_and_prints(capsys):
    config = GPTConfig.from_depth(2, vocab_size=512, seq_len=64)
    assert (config.width, config.heads, config.head_dim) == (128, 2, 64)
    assert config.lr == pytest.approx(1e-3 * math.sqrt(768 / 128))
    printed = capsys.readouterr().out
    assert "width 128" in printed and "heads 2" in printed and "lr" in printed and "FLOPs/token" in printed
    model = GPT(config)
    assert sum(p.numel() for p in model.parameters()) == config.n_params()["total"]
    p = config.n_params()
    assert config.flops_per_token() == 6 * (p["blocks"] + p["head"]) + 12 * 2 * 128 * 64
    with pytest.raises(ValueError, match="depth"):
        GPTConfig.from_depth(0, 512, 64)


def test_model_is_causal():
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_depth(1, 50, 16, verbose=False))
    x = torch.randint(0, 50, (2, 16))
    y = x.clone()
    y[:, 10:] = (y[:, 10:] + 1) % 50
    a, b = model(x), model(y)
    assert torch.equal(a[:, :10], b[:, :10]) and not torch.allclose(a[:, 10:], b[:, 10:])


def test_wsd_schedule():
    lrs = [lr_at(s, 100, 1.0) for s in range(100)]
    assert lrs[0] == pytest.approx(0.2) and lrs[4] == 1.0 and lrs[50] == 1.0 and lrs[79] == 1.0
    assert lrs[80] == 1.0 and lrs[99] == pytest.approx(0.05) and all(a >= b for a, b in zip(lrs[5:], lrs[6:]))


def test_sampler_mix_matches_weights_and_is_deterministic(corpus):
    weights = {"books": 0.6, "web": 0.3, "wiki": 0.1}
    a = MixtureSampler(str(corpus), weights, seq_len=64, batch_size=10, seed=1)
    batches = [a.next_batch()[0] for _ in range(30)]
    drawn = a.tokens_drawn()
    total = sum(drawn.values())
    for s, w in weights.items():
        assert abs(drawn[s] / total - w) <= 1 / 300
    # batch 20 of a fresh sampler that loads the state after batch 19 is batch 20 of the first one
    b = MixtureSampler(str(corpus), weights, seq_len=64, batch_size=10, seed=1)
    for _ in range(19):
        b.next_batch()
    c = MixtureSampler(str(corpus), weights, seq_len=64, batch_size=10, seed=1)
    c.load_state_dict(b.state_dict())
    assert torch.equal(c.next_batch()[0], batches[19])
    # windows are real token runs of one source: the books windows decode to text of the books
    assert not torch.equal(batches[0], batches[1])


def test_sampler_drift_check_raises_on_a_corrupted_mix(corpus):
    s = MixtureSampler(str(corpus), {"books": 0.5, "web": 0.5, "wiki": 0.0}, seq_len=64, batch_size=20, seed=0)
    for _ in range(6):
        s.next_batch()
    s.next_batch()  # 140 sequences, on the weights
    # a bug that sends every sequence to books: the tokens actually drawn drift, the check catches it
    s.plan_sources = lambda n: np.zeros(n, dtype=np.int64)
    with pytest.raises(MixtureDriftError, match="drawn mix"):
        s.next_batch()
    # a corrupted state (counts of a different mix) is caught at the next batch
    t = MixtureSampler(str(corpus), {"books": 0.5, "web": 0.5, "wiki": 0.0}, seq_len=64, batch_size=20, seed=0)
    state = t.state_dict()
    state["tokens"] = {"books": 65 * 150, "web": 65 * 50}
    t.load_state_dict(state)
    with pytest.raises(MixtureDriftError):
        t.next_batch()


def test_sampler_warns_or_raises_on_repetition(corpus):
    meta = json.loads((corpus / "meta.json").read_text())
    web = meta["sources"]["web"]["train"]["tokens"]
    with pytest.warns(UserWarning, match="max_epochs"):
        MixtureSampler(str(corpus), {"books": 0.5, "web": 0.5, "wiki": 0.0}, 64, 4, budget_tokens=web * 10, max_epochs=2)
    with pytest.raises(ValueError, match="web"):
        MixtureSampler(str(corpus), {"books": 0.5, "web": 0.5, "wiki": 0.0}, 64, 4, budget_tokens=web * 10,
                       max_epochs=2, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MixtureSampler(str(corpus), {"books": 0.5, "web": 0.5, "wiki": 0.0}, 64, 4, budget_tokens=web, max_epochs=2)
    with pytest.raises(ValueError, match="one weight per source"):
        MixtureSampler(str(corpus), {"books": 1.0}, 64, 4)


def test_loss_falls_and_run_folder_is_complete(corpus, tmp_path):
    card = tiny(tmp_path, corpus, "run", tokens=64 * 8 * 60)
    run = tmp_path / "run"
    curve = losses(run)
    assert len(curve) == 60 and card["steps"] == 60 and card["finished"]
    assert np.mean(curve[-10:]) < np.mean(curve[:5]) - 1.0 and curve[0] == pytest.approx(math.log(512), abs=0.3)
    for name in ("ckpt.pt", "loss.csv", "loss.png", "run.json"):
        assert (run / name).is_file()
    saved = json.loads((run / "run.json").read_text())
    assert saved["final_loss"] == curve[-1] and saved["derived"]["width"] == 64
    assert sum(saved["tokens_drawn"].values()) == 60 * 8 * 65
    assert set(saved["data"]) == {"books", "web", "wiki"} and len(saved["data"]["web"]["meta_sha256"]) == 64


def test_resume_gives_the_same_losses(corpus, tmp_path):
    whole = tiny(tmp_path, corpus, "whole", tokens=64 * 8 * 16, ckpt_every=3)
    part = tiny(tmp_path, corpus, "part", tokens=64 * 8 * 16, ckpt_every=3, stop_after=8)
    assert part["step"] == 8 and not part["finished"] and len(losses(tmp_path / "part")) == 8
    resumed = tiny(tmp_path, corpus, "part", tokens=64 * 8 * 16, ckpt_every=3)
    assert resumed["finished"]
    assert losses(tmp_path / "part") == losses(tmp_path / "whole")
    assert resumed["tokens_drawn"] == whole["tokens_drawn"]
    a = torch.load(tmp_path / "whole" / "ckpt.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "part" / "ckpt.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="other arguments"):
        tiny(tmp_path, corpus, "part", tokens=64 * 8 * 16, seed=1)
