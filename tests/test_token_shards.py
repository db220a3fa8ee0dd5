"""Token shards: parquet shards -> per-source memmaps + document index, on the bundled sample."""

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from curate.tokenizer import TokenShards, load_tokenizer, tokenize_corpus, train_tokenizer
from curate.tokenizer.corpus import is_heldout
from curate.tokenizer.shards import token_dtype, write_token_arrays
from test_tokenizer import BPE, DATA, SP_BPE, shard_docs, write_sample_shards

GOLDEN = Path(__file__).parent / "data" / "token_shards_v1"


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
    return [tokens[a:b] for tokens, a, b in TokenShards.open(out)[source].spans(split)]


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
        opened = TokenShards.open(shards)[source]
        [shard] = [s for s in opened.shards(split) if s.path.name == ds_path.name[: -len(".ds")] + ".bin"]
        tokens, idx = opened.load(shard)
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


def golden_texts() -> dict[str, list[tuple[str, str]]]:
    """source -> (id, text) of the documents tests/data/token_shards_v1 was made from, in shard order: 12
    Wikipedia articles cut at 600 characters (input files 1 and 2: the even ones, then the odd ones) and the
    first 6,000 characters of Hamlet in pieces of 600 (input file 0)."""
    wiki = []
    with open(DATA / "wiki" / "enwiki.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            wiki.append((f"wiki/{doc['id']}", doc["text"][:600]))
            if len(wiki) == 12:
                break
    text = (DATA / "books" / "hamlet.txt").read_text(encoding="utf-8")[:6000]
    books = [(f"hamlet.txt#{k}", text[i : i + 600]) for k, i in enumerate(range(0, 6000, 600))]
    return {"books": books, "wiki": wiki[::2] + wiki[1::2]}


def test_shards_written_before_still_read():
    """Token shards that curate wrote at 394ffd3 (committed in tests/data, with their 300-token BPE) open, and
    every document decodes to the text it was made from, in its split and in order: the format on disk is
    the one readers have always read."""
    from tokenizers import Tokenizer

    opened = TokenShards.open(GOLDEN)
    tok_file = GOLDEN.parent / "token_shards_v1-tokenizer.json"
    assert hashlib.sha256(tok_file.read_bytes()).hexdigest() == opened.tokenizer_sha256
    tok = Tokenizer.from_file(str(tok_file))
    assert list(opened) == ["books", "wiki"] and opened.dtype == np.uint16 and opened.vocab_size == 300
    assert opened["wiki"].meta_sha256 == hashlib.sha256((GOLDEN / "meta.json").read_bytes()).hexdigest()
    for source, docs in golden_texts().items():
        for split in ("train", "heldout"):
            want = [text for i, text in docs if is_heldout(i, 0.25) == (split == "heldout")]
            spans = opened[source].spans(split)
            assert [tok.decode(t[a : b - 1].tolist()) for t, a, b in spans] == want
            assert all(t[b - 1] == opened.separator_id for t, _, b in spans)
            assert opened[source].tokens(split) == sum(b - a for _, a, b in spans)
    assert [s.path.name for s in opened["wiki"].shards("train")] == ["00001.bin", "00002.bin"]
    # one source taken from the folder, under another name, reads the same
    again = TokenShards.open({"w": str(GOLDEN / "wiki")})
    assert [b - a for _, a, b in again["w"].spans("train")] == [b - a for _, a, b in opened["wiki"].spans("train")]
    assert pickle.loads(pickle.dumps(opened)).folders() == opened.folders()


def _break(root: Path, how: str) -> None:
    meta_path = root / "meta.json"
    meta = json.loads(meta_path.read_text())
    if how == "no meta.json":
        meta_path.unlink()
    elif how == "not JSON":
        meta_path.write_text(meta_path.read_text()[:100])
    elif how == "another format":
        meta_path.write_text(json.dumps({**meta, "format": "curate token shards v0"}))
    elif how == "another dtype":
        meta_path.write_text(json.dumps({**meta, "dtype": "int8"}))
    elif how == "a field missing":
        meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "dtype"}))
    elif how == "a truncated shard":
        path = root / "wiki" / "train" / "00002.bin"
        path.write_bytes(path.read_bytes()[:-2])
    elif how == "a shard missing":
        (root / "books" / "heldout" / "00000.bin").unlink()
    elif how == "an index missing":
        (root / "wiki" / "heldout" / "00002.idx.npy").unlink()
    elif how == "an index of another shard":
        shutil.copyfile(root / "wiki" / "train" / "00001.idx.npy", root / "wiki" / "train" / "00002.idx.npy")


@pytest.mark.parametrize("how, message", [
    ("no meta.json", "no meta.json; expected the output folder of `curate tokenize`"),
    ("not JSON", "meta.json: not valid JSON"),
    ("another format", "meta.json: not a meta.json of 'curate token shards v1' (format 'curate token shards v0')"),
    ("another dtype", "meta.json: not a meta.json of 'curate token shards v1' (dtype 'int8')"),
    ("a field missing", "meta.json: not a meta.json of 'curate token shards v1' (missing ['dtype'])"),
    ("a truncated shard", "wiki/train/00002.bin: 4258 bytes, its meta.json says 2130 tokens of 2 bytes"),
    ("a shard missing", "books/heldout/00000.bin: missing, though"),
    ("an index missing", "wiki/heldout/00002.idx.npy: missing, though"),
    ("an index of another shard", "wiki/train/00002.idx.npy: 6 documents ending at token 2501, its meta.json says 5"),
])
def test_a_broken_folder_is_one_line_naming_the_file(tmp_path, how, message):
    root = tmp_path / "tokens"
    shutil.copytree(GOLDEN, root)
    _break(root, how)
    with pytest.raises(ValueError) as e:
        opened = TokenShards.open(str(root))
        for source in opened:  # an index is read when its documents are
            opened[source].spans("train")
    assert message in str(e.value) and "\n" not in str(e.value)
    if how != "no meta.json":
        assert "run `curate tokenize` again" in str(e.value)


def test_sources_of_two_tokenizers_are_refused(tmp_path):
    other = tmp_path / "other"
    shutil.copytree(GOLDEN, other)
    meta = json.loads((other / "meta.json").read_text())
    (other / "meta.json").write_text(json.dumps({**meta, "tokenizer_sha256": "f" * 64}))
    with pytest.raises(ValueError, match="'wiki': its token shards were made by another tokenizer than 'books'"):
        TokenShards.open({"books": str(GOLDEN), "wiki": str(other)})
    with pytest.raises(ValueError, match=r"'web': .*/wiki is not listed in .*meta.json"):
        meta["sources"].pop("wiki")
        (other / "meta.json").write_text(json.dumps(meta))
        TokenShards.open({"web": str(other / "wiki")})


def test_token_arrays_written_by_the_owner_read_back(tmp_path):
    """The writer for ids without a tokenizer (the training-loop benchmarks): documents in order, each followed by
    the separator, split by split, with meta.json counts the reader checks."""
    rng = np.random.default_rng(0)
    docs = {"a": {"train": [rng.integers(1, 70_000, size=n) for n in (5, 0, 300)], "heldout": [np.arange(1, 9)]},
            "b": {"train": [[7, 8, 9]], "heldout": [[1]]}}
    shards = TokenShards.open(write_token_arrays(tmp_path / "tokens", docs, 70_000, separator_id=0, tokenizer="test"))
    assert token_dtype(70_000) == np.uint32 and shards["a"].tokens("train") == 5 + 0 + 300 + 3
    for source, splits in docs.items():
        for split, arrays in splits.items():
            (tokens,) = shards[source].arrays(split)
            expected = np.concatenate([np.r_[np.asarray(x, np.int64), 0] for x in arrays])
            assert tokens.dtype == np.uint32 and np.array_equal(tokens, expected)
            assert shards[source].documents(split) == len(arrays)
