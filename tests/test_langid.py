"""Language id with the bundled lid.176.ftz on real text: English wiki articles and books, and the example
sentences that spaCy ships for other languages (written by people, in the venv through presidio-analyzer)."""

import ast
import importlib.util
import os
import pickle
import shutil
import statistics
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from datatrove.data import Document

from curate.io.records import read_records
from curate.quality import langid
from curate.quality.fasttext_model import load_model, predict
from curate.quality.langid import BUNDLED_MODEL, LanguageFilter
from curate.stage import Drop

# Languages whose spaCy example sentences the model identifies with a probability >= 0.93 (measured).
OTHER_LANGUAGES = ["de", "fr", "es", "it", "nl", "pt", "pl", "sv", "ru", "uk", "el", "ar", "zh", "ja"]


def spacy_examples(code: str) -> str:
    """spaCy's example sentences for one language (spacy/lang/<code>/examples.py), read without importing
    spaCy (2.5 s), joined into one document."""
    root = Path(importlib.util.find_spec("spacy").submodule_search_locations[0])
    tree = ast.parse((root / "lang" / code / "examples.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "sentences":
            return "\n".join(ast.literal_eval(node.value))
    raise LookupError(f"no sentences in spacy/lang/{code}/examples.py")


@pytest.fixture(scope="module")
def wiki(data_dir) -> list[Document]:
    lines = (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()
    return [Document(text=r["text"], id=str(r.get("id", i))) for i, r in enumerate(map(orjson.loads, lines))]


@pytest.fixture(scope="module")
def books(data_dir) -> list[Document]:
    return [Document(text=p.read_text(encoding="utf-8"), id=p.stem) for p in sorted((data_dir / "books").glob("*.txt"))]


@pytest.fixture(scope="module")
def foreign() -> dict[str, Document]:
    return {code: Document(text=spacy_examples(code), id=f"spacy-{code}") for code in OTHER_LANGUAGES}


def annotate(docs: list[Document]) -> list[Document]:
    stage = LanguageFilter(languages=None)
    return [stage.process(Document(text=d.text, id=d.id)) for d in docs]


def test_the_bundled_model_is_the_one_documented(data_dir):
    assert BUNDLED_MODEL == data_dir / "lid.176.ftz" and BUNDLED_MODEL.stat().st_size == 938_013
    assert "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83" in (data_dir / "LID.md").read_text()


def test_english_wiki_and_books_come_out_english(wiki, books):
    for docs in (wiki, books):
        out = annotate(docs)
        assert Counter(d.metadata["language"] for d in out) == {"en": len(docs)}
        scores = [d.metadata["language_score"] for d in out]
        assert all(type(s) is float for s in scores)  # plain floats: they go into JSON metadata
        assert statistics.median(scores) > 0.9
    assert min(d.metadata["language_score"] for d in annotate(books)) > 0.9
    # Two wiki articles are mostly lists of names and titles (measured 0.62 and 0.63); with the default
    # min_score of 0.65 they are removed as low-confidence English, never as another language.
    stage = LanguageFilter()
    results = [stage.process(Document(text=d.text, id=d.id)) for d in wiki]
    drops = [r for r in results if isinstance(r, Drop)]
    assert len(drops) <= 3 and {r.reason for r in drops} <= {"low_language_score"}
    assert all(r.details["language"] == "en" and r.details["score"] < 0.65 for r in drops)


def test_other_languages_are_removed_or_annotated(foreign, wiki):
    for code, doc in foreign.items():
        dropped = LanguageFilter(languages=["en"]).process(Document(text=doc.text, id=doc.id))
        assert isinstance(dropped, Drop) and dropped.reason == "wrong_language", code
        assert dropped.details["language"] == code and dropped.details["score"] >= 0.9
        assert dropped.details["languages"] == ["en"] and dropped.details["min_score"] == 0.65
        kept = LanguageFilter(languages=None).process(Document(text=doc.text, id=doc.id))
        assert isinstance(kept, Document) and kept.metadata["language"] == code

    german = LanguageFilter(languages=["de", "fr"])
    assert isinstance(german.process(Document(text=foreign["de"].text, id="de")), Document)
    assert isinstance(german.process(Document(text=foreign["fr"].text, id="fr")), Document)
    english = german.process(Document(text=wiki[0].text, id="en"))
    assert isinstance(english, Drop) and english.reason == "wrong_language" and english.details["language"] == "en"


def test_low_score_is_its_own_reason(foreign):
    # Portuguese comes out "pt" with ~0.94; a min_score above that removes it as uncertain, not as wrong.
    result = LanguageFilter(languages=["pt"], min_score=0.99).process(Document(text=foreign["pt"].text, id="pt"))
    assert isinstance(result, Drop) and result.reason == "low_language_score"
    assert result.details["language"] == "pt" and result.details["score"] < 0.99


@pytest.mark.parametrize("text", ["", "   \n\t \n", "1234 5678 -- 3.14159 !!! ?? (2024-01-01) #42 $9.99 %"])
def test_text_without_letters_has_its_own_reason(text):
    result = LanguageFilter().process(Document(text=text, id="x"))
    assert isinstance(result, Drop) and result.reason == "no_text_for_language_id"
    kept = LanguageFilter(languages=None).process(Document(text=text, id="x"))
    assert isinstance(kept, Document)
    assert kept.metadata["language"] == "und" and kept.metadata["language_score"] == 0.0


def test_lone_surrogates_do_not_break_prediction(wiki):
    # Text decoded with errors="surrogateescape" holds lone surrogates; fastText's own predict() raises a
    # TypeError on them.
    text = wiki[0].text[:2000] + " \udcff\udc80 " + wiki[0].text[2000:4000]
    result = LanguageFilter().process(Document(text=text, id="s"))
    assert isinstance(result, Document) and result.metadata["language"] == "en"


def test_predict_matches_fasttexts_own_predict(wiki, foreign):
    model = load_model(BUNDLED_MODEL)
    for text in [wiki[3].text[:5000], foreign["de"].text, foreign["ja"].text]:
        line = text.replace("\n", " ")
        labels, probs = model.predict(line, k=3)
        ours = predict(model, line, k=3)
        assert [label for label, _ in ours] == list(labels)
        assert [p for _, p in ours] == pytest.approx([float(p) for p in probs])


def test_a_50_mb_document_costs_bounded_time(wiki):
    base = " ".join(d.text for d in wiki[:20])
    text = (base * (50_000_000 // len(base) + 1))[:50_000_000]
    stage = LanguageFilter()
    start = time.perf_counter()
    result = stage.process(Document(text=text, id="big"))
    assert time.perf_counter() - start < 10
    assert isinstance(result, Document) and result.metadata["language"] == "en"


def test_run_writes_every_removed_document(tmp_path, wiki, foreign):
    docs = [Document(text=d.text, id=d.id, metadata={"source": "wiki"}) for d in wiki[:5]]
    docs += [Document(text=d.text, id=d.id, metadata={"source": "spacy"}) for d in foreign.values()]
    docs.append(Document(text="12 34 56", id="digits", metadata={"source": "x"}))
    stage = LanguageFilter(languages=["en"], min_score=0.5)
    stage.attach("language", str(tmp_path / "removed" / "language"))
    kept = list(stage.run(iter(docs)))
    removed = read_records(str(tmp_path / "removed"))

    assert [d.id for d in kept] == [d.id for d in docs[:5]]
    assert len(kept) + len(removed) == len(docs)
    assert {r["id"]: r["reason"] for r in removed} == {
        **{f"spacy-{code}": "wrong_language" for code in OTHER_LANGUAGES},
        "digits": "no_text_for_language_id",
    }
    assert all(r["stage"] == "language" and r["text"] for r in removed)
    assert all(r["details"]["language"] == r["id"].removeprefix("spacy-") for r in removed if r["id"] != "digits")
    assert stage.stats["removed"].total == len(removed)


def test_stage_pickles_for_executors(wiki):
    # datatrove's executors (local processes, Ray) pickle the pipeline; the model must not travel with it.
    stage = LanguageFilter()
    list(stage.run(iter([Document(text=wiki[0].text, id="a")])))
    copy = pickle.loads(pickle.dumps(stage))
    assert len(pickle.dumps(stage)) < 100_000
    assert isinstance(copy.process(Document(text=wiki[0].text, id="b")), Document)


def test_model_cache_reloads_a_replaced_file(tmp_path):
    path = tmp_path / "lid.ftz"
    shutil.copy(BUNDLED_MODEL, path)
    first = load_model(path)
    assert load_model(str(path)) is first  # cached: one load per process
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert load_model(path) is not first  # the file changed: loaded again, never stale


def test_bad_settings_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="2-3 lowercase letter"):
        LanguageFilter(languages=["EN"])
    with pytest.raises(ValueError, match="2-3 lowercase letter"):
        LanguageFilter(languages=[])
    with pytest.raises(ValueError, match=r"\['eng'\] not among the languages"):
        LanguageFilter(languages=["eng"])
    with pytest.raises(ValueError, match="min_score"):
        LanguageFilter(min_score=1.5)
    missing = tmp_path / "nope.ftz"
    with pytest.raises(ValueError, match=f"no language-id model at {missing}"):
        LanguageFilter(model_path=str(missing))
    not_a_model = tmp_path / "bad.ftz"
    not_a_model.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a fastText model"):
        LanguageFilter(model_path=str(not_a_model))


def test_languages_default_and_string():
    assert LanguageFilter().languages == ["en"]
    assert LanguageFilter(languages="de").languages == ["de"]
    assert langid.MAX_CHARS == 100_000
