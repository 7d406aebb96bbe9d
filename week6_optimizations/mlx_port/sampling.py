"""Sampling in MLX with week 5's semantics, and a KV cache.

    logits --temperature--> --top-k--> --top-p--> softmax --> one seeded draw

The same steps in the same order as `week5_generation.sampling`, from the same
`SamplingSettings` (temperature 0 = greedy argmax; top-k keeps exactly k, ties to the lower id;
top-p keeps the smallest most-likely set whose mass reaches p, always the top token), checked
against it in the tests. The draws differ: MLX has no `torch.Generator`; randomness is an
explicit *key*. `mx.random.key(seed)` starts a chain and every draw splits off a fresh subkey, so
one seed gives one text (on one machine).

Generation follows week 5 (stop before the end-of-text token, a sliding window of block_size
tokens) with week 6's cache rule (`ContextWindow`): prefill the prompt once, then feed one new
token per step at its absolute position (`kv_cache.cached_forward`); when the window must move,
empty the cache, prefill.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence

import mlx.core as mx

from shared.errors import CourseError
from week5_generation.sampling import PURE_SAMPLING, SamplingSettings
from week6_optimizations.cached_generation import ContextWindow
from week6_optimizations.mlx_port.kv_cache import KVCache, cached_forward
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


def filtered_logits(logits: mx.array, settings: SamplingSettings) -> mx.array:
    """Temperature, then top-k, then top-p; softmax of the result is the sampling distribution.
    For a temperature above 0: greedy settings take the argmax and never come here."""
    logits = apply_temperature(logits.astype(mx.float32), settings.temperature)
    if settings.top_k is not None:
        logits = top_k_filter(logits, settings.top_k)
    if settings.top_p is not None:
        logits = top_p_filter(logits, settings.top_p)
    return logits


def choose_next(logits: mx.array, key: mx.array, settings: SamplingSettings) -> int:
    """The next id from (V,) logits: the argmax if greedy, else a draw with `key`."""
    if settings.greedy:
        return int(mx.argmax(logits))
    return int(mx.random.categorical(filtered_logits(logits, settings), key=key))


class CachedLogits:
    """The next token's logits from a KV cache, feeding only the tokens it has not seen
    (week 6's `CachedLogits`, given the ids as a list)."""

    def __init__(self, model: MLXGPT) -> None:
        self.model = model
        config = model.config
        self.window = ContextWindow(config.block_size)
        self.cache = KVCache(config.n_layer, config.block_size)

    def __call__(self, ids: Sequence[int]) -> mx.array:
        """The whole sequence so far -> (vocab_size,) logits of the token after it."""
        if self.window.advance(len(ids)):
            self.cache.reset()
        fresh = mx.array([list(ids[self.window.start + self.cache.length :])])
        logits = cached_forward(self.model, fresh, self.cache)[0, -1]
        mx.eval(logits, [(layer.keys, layer.values) for layer in self.cache])  # keep graphs short
        return logits


def generate_ids(
    model: MLXGPT,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    settings: SamplingSettings = PURE_SAMPLING,
    *,
    seed: int = 0,
    stop_ids: Collection[int] = (),
) -> Iterator[int]:
    """Yield up to `max_new_tokens` ids, each chosen with `settings` and a key from `seed`,
    stopping (without yielding it) at one in `stop_ids`."""
    if not prompt_ids:
        raise CourseError("the prompt has no tokens; start from a start token")
    was_training = model.training
    model.eval()
    next_token_logits = CachedLogits(model)
    key = mx.random.key(seed)
    ids = list(prompt_ids)
    try:
        for _ in range(max_new_tokens):
            key, subkey = mx.random.split(key)
            next_id = choose_next(next_token_logits(ids), subkey, settings)
            if next_id in stop_ids:
                return
            yield next_id
            ids.append(next_id)
    finally:
        model.train(was_training)
