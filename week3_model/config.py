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
      n_kv_head: null     # key/value heads (week 6: grouped-query attention); null: n_head
      qk_norm: false      # normalise queries and keys before attention (week 6)
      logit_softcap: null # cap * tanh(logits / cap) at the head (week 6); null: no cap
      rope_theta: 10000.0 # the base of rope's frequencies (week 6's position: rope)

The last four keys switch on parts of today's small LLMs that week 6 adds. Week 3 checks their
values; `make_attention` (attention.py) and `make_head` (gpt.py) look up what implements them in
the ATTENTION_FEATURE and HEAD tables, so their GPT-2 defaults build GPT-2 and nothing else.

`vocab_size` is normally left out: it is read from the tokenizer file (week 4 fills it in), so a
model and its tokenizer can never disagree. The defaults are the shape of GPT-2 small (124M).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.config import ConfigError, check
from shared.registry import Registry

# The variants `attention`, `position`, `norm` and `mlp` may name (pyproject.toml lists them;
# shared/registry.py).
ATTENTION: Registry[type] = Registry("attention", "tiny_gpt.attention")
POSITION: Registry[type] = Registry("position", "tiny_gpt.position")
NORM: Registry[type] = Registry("norm", "tiny_gpt.norm")
MLP_KIND: Registry[type] = Registry("mlp", "tiny_gpt.mlp")
# What n_kv_head and qk_norm switch on: entries that turn an attention class into another one.
ATTENTION_FEATURE: Registry[Callable[[type], type]] = Registry(
    "attention feature", "tiny_gpt.attention_feature"
)
# What builds the LM head, `entry(config, vocab_size)`: `linear` (week 3), `softcap` when
# logit_softcap is set.
HEAD: Registry[Callable] = Registry("head", "tiny_gpt.head")


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
    n_kv_head: int | None = None
    qk_norm: bool = False
    logit_softcap: float | None = None
    rope_theta: float = 10000.0

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
        if self.n_kv_head is not None:
            check(
                0 < self.n_kv_head <= self.n_head and self.n_head % self.n_kv_head == 0,
                "n_kv_head",
                f"a divisor of n_head={self.n_head} (each key/value head serves n_head // "
                f"n_kv_head query heads; 1 = multi-query), or null, got {self.n_kv_head}",
            )
        check(
            self.logit_softcap is None or self.logit_softcap > 0,
            "logit_softcap",
            f"a positive number, or null for no cap, got {self.logit_softcap}",
        )
        check(self.rope_theta > 0, "rope_theta", f"a positive number, got {self.rope_theta}")
        check_registered(ATTENTION, self.attention, "attention")
        check_registered(POSITION, self.position, "position")
        check_registered(NORM, self.norm, "norm")
        check_registered(MLP_KIND, self.mlp, "mlp")

    @property
    def head_size(self) -> int:
        """Channels per attention head: n_embd // n_head."""
        return self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """Key/value heads: n_kv_head, or n_head when it is left out (GPT-2: one per query)."""
        return self.n_kv_head if self.n_kv_head is not None else self.n_head

    def attention_features(self) -> list[str]:
        """The ATTENTION_FEATURE entries this config switches on, in the order they apply."""
        features = []
        if self.kv_heads != self.n_head:
            features.append("grouped_query")
        if self.qk_norm:
            features.append("qk_norm")
        return features

    def head_kind(self) -> str:
        """The HEAD entry that builds the LM head: `softcap` with a logit_softcap, else `linear`."""
        return "linear" if self.logit_softcap is None else "softcap"


def check_registered(registry: Registry, name: str, key: str) -> None:
    """Raise a `ConfigError` for `key` unless `registry` lists `name` (nothing is imported)."""
    if name not in registry:
        known = ", ".join(registry.names())
        raise ConfigError(
            f"{key}: must be one of {known} (the {registry.group} table), got {name!r}"
        )
