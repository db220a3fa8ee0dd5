"""The mixture sampler: training sequences drawn from per-source token shards in the proportions of a mixture.

    sampler = MixtureSampler(TokenShards.open("tokens/"), {"web": 0.7, "books": 0.3}, seq_len=256,
                             batch_size=32, seed=0)
    x_BT, y_BT = sampler.next_batch()      # int64 tensors; y is x shifted by one token

How a sequence is drawn:
- Which source: sources get sequences in proportion to their weights by the "largest deficit" rule: the
  n-th sequence goes to the source furthest below its share, argmax_s(w_s * n - drawn_s). The shares of
  sequences (and so of tokens, every sequence has seq_len + 1 tokens) stay within 1/n of the weights, which
  independent random draws cannot promise (after 100 draws their share wanders by ~5%). The order of the
  sources inside a batch is then shuffled by the seeded generator of that batch.
- Where in the source: a window of seq_len + 1 consecutive tokens starting at a uniformly random position of
  the source's train shards (a shard is picked in proportion to its number of start positions; windows never
  cross shards and may cross documents, whose separators stay in the sequence).
- Batch i uses numpy's generator seeded with (seed, i), so a run resumed at batch k draws exactly the batches
  an uninterrupted run would; the only state is the batch position and the counts drawn (`state_dict`).

Checks:
- Drift: after every batch, once MIN_SEQUENCES_FOR_DRIFT (100) sequences were drawn, the share of tokens
  drawn from each source must be within MAX_DRIFT (0.01, absolute) of its weight, or MixtureDriftError is
  raised. The rule above keeps it far inside that; the check is there to catch a bug or a corrupted state.
- Repetition: given a token budget, a source whose share of the budget exceeds `max_epochs` times its train
  tokens is repeated more than that many epochs: a warning, or a ValueError with `strict=True`.
"""

import warnings

import numpy as np
import torch

from curate.tokenizer.shards import TokenShards, TokenSource

MAX_DRIFT = 0.01
MIN_SEQUENCES_FOR_DRIFT = 100


class MixtureDriftError(RuntimeError):
    """The tokens drawn per source drifted from the mixture weights by more than MAX_DRIFT."""


class SourceShards:
    """The shards of one source and split, memory-mapped; draws windows of `window` tokens."""

    def __init__(self, source: TokenSource, split: str, window: int):
        self.shards = source.arrays(split)
        self.tokens = sum(len(s) for s in self.shards)
        self.window = window
        starts = np.array([max(0, len(s) - window + 1) for s in self.shards], dtype=np.int64)
        self.cum_starts = np.cumsum(starts)
        if not len(self.cum_starts) or self.cum_starts[-1] == 0:
            raise ValueError(f"{source.folder / split}: no shard holds {window} tokens (seq_len + 1); "
                             f"{self.tokens} tokens in all; use a shorter seq_len or more data")

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        u = int(rng.integers(self.cum_starts[-1]))
        k = int(np.searchsorted(self.cum_starts, u, side="right"))
        offset = u - (int(self.cum_starts[k - 1]) if k else 0)
        return np.asarray(self.shards[k][offset : offset + self.window], dtype=np.int64)


class MixtureSampler:
    def __init__(self, data: "TokenShards | str | dict[str, str]", weights: dict[str, float], seq_len: int,
                 batch_size: int, seed: int = 0, split: str = "train", max_epochs: float = 4.0,
                 budget_tokens: int | None = None, strict: bool = False):
        """data: the token shards (`TokenShards.open` takes a folder or source -> folder); weights: source ->
        weight (need not sum to 1; zero drops the source); budget_tokens: tokens the run will draw, for the
        repetition check (None: no check)."""
        data = TokenShards.open(data)
        if set(weights) != set(data):
            raise ValueError(f"weights name sources {sorted(weights)} but the data has {sorted(data)}; "
                             "give one weight per source")
        bad = {s: w for s, w in weights.items() if not (isinstance(w, (int, float)) and w >= 0)}
        if bad or sum(weights.values()) <= 0:
            raise ValueError(f"weights must be numbers >= 0 with a positive sum, got {weights}")
        if seq_len < 1 or batch_size < 1:
            raise ValueError(f"seq_len and batch_size must be >= 1, got {seq_len} and {batch_size}")
        total = float(sum(weights.values()))
        self.sources = sorted(s for s in weights if weights[s] > 0)
        self.weights = np.array([weights[s] / total for s in self.sources])
        self.seq_len, self.batch_size, self.seed, self.split = seq_len, batch_size, seed, split
        self.shards = {s: SourceShards(data[s], split, seq_len + 1) for s in self.sources}
        self.position = 0  # batches drawn
        self.drawn = np.zeros(len(self.sources), dtype=np.int64)  # sequences planned per source (the rule's state)
        self.tokens = np.zeros(len(self.sources), dtype=np.int64)  # tokens actually drawn per source
        self.epochs = {}
        if budget_tokens is not None:
            self.check_epochs(budget_tokens, max_epochs, strict)

    def check_epochs(self, budget_tokens: int, max_epochs: float, strict: bool = False) -> dict[str, float]:
        """Epochs of each source's train tokens that `budget_tokens` will draw; warns (raises if strict) above
        max_epochs."""
        self.epochs = {s: float(budget_tokens * w / self.shards[s].tokens) for s, w in zip(self.sources, self.weights)}
        over = {s: round(e, 2) for s, e in self.epochs.items() if e > max_epochs}
        if over:
            message = (f"a budget of {budget_tokens:,} tokens repeats these sources more than max_epochs="
                       f"{max_epochs} times (epochs per source): {over}; lower the budget or their weights, or add data")
            if strict:
                raise ValueError(message)
            warnings.warn(message, stacklevel=2)
        return self.epochs

    def plan_sources(self, n: int) -> np.ndarray:
        """Source index of each of the next n sequences by the largest-deficit rule; updates the counts."""
        out = np.empty(n, dtype=np.int64)
        for j in range(n):
            done = self.drawn.sum() + 1
            s = int(np.argmax(self.weights * done - self.drawn))
            self.drawn[s] += 1
            out[j] = s
        return out

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(x_BT, y_BT): int64 inputs and next-token targets of the next batch."""
        rng = np.random.default_rng([self.seed, self.position])
        plan = rng.permutation(self.plan_sources(self.batch_size))
        windows = [self.shards[self.sources[s]].draw(rng) for s in plan]
        for s, w in zip(plan, windows):
            self.tokens[s] += len(w)
        batch_BW = np.stack(windows)
        self.position += 1
        self.check_drift()
        batch_BW = torch.from_numpy(batch_BW)
        return batch_BW[:, :-1], batch_BW[:, 1:]

    def tokens_drawn(self) -> dict[str, int]:
        """Tokens drawn per source (seq_len + 1 per sequence)."""
        return {s: int(n) for s, n in zip(self.sources, self.tokens)}

    def check_drift(self) -> None:
        """Raises MixtureDriftError when the share of tokens actually drawn from a source is more than
        MAX_DRIFT from its weight, once MIN_SEQUENCES_FOR_DRIFT sequences were drawn."""
        n = int(self.tokens.sum()) // (self.seq_len + 1)
        if n < MIN_SEQUENCES_FOR_DRIFT:
            return
        share = self.tokens / self.tokens.sum()
        drift = np.abs(share - self.weights)
        if drift.max() > MAX_DRIFT:
            got = {s: round(float(x), 4) for s, x in zip(self.sources, share)}
            want = {s: round(float(x), 4) for s, x in zip(self.sources, self.weights)}
            raise MixtureDriftError(f"after {n} sequences the drawn mix of tokens {got} is more than {MAX_DRIFT} away from "
                                    f"the weights {want}; the sampler state is inconsistent")

    def state_dict(self) -> dict:
        return {"position": self.position, "drawn": dict(zip(self.sources, self.drawn.tolist())),
                "tokens": dict(zip(self.sources, self.tokens.tolist())), "seed": self.seed,
                "weights": dict(zip(self.sources, self.weights.tolist()))}

    def load_state_dict(self, state: dict) -> None:
        if state["seed"] != self.seed or state["weights"] != dict(zip(self.sources, self.weights.tolist())):
            raise ValueError(f"sampler state was saved with seed {state['seed']} and weights {state['weights']}, "
                             f"not seed {self.seed} and the weights given now; start a new run to change them")
        self.position = int(state["position"])
        self.drawn = np.array([state["drawn"][s] for s in self.sources], dtype=np.int64)
        self.tokens = np.array([state["tokens"][s] for s in self.sources], dtype=np.int64)
