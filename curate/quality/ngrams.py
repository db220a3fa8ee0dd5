"""Repetition measures of one document (Gopher, table A1): repeated lines and paragraphs, the most frequent
n-gram, and n-grams seen before."""

import numpy as np


def duplicates(items: list[str]) -> tuple[int, int]:
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
        # each distinct word gets the number of its first appearance; map() keeps the per-word loops in C
        vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
        ids = np.fromiter(map(vocab.__getitem__, words), dtype=np.int64, count=len(words))
        rng = np.random.default_rng(0)
        self.values = rng.integers(1, 2**63, size=max(len(vocab), 1), dtype=np.uint64)[ids]
        self.char_cumsum = np.concatenate([[0], np.cumsum(np.fromiter(map(len, words), dtype=np.int64, count=len(words)))])
        self.n = 1
        self.hashes = self.values.copy()
        self._repeated: dict[int, np.ndarray] = {}  # n -> whether the n-gram at each position occurs again

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

    def repeated(self, n: int) -> np.ndarray:
        """Whether the n-gram at each position occurs more than once in the document.

        Every occurrence of an n-gram has the same two (n-1)-grams inside it, so an n-gram can only repeat
        where both of those repeat, and then all of its occurrences are among those positions: with the mask
        of n-1 known, only those positions are counted (in natural text a small share of them)."""
        if (mask := self._repeated.get(n)) is not None:
            return mask
        shorter = self._repeated.get(n - 1)
        if shorter is None:
            self.counted(n)
            return self._repeated[n]
        h = self.of_size(n)
        candidates = np.flatnonzero(shorter[:-1] & shorter[1:])
        mask = np.zeros(len(h), dtype=bool)
        _, inverse, counts = np.unique(h[candidates], return_inverse=True, return_counts=True)
        mask[candidates[counts[inverse] > 1]] = True
        self._repeated[n] = mask
        return mask

    def counted(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(first position, count) of each distinct n-gram, in hash order; notes which positions repeat, for
        `repeated` of the next size."""
        _, first, inverse, counts = np.unique(self.of_size(n), return_index=True, return_inverse=True, return_counts=True)
        self._repeated.setdefault(n, counts[inverse] > 1)
        return first, counts


def top_ngram_chars(grams: NGrams, n: int) -> int:
    """Characters covered by the most frequent n-gram: its length with spaces, times its count."""
    h = grams.of_size(n)
    if len(h) == 0:
        return 0
    first, counts = grams.counted(n)
    top = counts.max()
    start = first[counts == top].min()  # ties: the n-gram seen first, as Counter.most_common does
    return int((grams.chars(start, n) + n - 1) * top)


def repeated_ngram_chars(grams: NGrams, n: int) -> int:
    """Characters in n-grams seen before, scanning left to right and jumping past each repeat (Gopher).

    Only positions whose n-gram occurs more than once can be repeats, and an n-gram that occurs once cannot
    make any other position a repeat, so the scan visits those positions alone.
    """
    h = grams.of_size(n)
    if len(h) == 0:
        return 0
    positions = np.flatnonzero(grams.repeated(n))
    seen: set[int] = set()
    chars = 0
    next_allowed = 0
    for p, g in zip(positions.tolist(), h[positions].tolist()):
        if p < next_allowed:
            continue
        if g in seen:
            chars += int(grams.chars(p, n))
            next_allowed = p + n
        else:
            seen.add(g)
    return chars
