"""The MinHash engine shared by document, sentence-free and dataset dedup: shingles, signatures, LSH bands.

Shingles are word 5-grams (by default) of normalised text: NFKC, lower case, words are runs of letters and
digits (punctuation and whitespace differences do not matter). Each word is hashed with xxhash;
the n-gram hashes are combined and mixed in numpy, so a 50 MB document costs seconds, not minutes. A document
with fewer words than one shingle has no shingles and therefore no signature: it is never a candidate and is
always kept (counted as `no_shingles`). Giving all of them the same "empty" signature would put every empty
or one-line document into one cluster.

Signatures are datasketch MinHashes (scheme affine32, its permutations and pre-mix) of the 32-bit shingle
hashes, computed for a batch of documents at once (`signatures`), stored as uint32 rows; a signature row
turns back into a `LeanMinHash` with `lean(row, config)`.

LSH: the signature is cut into `bands` bands of `rows` values; two documents whose values agree on one whole
band become a candidate pair. `choose_bands` picks (bands, rows) for a target Jaccard threshold and prints the
expected false-positive and false-negative rates. With verification (exact Jaccard of the shingle sets, the
default), banding is tuned for recall at the threshold and verification removes the false positives, which
makes the decision curve a step at the threshold.
"""

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import xxhash

WORD = re.compile(r"\w+")
VERIFY_MODES = ("exact", "signature", "none")
# Shingles permuted at once: bounds memory to GROUP * num_perm * 4 bytes (4 MB at 128) for any document size.
GROUP = 1 << 13
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_MUL = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class MinhashConfig:
    """Parameters shared by every dedup stage; `str(config)` is its id (e.g. `5ng_14b_8r_x80`), used in paths
    and manifests so that stages made with another config are refused.

    n_grams: words per shingle.
    bands, rows: LSH layout; the signature has bands * rows values (num_perm).
    seed: seed of the MinHash permutations (datasketch).
    threshold: Jaccard similarity from which two documents are near-duplicates.
    verify: how a candidate pair is confirmed: "exact" (Jaccard of the two shingle sets >= threshold),
        "signature" (share of equal signature values >= threshold), "none" (every candidate is a duplicate,
        as datatrove does).
    """

    n_grams: int = 5
    bands: int = 14
    rows: int = 8
    seed: int = 1
    threshold: float = 0.8
    verify: str = "exact"

    def __post_init__(self):
        for name in ("n_grams", "bands", "rows"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"MinhashConfig.{name} must be a positive integer (got {getattr(self, name)!r})")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"MinhashConfig.threshold must be in (0, 1] (got {self.threshold!r})")
        if self.verify not in VERIFY_MODES:
            raise ValueError(f"MinhashConfig.verify must be one of {VERIFY_MODES} (got {self.verify!r})")

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def __str__(self) -> str:
        seed = "" if self.seed == 1 else f"_s{self.seed}"
        verify = {"exact": f"_x{round(self.threshold * 100)}", "signature": f"_e{round(self.threshold * 100)}", "none": ""}
        return f"{self.n_grams}ng_{self.bands}b_{self.rows}r{seed}{verify[self.verify]}"

    def to_dict(self) -> dict:
        return asdict(self) | {"id": str(self)}

    @classmethod
    def for_threshold(cls, threshold: float, num_perm: int = 128, n_grams: int = 5, verify: str = "exact",
                      seed: int = 1, verbose: bool = False) -> "MinhashConfig":
        """The config for a target Jaccard threshold; (bands, rows) from `choose_bands`."""
        bands, rows = choose_bands(threshold, num_perm, verified=verify != "none", verbose=verbose)
        return cls(n_grams=n_grams, bands=bands, rows=rows, seed=seed, threshold=threshold, verify=verify)


# --- LSH band choice ---------------------------------------------------------------------------------------


def candidate_probability(s, bands: int, rows: int):
    """Probability that two documents of Jaccard s share at least one band."""
    return 1.0 - (1.0 - np.asarray(s, dtype=float) ** rows) ** bands


def band_error_rates(threshold: float, bands: int, rows: int) -> dict:
    """Expected rates under a uniform prior of pair similarity: false positives are the mean candidate
    probability below the threshold, false negatives the mean miss probability above it."""
    lo = np.linspace(0.0, threshold, 2001)
    hi = np.linspace(threshold, 1.0, 2001)
    return {
        "false_positive": float(np.mean(candidate_probability(lo, bands, rows))),
        "false_negative": float(np.mean(1.0 - candidate_probability(hi, bands, rows))),
        "p_candidate_at_threshold": float(candidate_probability(threshold, bands, rows)),
    }


def choose_bands(threshold: float, num_perm: int = 128, verified: bool = True, recall_at_threshold: float = 0.995,
                 verbose: bool = False) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm for a Jaccard threshold.

    verified: candidates are checked afterwards, so false positives only cost verification time: take the
    largest `rows` (fewest candidates) whose probability of catching a pair exactly at the threshold is at
    least `recall_at_threshold`. Unverified: minimise false positives + false negatives (as datasketch does).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1] (got {threshold})")
    options = [(num_perm // r, r) for r in range(1, num_perm + 1) if num_perm // r >= 1]
    if verified:
        ok = [(b, r) for b, r in options if candidate_probability(threshold, b, r) >= recall_at_threshold]
        best = max(ok, key=lambda br: br[1]) if ok else (num_perm, 1)
    else:
        best = min(options, key=lambda br: sum(band_error_rates(threshold, *br)[k] for k in ("false_positive", "false_negative")))
    if verbose:
        rates = band_error_rates(threshold, *best)
        print(f"minhash: threshold {threshold} num_perm {num_perm} -> bands {best[0]} rows {best[1]} "
              f"(P(candidate | J=threshold) {rates['p_candidate_at_threshold']:.4f}, expected false positive rate "
              f"{rates['false_positive']:.4f}{' before verification' if verified else ''}, "
              f"false negative rate {rates['false_negative']:.4f})")
    return best


# --- shingles ------------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> list[str]:
    return WORD.findall(normalize(text))


def word_hashes(tokens: list[str]) -> np.ndarray:
    # xxhash called through map, without a cache: a dict of the words seen (a cache miss per lookup once it
    # outgrows the CPU cache) cost 2-4x the hashing itself on web pages
    return np.fromiter(map(xxhash.xxh3_64_intdigest, tokens), dtype=np.uint64, count=len(tokens))


def _mix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _M1
    h = h ^ (h >> np.uint64(33))
    h = h * _M2
    return h ^ (h >> np.uint64(33))


def shingles(text: str, n_grams: int = 5) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word n-grams of `text` (empty when it has fewer than n words)."""
    w = word_hashes(words(text))
    if len(w) < n_grams:
        return np.empty(0, dtype=np.uint32)
    count = len(w) - n_grams + 1
    with np.errstate(over="ignore"):
        h = np.zeros(count, dtype=np.uint64)
        for k in range(n_grams):  # order-sensitive combination: h = mix(h * MUL + w[i + k])
            h = h * _MUL + w[k:k + count]
        h = _mix64(h)
    return np.unique((h >> np.uint64(32)).astype(np.uint32))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique shingle arrays."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)


# --- signatures ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations (a, b) as uint32 columns [num_perm, 1]."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return a.reshape(-1, 1), b.reshape(-1, 1)


def _permute(shingle_hashes: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """uint32 [num_perm, len]: datasketch's affine32 step of `MinHash.update_batch` on 32-bit shingle hashes,
    one row per permutation. Done here, not through update_batch, because update_batch calls the hash
    function once per value in Python and lays the values out one row per shingle, where numpy's inner loop is
    128 values long: this layout runs 5x faster (tests check the values equal datasketch's)."""
    from datasketch.minhash import _fmix  # the scheme's pre-mix, as update_batch applies it

    hv = _fmix(shingle_hashes.astype(np.uint32, copy=False), 32)
    out = out[:, :len(hv)]
    np.multiply(a, hv, out=out)
    return np.add(out, b, out=out)


def signatures(shingle_sets: list[np.ndarray], config: MinhashConfig) -> np.ndarray:
    """uint32 [len(shingle_sets), num_perm]: the datasketch MinHash (scheme affine32) of each shingle set
    (all-max for an empty one, which callers treat as 'no signature'). Sets are permuted together in groups
    of up to GROUP shingles and reduced per set, so memory stays at GROUP * num_perm * 4 bytes."""
    a, b = _permutations(config.num_perm, config.seed)
    out = np.full((len(shingle_sets), config.num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    buffer = np.empty((config.num_perm, GROUP), np.uint32)
    group: list[int] = []
    size = 0

    def flush() -> None:
        if group:
            starts = np.cumsum([0] + [len(shingle_sets[i]) for i in group[:-1]])
            permuted = _permute(np.concatenate([shingle_sets[i] for i in group]), a, b, buffer)
            out[group] = np.minimum.reduceat(permuted, starts, axis=1).T
            group.clear()

    for i, s in enumerate(shingle_sets):
        if len(s) > GROUP:  # a long document alone, in chunks
            for start in range(0, len(s), GROUP):
                out[i] = np.minimum(out[i], _permute(s[start:start + GROUP], a, b, buffer).min(axis=1))
        elif len(s):
            if size + len(s) > GROUP:
                flush()
                size = 0
            group.append(i)
            size += len(s)
    flush()
    return out


def lean(signature: np.ndarray, config: MinhashConfig):
    """A signature row as a datasketch LeanMinHash (for `.jaccard`, serialisation, datasketch's own LSH)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=config.seed, hashvalues=signature, scheme="affine32")


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def band_hashes(sigs: np.ndarray, config: MinhashConfig) -> np.ndarray:
    """uint64 [n, bands]: one xxhash per band of each signature row."""
    n = len(sigs)
    out = np.empty((n, config.bands), dtype=np.uint64)
    r = config.rows
    for j in range(n):
        row = sigs[j]
        for b in range(config.bands):
            out[j, b] = xxhash.xxh3_64_intdigest(row[b * r:(b + 1) * r].tobytes(), seed=b)
    return out


def doc_key(doc_id: str) -> int:
    """The 64-bit key of a document id (stable across runs and task counts)."""
    return xxhash.xxh3_64_intdigest(doc_id.encode("utf-8", errors="surrogatepass"))
