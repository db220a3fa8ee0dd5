"""Token shards: parquet shards -> per-source memmaps + document index, on the bundled sample."""

import json
from pathlib import Path

import numpy as np
import pytest

from curate.tokenizer import load_shard, load_tokenizer, tokenize_corpus, train_tokenizer
from curate.tokenizer.corpus import is_heldout
from curate.tokenizer.shards import token_dtype
from test_tokenizer import BPE, SP_BPE, shard_docs, write_sample_shards


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_sample_shards(tmp_path_factory.mktemp("shard-corpus"), wiki_chars=250_000)


@pytest.fixture(scope="module")
def bpe(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bpe")
    train_tokenizer(BPE, [str(data)], str(out))
    return out


@pytest.fixture(scope="module")
def shards(bpe, data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tokens") / "t1"
    tokenize_corpus(str(bpe), [str(data)], str(out), tasks=1, workers=1)
    return out


def documents_of(out: Path, source: str, split: str) -> list[np.ndarray]:
    docs = []
    for bin_path in sorted((out / source / split).glob("*.bin")):
        tokens, offsets = load_shard(str(bin_path))
        docs += [tokens[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
    return docs


def test_documents_round_trip(shards, bpe, data):
    tok = load_tokenizer(str(bpe))
    meta = json.loads((shards / "meta.json").read_text())
    assert meta["dtype"] == "uint16" and meta["vocab_size"] == 800 and meta["separator_id"] == 0
    docs = shard_docs(data)
    for source in ("wiki", "books"):
        expected = [d["text"] for d in docs if d["source"] == source and not is_heldout(d["id"], 0.2)]
        got = documents_of(shards, source, "train")
        assert len(got) == len(expected) == meta["sources"][source]["train"]["documents"]
        assert sum(map(len, got)) == meta["sources"][source]["train"]["tokens"]
        for ids, text in zip(got, expected):
            assert ids[-1] == meta["separator_id"] and meta["separator_id"] not in ids[:-1]
            assert tok.decode(ids[:-1]) == text


def test_heldout_documents_never_in_train(shards, bpe, data):
    held = {i for ids in json.loads((bpe / "heldout.json").read_text()).values() for i in ids}
    assert held
    docs = shard_docs(data)
    meta = json.loads((shards / "meta.json").read_text())
    n_held = sum(d["id"] in held for d in docs)
    assert meta["totals"]["heldout"]["documents"] == n_held
    assert meta["totals"]["train"]["documents"] == len(docs) - n_held
    tok = load_tokenizer(str(bpe))
    train_texts = {tok.decode(ids[:-1]) for s in ("wiki", "books") for ids in documents_of(shards, s, "train")}
    held_texts = {d["text"] for d in docs if d["id"] in held}
    assert not train_texts & held_texts
    assert held_texts == {tok.decode(ids[:-1]) for s in ("wiki", "books") for ids in documents_of(shards, s, "heldout")}


def test_same_bytes_with_two_tasks(shards, bpe, data, tmp_path):
    meta2 = tokenize_corpus(str(bpe), [str(data)], str(tmp_path / "t2"), tasks=2, workers=2)
    files1 = sorted(p.relative_to(shards) for p in shards.rglob("*") if p.suffix in (".bin", ".npy"))
    files2 = sorted(p.relative_to(tmp_path / "t2") for p in (tmp_path / "t2").rglob("*") if p.suffix in (".bin", ".npy"))
    assert files1 == files2 and len(files1) == 2 * 3 * 2  # 3 input files, each: train + heldout, .bin + .idx.npy
    for f in files1:
        assert (shards / f).read_bytes() == (tmp_path / "t2" / f).read_bytes()
    meta1 = json.loads((shards / "meta.json").read_text())
    assert meta1["sources"] == meta2["sources"] and meta1["tokenizer_sha256"] == meta2["tokenizer_sha256"]


def test_dtype_follows_vocab_size():
    assert token_dtype(800) == np.uint16 and token_dtype(65535) == np.uint16
    assert token_dtype(65536) == np.uint32 and token_dtype(200_000) == np.uint32


def test_sentencepiece_shards(data, tmp_path):
    train_tokenizer({**SP_BPE, "byte_fallback": True}, [str(data)], str(tmp_path / "sp"))
    meta = tokenize_corpus(str(tmp_path / "sp"), [str(data)], str(tmp_path / "tokens"))
    tok = load_tokenizer(str(tmp_path / "sp"))
    assert meta["separator_id"] == tok.impl.piece_to_id("<|endoftext|>") and meta["dtype"] == "uint16"
    ids = documents_of(tmp_path / "tokens", "wiki", "train")[0]
    assert ids[-1] == meta["separator_id"]
    first = next(d["text"] for d in shard_docs(data) if d["source"] == "wiki" and not is_heldout(d["id"], 0.1))
    # sentencepiece with byte fallback and no normalisation gives the text back exactly
    assert tok.decode(ids[:-1]) == first


def test_other_run_in_output_folder_is_refused(shards, bpe, data, tmp_path):
    with pytest.raises(ValueError, match="not empty"):
        tokenize_corpus(str(bpe), [str(data / "wiki")], str(shards))
    meta = tokenize_corpus(str(bpe), [str(data / "wiki")], str(shards / ".." / "t1-wiki"))
    assert set(meta["sources"]) == {"wiki"}


def test_readme_snippet_reads_a_shard(shards):
    """The reading example in tokenizer_training/README.md runs as written (paths pointed at this run)."""
    readme = (Path(__file__).parent.parent / "tokenizer_training" / "README.md").read_text()
    snippet = readme.split("Reading one source's train tokens:")[1].split("```python")[1].split("```")[0]
    snippet = snippet.replace('"tokens/', f'"{shards}/').replace("wiki/train/00003", "wiki/train/00001")
    scope: dict = {}
    exec(snippet, scope)
    meta = json.loads((shards / "meta.json").read_text())
    assert scope["doc0"][-1] == meta["separator_id"] and scope["tokens"].dtype == np.uint16
    assert meta["sources"]["wiki"]["train"]["shards"][0]["file"] == "00001.bin"


def test_datatrove_export_reads_back_with_datatrove(shards, tmp_path):
    """The export, read by datatrove's own reader (what nanotron trains from): the same token stream, and
    positions that restart where our index says a document starts."""
    import torch
    from datatrove.utils.dataset import DatatroveFileDataset, DatatroveFolderDataset

    from curate.tokenizer.export import export_datatrove

    out = tmp_path / "dt"
    summary = export_datatrove(str(shards), str(out))
    meta = json.loads((shards / "meta.json").read_text())
    assert summary["token_size"] == 2 and len(summary["files"]) == 6  # 3 input files x (train, heldout)
    seq = 15
    for rel, counts in summary["files"].items():
        ds_path = out / rel
        source, split = Path(rel).parts[:2]
        tokens, idx = load_shard(str(shards / source / split / (ds_path.name[: -len(".ds")] + ".bin")))
        assert counts == {"documents": len(idx) - 1, "tokens": int(idx[-1])}
        ds = DatatroveFileDataset(str(ds_path), seq_len=seq, token_size=2, return_positions=True)
        assert len(ds) == len(tokens) // (seq + 1) > 0
        starts = set(idx[:-1].tolist())
        for i in range(len(ds)):
            item = ds[i]
            window = tokens[i * (seq + 1) : (i + 1) * (seq + 1)]
            assert item["input_ids"].tolist() == window.astype(np.int64).tolist()
            # a position is 0 exactly where a document starts (datatrove reads the ends from .ds.index)
            zeros = {i * (seq + 1) + j for j, p in enumerate(item["positions"].tolist()) if p == 0}
            expected = {p for p in starts if i * (seq + 1) < p < (i + 1) * (seq + 1)} | {i * (seq + 1)}
            assert zeros == expected, (rel, i)
        assert (ds_path.with_name(ds_path.name + ".metadata").read_text().splitlines()[:2]
                == [f"{meta['tokenizer']}|2", str(int(idx[-1]))])
    # nanotron reads one folder per dataset: a source's train split is one
    folder = DatatroveFolderDataset(str(out / "wiki" / "train"), seq_len=seq, token_size=2)
    assert len(folder) == sum(n["tokens"] // (seq + 1) for r, n in summary["files"].items()
                              if r.startswith("wiki/train/"))
    assert isinstance(folder[0]["input_ids"], torch.Tensor)
