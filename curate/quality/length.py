"""The simplest quality rule: documents too short to teach a model anything."""

from datatrove.data import Document

from curate.stage import Drop, Stage


class LengthFilter(Stage):
    """Removes documents with fewer than `min_words` whitespace-separated words or `min_chars` characters."""

    name = "length_filter"

    def __init__(self, min_words: int = 50, min_chars: int = 0):
        super().__init__()
        if min_words < 0 or min_chars < 0:
            raise ValueError(f"length_filter: min_words and min_chars must be 0 or more, got {min_words} and {min_chars}")
        self.min_words = min_words
        self.min_chars = min_chars

    def process(self, doc: Document) -> Document | Drop:
        if len(doc.text) < self.min_chars:
            return Drop("too_few_chars", {"chars": len(doc.text), "min_chars": self.min_chars})
        if self.min_words:
            # maxsplit stops the split once min_words are found, so a 50 MB document costs one linear scan.
            words = len(doc.text.split(maxsplit=self.min_words))
            if words < self.min_words:
                return Drop("too_few_words", {"words": words, "min_words": self.min_words})
        return doc
