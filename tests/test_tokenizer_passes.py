"""How training text is read: the sample is the documents in seeded hash order up to the budget, found
without counting every document; pass 2 decodes only the row groups that hold a sampled document; and
`max_chars: null` trains on every document in one pass, giving what two passes give when the budget holds
everything."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.texts import read_documents
from curate.tokenizer import load_recipe, train_tokenizer
from curate.tokenizer.corpus import corpus_files, documents, is_heldout, plan, sampled_texts, source_of, unit_hash
from test_tokenizer import BPE, RUST, shard_docs, write_sample_shards, write_shard


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_sample_shards(tmp_path_factory.mktemp("tok-passes"))


def test_documents_are_the_readers_documents(data, tmp_path):
    """The row-group reader gives what curate's generic reader gives: the same ids (missing ones become
    <file>#<row>), texts and sources, empty and null texts skipped; with `wanted`, exactly those."""
    rows = {"text": ["naïve 東京 🎉", None, "", "plain", "x" * 50], "id": ["a", None, "c", None, "e"]}
    (tmp_path / "web").mkdir()
    pq.write_table(pa.table(rows), tmp_path / "web" / "0.parquet", row_group_size=2)
    for inputs in ([str(tmp_path)], [str(data)]):
        expected = [(source_of(root, f, d), d["id"], d["text"]) for root, f in corpus_files(inputs)
                    for d in read_documents(f) if d is not None and d["text"]]
        assert list(documents(inputs)) == expected
        odd = lambda source, doc_id: len(doc_id) % 2 == 1  # noqa: E731
        assert list(documents(inputs, odd)) == [e for e in expected if odd(e[0], e[1])]
        # one wanted document: the other batches of its row group give none
        assert list(documents(inputs, lambda source, doc_id: doc_id == expected[0][1])) == expected[:1]
    assert [i for _, i, _ in documents([str(tmp_path)])] == ["a", "0.parquet#4", "e"]


FULLWIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in map(chr, range(0x21, 0x7F))}


def reference_sample(inputs: list[str], recipe, plans: dict) -> list[tuple[str, str]]:
    """The sample as the module states it, from every document's text: per source, the training documents in
    the order of their seeded hash, whole until the source's budget is full, the last one cut to fit."""
    docs: dict[str, list] = {}
    for source, doc_id, text in documents(inputs):
        if source in plans and not is_heldout(doc_id, recipe.holdout_fraction):
            docs.setdefault(source, []).append((unit_hash(f"{recipe.seed}:{doc_id}"), text[: recipe.max_chars_per_document]))
    out = []
    for source, rows in docs.items():
        left = plans[source].budget
        for _, text in sorted(rows):
            if left <= 0:
                break
            out.append((source, text[:left]))
            left -= len(text[:left])
    return sorted(out)


@pytest.mark.parametrize("budget", [
    {"max_chars": 60_000},  # a few documents of each source
    {"max_chars": 60_000, "seed": 7, "max_chars_per_document": 5_000},
    {"max_chars": 10**9, "sources": {"wiki": 0.2, "books": 0.3, "wide": 0.5}},  # wide limits the total
    {"max_chars": 10**9},  # everything: every source counted whole
], ids=["small", "seed-cap", "weights", "all"])
def test_sample_is_the_hash_order_sample_within_budget(budget, data, tmp_path, monkeypatch):
    """Without counting every document, the sample is still exactly the one its definition gives, fills every
    budget to the character, and the same run after run. A third source, `wide`, is Wikipedia text in
    fullwidth letters (3 UTF-8 bytes each): the parquet footer's size overestimates its characters threefold,
    so its first count falls short and is widened."""
    wiki = [d for d in shard_docs(data) if d["source"] == "wiki"]
    write_shard(tmp_path / "data" / "wide" / "0.parquet",
                [{"id": f"wide/{d['id']}", "text": d["text"].translate(str.maketrans(FULLWIDTH)), "source": "wide"}
                 for d in wiki])
    pq.write_table(pq.read_table(tmp_path / "data" / "wide" / "0.parquet"), tmp_path / "data" / "wide" / "0.parquet",
                   row_group_size=5)
    inputs = [str(data), str(tmp_path / "data")]
    recipe = load_recipe({**BPE, **budget})
    counts = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, columns=None, **kwargs):
        if columns == ["text"]:
            counts.append(1)
        return real(self, *args, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    plans = plan(inputs, recipe)
    passes = len(counts)
    sample = sorted(sampled_texts(inputs, recipe, plans))
    monkeypatch.undo()
    assert sample == reference_sample(inputs, recipe, plans)
    assert sorted(sampled_texts(inputs, recipe, plan(inputs, recipe))) == sample  # deterministic
    assert sorted(sampled_texts(inputs, recipe, plans)) == sample  # read again, not from the kept texts
    total = {s: len(t) for s, t in sample}
    assert all(p.sampled_chars == p.budget == sum(len(t) for s, t in sample if s == name) > 0
               for name, p in plans.items())
    exact = {}
    for source, doc_id, text in documents(inputs):
        if not is_heldout(doc_id, recipe.holdout_fraction):
            exact[source] = exact.get(source, 0) + min(len(text), recipe.max_chars_per_document)
    budgets = {s: p.budget for s, p in plans.items()}
    if "sources" in budget:
        # the binding source is counted whole, so the weights hold to the character
        assert plans["wide"].train_chars_counted and budgets["wide"] == exact["wide"]
        assert sum(budgets.values()) == round(exact["wide"] / 0.5)
        assert budgets["books"] == pytest.approx(0.3 / 0.5 * exact["wide"], abs=1)
    elif budget["max_chars"] >= sum(exact.values()):
        assert budgets == exact and all(p.train_chars_counted for p in plans.values())
    else:
        assert sum(budgets.values()) == budget["max_chars"] and total
        # natural proportions, from estimates corrected by what was counted: within 15% of the exact ones
        for s in exact:
            assert budgets[s] / budget["max_chars"] == pytest.approx(exact[s] / sum(exact.values()), rel=0.15), s
        assert not plans["wide"].train_chars_counted and passes > 2  # the wide source was counted again


def test_pass_two_decodes_only_the_row_groups_it_samples(data, tmp_path, monkeypatch):
    """A budget of a few documents: pass 1 decodes the row groups holding the lowest hashes it counts;
    pass 2 takes the sample from the texts pass 1 kept and decodes nothing, or, when they are more than
    KEEP_CHARS, reads the row groups that hold a sampled document and no other; both give the same texts."""
    from curate.tokenizer import corpus

    docs = sorted(shard_docs(data), key=lambda d: d["id"])
    write_shard(tmp_path / "data" / "wiki" / "0.parquet", docs)  # one row group ...
    table = pq.read_table(tmp_path / "data" / "wiki" / "0.parquet")
    pq.write_table(table, tmp_path / "data" / "wiki" / "0.parquet", row_group_size=4)  # ... now of 4 rows
    groups = pq.ParquetFile(tmp_path / "data" / "wiki" / "0.parquet").num_row_groups
    read: list[int] = []
    real = pq.ParquetFile.iter_batches

    def spy(self, *args, row_groups=None, columns=None, **kwargs):
        if columns == ["text"]:
            read.extend(row_groups)
        return real(self, *args, row_groups=row_groups, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    recipe = load_recipe({**BPE, "max_chars": 30_000})
    inputs = [str(tmp_path / "data")]
    plans = plan(inputs, recipe)
    # pass 1 counts the lengths of the lowest hashes only, as far as the budget needs
    assert 0 < len(set(read)) < groups and not plans["wiki"].train_chars_counted
    counted = set(read)
    read.clear()
    kept = list(sampled_texts(inputs, recipe, plans))
    assert read == []
    monkeypatch.setattr(corpus, "KEEP_CHARS", 0)
    plans = plan(inputs, recipe)
    assert set(read) == counted and all(p.kept is None for p in plans.values())
    read.clear()
    texts = list(sampled_texts(inputs, recipe, plans))
    assert texts == kept
    assert sum(len(t) for _, t in texts) == 30_000 == sum(p.sampled_chars for p in plans.values())
    assert len(texts) == sum(p.sampled_docs for p in plans.values()) and 0 < len(set(read)) < groups // 2
    assert read == sorted(set(read))  # each row group read at most once, in file order
    assert set(read) <= counted  # the sample is among the counted documents


@pytest.mark.parametrize("recipe", [RUST, BPE], ids=["rustbpe", "hf-bpe"])
def test_one_pass_trains_what_two_passes_train(recipe, data, tmp_path):
    """`max_chars: null`: every training document in one pass, without pass 1: the same tokenizer, held-out
    documents and counts as two passes with a budget that holds everything."""
    one = train_tokenizer({**recipe, "max_chars": None}, [str(data)], str(tmp_path / "one"))
    two = train_tokenizer({**recipe, "max_chars": 10**12}, [str(data)], str(tmp_path / "two"))
    for name in ("tokenizer.json", "heldout.json", "tokenizer.tiktoken", "token_bytes.npy"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    for card in (one, two):
        card.pop("time_s"), card["recipe"].pop("max_chars")
    assert one == two and one["sampled_chars"] == sum(s["train_chars"] for s in one["sources"].values()) > 0
    assert json.loads((tmp_path / "one" / "card.json").read_text())["recipe"]["max_chars"] is None


def test_one_pass_refuses_what_needs_a_budget(data, tmp_path):
    with pytest.raises(ValueError, match=r"max_chars: null .* is for byte-level BPE"):
        load_recipe({"library": "sentencepiece", "model": "bpe", "max_chars": None})
    with pytest.raises(ValueError, match=r"max_chars: null .* cannot go with sources"):
        load_recipe({**RUST, "max_chars": None, "sources": {"wiki": 1.0}})
    write_shard(tmp_path / "empty" / "web" / "0.parquet", [{"id": "a", "text": "", "source": "web"}])
    with pytest.raises(ValueError, match="no documents with text"):
        train_tokenizer({**RUST, "max_chars": None}, [str(tmp_path / "empty")], str(tmp_path / "out"))
    write_shard(tmp_path / "held" / "web" / "0.parquet", [{"id": "a", "text": "some text", "source": "web"}])
    with pytest.raises(ValueError, match=r"no training documents for source\(s\) \['web'\]"):
        train_tokenizer({**BPE, "max_chars": None, "holdout_fraction": 0.49}, [str(tmp_path / "held")],
                        str(tmp_path / "out2"))
