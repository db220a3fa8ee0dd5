"""Tokenizer training on the bundled sample: recipes, outputs that load in tokenizers/transformers/sentencepiece
and tiktoken, exact round trips, token byte lengths, determinism, source weights, the report, and the clear
errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.writer import shard_schema
from curate.tokenizer import evaluate_tokenizers, load_recipe, load_tokenizer, train_tokenizer
from curate.tokenizer.corpus import is_heldout
from helpers import real_pages

DATA = Path(__file__).parent.parent / "curate" / "data"
REPO = Path(__file__).parent.parent
BOOKS = ["hamlet.txt", "macbeth.txt", "the-tempest-first-folio.txt"]


def write_shard(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {name: [r.get(name) for r in rows] for name in shard_schema().names}
    columns["metadata"] = ["{}"] * len(rows)
    pq.write_table(pa.table(columns, schema=shard_schema()), path)


def write_sample_shards(root: Path, wiki_chars: int = 400_000) -> Path:
    """`root/data/{wiki,books}/*.parquet` as a curate run writes them, from the bundled sample: the first
    8,000 characters of Wikipedia articles up to `wiki_chars` in all (two files), and three plays cut into
    20,000-character documents."""
    wiki = []
    with open(DATA / "wiki" / "enwiki.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            wiki.append({"id": f"wiki/{doc['id']}", "text": doc["text"][:8000], "source": "wiki"})
            if sum(len(d["text"]) for d in wiki) >= wiki_chars:
                break
    write_shard(root / "data" / "wiki" / "000_00000.parquet", wiki[::2])
    write_shard(root / "data" / "wiki" / "000_00001.parquet", wiki[1::2])
    books = []
    for name in BOOKS:
        text = (DATA / "books" / name).read_text(encoding="utf-8")
        for k, start in enumerate(range(0, len(text), 20_000)):
            books.append({"id": f"{name}#{k}", "text": text[start : start + 20_000], "source": "books"})
    write_shard(root / "data" / "books" / "000_00000.parquet", books)
    return root / "data"


def shard_docs(data: Path) -> list[dict]:
    return [r for f in sorted(data.rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]


BPE = {"library": "hf", "model": "bpe", "vocab_size": 800, "special_tokens": ["<|endoftext|>"],
       "holdout_fraction": 0.2, "seed": 3}
WORDPIECE = {"library": "hf", "model": "wordpiece", "vocab_size": 1000, "normalization": "bert",
             "special_tokens": ["[SEP]", "[UNK]", "[CLS]"], "unk_token": "[UNK]", "holdout_fraction": 0.1}
SP_UNIGRAM = {"library": "sentencepiece", "model": "unigram", "vocab_size": 1000, "byte_fallback": True,
              "special_tokens": ["<|endoftext|>"], "holdout_fraction": 0.1}
SP_BPE = {"library": "sentencepiece", "model": "bpe", "vocab_size": 1000, "special_tokens": ["<|endoftext|>"],
          "holdout_fraction": 0.1}
RUST = {"library": "rustbpe", "model": "bpe", "vocab_size": 800, "special_tokens": ["<|endoftext|>"],
        "holdout_fraction": 0.2, "seed": 3}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_sample_shards(tmp_path_factory.mktemp("tok-corpus"))


@pytest.fixture(scope="module")
def bpe(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bpe")
    train_tokenizer(BPE, [str(data)], str(out))
    return out


def heldout_texts(data: Path, tok_dir: Path) -> list[str]:
    ids = {i for ids in json.loads((tok_dir / "heldout.json").read_text()).values() for i in ids}
    return [d["text"] for d in shard_docs(data) if d["id"] in ids]


def test_shipped_recipes_load():
    for path in sorted((REPO / "tokenizer_training").glob("*.yaml")):
        recipe = load_recipe(path)
        assert recipe.name == path.stem
    names = {p.stem for p in (REPO / "tokenizer_training").glob("*.yaml")}
    assert {"bpe-32k", "rustbpe-32k", "wordpiece-30k", "unigram-32k", "bpe-sp-32k", "demo-bpe-4k"} <= names


def test_byte_level_bpe_loads_in_tokenizers_and_transformers(bpe, data):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    assert {p.name for p in bpe.iterdir()} >= {"tokenizer.json", "token_bytes.npy", "card.json", "heldout.json"}
    card = json.loads((bpe / "card.json").read_text())
    assert card["vocab_size"] == 800 and card["separator_id"] == 0
    held = heldout_texts(data, bpe)
    assert held, "a fifth of ~40 documents should be held out"
    sentence = held[0][:300]
    hf = Tokenizer.from_file(str(bpe / "tokenizer.json"))
    fast = PreTrainedTokenizerFast(tokenizer_file=str(bpe / "tokenizer.json"))
    ids = hf.encode(sentence).ids
    assert ids == fast(sentence)["input_ids"] == fast.encode(sentence)
    assert hf.decode(ids) == sentence == fast.decode(ids)
    assert hf.token_to_id("<|endoftext|>") == 0 and len(fast) == 800


def test_token_bytes_sum_to_utf8_length(bpe, data):
    token_bytes = np.load(bpe / "token_bytes.npy")
    tok = load_tokenizer(str(bpe))
    assert token_bytes.shape == (tok.vocab_size,) and token_bytes[0] == 0  # the special token
    assert token_bytes[1:].min() >= 1
    for text in heldout_texts(data, bpe)[:5] + ["naïve café — 東京 🎉\n\n  x"]:
        ids = tok.encode_batch([text])[0]
        assert int(token_bytes[ids].sum()) == len(text.encode("utf-8"))
        assert tok.decode(ids) == text


@pytest.mark.parametrize("recipe", [BPE, WORDPIECE, SP_UNIGRAM, SP_BPE], ids=["bpe", "wordpiece", "sp-unigram", "sp-bpe"])
def test_same_recipe_same_bytes(recipe, data, tmp_path):
    cards = []
    for run in ("a", "b"):
        cards.append(train_tokenizer(recipe, [str(data)], str(tmp_path / run)))
    file = cards[0]["tokenizer_file"]
    assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / "heldout.json").read_bytes() == (tmp_path / "b" / "heldout.json").read_bytes()
    for card in cards:
        card.pop("time_s")
    assert cards[0] == cards[1] and cards[0]["deterministic"]
    # the seed chooses the sample: another seed, other documents sampled under a budget
    budget = {**recipe, "max_chars": 150_000}
    a = train_tokenizer({**budget, "seed": 1}, [str(data)], str(tmp_path / "s1"))
    b = train_tokenizer({**budget, "seed": 2}, [str(data)], str(tmp_path / "s2"))
    assert a["sampled_chars"] == b["sampled_chars"] == 150_000
    assert (tmp_path / "s1" / file).read_bytes() != (tmp_path / "s2" / file).read_bytes()


def test_source_weights_set_the_characters_per_source(data, tmp_path):
    card = train_tokenizer({**BPE, "sources": {"wiki": 0.75, "books": 0.25}, "max_chars": 200_000},
                           [str(data)], str(tmp_path))
    chars = {s: v["sampled_chars"] for s, v in card["sources"].items()}
    assert sum(chars.values()) == 200_000
    assert chars["wiki"] == pytest.approx(150_000, rel=0.01) and chars["books"] == pytest.approx(50_000, rel=0.01)
    # a source that cannot fill its share shrinks the total, so the proportions still hold
    card = train_tokenizer({**BPE, "sources": {"wiki": 0.5, "books": 0.5}, "max_chars": 10**9},
                           [str(data)], str(tmp_path / "short"))
    chars = {s: v["sampled_chars"] for s, v in card["sources"].items()}
    assert chars["wiki"] == pytest.approx(chars["books"], rel=0.01)
    assert chars["books"] == pytest.approx(card["sources"]["books"]["train_chars"], rel=0.01)


def test_heldout_documents_follow_the_rule(bpe, data):
    held = json.loads((bpe / "heldout.json").read_text())
    docs = shard_docs(data)
    expected = {d["source"]: [] for d in docs}
    for d in docs:
        if is_heldout(d["id"], 0.2):
            expected[d["source"]].append(d["id"])
    assert all(expected.values()), "every source should have held-out documents"
    assert held == {s: sorted(ids) for s, ids in sorted(expected.items())}
    card = json.loads((bpe / "card.json").read_text())
    for source, v in card["sources"].items():
        assert v["train_documents"] + v["heldout_documents"] == sum(d["source"] == source for d in docs)


def test_report_compares_two_tokenizers(bpe, data, tmp_path):
    train_tokenizer(SP_UNIGRAM, [str(data)], str(tmp_path / "sp"))
    report = evaluate_tokenizers([str(bpe), str(tmp_path / "sp")], [str(data)])
    assert (bpe / "report.md").is_file() and json.loads((bpe / "report.json").read_text()) == report
    total = report["all"]
    assert total["documents"] == total["listed"] > 0
    first, second = total["tokenizers"]
    assert 6 > first["bytes_per_token"] > 1.5 and 3 > first["tokens_per_word"] > 1.0
    assert first["unk_rate"] is None and first["byte_fallback_rate"] is None  # byte-level BPE: nothing unknown
    assert second["byte_fallback_rate"] is not None and second["unk_rate"] == 0  # byte_fallback: no <unk>
    assert first["bytes_per_token"] == pytest.approx(total["bytes"] / first["tokens"], abs=1e-3)
    md = (bpe / "report.md").read_text()
    assert "## wiki" in md and "bytes_per_token" in md and md.count("| tokens |") == len(report["sources"]) + 1


# --- bad input --------------------------------------------------------------------------------------------


def test_vocab_smaller_than_alphabet_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match=r"vocab_size: 200 is too small.*at least 257.*256 bytes"):
        train_tokenizer({**BPE, "vocab_size": 200}, [str(data)], str(tmp_path / "bpe"))
    with pytest.raises(ValueError, match=r"vocab_size: 40 is too small.*distinct characters"):
        train_tokenizer({**WORDPIECE, "vocab_size": 40}, [str(data)], str(tmp_path / "wp"))
    with pytest.raises(ValueError, match=r"vocab_size: 50 is too small"):
        train_tokenizer({**SP_UNIGRAM, "vocab_size": 50}, [str(data)], str(tmp_path / "sp"))
    assert not (tmp_path / "bpe" / "tokenizer.json").exists()


def test_empty_input_is_refused(tmp_path):
    write_shard(tmp_path / "data" / "web" / "0.parquet", [{"id": "a", "text": "", "source": "web"},
                                                          {"id": "b", "text": None, "source": "web"}])
    with pytest.raises(ValueError, match="no documents with text"):
        train_tokenizer(BPE, [str(tmp_path / "data")], str(tmp_path / "out"))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match="no .parquet"):
        train_tokenizer(BPE, [str(tmp_path / "nothing")], str(tmp_path / "out"))


def test_unknown_recipe_key_is_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("library: hf\nmodel: bpe\nvocab_sise: 1000\n")
    with pytest.raises(ValueError, match=r"r\.yaml: unknown key\(s\) \['vocab_sise'\]; accepted keys: .*'vocab_size'"):
        load_recipe(path)
    with pytest.raises(ValueError, match=r"model: 'wordpiece': library sentencepiece trains \['bpe', 'unigram'\]"):
        load_recipe({"library": "sentencepiece", "model": "wordpiece"})
    with pytest.raises(ValueError, match=r"normalization: 'nfd'"):
        load_recipe({"normalization": "nfd"})


def test_unknown_source_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match=r"sources: \['web'\] not found in the inputs; sources found: \['books', 'wiki'\]"):
        train_tokenizer({**BPE, "sources": {"web": 0.5, "wiki": 0.5}}, [str(data)], str(tmp_path))


def test_one_enormous_line_is_capped(data, tmp_path):
    """A 50 MB document on one line trains like any other: it gives at most max_chars_per_document."""
    wiki = [d for d in shard_docs(data) if d["source"] == "wiki"]
    line = " ".join(d["text"].replace("\n", " ") for d in wiki)
    huge = (line + " ") * (50_000_000 // len(line) + 1)
    docs = [{"id": "huge", "text": huge[:50_000_000], "source": "web"}]
    docs += [{"id": d["id"], "text": d["text"], "source": "web"} for d in wiki[:20]]
    write_shard(tmp_path / "data" / "web" / "0.parquet", docs)
    del huge, line
    card = train_tokenizer({**BPE, "max_chars_per_document": 200_000, "holdout_fraction": 0.0},
                           [str(tmp_path / "data")], str(tmp_path / "out"))
    web = card["sources"]["web"]
    assert web["train_chars"] == 200_000 + sum(len(d["text"]) for d in docs[1:])
    assert web["sampled_chars"] == web["train_chars"] and card["vocab_size"] == 800


# --- loading everywhere, exact round trips -------------------------------------------------------------------

# Every kind of recipe, as the shipped ones set them (sentencepiece: byte fallback, no normalisation).
KINDS = {"bpe": BPE, "rustbpe": RUST, "wordpiece": WORDPIECE, "sp-bpe": {**SP_BPE, "byte_fallback": True},
         "sp-unigram": SP_UNIGRAM}
LOSSLESS = ("bpe", "rustbpe", "sp-bpe", "sp-unigram")
# Planted into real text: what the bundled sample has little of (CJK, emoji, tabs, carriage returns, runs of
# spaces, combining accents, the separator written out in a document).
PLANTED = ("東京タワーは港区にある。 서울 特別市 🎉 👩‍👩‍👧 🇯🇵 ✔\tcafe\u0301\r\n\n"
           "    def f(x):\n\t\treturn  x   \n\n\n   <|endoftext|> <0x41> <s> end \u2003\u00a0 ")


def bundled_texts() -> dict[str, str]:
    """Every text curate/data ships: the books, the Wikipedia articles, the web pages (raw HTML: markup,
    indented code blocks, runs of spaces), the task files; and one real paragraph with PLANTED inside it."""
    texts = {f"books/{p.name}": p.read_text(encoding="utf-8") for p in sorted((DATA / "books").glob("*.txt"))}
    with open(DATA / "wiki" / "enwiki.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            texts[f"wiki/{doc['id']}"] = doc["text"]
    for url, html in real_pages(10**6):
        texts[f"web/{url}"] = html.decode("utf-8")
    for p in sorted((DATA / "tasks").glob("*.jsonl")):
        texts[f"tasks/{p.name}"] = p.read_text(encoding="utf-8")
    para = texts["books/hamlet.txt"][5000:7000]
    texts["planted"] = para[:1000] + PLANTED + para[1000:]
    return texts


@pytest.fixture(scope="module")
def kinds(data, tmp_path_factory) -> dict[str, Path]:
    out = {}
    for name, recipe in KINDS.items():
        out[name] = tmp_path_factory.mktemp(name)
        train_tokenizer(recipe, [str(data)], str(out[name]))
    return out


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return bundled_texts()


@pytest.fixture(scope="module")
def encoded(kinds, texts):
    """kind -> {text name: ids from curate's encoder}, computed once per kind (28 MB each)."""
    cache: dict[str, dict[str, list[int]]] = {}

    def get(kind: str) -> dict[str, list[int]]:
        if kind not in cache:
            tok = load_tokenizer(str(kinds[kind]))
            cache[kind] = dict(zip(texts, tok.encode_batch(list(texts.values()))))
        return cache[kind]

    return get


@pytest.mark.parametrize("kind", LOSSLESS)
def test_lossless_recipes_give_every_bundled_text_back(kind, kinds, texts, encoded):
    """decode(encode(x)) == x on all 28 MB of bundled text. For sentencepiece also through the converted
    tokenizer.json (what transformers runs), on a sample: BPE gives sentencepiece's own ids; Unigram the same
    text, the ids can differ where two cuts score the same or nearly (a run of spaces cut 5 + 1 or 1 + 5)."""
    from tokenizers import Tokenizer

    card = json.loads((kinds[kind] / "card.json").read_text())
    tok = load_tokenizer(str(kinds[kind]))
    names = list(texts)
    assert texts["planted"].count("<|endoftext|>") == 1 and len(names) > 330
    encoded = encoded(kind)
    for name, ids in encoded.items():
        assert tok.decode(ids) == texts[name], f"{kind}: {name} does not come back"
        assert tok.separator_id not in ids, f"{kind}: {name} has the separator inside"
    if kind.startswith("sp"):
        hf = Tokenizer.from_file(str(kinds[kind] / "tokenizer.json"))
        hf.encode_special_tokens = True  # as curate encodes: "<|endoftext|>" written in a text is text
        for name in ["planted", "books/hamlet.txt", *names[20:25], *names[200:205]]:
            hf_ids = hf.encode(texts[name], add_special_tokens=False).ids
            assert hf.decode(hf_ids, skip_special_tokens=False) == texts[name], f"{kind} tokenizer.json: {name}"
            if kind == "sp-bpe":
                assert hf_ids == encoded[name], f"{kind}: tokenizer.json encodes {name} differently"
            else:
                assert len(hf_ids) == pytest.approx(len(encoded[name]), rel=0.005), name
        # the one exception the card states: sentencepiece's space marker comes back as a space
        assert card["round_trip"].startswith("exact, except the character ▁ (U+2581)")
        assert tok.decode(tok.encode_batch(["a▁b"])[0]) == "a b"
    else:
        assert card["round_trip"] == "exact" and card["text_changes"] == []


def test_wordpiece_card_says_what_it_changes(kinds):
    card = json.loads((kinds["wordpiece"] / "card.json").read_text())
    assert card["round_trip"] == "changes the text (see text_changes)"
    changes = " ".join(card["text_changes"])
    assert "lowercased" in changes and "accents stripped" in changes and "one space" in changes
    tok = load_tokenizer(str(kinds["wordpiece"]))
    assert tok.decode(tok.encode_batch(["Café  Über\n\tx"])[0]) == "cafe uber x"


def test_readme_states_every_shipped_recipes_changes():
    """Each shipped recipe's card text (what decoding changes) is written out in tokenizer_training/README.md."""
    readme = (REPO / "tokenizer_training" / "README.md").read_text(encoding="utf-8")
    for path in sorted((REPO / "tokenizer_training").glob("*.yaml")):
        recipe = load_recipe(path)
        for change in recipe.text_changes():
            assert change in readme, f"{path.name}: README does not state {change!r}"
    assert load_recipe(REPO / "tokenizer_training" / "bpe-sp-32k.yaml").text_changes() == [
        "the character ▁ (U+2581, sentencepiece's space marker) comes back as a space"]


TRANSFORMERS_TEXTS = ["Hello world. It's here, isn't it ?  Yes !", "    def f(x):\n\t\treturn  x\n\n\n",
                      PLANTED, "a"]


def check_transformers_report(report: dict, kinds: dict[str, Path]) -> None:
    for kind, folder in kinds.items():
        r = report[str(folder)]
        card = json.loads((folder / "card.json").read_text())
        tok = load_tokenizer(str(folder))
        assert r["roles"] == r["fast_roles"] == card["special_token_roles"], kind
        assert r["pad_token_id"] is not None and r["vocab_size"] == card["vocab_size"], kind
        rows, masks = r["input_ids"], r["attention_mask"]
        assert len({len(row) for row in rows}) == 1, f"{kind}: batch not padded"
        for row, mask, ids in zip(rows, masks, r["ids"]):
            assert row[: sum(mask)] == ids and set(row[sum(mask):]) <= {r["pad_token_id"]}, kind
        assert r["ids"] == r["fast_ids"], kind
        if kind in LOSSLESS:
            assert r["decoded"] == TRANSFORMERS_TEXTS, kind
        if kind != "sp-unigram":
            assert r["ids"] == tok.encode_batch(TRANSFORMERS_TEXTS[:2] + TRANSFORMERS_TEXTS[3:])[:2] + r["ids"][2:3] + \
                tok.encode_batch(TRANSFORMERS_TEXTS[3:]), kind


def test_every_recipe_loads_in_transformers_5(kinds):
    import transformers

    from transformers_load import load_report

    assert transformers.__version__.startswith("5.")
    report = {str(folder): load_report(str(folder), TRANSFORMERS_TEXTS) for folder in kinds.values()}
    check_transformers_report(report, kinds)


TRANSFORMERS_4 = "4.40.2"


@pytest.fixture(scope="session")
def transformers4_python() -> Path:
    """A second environment with the oldest transformers the test extra allows, made once under .venv/ (about
    15 s; it needs the package registry). Not the main one: transformers 4.40 pins tokenizers < 0.20, and
    the folders must also load where a user has that older tokenizers."""
    env_dir = REPO / ".venv" / f"transformers-{TRANSFORMERS_4}"
    python = env_dir / "bin" / "python"
    if (env_dir / ".installed").is_file():
        return python
    env = {k: v for k, v in os.environ.items() if k not in ("CURATE_BLOCK_NETWORK", "PYTHONPATH")}
    for cmd in ([sys.executable, "-m", "venv", "--clear", str(env_dir)],
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 f"transformers=={TRANSFORMERS_4}"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode:
            pytest.fail(f"could not make the transformers {TRANSFORMERS_4} environment ({' '.join(cmd[:4])}...): "
                        f"{done.stderr[-2000:]}")
    (env_dir / ".installed").touch()
    return python


def test_every_recipe_loads_in_transformers_4(kinds, transformers4_python, tmp_path):
    texts_file = tmp_path / "texts.json"
    texts_file.write_text(json.dumps(TRANSFORMERS_TEXTS), encoding="utf-8")
    done = subprocess.run([str(transformers4_python), str(Path(__file__).parent / "transformers_load.py"),
                           str(texts_file), *map(str, kinds.values())], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {r["version"] for r in report.values()} == {TRANSFORMERS_4}
    assert {r["auto_class"] for r in report.values()} == {"PreTrainedTokenizerFast"}
    check_transformers_report(report, kinds)


@pytest.mark.parametrize("kind", ["bpe", "rustbpe"])
def test_byte_level_bpe_exports_to_tiktoken(kind, kinds, texts, encoded):
    from curate.tokenizer.export import load_tiktoken

    enc = load_tiktoken(str(kinds[kind]))
    tok = load_tokenizer(str(kinds[kind]))
    assert enc.n_vocab == tok.vocab_size and enc.eot_token == tok.separator_id
    ours = encoded(kind)
    for name, text in texts.items():
        ids = enc.encode(text, disallowed_special=())
        assert ids == ours[name], f"{kind}: tiktoken encodes {name} differently"
        assert enc.decode(ids) == text
    assert enc.encode("<|endoftext|>", allowed_special="all") == [tok.separator_id]
    with pytest.raises(ValueError, match="only byte-level BPE"):
        load_tiktoken(str(kinds["sp-bpe"]))


def test_rustbpe_engine_is_rustbpe(data, tmp_path, texts):
    """Our rustbpe recipe learns what rustbpe itself learns from the same text, and its tokenizer.json encodes
    as rustbpe does."""
    import rustbpe

    from curate.tokenizer.rust_bpe import rustbpe_texts

    card = train_tokenizer({**RUST, "holdout_fraction": 0.0, "vocab_size": 2049}, [str(data)], str(tmp_path))
    raw = rustbpe.Tokenizer()
    raw.train_from_iterator(rustbpe_texts(d["text"] for d in shard_docs(data)), vocab_size=2048, buffer_size=256)
    tok = load_tokenizer(str(tmp_path))
    assert card["rustbpe"]["repeated_tokens"] == 0 and card["vocab_size"] == 2049 and tok.separator_id == 2048
    assert card["recipe"]["split_pattern"] == "gpt4" and raw.get_pattern() == card["tiktoken"]["pattern"]
    for name in ("books/moby-dick-or-the-whale.txt", "planted", "tasks/rotten_tomatoes.jsonl"):
        assert tok.encode_batch([texts[name]])[0] == raw.encode(texts[name]), name


def test_pass_one_lengths_match_the_documents(data, tmp_path):
    """Pass 1 counts lengths in Arrow; it must see the same documents, ids and lengths as the reader (missing
    ids become <file>#<row>, empty and null texts are skipped, a folder name is the source)."""
    import pyarrow as pa

    from curate.tokenizer.corpus import document_lengths, documents

    rows = {"text": ["naïve 東京 🎉", None, "", "plain"], "id": ["a", None, "c", None]}
    (tmp_path / "web").mkdir()
    pq.write_table(pa.table(rows), tmp_path / "web" / "0.parquet")
    (tmp_path / "web" / "1.jsonl").write_text('{"text": "one"}\n{"id": "x", "text": "two ✔"}\n', encoding="utf-8")
    for inputs in ([str(tmp_path)], [str(data)]):
        expected = [(s, i, len(t), len(t.encode()), t) for s, i, t in documents(inputs)]
        assert [(s, i, n, size, text()) for s, i, n, size, text in document_lengths(inputs)] == expected
    assert [(s, i, n) for s, i, n, _, _ in document_lengths([str(tmp_path)])] == [
        ("web", "a", 10), ("web", "0.parquet#4", 5), ("web", "1.jsonl#L1", 3), ("web", "x", 5)]
