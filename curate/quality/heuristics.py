"""Heuristic quality rules: Gopher quality, Gopher repetition, C4 and FineWeb, with datatrove's defaults.

The decisions and reason names follow datatrove's filters (which follow the papers: Gopher, Rae et al. 2021,
table A1; C4, Raffel et al. 2020; FineWeb, Penedo et al. 2024), so results compare one to one, with two
differences: words come from `curate.quality.words` (the same splits as datatrove's spaCy tokenizer, several
times faster), and every removal records the measured value and the threshold it crossed, which is what
`curate quality inspect` calibrates thresholds from. Every threshold is a constructor argument, so YAML
sets it; `None` turns a rule off.
"""

import re
from collections import Counter

import numpy as np
from datatrove.data import Document
from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

from curate.quality.words import count_sentences, split_words
from curate.stage import Drop, Stage

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
PARAGRAPH_BREAK = re.compile(r"\n{2,}")
LINE_BREAK = re.compile(r"\n+")
C4_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")


def _over(reason: str, value: float, threshold: float, **extra) -> Drop:
    return Drop(reason, {"value": round(float(value), 6), "threshold": threshold, **extra})


class GopherQuality(Stage):
    name = "gopher_quality"

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100_000,
        min_avg_word_length: float | None = 3,
        max_avg_word_length: float | None = 10,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        min_alpha_words_ratio: float | None = 0.8,
        min_stop_words: int | None = 2,
        stop_words: list[str] | None = None,
    ):
        super().__init__()
        self.min_doc_words = min_doc_words
        self.max_doc_words = max_doc_words
        self.min_avg_word_length = min_avg_word_length
        self.max_avg_word_length = max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.min_alpha_words_ratio = min_alpha_words_ratio
        self.min_stop_words = min_stop_words
        self.stop_words = frozenset(GOPHER_STOP_WORDS if stop_words is None else stop_words)

    def process(self, doc: Document) -> Document | Drop:
        text = doc.text
        words = split_words(text)
        if not words:
            return Drop("gopher_no_words")
        n_words = len(words)
        word_lengths = [len(w) for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
        n = len(word_lengths)
        if self.min_doc_words and n < self.min_doc_words:
            return _over("gopher_short_doc", n, self.min_doc_words)
        if self.max_doc_words and n > self.max_doc_words:
            return _over("gopher_long_doc", n, self.max_doc_words)
        avg = sum(word_lengths) / n if n else 0.0
        if self.min_avg_word_length and avg < self.min_avg_word_length:
            return _over("gopher_below_avg_threshold", avg, self.min_avg_word_length)
        if self.max_avg_word_length and avg > self.max_avg_word_length:
            return _over("gopher_above_avg_threshold", avg, self.max_avg_word_length)
        if self.max_symbol_word_ratio:
            if (r := text.count("#") / n_words) > self.max_symbol_word_ratio:
                return _over("gopher_too_many_hashes", r, self.max_symbol_word_ratio)
            if (r := (text.count("...") + text.count("…")) / n_words) > self.max_symbol_word_ratio:
                return _over("gopher_too_many_ellipsis", r, self.max_symbol_word_ratio)
        lines = text.splitlines() or [""]
        if self.max_bullet_lines_ratio:
            r = sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines)
            if r > self.max_bullet_lines_ratio:
                return _over("gopher_too_many_bullets", r, self.max_bullet_lines_ratio)
        if self.max_ellipsis_lines_ratio:
            r = sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines)
            if r > self.max_ellipsis_lines_ratio:
                return _over("gopher_too_many_end_ellipsis", r, self.max_ellipsis_lines_ratio)
        if self.min_alpha_words_ratio:
            r = sum(any(c.isalpha() for c in w) for w in words) / n_words
            if r < self.min_alpha_words_ratio:
                return _over("gopher_below_alpha_threshold", r, self.min_alpha_words_ratio)
        if self.min_stop_words:
            found = len(self.stop_words.intersection(words))
            if found < self.min_stop_words:
                return _over("gopher_enough_stop_words", found, self.min_stop_words)
        return doc


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in the repeats), counting every occurrence after the first."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


class NGrams:
    """The n-grams of one document's words as 64-bit hashes, built once and extended from n to n+1.

    Counting with numpy instead of Python tuples is what makes Gopher repetition cheap; a collision between
    two different n-grams has a probability around 2^-64 per pair.
    """

    _MULT = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, words: list[str]):
        vocab: dict[str, int] = {}
        ids = np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), dtype=np.int64, count=len(words))
        rng = np.random.default_rng(0)
        self.values = rng.integers(1, 2**63, size=max(len(vocab), 1), dtype=np.uint64)[ids]
        self.char_cumsum = np.concatenate([[0], np.cumsum([len(w) for w in words])])
        self.n = 1
        self.hashes = self.values.copy()

    def of_size(self, n: int) -> np.ndarray:
        if n < self.n:
            self.__init_hashes()
        with np.errstate(over="ignore"):
            while self.n < n:
                self.hashes = self.hashes[:-1] * self._MULT + self.values[self.n :]
                self.n += 1
        return self.hashes

    def __init_hashes(self):
        self.n, self.hashes = 1, self.values.copy()

    def chars(self, start, n: int):
        """Characters in the words of the n-gram(s) starting at `start` (spaces not counted)."""
        return self.char_cumsum[start + n] - self.char_cumsum[start]


def _top_ngram_chars(grams: NGrams, n: int) -> int:
    """Characters covered by the most frequent n-gram: its length with spaces, times its count."""
    h = grams.of_size(n)
    if len(h) == 0:
        return 0
    uniq, first, counts = np.unique(h, return_index=True, return_counts=True)
    top = counts.max()
    start = first[counts == top].min()  # ties: the n-gram seen first, as Counter.most_common does
    return int((grams.chars(start, n) + n - 1) * top)


def _repeated_ngram_chars(grams: NGrams, n: int) -> int:
    """Characters in n-grams seen before, scanning left to right and jumping past each repeat (Gopher).

    Only positions whose n-gram occurs more than once can be repeats, and an n-gram that occurs once cannot
    make any other position a repeat, so the scan visits those positions alone.
    """
    h = grams.of_size(n)
    if len(h) == 0:
        return 0
    _, inverse, counts = np.unique(h, return_inverse=True, return_counts=True)
    seen: set[int] = set()
    chars = 0
    next_allowed = 0
    for p in np.flatnonzero(counts[inverse] > 1).tolist():
        if p < next_allowed:
            continue
        g = int(inverse[p])
        if g in seen:
            chars += int(grams.chars(p, n))
            next_allowed = p + n
        else:
            seen.add(g)
    return chars


class GopherRepetition(Stage):
    """Repetition within a document. Documents longer than `max_chars` are measured on their first
    `max_chars` characters, so a 50 MB document costs the same as a 1 MB one."""

    name = "gopher_repetition"

    def __init__(
        self,
        dup_line_frac: float | None = 0.3,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: list[list[float]] = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: list[list[float]] = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)),
        max_chars: int = 1_000_000,
    ):
        super().__init__()
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = [(int(n), float(t)) for n, t in top_n_grams]
        self.dup_n_grams = [(int(n), float(t)) for n, t in dup_n_grams]
        self.max_chars = max_chars

    def process(self, doc: Document) -> Document | Drop:
        text = doc.text[: self.max_chars]
        if not text.strip():  # datatrove drops only "", and keeps whitespace; neither has text to learn from
            return Drop("empty")
        paragraphs = PARAGRAPH_BREAK.split(text.strip())
        dup, chars = _duplicates(paragraphs)
        if self.dup_para_frac and (r := dup / len(paragraphs)) > self.dup_para_frac:
            return _over("dup_para_frac", r, self.dup_para_frac)
        if self.dup_para_char_frac and (r := chars / len(text)) > self.dup_para_char_frac:
            return _over("dup_para_char_frac", r, self.dup_para_char_frac)
        lines = LINE_BREAK.split(text)
        dup, chars = _duplicates(lines)
        if self.dup_line_frac and (r := dup / len(lines)) > self.dup_line_frac:
            return _over("dup_line_frac", r, self.dup_line_frac)
        if self.dup_line_char_frac and (r := chars / len(text)) > self.dup_line_char_frac:
            return _over("dup_line_char_frac", r, self.dup_line_char_frac)
        grams = NGrams(split_words(text))
        for n, threshold in self.top_n_grams:
            if (r := _top_ngram_chars(grams, n) / len(text)) > threshold:
                return _over(f"top_{n}_gram", r, threshold)
        for n, threshold in self.dup_n_grams:
            if (r := _repeated_ngram_chars(grams, n) / len(text)) > threshold:
                return _over(f"duplicated_{n}_n_grams", r, threshold)
        return doc


C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


class C4Quality(Stage):
    """C4's line and page rules. Lines that fail a line rule are cut from the document (the count is kept
    in `metadata["c4_lines_removed"]`); the page is removed for lorem ipsum, a curly bracket, or fewer
    than `min_num_sentences` sentences left."""

    name = "c4_quality"

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_num_sentences: int = 5,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
    ):
        super().__init__()
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_num_sentences = min_num_sentences
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_javascript = filter_javascript
        self.filter_curly_bracket = filter_curly_bracket
        self.filter_policy = filter_policy

    def process(self, doc: Document) -> Document | Drop:
        sentences = 0
        kept = []
        lines = doc.text.splitlines()
        for line in lines:
            line = line.strip()
            words = line.split()
            if self.max_word_length != -1 and any(len(w) > self.max_word_length for w in words):
                continue
            if self.remove_citations:
                line = C4_CITATION.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(C4_END_PUNCTUATION) or line.endswith("...")):
                continue
            if len(words) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                return Drop("lorem_ipsum", {"line": line[:200]})
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                return Drop("curly_bracket", {"line": line[:200]})
            if self.filter_policy and any(p in lower for p in C4_POLICY):
                continue
            if self.min_num_sentences != -1:
                sentences += count_sentences(line)
            kept.append(line)
        if sentences < self.min_num_sentences:
            return _over("too_few_sentences", sentences, self.min_num_sentences)
        doc.metadata["c4_lines_removed"] = len(lines) - len(kept)
        doc.text = "\n".join(kept).strip()
        return doc


class FineWebQuality(Stage):
    name = "fineweb_quality"

    def __init__(
        self,
        line_punct_thr: float = 0.12,
        line_punct_exclude_zero: bool = False,
        stop_chars: list[str] | None = None,
        short_line_thr: float = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float = 0.01,
        new_line_ratio: float = 0.3,
    ):
        super().__init__()
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.stop_chars = tuple(stop_chars) if stop_chars is not None else tuple(TERMINAL_PUNCTUATION)
        self.short_line_thr = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio

    def process(self, doc: Document) -> Document | Drop:
        lines = [line for line in doc.text.split("\n") if line.strip()]
        if not lines:
            return Drop("empty")
        r = sum(line.endswith(self.stop_chars) for line in lines) / len(lines)
        if r < self.line_punct_thr and not (r == 0 and self.line_punct_exclude_zero):
            return _over("line_punct_ratio", r, self.line_punct_thr)
        r = sum(len(line) <= self.short_line_length for line in lines) / len(lines)
        if r > self.short_line_thr:
            return _over("short_line_ratio", r, self.short_line_thr)
        r = _duplicates(lines)[1] / max(len(doc.text) - doc.text.count("\n"), 1)
        if r > self.char_duplicates_ratio:
            return _over("char_dup_ratio", r, self.char_duplicates_ratio)
        words = split_words(doc.text)
        r = doc.text.count("\n") / max(len(words), 1)
        if r > self.new_line_ratio:
            return _over("list_ratio", r, self.new_line_ratio)
        return doc
