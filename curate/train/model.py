"""The proxy GPT: a small decoder-only transformer whose size follows one dial, `depth`.

    config = GPTConfig.from_depth(4, vocab_size=32768, seq_len=1024)   # prints every derived value
    model = GPT(config)
    loss = model(idx_BT, targets_BT)                                  # mean cross-entropy in nats

Architecture: token embedding -> depth x [RMSNorm -> causal self-attention (rotary positions, RMSNorm on
queries and keys) -> residual, RMSNorm -> MLP (ReLU^2) -> residual] -> RMSNorm -> untied linear head.
No biases, and the RMSNorms have no learnable gain, so every parameter is a matrix. The head is untied from
the embedding (nanochat does the same; at these sizes it costs vocab x width parameters and trains better).

Shape legend used in names below:
    B batch, T sequence (time), D width (model dim), H heads, K head dim (D // H), F MLP hidden (4 D),
    V vocabulary
"""

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# width = WIDTH_PER_LAYER * depth; heads = width // HEAD_DIM (at least 1).
WIDTH_PER_LAYER = 64
HEAD_DIM = 64
# AdamW learning rate at width 768 (GPT-2 small's), scaled as 1/sqrt(width) for other widths.
BASE_LR = 1e-3
BASE_WIDTH = 768


@dataclass
class GPTConfig:
    vocab_size: int
    seq_len: int  # the longest sequence the rotary tables cover
    depth: int  # number of transformer blocks
    width: int  # D
    heads: int  # H
    mlp_ratio: int = 4  # F = mlp_ratio * D
    lr: float = BASE_LR  # the peak AdamW learning rate derived from the width

    def __post_init__(self):
        for name in ("vocab_size", "seq_len", "depth", "width", "heads", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name}: expected a whole number >= 1, got {value!r}")
        if self.width % self.heads:
            raise ValueError(f"GPTConfig: width {self.width} is not a multiple of heads {self.heads}")
        if (self.width // self.heads) % 2:
            raise ValueError(f"GPTConfig: head dim {self.width // self.heads} must be even (rotary pairs)")

    @classmethod
    def from_depth(cls, depth: int, vocab_size: int, seq_len: int, verbose: bool = True) -> "GPTConfig":
        """width = 64 * depth, heads = max(1, width // 64), lr = 1e-3 * sqrt(768 / width)."""
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth: expected a whole number >= 1, got {depth!r}")
        width = WIDTH_PER_LAYER * depth
        heads = max(1, width // HEAD_DIM)
        lr = BASE_LR * math.sqrt(BASE_WIDTH / width)
        config = cls(vocab_size=vocab_size, seq_len=seq_len, depth=depth, width=width, heads=heads, lr=lr)
        if verbose:
            print(config.describe())
        return config

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    def n_params(self) -> dict:
        """Parameter counts: embedding, transformer blocks, head, total."""
        D, F_ = self.width, self.mlp_ratio * self.width
        block = 4 * D * D + 2 * D * F_  # q, k, v, out projections; MLP up and down
        embedding = self.vocab_size * D
        head = self.vocab_size * D
        return {"embedding": embedding, "blocks": self.depth * block, "head": head,
                "total": embedding + self.depth * block + head}

    def flops_per_token(self) -> int:
        """Training FLOPs per token: 6 N for the matmuls of the N non-embedding parameters (the embedding is a
        lookup) plus 12 * depth * width * seq_len for attention scores and values (forward + backward)."""
        p = self.n_params()
        return 6 * (p["blocks"] + p["head"]) + 12 * self.depth * self.width * self.seq_len

    def derived(self) -> dict:
        p = self.n_params()
        return {"depth": self.depth, "width": self.width, "heads": self.heads, "head_dim": self.head_dim,
                "mlp_hidden": self.mlp_ratio * self.width, "lr": self.lr, "params": p["total"],
                "params_non_embedding": p["blocks"] + p["head"], "flops_per_token": self.flops_per_token()}

    def describe(self) -> str:
        d = self.derived()
        return (f"GPT depth {d['depth']} -> width {d['width']}, heads {d['heads']} x {d['head_dim']}, "
                f"MLP {d['mlp_hidden']}, lr {d['lr']:.3g}, params {d['params']:,} "
                f"({d['params_non_embedding']:,} non-embedding), {d['flops_per_token']:,} FLOPs/token "
                f"(vocab {self.vocab_size}, seq_len {self.seq_len})")


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    return F.rms_norm(x, (x.size(-1),))


def rotary_tables(seq_len: int, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos_TK2, sin_TK2 of shape (T, K/2): the angle of position t for frequency pair i."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x_BHTK: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates each pair (first half, second half) of the head dimension by the position's angle."""
    half = x_BHTK.size(-1) // 2
    x1, x2 = x_BHTK[..., :half], x_BHTK[..., half:]
    cos, sin = cos.to(x_BHTK.dtype), sin.to(x_BHTK.dtype)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Attention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        D = config.width
        self.heads = config.heads
        self.qkv = nn.Linear(D, 3 * D, bias=False)
        self.out = nn.Linear(D, D, bias=False)

    def forward(self, x_BTD: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, D = x_BTD.shape
        H, K = self.heads, D // self.heads
        q_BTD, k_BTD, v_BTD = self.qkv(x_BTD).split(D, dim=-1)
        q_BHTK = q_BTD.view(B, T, H, K).transpose(1, 2)
        k_BHTK = k_BTD.view(B, T, H, K).transpose(1, 2)
        v_BHTK = v_BTD.view(B, T, H, K).transpose(1, 2)
        # RMSNorm on queries and keys keeps attention logits bounded at the high learning rates of small models.
        q_BHTK = apply_rotary(rms_norm(q_BHTK), cos[:T], sin[:T])
        k_BHTK = apply_rotary(rms_norm(k_BHTK), cos[:T], sin[:T])
        y_BHTK = F.scaled_dot_product_attention(q_BHTK, k_BHTK, v_BHTK, is_causal=True)
        y_BTD = y_BHTK.transpose(1, 2).contiguous().view(B, T, D)
        return self.out(y_BTD)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.up = nn.Linear(config.width, config.mlp_ratio * config.width, bias=False)
        self.down = nn.Linear(config.mlp_ratio * config.width, config.width, bias=False)

    def forward(self, x_BTD: torch.Tensor) -> torch.Tensor:
        h_BTF = F.relu(self.up(x_BTD)).square()
        return self.down(h_BTF)


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.attn = Attention(config)
        self.mlp = MLP(config)

    def forward(self, x_BTD: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x_BTD = x_BTD + self.attn(rms_norm(x_BTD), cos, sin)
        return x_BTD + self.mlp(rms_norm(x_BTD))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.width)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.depth)])
        self.head = nn.Linear(config.width, config.vocab_size, bias=False)
        cos, sin = rotary_tables(config.seq_len, config.head_dim)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, 1/sqrt(D)) for inputs to the residual stream; the projections that write back to it
        (attention out, MLP down) are scaled by 1/sqrt(2 depth); the head starts small."""
        D = self.config.width
        std = D ** -0.5
        nn.init.normal_(self.embed.weight, std=1.0)
        for block in self.blocks:
            nn.init.normal_(block.attn.qkv.weight, std=std)
            nn.init.normal_(block.mlp.up.weight, std=std)
            nn.init.normal_(block.attn.out.weight, std=std / math.sqrt(2 * self.config.depth))
            nn.init.normal_(block.mlp.down.weight, std=(self.config.mlp_ratio * D) ** -0.5 / math.sqrt(2 * self.config.depth))
        nn.init.normal_(self.head.weight, std=0.02 * std)

    def forward(self, idx_BT: torch.Tensor, targets_BT: torch.Tensor | None = None, reduction: str = "mean"):
        """Logits (B, T, V) without targets; with targets the cross-entropy in nats, its mean
        (reduction="mean") or per token, shape (B, T) (reduction="none"). Targets < 0 are ignored."""
        B, T = idx_BT.shape
        if T > self.config.seq_len:
            raise ValueError(f"sequence of {T} tokens is longer than the model's seq_len {self.config.seq_len}")
        x_BTD = self.embed(idx_BT)
        for block in self.blocks:
            x_BTD = block(x_BTD, self.cos, self.sin)
        logits_BTV = self.head(rms_norm(x_BTD)).float()
        if targets_BT is None:
            return logits_BTV
        loss = F.cross_entropy(logits_BTV.view(B * T, -1), targets_BT.reshape(B * T), ignore_index=-1,
                               reduction=reduction)
        return loss.view(B, T) if reduction == "none" else loss

    def param_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decoupled weight decay on matrices (ndim >= 2), none on vectors (there are none in
        this model, but a subclass with gains or biases stays correct)."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
                {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
