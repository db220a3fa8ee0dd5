"""Proxy-model training: a small GPT (`model`), the mixture sampler over token shards (`data`) and the
training loop with checkpoints and exact resume (`loop`).

    from curate.train import train, load_run, GPTConfig, MixtureSampler
"""

from curate.train.data import MixtureDriftError, MixtureSampler
from curate.train.loop import load_run, train
from curate.train.model import GPT, GPTConfig

__all__ = ["GPT", "GPTConfig", "MixtureSampler", "MixtureDriftError", "train", "load_run"]
