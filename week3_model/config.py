"""The shape of a GPT: one dataclass, which is also the `model` section of a run config.

    model:
      block_size: 256     # the longest context the model can see, in tokens
      n_layer: 4          # how many Blocks are stacked
      n_head: 4           # attention heads per Block; each head is n_embd // n_head wide
      n_embd: 256         # the width of the residual stream
      dropout: 0.0
      bias: true          # biases in Linear layers and LayerNorms (GPT-2 has them)
      tie_weights: true   # the LM head reuses the token-embedding matrix
      attention: naive    # a name in the ATTENTION table below (week 6 adds sdpa)
      position: learned   # a name in the POSITION table below (week 6 adds rope)
      norm: layernorm     # a name in the NORM table below (week 6 adds rmsnorm)
      norm_eps: 1.0e-5    # the epsilon under the norm's square root (GPT-2: 1e-5)
      mlp: gelu           # a name in the MLP_KIND table below (week 6 adds swiglu, relu2)
      d_ff: null          # the MLP's hidden width; null: the MLP's own default (gelu: 4 x n_embd)

`vocab_size` is normally left out: it is read from the tokenizer file (week 4 fills it in), so a
model and its tokenizer can never disagree. The defaults are the shape of GPT-2 small (124M).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import ConfigError, check
from shared.registry import Registry

# The variants `attention`, `position`, `norm` and `mlp` may name (pyproject.toml lists them;
# shared/registry.py).
ATTENTION: Registry[type] = Registry("attention", "tiny_gpt.attention")
POSITION: Registry[type] = Registry("position", "tiny_gpt.position")
NORM: Registry[type] = Registry("norm", "tiny_gpt.norm")
MLP_KIND: Registry[type] = Registry("mlp", "tiny_gpt.mlp")


@dataclass
class GPTConfig:
    """Hyperparameters of the decoder; invalid combinations are a `ConfigError` naming the key."""

    vocab_size: int | None = None
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True
    attention: str = "naive"
    position: str = "learned"
    norm: str = "layernorm"
    norm_eps: float = 1e-5
    mlp: str = "gelu"
    d_ff: int | None = None

    def __post_init__(self) -> None:
        check(
            self.vocab_size is None or self.vocab_size > 0,
            "vocab_size",
            "a positive integer, or null to take it from the tokenizer",
        )
        for key in ("block_size", "n_layer", "n_head", "n_embd"):
            check(getattr(self, key) > 0, key, "a positive integer")
        check(
            self.n_embd % self.n_head == 0,
            "n_embd",
            f"divisible by n_head={self.n_head} (each head gets n_embd // n_head channels), "
            f"got {self.n_embd}",
        )
        check(0.0 <= self.dropout < 1.0, "dropout", f"in [0, 1), got {self.dropout}")
        check(self.norm_eps > 0, "norm_eps", f"a positive number, got {self.norm_eps}")
        check(
            self.d_ff is None or self.d_ff > 0,
            "d_ff",
            f"a positive integer, or null for the MLP's default width, got {self.d_ff}",
        )
        check_registered(ATTENTION, self.attention, "attention")
        check_registered(POSITION, self.position, "position")
        check_registered(NORM, self.norm, "norm")
        check_registered(MLP_KIND, self.mlp, "mlp")

    @property
    def head_size(self) -> int:
        """Channels per attention head: n_embd // n_head."""
        return self.n_embd // self.n_head


def check_registered(registry: Registry, name: str, key: str) -> None:
    """Raise a `ConfigError` for `key` unless `registry` lists `name` (nothing is imported)."""
    if name not in registry:
        known = ", ".join(registry.names())
        raise ConfigError(
            f"{key}: must be one of {known} (the {registry.group} table), got {name!r}"
        )
