"""Sampling in MLX with week 5's semantics, and a KV cache.

    logits --temperature--> --top-k--> --top-p--> softmax --> one seeded draw

The same steps in the same order as `week5_generation.sampling` (temperature 0 = greedy argmax;
top-k keeps exactly k, ties to the lower id; top-p keeps the smallest most-likely set whose
mass reaches p, always the top token), checked against it in the tests. The draws differ: MLX
has no `torch.Generator`; randomness is an explicit *key*. `mx.random.key(seed)` starts a chain
and every draw splits off a fresh subkey, so one seed gives one text (on one machine).

Generation follows week 5 (stop before the end-of-text token, a sliding window of block_size
tokens) with week 6's cache rule (`ContextWindow`): prefill the prompt once, then feed one new
token per step at its absolute position; when the window must move, empty the cache, prefill.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import TYPE_CHECKING

import mlx.core as mx

from shared.errors import CourseError
from week5_generation.sampling import check_settings
from week6_optimizations.cached_generation import ContextWindow

if TYPE_CHECKING:
    from week6_optimizations.mlx_port.model import MLXGPT


def apply_temperature(logits: mx.array, temperature: float) -> mx.array:
    """logits / temperature; a row that would overflow float32 (a tiny temperature such as 1e-300)
    is divided after subtracting its largest logit, so it becomes the argmax's one-hot instead of
    NaN (week 5's `apply_temperature` explains why this is exact)."""
    scaled = logits / temperature
    shifted = logits - mx.max(logits, axis=-1, keepdims=True)
    limit = mx.where(shifted == 0, shifted, shifted / temperature)  # 0 / 0 would be NaN
    finite_row = mx.all(mx.isfinite(scaled), axis=-1, keepdims=True)
    return mx.where(finite_row, scaled, limit)


def top_k_filter(logits: mx.array, k: int) -> mx.array:
    """Keep the k largest logits of the last axis (ties: lower ids first), -inf the others."""
    if k >= logits.shape[-1]:
        return logits
    order = mx.argsort(-logits, axis=-1)  # stable: equal logits keep id order
    dropped = order[..., k:]
    return mx.put_along_axis(logits, dropped, mx.array(-mx.inf, logits.dtype), axis=-1)


def top_p_filter(logits: mx.array, p: float) -> mx.array:
    """Keep the most likely tokens until their mass reaches p (the first always), -inf the rest."""
    probs = mx.softmax(logits, axis=-1)
    order = mx.argsort(-probs, axis=-1)
    sorted_probs = mx.take_along_axis(probs, order, axis=-1)
    mass_before = mx.cumsum(sorted_probs, axis=-1) - sorted_probs
    drop_sorted = mass_before >= p
    drop = mx.put_along_axis(mx.zeros_like(drop_sorted), order, drop_sorted, axis=-1)
    return mx.where(drop, -mx.inf, logits)


def filtered_logits(
    logits: mx.array, temperature: float, top_k: int | None = None, top_p: float | None = None
) -> mx.array:
    """Temperature, then top-k, then top-p; softmax of the result is the sampling distribution."""
    logits = apply_temperature(logits.astype(mx.float32), temperature)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return logits


def choose_next(
    logits: mx.array,
    key: mx.array,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """The next id from (V,) logits: argmax at temperature 0, else a draw with `key`."""
    if temperature == 0:
        return int(mx.argmax(logits))
    return int(mx.random.categorical(filtered_logits(logits, temperature, top_k, top_p), key=key))


class CachedDecoder:
    """Logits of the token after `ids` from a KV cache, feeding only tokens it has not seen."""

    def __init__(self, model: MLXGPT) -> None:
        self.model = model
        self.window = ContextWindow(model.config.block_size)
        self.cache = model.new_cache()

    def __call__(self, ids: Sequence[int]) -> mx.array:
        if self.window.advance(len(ids)):
            self.cache = self.model.new_cache()
        cached = self.cache[0].length
        fresh = mx.array([list(ids[self.window.start + cached :])])
        logits = self.model(fresh, start_pos=cached, kv_cache=self.cache)[0, -1]
        mx.eval(logits, [(c.keys, c.values) for c in self.cache])
        return logits


def generate_ids(
    model: MLXGPT,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = 0,
    stop_ids: Collection[int] = (),
) -> Iterator[int]:
    """Yield up to `max_new_tokens` ids, stopping (without yielding it) at one in `stop_ids`."""
    if not prompt_ids:
        raise CourseError("the prompt has no tokens; start from a start token")
    check_settings(temperature, top_k, top_p)
    was_training = model.training
    model.eval()
    decoder = CachedDecoder(model)
    key = mx.random.key(seed)
    ids = list(prompt_ids)
    try:
        for _ in range(max_new_tokens):
            key, subkey = mx.random.split(key)
            next_id = choose_next(decoder(ids), subkey, temperature, top_k, top_p)
            if next_id in stop_ids:
                return
            yield next_id
            ids.append(next_id)
    finally:
        model.train(was_training)
