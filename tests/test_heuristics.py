"""Heuristic rules on real text: reasons with measured values, datatrove's decisions, bad input."""

import time

import pytest
from datatrove.data import Document

from curate.quality.heuristics import C4Quality, FineWebQuality, GopherQuality, GopherRepetition
from curate.quality.words import count_sentences, split_words
from curate.stage import Drop


@pytest.fixture(scope="module")
def wiki_texts(data_dir):
    import orjson

    return [orjson.loads(line)["text"] for line in (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()]


def test_words_split_like_spacy(wiki_texts, data_dir):
    import spacy

    nlp = spacy.blank("en")
    samples = wiki_texts[:5] + [(data_dir / "books" / "moby-dick-or-the-whale.txt").read_text()[20000:40000]]
    for text in samples:
        expected = [t.text.strip() for t in nlp(text) if t.text.strip()]
        assert split_words(text) == expected


def test_sentences_counted_like_spacy_sentencizer(wiki_texts):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    for line in wiki_texts[0].splitlines()[:40]:
        if line.strip():
            assert count_sentences(line) == len(list(nlp(line).sents))


def test_rules_keep_real_prose_and_explain_removals(wiki_texts):
    chain = [GopherRepetition(), GopherQuality(), C4Quality(), FineWebQuality()]
    kept = 0
    for text in wiki_texts:
        doc = Document(text=text, id="x")
        results = [stage.process(doc) for stage in chain]
        drops = [r for r in results if isinstance(r, Drop)]
        kept += not drops
        for d in drops:
            if "threshold" in d.details:  # the measured value is on the wrong side of the threshold
                assert d.details["value"] != d.details["threshold"]
    assert kept > len(wiki_texts) * 0.6


def test_repetition_is_caught_with_value_and_threshold(data_dir):
    play = (data_dir / "books" / "hamlet.txt").read_text()[:5000]
    paragraphs = play.split("\n\n")
    repeated = "\n\n".join(paragraphs + paragraphs[:10] * 3)
    drop = GopherRepetition().process(Document(text=repeated, id="r"))
    assert isinstance(drop, Drop) and drop.reason == "dup_para_char_frac"
    assert drop.details["threshold"] == 0.2 and drop.details["value"] > 0.2
    assert GopherRepetition().process(Document(text=play, id="p")).text == play
    assert GopherRepetition(dup_para_frac=None, dup_para_char_frac=None, dup_line_frac=None,
                            dup_line_char_frac=None).process(Document(text=repeated, id="r")).reason.startswith(("top_", "duplicated_"))


def test_same_decisions_as_datatrove_on_real_text(wiki_texts, data_dir):
    from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    texts = wiki_texts[:40] + [p.read_text()[:20000] for p in sorted((data_dir / "books").glob("*.txt"))]
    pairs = [(GopherQualityFilter(), GopherQuality()), (GopherRepetitionFilter(), GopherRepetition()),
             (FineWebQualityFilter(), FineWebQuality())]
    for theirs, ours in pairs:
        for text in texts:
            expected = theirs.filter(Document(text=text, id="t"))
            got = ours.process(Document(text=text, id="t"))
            assert (expected is True) == (not isinstance(got, Drop)), (ours.name, text[:80])
            if expected is not True:
                assert got.reason == expected[1]


@pytest.mark.parametrize("stage", [GopherRepetition(), GopherQuality(), C4Quality(), FineWebQuality()], ids=lambda s: s.name)
@pytest.mark.parametrize("text", ["", "   \n\n  ", "1234 5678 !!! ??? ..."])
def test_text_without_words_gets_a_defined_drop(stage, text):
    result = stage.process(Document(text=text, id="b"))
    assert isinstance(result, Drop) and result.reason


def test_text_in_another_language_fails_gophers_stop_words():
    # Language is the language filter's job; the English stop-word rule catches it as a side effect.
    german = " ".join(["Das ist ein ganz normaler deutscher Satz, den man in jeder Zeitung lesen kann."] * 8)
    drop = GopherQuality().process(Document(text=german, id="de"))
    assert drop.reason == "gopher_enough_stop_words" and drop.details == {"signal": "stop_words", "value": 0.0, "threshold": 2}


def _repeated_ngram_chars_reference(words: list[str], n: int) -> int:
    """Gopher's scan, word by word: an n-gram seen before counts its characters and the scan jumps past it."""
    seen, chars, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = tuple(words[i : i + n])
        if gram in seen:
            chars += sum(map(len, gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def test_repetition_and_quality_signals_equal_a_word_by_word_reference(wiki_texts, data_dir):
    from collections import Counter

    from datatrove.utils.text import PUNCTUATION_SET

    from curate.quality.ngrams import NGrams, repeated_ngram_chars, top_ngram_chars

    play = (data_dir / "books" / "hamlet.txt").read_text()
    lines = play[:6000].splitlines()
    texts = wiki_texts[:10] + [play[:20000], "\n".join(lines + lines[5:40] * 3 + lines[:8]), "a b a b a b c a b"]
    gopher_quality, gopher_repetition = GopherQuality(), GopherRepetition()
    for text in texts:
        words = split_words(text)
        grams = NGrams(words)
        for n in range(2, 5):
            top, count = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1)).most_common(1)[0]
            assert top_ngram_chars(grams, n) == (sum(map(len, top)) + n - 1) * count
        for n in range(5, 11):  # from the masks of n - 1, as the rule set asks for them
            assert repeated_ngram_chars(grams, n) == _repeated_ngram_chars_reference(words, n), (n, text[:60])
        alone = NGrams(words)  # and for one size asked first, without the smaller ones
        assert repeated_ngram_chars(alone, 7) == _repeated_ngram_chars_reference(words, 7)
        signals = dict(s for s in gopher_quality.signals(text) if not isinstance(s, Drop))
        counted = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
        assert signals["words"] == len(counted)
        assert signals["avg_word_length"] == sum(map(len, counted)) / len(counted)
        assert signals["alpha_words_ratio"] == sum(any(c.isalpha() for c in w) for w in words) / len(words)
        assert signals["stop_words"] == len(set(words) & set(gopher_quality.stop_words))
        assert dict(gopher_repetition.signals(text))["duplicated_5_n_grams"] == _repeated_ngram_chars_reference(words, 5) / len(text)


def test_50mb_document_in_bounded_time(data_dir):
    text = "".join(p.read_text() for p in sorted((data_dir / "books").glob("*.txt")))
    big = (text * (50 * 2**20 // len(text) + 1))[: 50 * 2**20]
    start = time.monotonic()
    for stage in (GopherRepetition(), GopherQuality(), C4Quality(), FineWebQuality()):
        stage.process(Document(text=big, id="big"))
    assert time.monotonic() - start < 240  # linear work; about 60 s here on one core


# --- code-aware mode ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc_pages():
    """Extracted pages of the Python manual, code fenced: (url, text)."""
    from curate.extract import extract_with_blocks
    from helpers import real_pages

    return [(u, extract_with_blocks(h.decode("utf-8"), "resiliparse")) for u, h in real_pages(213)[60:100]]


def test_without_code_aware_fenced_pages_get_datatroves_decisions(doc_pages):
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    pairs = [(GopherQualityFilter(), GopherQuality()), (GopherRepetitionFilter(), GopherRepetition()),
             (FineWebQualityFilter(), FineWebQuality()), (C4QualityFilter(), C4Quality())]
    for theirs, ours in pairs:
        for url, text in doc_pages:
            expected = theirs.filter(Document(text=text, id="t"))
            got = ours.process(Document(text=text, id="t"))
            assert (expected is True) == (not isinstance(got, Drop)), (ours.name, url)


def test_code_aware_measures_prose_and_keeps_blocks(doc_pages):
    from curate.quality import code

    url, text = next((u, t) for u, t in doc_pages if t.count("```") > 20)
    parts = code.split(text)
    plain, aware = dict(GopherQuality().measure(text)), dict(GopherQuality(code_aware=True).measure(text))
    from datatrove.utils.text import PUNCTUATION_SET

    words = [w for w in split_words(parts.prose) if any(c not in PUNCTUATION_SET for c in w)]
    assert aware["words"] == len(words) < plain["words"]
    assert "code_max_line_length" in aware and "code_max_line_length" not in plain
    doc = C4Quality(code_aware=True, filter_curly_bracket=False).process(
        Document(text=text, id=url, metadata={"code_blocks": code.spans_metadata(text)}))
    assert isinstance(doc, Document)
    kept = [doc.text[s:e] for s, e, _ in doc.metadata["code_blocks"]]
    assert kept == [text[s:e] for s, e, _ in code.find_blocks(text)]  # every block, unchanged, spans updated
    assert doc.metadata["c4_lines_removed"] > 0  # prose lines without end punctuation (headings) were cut


def test_prose_with_program_output_is_kept_only_in_code_aware_mode(wiki_texts):
    from curate.quality import code

    prose = wiki_texts[0]
    listing = "\n".join(f"{i:>6} {i * 4096:>12} 0x{i * 7919:08x} -rw-r--r-- 2023-02-08" for i in range(400))
    text = prose[:3000] + "\n\n" + code.fence(listing, "console") + "\n\n" + prose[3000:6000]
    assert GopherQuality().process(Document(text=text, id="x")).reason == "gopher_below_alpha_threshold"
    assert isinstance(GopherQuality(code_aware=True).process(Document(text=text, id="x")), Document)


@pytest.mark.parametrize("block, reason", [
    ("var a=" + "1+" * 1500 + "1;", "code_long_line"),                   # minified
    ("\n".join(["QUJDREVGR0hJSktMTU5PUFFSU1RVVldY/+=="[:30]] * 5 + ["==/+" * 20] * 40), "code_below_alnum_threshold"),
    ("\n".join(["print('caf\ufffd\ufffd \u00e2\u20ac\u2122')"] * 3), "code_non_ascii_noise"),  # mojibake
])
def test_mostly_code_pages_are_judged_by_code_rules(block, reason):
    from curate.quality import code

    text = "An example.\n\n" + code.fence(block)
    result = GopherQuality(code_aware=True).process(Document(text=text, id="c"))
    assert isinstance(result, Drop) and result.reason == reason, result


def test_a_real_mostly_code_page_passes_the_code_rules(doc_pages):
    from curate.quality import code

    blocks = [c for _, t in doc_pages for c in code.split(t).code]
    text = "Examples.\n\n" + "\n\n".join(code.fence(b) for b in blocks[:30])
    assert code.split(text).code_share > code.MOSTLY_CODE
    for stage in (GopherQuality(code_aware=True), GopherRepetition(code_aware=True), C4Quality(code_aware=True),
                  FineWebQuality(code_aware=True)):
        assert isinstance(stage.process(Document(text=text, id="m")), Document), stage.name
    pasted = "Examples.\n\n" + code.fence("\n".join(blocks[0].splitlines() * 5))
    assert GopherRepetition(code_aware=True).process(Document(text=pasted, id="p")).reason == "code_dup_line_char_frac"
