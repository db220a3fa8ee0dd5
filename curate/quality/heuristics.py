"""Heuristic quality rules: Gopher quality, Gopher repetition, C4 and FineWeb, with datatrove's defaults.

The decisions and reason names follow datatrove's filters (which follow the papers: Gopher, Rae et al. 2021,
table A1; C4, Raffel et al. 2020; FineWeb, Penedo et al. 2024), so results compare one to one, with two
differences: words come from `curate.quality.words` (the same splits as datatrove's spaCy tokenizer, several
times faster), and every removal records the signal, its measured value and the threshold it crossed.

Each rule set is a table of `Rule`s over named signals, and `signals(text)` yields the signals in the order
the rules are checked. Filtering stops at the first rule that fails; `curate quality inspect` reads every
signal of every document to calibrate the thresholds. Every threshold is a constructor argument, so YAML sets
it; `None` turns a rule off.

With `code_aware: true` (curate's addition; off by default, and then every decision is datatrove's), fenced
code and math blocks (`curate.quality.code`, written by `html_extract`) are kept apart: the word-level and
line-level signals are measured over the prose alone, C4's line rules never cut a line of a block, and the
code is judged by rules for code (line lengths, alphanumeric share, non-ASCII noise, repeated lines). A
document that is mostly code (`code.MOSTLY_CODE`) is judged by the code rules alone.
"""

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterator

from datatrove.data import Document
from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

from curate.quality import code as blocks
from curate.quality.ngrams import NGrams, duplicates, repeated_ngram_chars, top_ngram_chars
from curate.quality.words import count_sentences, split_words
from curate.stage import Drop, Stage

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
PARAGRAPH_BREAK = re.compile(r"\n{2,}")
LINE_BREAK = re.compile(r"\n+")
C4_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
C4_END_PUNCTUATION = (".", "?", "!", '"', "'")
C4_POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")

Signals = Iterator[tuple[str, float] | Drop]


@dataclass(frozen=True)
class Rule:
    """A document fails when `signal` is below `threshold` (bound "min") or above it (bound "max")."""

    reason: str
    signal: str
    bound: str
    threshold: float

    def fails(self, value: float) -> bool:
        return value < self.threshold if self.bound == "min" else value > self.threshold


class RuleSet(Stage):
    """A stage made of threshold rules over named signals. Subclasses list their `rules()` and yield their
    `signals(text)` in checking order (or a Drop for a document that cannot be measured); in code-aware mode,
    also their `code_rules()` and `code_signals(code)`. `measure(text)` yields what the rules check."""

    _table: dict | None = None  # rules_by_signal(), built on first use
    code_aware: bool = False

    def rules(self) -> list[Rule]:
        raise NotImplementedError

    def signals(self, text: str) -> Signals:
        raise NotImplementedError

    def code_rules(self) -> list[Rule]:
        return []

    def code_signals(self, code: list[str]) -> Signals:
        return iter(())

    def measure(self, text: str) -> Signals:
        """The signals of `text` in checking order: all of `signals(text)`, or in code-aware mode those of the
        code blocks, then those of the prose unless the document is mostly code."""
        if self.code_aware and "`" in text:
            parts = blocks.split(text)
            if parts.code:
                yield from self.code_signals(parts.code)
                if parts.code_share >= blocks.MOSTLY_CODE:
                    return
            text = parts.prose
        yield from self.signals(text)

    def rules_by_signal(self) -> dict[str, list[Rule]]:
        table: dict[str, list[Rule]] = {}
        for rule in self.rules() + (self.code_rules() if self.code_aware else []):
            if rule.threshold is not None:
                table.setdefault(rule.signal, []).append(rule)
        return table

    def check(self, doc: Document) -> Drop | None:
        if self._table is None:
            self._table = self.rules_by_signal()
        table = self._table
        for item in self.measure(doc.text):
            if isinstance(item, Drop):
                return item
            name, value = item
            for rule in table.get(name, ()):
                if self.fails(rule, value):
                    return Drop(rule.reason, {"signal": name, "value": round(float(value), 6), "threshold": rule.threshold})
        return None

    def fails(self, rule: Rule, value: float) -> bool:
        return rule.fails(value)

    def process(self, doc: Document) -> Document | Drop:
        return self.check(doc) or doc


class GopherQuality(RuleSet):
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
        code_aware: bool = False,
        max_code_line_length: int | None = 1000,
        max_code_avg_line_length: float | None = 100,
        min_code_alnum_ratio: float | None = 0.25,
        max_code_noise_ratio: float | None = 0.05,
    ):
        super().__init__()
        self.code_aware = code_aware
        self.max_code_line_length = max_code_line_length
        self.max_code_avg_line_length = max_code_avg_line_length
        self.min_code_alnum_ratio = min_code_alnum_ratio
        self.max_code_noise_ratio = max_code_noise_ratio
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

    def rules(self) -> list[Rule]:
        return [
            Rule("gopher_short_doc", "words", "min", self.min_doc_words),
            Rule("gopher_long_doc", "words", "max", self.max_doc_words),
            Rule("gopher_below_avg_threshold", "avg_word_length", "min", self.min_avg_word_length),
            Rule("gopher_above_avg_threshold", "avg_word_length", "max", self.max_avg_word_length),
            Rule("gopher_too_many_hashes", "hash_word_ratio", "max", self.max_symbol_word_ratio),
            Rule("gopher_too_many_ellipsis", "ellipsis_word_ratio", "max", self.max_symbol_word_ratio),
            Rule("gopher_too_many_bullets", "bullet_lines_ratio", "max", self.max_bullet_lines_ratio),
            Rule("gopher_too_many_end_ellipsis", "end_ellipsis_lines_ratio", "max", self.max_ellipsis_lines_ratio),
            Rule("gopher_below_alpha_threshold", "alpha_words_ratio", "min", self.min_alpha_words_ratio),
            Rule("gopher_enough_stop_words", "stop_words", "min", self.min_stop_words),
        ]

    def code_rules(self) -> list[Rule]:
        # The Stack's (and StarCoder's) thresholds for source files: minified or generated code has very long
        # lines, data blobs (base64, hex dumps) a low share of letters and digits
        return [
            Rule("code_long_line", "code_max_line_length", "max", self.max_code_line_length),
            Rule("code_long_avg_line", "code_avg_line_length", "max", self.max_code_avg_line_length),
            Rule("code_below_alnum_threshold", "code_alnum_ratio", "min", self.min_code_alnum_ratio),
            Rule("code_non_ascii_noise", "code_noise_ratio", "max", self.max_code_noise_ratio),
        ]

    def code_signals(self, code: list[str]) -> Signals:
        return blocks.code_line_signals(code)

    def signals(self, text: str) -> Signals:
        words = split_words(text)
        if not words:
            yield Drop("gopher_no_words")
            return
        n_words = len(words)
        # Measured over the distinct words, each weighted by its count: natural text repeats its words, and the
        # per-word tests in Python cost more than counting them (Counter runs in C). The sums are integers, so
        # the ratios are the same as word by word.
        counts = Counter(words)
        only_punctuation = PUNCTUATION_SET.issuperset
        n_counted = chars = alpha = 0
        for w, c in counts.items():
            if not only_punctuation(w):
                n_counted += c
                chars += c * len(w)
            if any(map(str.isalpha, w)):
                alpha += c
        # Gopher counts words that are not only punctuation; the ratios below divide by all tokens, as datatrove.
        yield "words", n_counted
        yield "avg_word_length", chars / n_counted if n_counted else 0.0
        yield "hash_word_ratio", text.count("#") / n_words
        yield "ellipsis_word_ratio", (text.count("...") + text.count("…")) / n_words
        lines = text.splitlines() or [""]
        yield "bullet_lines_ratio", sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines)
        yield "end_ellipsis_lines_ratio", sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines)
        yield "alpha_words_ratio", alpha / n_words
        yield "stop_words", len(self.stop_words.intersection(counts))


class GopherRepetition(RuleSet):
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
        code_aware: bool = False,
        max_code_dup_line_char_frac: float | None = 0.5,
    ):
        super().__init__()
        self.code_aware = code_aware
        self.max_code_dup_line_char_frac = max_code_dup_line_char_frac
        self.dup_line_frac = dup_line_frac
        self.dup_para_frac = dup_para_frac
        self.dup_line_char_frac = dup_line_char_frac
        self.dup_para_char_frac = dup_para_char_frac
        self.top_n_grams = [(int(n), float(t)) for n, t in top_n_grams]
        self.dup_n_grams = [(int(n), float(t)) for n, t in dup_n_grams]
        self.max_chars = max_chars

    def rules(self) -> list[Rule]:
        return [
            Rule("dup_para_frac", "dup_para_frac", "max", self.dup_para_frac),
            Rule("dup_para_char_frac", "dup_para_char_frac", "max", self.dup_para_char_frac),
            Rule("dup_line_frac", "dup_line_frac", "max", self.dup_line_frac),
            Rule("dup_line_char_frac", "dup_line_char_frac", "max", self.dup_line_char_frac),
            *(Rule(f"top_{n}_gram", f"top_{n}_gram", "max", t) for n, t in self.top_n_grams),
            *(Rule(f"duplicated_{n}_n_grams", f"duplicated_{n}_n_grams", "max", t) for n, t in self.dup_n_grams),
        ]

    def code_rules(self) -> list[Rule]:
        # laxer than the prose rules: a program repeats short statements by nature, so only lines of 10+
        # characters count, and half of the code's characters in repeats is what pasted or generated code shows
        return [Rule("code_dup_line_char_frac", "code_dup_line_char_frac", "max", self.max_code_dup_line_char_frac)]

    def code_signals(self, code: list[str]) -> Signals:
        return blocks.code_repetition_signals(code)

    def measure(self, text: str) -> Signals:
        return super().measure(text[: self.max_chars])

    def signals(self, text: str) -> Signals:
        text = text[: self.max_chars]
        if not text.strip():  # datatrove drops only "", and keeps whitespace; neither has text to learn from
            yield Drop("empty")
            return
        paragraphs = PARAGRAPH_BREAK.split(text.strip())
        dup, chars = duplicates(paragraphs)
        yield "dup_para_frac", dup / len(paragraphs)
        yield "dup_para_char_frac", chars / len(text)
        lines = LINE_BREAK.split(text)
        dup, chars = duplicates(lines)
        yield "dup_line_frac", dup / len(lines)
        yield "dup_line_char_frac", chars / len(text)
        grams = NGrams(split_words(text))
        for n, _ in self.top_n_grams:
            yield f"top_{n}_gram", top_ngram_chars(grams, n) / len(text)
        for n, _ in self.dup_n_grams:
            yield f"duplicated_{n}_n_grams", repeated_ngram_chars(grams, n) / len(text)


class C4Quality(RuleSet):
    """C4's line and page rules. Lines that fail a line rule are cut from the document (the count is kept
    in `metadata["c4_lines_removed"]`); the page is removed for lorem ipsum, a curly bracket, or fewer
    than `min_num_sentences` sentences left. In code-aware mode the rules see the prose lines only: code
    blocks stay as they are, and a document that is mostly code loses the prose lines that fail a rule but
    is not removed by a page rule (the code rules of the other sets judge it)."""

    name = "c4_quality"
    _last_kept: tuple[str, list[str] | Drop] = ("", [])

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
        code_aware: bool = False,
    ):
        super().__init__()
        self.code_aware = code_aware
        self.remove_citations = remove_citations
        self.filter_no_terminal_punct = filter_no_terminal_punct
        self.min_num_sentences = min_num_sentences
        self.min_words_per_line = min_words_per_line
        self.max_word_length = max_word_length
        self.filter_lorem_ipsum = filter_lorem_ipsum
        self.filter_javascript = filter_javascript
        self.filter_curly_bracket = filter_curly_bracket
        self.filter_policy = filter_policy

    def rules(self) -> list[Rule]:
        threshold = self.min_num_sentences if self.min_num_sentences != -1 else None
        return [Rule("too_few_sentences", "sentences", "min", threshold)]

    def kept_lines(self, text: str, page_rules: bool = True) -> list[str] | Drop:
        """The lines C4 keeps, or the Drop of a page rule (lorem ipsum, curly bracket); without `page_rules`,
        a line that would remove the page is only cut. The last answer with page rules is kept for the same
        text object: `process` cuts the lines that its check has just judged."""
        if page_rules and text is self._last_kept[0]:
            return self._last_kept[1]
        kept = self._kept_lines(text, page_rules)
        if page_rules:
            self._last_kept = (text, kept)
        return kept

    def _kept_lines(self, text: str, page_rules: bool) -> list[str] | Drop:
        kept = []
        for line in text.splitlines():
            line = line.strip()
            words = line.split()
            # (a line no longer than the limit has no word longer than it: most lines skip the scan)
            if self.max_word_length != -1 and len(line) > self.max_word_length and max(map(len, words)) > self.max_word_length:
                continue
            if self.remove_citations:
                line = C4_CITATION.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(C4_END_PUNCTUATION) or line.endswith("...")):
                continue
            if len(words) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                if not page_rules:
                    continue
                return Drop("lorem_ipsum", {"line": line[:200]})
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                if not page_rules:
                    continue
                return Drop("curly_bracket", {"line": line[:200]})
            if self.filter_policy and any(p in lower for p in C4_POLICY):
                continue
            kept.append(line)
        return kept

    def signals(self, text: str) -> Signals:
        kept = self.kept_lines(text)
        if isinstance(kept, Drop):
            yield kept
            return
        yield "sentences", sum(count_sentences(line) for line in kept)

    def process(self, doc: Document) -> Document | Drop:
        if drop := self.check(doc):
            return drop
        lines = len(doc.text.splitlines())
        if self.code_aware and (found := blocks.find_blocks(doc.text)):
            doc.text = self.cut_prose_lines(doc.text, found)
        else:
            kept = self.kept_lines(doc.text)  # the check passed, so these are lines, not a Drop
            doc.text = "\n".join(kept).strip()
        doc.metadata["c4_lines_removed"] = lines - len(doc.text.splitlines())
        if "code_blocks" in doc.metadata or self.code_aware:
            doc.metadata["code_blocks"] = blocks.spans_metadata(doc.text)  # the cut moved them
        return doc

    def cut_prose_lines(self, text: str, found: list[tuple[int, int, str]]) -> str:
        """The text with C4's line rules applied to the prose between the blocks; the blocks kept whole."""
        out, pos = [], 0
        for start, end, _ in found + [(len(text), len(text), "")]:
            out += self.kept_lines(text[pos:start], page_rules=False)
            if start < end:
                out.append(text[start:end])
            pos = end
        return "\n".join(out).strip()


class FineWebQuality(RuleSet):
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
        code_aware: bool = False,
    ):
        super().__init__()
        self.code_aware = code_aware
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.stop_chars = tuple(stop_chars) if stop_chars is not None else tuple(TERMINAL_PUNCTUATION)
        self.short_line_thr = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio

    def rules(self) -> list[Rule]:
        return [
            Rule("line_punct_ratio", "line_punct_ratio", "min", self.line_punct_thr),
            Rule("short_line_ratio", "short_line_ratio", "max", self.short_line_thr),
            Rule("char_dup_ratio", "char_dup_ratio", "max", self.char_duplicates_ratio),
            Rule("list_ratio", "list_ratio", "max", self.new_line_ratio),
        ]

    def fails(self, rule: Rule, value: float) -> bool:
        if rule.signal == "line_punct_ratio" and value == 0 and self.line_punct_exclude_zero:
            return False
        return rule.fails(value)

    def signals(self, text: str) -> Signals:
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            yield Drop("empty")
            return
        yield "line_punct_ratio", sum(line.endswith(self.stop_chars) for line in lines) / len(lines)
        yield "short_line_ratio", sum(len(line) <= self.short_line_length for line in lines) / len(lines)
        yield "char_dup_ratio", duplicates(lines)[1] / max(len(text) - text.count("\n"), 1)
        yield "list_ratio", text.count("\n") / max(len(split_words(text)), 1)
