"""URL block-list filter: the first step of a web recipe (RefinedWeb, FineWeb), before any page is parsed.

Rules and lists are datatrove's `URLFilter`: the UT1 block lists (4.5 M adult, malware and phishing domains,
20 k URLs) and three word lists, all shipped inside the datatrove wheel. A document is removed when
- its registered domain (`domain`) or its full host name (`subdomain`) is on the domain list,
- the URL itself is on the URL list (`url`),
- a banned word is one of its words (`hard_blacklisted`),
- at least `soft_word_threshold` soft-banned words are (`soft_blacklisted`),
- a banned sub-word occurs anywhere in it, letters and digits only (`blacklisted_subword`).

Two differences from datatrove's class, both for running at scale offline:
- the 4.5 M domains are kept as a sorted array of 64-bit hashes (36 MB) rather than a Python set (about
  500 MB in every worker process); a false match needs a 64-bit collision;
- the public-suffix list is tldextract's bundled snapshot; its default fetches the list from the web.
"""

import re
import tarfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import xxhash
from datatrove.data import Document
from datatrove.utils._import_utils import ASSETS_PATH

from curate.stage import Drop, Stage

UT1_LISTS = Path(ASSETS_PATH) / "url_filterblacklistsv0_3_0.tar.gz"
_NON_ALNUM = re.compile(r"[^a-zA-Z0-9]+")


def _normalize(text: str) -> str:
    return _NON_ALNUM.sub("", text).lower()


def _word_list(name: str) -> set[str]:
    with open(Path(ASSETS_PATH) / name) as f:
        return {_normalize(line) for line in f if line[0] != "#"}


def _hashes(lines: list) -> np.ndarray:
    """Sorted 64-bit hashes, for `searchsorted` (duplicates do no harm; str hashes as its UTF-8 bytes)."""
    hashes = np.fromiter((xxhash.xxh64_intdigest(x) for x in lines), dtype=np.uint64, count=len(lines))
    hashes.sort(kind="stable")
    return hashes


@lru_cache(maxsize=1)
def ut1_lists() -> tuple[np.ndarray, frozenset[str]]:
    """(sorted hashes of the blocked domains, blocked URLs), read once per process (about 1 s)."""
    with tarfile.open(UT1_LISTS, "r:gz") as tar:
        domains = tar.extractfile("domains").read().split()
        urls = tar.extractfile("urls").read().decode().split()
    return _hashes(domains), frozenset(urls)


def _read_lines(value) -> list[str]:
    """A list in the config, or the path of a file with one entry per line (# starts a comment)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = Path(value).read_text().splitlines()
    return [x.strip() for x in value if x.strip() and not x.lstrip().startswith("#")]


class URLFilter(Stage):
    """Removes pages whose URL is on a block list or carries banned words (see the module's docstring).

    `block_domains` and `block_urls` add to the lists (a list or a file path), `allow_domains` overrides
    them for domains you know to be fine. Documents without a URL (books, JSONL without one) are kept and
    counted as `no_url`: there is nothing to judge.
    """

    name = "url_filter"

    def __init__(
        self,
        soft_word_threshold: int = 2,
        block_domains: list[str] | str | None = None,
        block_urls: list[str] | str | None = None,
        allow_domains: list[str] | str | None = None,
        use_ut1_lists: bool = True,
    ):
        super().__init__()
        self.soft_word_threshold = soft_word_threshold
        self.extra_domains = _hashes([d.lower() for d in _read_lines(block_domains)])
        self.extra_urls = frozenset(_read_lines(block_urls))
        self.allow_domains = frozenset(d.lower() for d in _read_lines(allow_domains))
        self.use_ut1_lists = use_ut1_lists
        self._ready = False

    def _load(self) -> None:
        import ahocorasick
        from tldextract import TLDExtract

        domains, urls = ut1_lists() if self.use_ut1_lists else (np.empty(0, np.uint64), frozenset())
        self.domains = np.sort(np.concatenate([domains, self.extra_domains]))
        self.urls = urls | self.extra_urls
        self.banned_words = _word_list("banned_words.txt")
        self.soft_banned_words = _word_list("soft_banned_words.txt")
        self.subwords = ahocorasick.Automaton(ahocorasick.STORE_ANY)
        for word in sorted(_word_list("banned_subwords.txt")):
            self.subwords.add_word(word, word)
        self.subwords.make_automaton()
        self.extract = TLDExtract(suffix_list_urls=(), cache_dir=None)
        self._ready = True

    def _blocked(self, host: str) -> bool:
        if not host:
            return False
        h = np.uint64(xxhash.xxh64_intdigest(host))
        i = np.searchsorted(self.domains, h)
        return i < len(self.domains) and self.domains[i] == h

    def process(self, doc: Document) -> Document | Drop:
        url = doc.metadata.get("url")
        if not url:
            self.stat_update("no_url")
            return doc
        if not self._ready:
            self._load()
        parts = self.extract(url.lower())
        if parts.fqdn in self.allow_domains or parts.top_domain_under_public_suffix in self.allow_domains:
            return doc
        if self._blocked(parts.top_domain_under_public_suffix):
            return Drop("domain", {"domain": parts.top_domain_under_public_suffix})
        if self._blocked(parts.fqdn):
            return Drop("subdomain", {"domain": parts.fqdn})
        if url in self.urls:
            return Drop("url")
        words = set(_NON_ALNUM.split(url.lower()))
        if hit := words & self.banned_words:
            return Drop("hard_blacklisted", {"words": sorted(hit)})
        soft = words & self.soft_banned_words
        if len(soft) >= self.soft_word_threshold:
            return Drop("soft_blacklisted", {"words": sorted(soft), "threshold": self.soft_word_threshold})
        if hit := next(self.subwords.iter(_normalize(url)), None):
            return Drop("blacklisted_subword", {"word": hit[1]})
        return doc
