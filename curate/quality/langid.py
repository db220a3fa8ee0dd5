"""Language identification with fastText's lid.176 model, shipped in curate/data/ (never downloaded).

The model (938 KB, 176 languages, CC BY-SA 3.0 by Facebook; see curate/data/LID.md) predicts the language of
a document's first MAX_CHARS characters. Its labels are ISO 639 codes, mostly two letters ("en", "de",
"zh"), three where a language has no two-letter code ("ceb", "war").
"""

import re
from pathlib import Path

from datatrove.data import Document

from curate.quality import code
from curate.quality.fasttext_model import FastTextStage, load_model, predict
from curate.stage import Drop

BUNDLED_MODEL = Path(__file__).parent.parent / "data" / "lid.176.ftz"
# The language of a document shows in its first pages, and fastText's cost grows with the text it reads:
# 100,000 characters take ~20 ms, a whole 50 MB document would take seconds (and a copy of it without
# newlines). The prefix bounds the cost per document whatever its size.
MAX_CHARS = 100_000
LABEL_PREFIX = "__label__"
UNDETERMINED = "und"  # ISO 639-2 "undetermined": what annotate-only mode writes for a text with no letters

_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
_LETTER = re.compile(r"[^\W\d_]")  # a word character that is not a digit or '_': a letter of any script


def model_languages(model_path: str | Path) -> set[str]:
    return {label.removeprefix(LABEL_PREFIX) for label in load_model(model_path).get_labels()}


def identify(model, text: str) -> tuple[str, float] | None:
    """(language code, probability) of the start of `text`, or None when it has no letter to go by."""
    prefix = text[:MAX_CHARS]
    if not _LETTER.search(prefix):
        return None
    # fastText reads one line per example: a newline would end the text early.
    (label, score), = predict(model, prefix.replace("\n", " "), k=1)
    return label.removeprefix(LABEL_PREFIX), score


class LanguageFilter(FastTextStage):
    """Writes `metadata["language"]` (an ISO 639 code) and `metadata["language_score"]` (its probability,
    rounded to 4 decimals) and keeps a document when its language is one of `languages` with a score of at
    least `min_score`.

    Removed, with the language, score and settings in the details:
      - "wrong_language": the most probable language is not one of `languages`;
      - "low_language_score": it is, but with a probability under `min_score` (mixed, or too little text);
      - "no_text_for_language_id": the text (its first MAX_CHARS characters) has no letter in any script:
        empty, whitespace, digits, punctuation or symbols only, so there is nothing to identify (fastText
        would still answer, with its prior: "en" at 0.12 for an empty line).

    `languages=None` annotates only: every document is kept (one without letters gets language "und" and
    score 0.0). `model_path=None` uses the bundled lid.176.ftz. With `code_aware`, the language is that of
    the prose: code blocks and inline code (`curate.quality.code`) are left out, since code in English
    keywords lowers the score of an English page (0.42-0.65 on Node.js manual pages).
    """

    name = "language"

    def __init__(
        self,
        languages: list[str] | None = ["en"],
        min_score: float = 0.65,
        model_path: str | None = None,
        code_aware: bool = False,
    ):
        super().__init__()
        self.code_aware = code_aware
        self.model_path = str(model_path) if model_path is not None else str(BUNDLED_MODEL)
        if not Path(self.model_path).is_file():
            hint = "the bundled model is missing: reinstall curate" if model_path is None else "check model_path"
            raise ValueError(f"language: no language-id model at {self.model_path} ({hint})")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"language: min_score must be in [0, 1], got {min_score}")
        if languages is not None:
            if isinstance(languages, str):
                languages = [languages]
            bad = [code for code in languages if not isinstance(code, str) or not _LANGUAGE_CODE.fullmatch(code)]
            if bad or not languages:
                raise ValueError(
                    f"language: languages must be a non-empty list of 2-3 lowercase letter ISO 639 codes "
                    f"(e.g. ['en', 'de']), or null to annotate only; got {languages!r}"
                )
            # Loading the model here (13 ms, cached per process) turns a typo such as "eng" into an error now
            # rather than a run that silently removes every document.
            if unknown := sorted(set(languages) - model_languages(self.model_path)):
                raise ValueError(
                    f"language: {unknown} not among the languages of {self.model_path}; "
                    f"it knows: {sorted(model_languages(self.model_path))}"
                )
            languages = list(languages)
        self.languages = languages
        self.min_score = min_score

    def process(self, doc: Document) -> Document | Drop:
        text = code.split(doc.text).prose if self.code_aware and "`" in doc.text else doc.text
        found = identify(self.model(), text)
        if found is None:
            if self.languages is None:
                doc.metadata["language"], doc.metadata["language_score"] = UNDETERMINED, 0.0
                return doc
            return Drop("no_text_for_language_id", {"languages": self.languages})
        language, score = found[0], round(found[1], 4)
        doc.metadata["language"] = language
        doc.metadata["language_score"] = score
        if self.languages is None:
            return doc
        details = {"language": language, "score": score, "languages": self.languages, "min_score": self.min_score}
        if language not in self.languages:
            return Drop("wrong_language", details)
        if score < self.min_score:
            return Drop("low_language_score", details)
        return doc
