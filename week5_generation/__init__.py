"""Week 5: from a trained model to text, and numbers that compare models.

sampling.py   SamplingSettings; temperature, top-k, top-p, the seeded draw: steps on the logits
config.py     SampleConfig, the `sample` section of a run config
generate.py   generate(): the token loop, context cropping, stop tokens; the decoder hook
streaming.py  printing text as it comes: split UTF-8 characters, stop strings
stats.py      distinct-n, repetition rate, mean length of samples
loading.py    a checkpoint (week 4), or OpenAI's GPT-2 weights, with its tokenizer
evaluation.py the evaluation harness behind `make evaluate`
cli.py        `python -m week5_generation sample|evaluate`
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week5_generation.config import SampleConfig
from week5_generation.generate import (
    DECODERS,
    FullContextLogits,
    NextTokenLogits,
    crop_context,
    generate,
    generate_text,
    start_ids,
)
from week5_generation.sampling import (
    GREEDY,
    PURE_SAMPLING,
    SamplingSettings,
    apply_temperature,
    choose_next,
    draw,
    filtered_probabilities,
    make_generator,
    top_k_filter,
    top_p_filter,
)
from week5_generation.stats import distinct_n, mean_length, repetition_rate, sample_statistics
from week5_generation.streaming import StopStrings, TextStream, Utf8Stream

__all__ = [
    "DECODERS",
    "FullContextLogits",
    "GREEDY",
    "NextTokenLogits",
    "PURE_SAMPLING",
    "SampleConfig",
    "SamplingSettings",
    "StopStrings",
    "TextStream",
    "Utf8Stream",
    "apply_temperature",
    "choose_next",
    "crop_context",
    "distinct_n",
    "draw",
    "filtered_probabilities",
    "generate",
    "generate_text",
    "make_generator",
    "mean_length",
    "repetition_rate",
    "sample_statistics",
    "start_ids",
    "top_k_filter",
    "top_p_filter",
]
