"""Word splitting with the same decisions as the spaCy tokenizer that datatrove's rules use, but fast.

datatrove's Gopher, C4 and FineWeb rules split words with a blank spaCy English pipeline (plus its
sentencizer) on every document, which is their bottleneck. Here spaCy's own English rule tables (prefix,
suffix and infix patterns, URL and token patterns, exceptions such as "don't" -> "do" "n't") are applied
with spaCy's algorithm to each whitespace-separated chunk, and the result is cached per chunk: natural text
repeats the same chunks, so most of a document costs one dict lookup per word. `benchmarks/filters.py`
measures speed and keep/drop agreement against datatrove itself.
"""

import unicodedata
from functools import lru_cache

CACHE_LIMIT = 500_000  # chunks; about 100 MB at most, cleared when full


class SpacyCompatibleSplitter:
    def __init__(self):
        import spacy

        tokenizer = spacy.blank("en").tokenizer
        self.prefix_search = tokenizer.prefix_search
        self.suffix_search = tokenizer.suffix_search
        self.infix_finditer = tokenizer.infix_finditer
        self.token_match = tokenizer.token_match
        self.url_match = tokenizer.url_match
        from spacy.attrs import ORTH

        self.specials = {k: [t[ORTH] for t in v] for k, v in tokenizer.rules.items()}
        # Special cases made of punctuation ("):", ":-)") are matched again over the tokens that affix
        # splitting produced, as spaCy's special-case matcher does ("1987):" -> "1987" "):").
        self.affix_specials = {k for k in self.specials if not k.isalnum() and len(self._chunk(k, False)) > 1}
        self.longest_special = max(map(len, self.affix_specials), default=0)
        self.cache: dict[str, list[str]] = {}

    def split(self, text: str) -> list[str]:
        out: list[str] = []
        cache = self.cache
        for chunk in text.split():
            tokens = cache.get(chunk)
            if tokens is None:
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                tokens = cache[chunk] = self._merge_specials(self._chunk(chunk))
            out.extend(tokens)
        return out

    def _merge_specials(self, tokens: list[str]) -> list[str]:
        if len(tokens) < 2:
            return tokens
        out, i = [], 0
        while i < len(tokens):
            for j in range(len(tokens), i + 1, -1):  # longest match first, then the earliest
                joined = "".join(tokens[i:j])
                if len(joined) <= self.longest_special and joined in self.affix_specials:
                    out += self.specials[joined]
                    i = j
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def _chunk(self, string: str, with_specials: bool = True) -> list[str]:
        """spaCy's Tokenizer._split_affixes and _attach_tokens, for one whitespace-free chunk."""
        specials = self.specials if with_specials else {}
        if string in specials:
            return specials[string]
        prefixes: list[str] = []
        suffixes: list[str] = []
        last_size = 0
        while string and len(string) != last_size:
            if self.token_match and self.token_match(string):
                break
            if string in specials:
                break
            last_size = len(string)
            m = self.prefix_search(string)
            pre_len = m.end() - m.start() if m else 0
            if pre_len:
                prefix, minus_pre = string[:pre_len], string[pre_len:]
                if minus_pre and minus_pre in specials:
                    string = minus_pre
                    prefixes.append(prefix)
                    break
            m = self.suffix_search(string[pre_len:])
            suf_len = m.end() - m.start() if m else 0
            if suf_len:
                suffix, minus_suf = string[-suf_len:], string[:-suf_len]
                if minus_suf and minus_suf in specials:
                    string = minus_suf
                    suffixes.append(suffix)
                    break
            if pre_len and suf_len and pre_len + suf_len <= len(string):
                string = string[pre_len:-suf_len]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre_len:
                string = minus_pre
                prefixes.append(prefix)
            elif suf_len:
                string = minus_suf
                suffixes.append(suffix)
        tokens = prefixes
        if string:
            if string in specials:
                tokens += specials[string]
            elif (self.token_match and self.token_match(string)) or (self.url_match and self.url_match(string)):
                tokens.append(string)
            else:
                start = 0
                for match in self.infix_finditer(string):
                    if match.start() == 0:
                        continue
                    if match.start() != start:
                        tokens.append(string[start : match.start()])
                    if match.start() != match.end():
                        tokens.append(string[match.start() : match.end()])
                    start = match.end()
                if string[start:]:
                    tokens.append(string[start:])
        tokens += reversed(suffixes)
        return tokens


@lru_cache(maxsize=1)
def _splitter() -> SpacyCompatibleSplitter:
    return SpacyCompatibleSplitter()


_last: tuple[str, list[str]] = ("", [])


def split_words(text: str) -> list[str]:
    """The words of `text`. Do not change the list: the words of the last text are kept and returned again
    when the same string object comes back, as it does when the rule sets that follow one another in a recipe
    (Gopher repetition, Gopher quality) measure the same document."""
    global _last
    if text is not _last[0]:
        _last = (text, _splitter().split(text))
    return _last[1]


# spaCy's sentencizer ends a sentence after one of these tokens, once a token that is not punctuation follows.
SENTENCE_END = frozenset("!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？")


def is_punct(token: str) -> bool:
    """spaCy's lexical is_punct: every character is Unicode punctuation."""
    return all(unicodedata.category(ch).startswith("P") for ch in token)


def count_sentences(text: str) -> int:
    """Sentences as spaCy's rule-based sentencizer counts them."""
    tokens = split_words(text)
    if not tokens:
        return 0
    sentences, seen_end = 1, False
    for token in tokens:
        if token in SENTENCE_END:
            seen_end = True
        elif seen_end and not is_punct(token):
            sentences += 1
            seen_end = False
    return sentences
