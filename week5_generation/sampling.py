"""Choosing the next token: small steps on the logits, applied in one fixed order.

The model gives one score (logit) per vocabulary entry. Sampling turns them into a choice:

    logits --(1) temperature--> --(2) top-k--> --(3) top-p--> softmax --> one draw

1. Temperature T divides the logits: p_i = exp(z_i / T) / sum_j exp(z_j / T). T < 1 sharpens the
   distribution, T > 1 flattens it, and as T -> 0 all the mass goes to the largest logit, so
   T = 0 means *greedy* decoding: take the argmax, no randomness, steps 2 and 3 are skipped.
2. Top-k keeps the k highest logits and sets the rest to -inf (probability 0 after softmax).
3. Top-p (nucleus) keeps the smallest set of most likely tokens whose probability mass reaches p,
   measured on the distribution that steps 1 and 2 left. The most likely token is always kept.

Filters write -inf rather than deleting entries, so token ids keep their positions and a final
softmax renormalises the survivors to sum to 1. Ties are broken towards the lower token id
(stable sorts; `argmax` returns the first maximum), so every step is deterministic.

The three settings travel together as one `SamplingSettings` value, checked once, when it is made.
Every random draw takes an explicit `torch.Generator`: one seed, one text (on one machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from shared.config import check


@dataclass(frozen=True)
class SamplingSettings:
    """The three knobs of the sampler, travelling together as one value.

    temperature: 0 is greedy (the argmax), else the divisor of step 1.
    top_k: keep the k most likely tokens (None: no limit).
    top_p: keep the smallest set holding this much probability (None: no nucleus filter).

    Settings out of range are refused when they are made, with a `ConfigError` naming the
    setting, so a sampler never meets a bad one.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        temperature, top_k, top_p = self.temperature, self.top_k, self.top_p
        check(temperature >= 0, "temperature", f"a number >= 0 (0 means greedy), got {temperature}")
        check(
            top_k is None or top_k >= 1,
            "top_k",
            f"an integer >= 1, or null for no limit, not {top_k}",
        )
        check(
            top_p is None or 0 < top_p <= 1,
            "top_p",
            f"a number in (0, 1], or null for no nucleus filter, got {top_p}",
        )

    @property
    def greedy(self) -> bool:
        """Temperature 0: take the argmax; top-k and top-p cannot change it."""
        return self.temperature == 0


# Two settings with names: the argmax, and "pure sampling" (Holtzman et al., 2020), a draw from
# the model's own distribution (temperature 1, no filter), the default of `generate`.
GREEDY = SamplingSettings(temperature=0.0)
PURE_SAMPLING = SamplingSettings()


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """logits / temperature along the last dimension, for temperature > 0 (0 is greedy and never
    gets here).

    The trap: a tiny temperature (1e-300, 5e-324) sends z / T past float32's range (about 3.4e38),
    to +inf or -inf, and softmax of +inf is NaN (inf - inf). Softmax does not change when one
    number is subtracted from every logit of a row, so such a row is divided *after* subtracting
    its largest logit: the largest becomes exactly 0, the others -inf or far below, and the
    distribution is the one-hot of the argmax, the limit T -> 0 (greedy). A row that stays finite
    is z / T exactly as written, so every ordinary temperature samples bit for bit as before.
    """
    # BEGIN TASK 5.1 [From logits to a token, in one fixed order]: z / T, no NaN for a tiny T
    scaled = logits / temperature
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    limit = torch.where(shifted == 0, shifted, shifted / temperature)  # 0 / 0 would be NaN
    finite_row = torch.isfinite(scaled).all(dim=-1, keepdim=True)
    return torch.where(finite_row, scaled, limit)
    # END TASK 5.1


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the k largest logits of the last dimension, set the others to -inf.

    Exactly min(k, V) entries survive even when values tie at the boundary: the sort is stable,
    so among equal logits the lower token ids are kept.
    """
    # BEGIN TASK 5.2 [From logits to a token, in one fixed order]: keep the k largest logits
    if k >= logits.size(-1):
        return logits
    order = torch.sort(logits, dim=-1, descending=True, stable=True).indices
    dropped = order[..., k:]
    return logits.scatter(-1, dropped, float("-inf"))
    # END TASK 5.2


def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens whose probability reaches p; -inf the rest.

    Sort the probabilities in decreasing order and keep token i while the mass *before* it is
    still below p. The first token has mass 0 before it, so it always survives. Computed in
    float64 so the running sum does not drift across a 50k-token vocabulary.
    """
    # BEGIN TASK 5.3 [From logits to a token, in one fixed order]: keep the smallest set reaching p
    probs = torch.softmax(logits.double(), dim=-1)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    drop_sorted = mass_before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # token-id order
    return logits.masked_fill(drop, float("-inf"))
    # END TASK 5.3


def filtered_probabilities(logits: Tensor, settings: SamplingSettings) -> Tensor:
    """Steps 1-3 then softmax: the distribution a draw is made from (it sums to 1).

    Temperature 0 gives the one-hot distribution of the argmax.
    """
    if settings.greedy:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.size(-1)).to(torch.float32)
    logits = apply_temperature(logits.float(), settings.temperature)
    if settings.top_k is not None:
        logits = top_k_filter(logits, settings.top_k)
    if settings.top_p is not None:
        logits = top_p_filter(logits, settings.top_p)
    return torch.softmax(logits, dim=-1)


def draw(probs: Tensor, generator: torch.Generator) -> int:
    """One token id drawn from a (V,) distribution with `generator` (on the CPU, so a seed gives
    the same draw whatever device computed the probabilities)."""
    return int(torch.multinomial(probs.float().cpu(), 1, generator=generator).item())


def choose_next(logits: Tensor, generator: torch.Generator, settings: SamplingSettings) -> int:
    """The next token id from (V,) logits: the argmax if greedy, else a seeded draw."""
    if settings.greedy:
        return int(logits.argmax(-1).item())
    return draw(filtered_probabilities(logits, settings), generator)


def make_generator(seed: int) -> torch.Generator:
    """A CPU random-number generator seeded with `seed`; pass it to every draw of one run."""
    return torch.Generator(device="cpu").manual_seed(seed)
