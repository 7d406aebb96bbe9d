"""The `sample` section of a run config: how `make sample` and `make chat` generate by default.

    sample:
      max_new_tokens: 200   # generate at most this many tokens per prompt
      temperature: 0.8      # 0 = greedy; see week5_generation.sampling
      top_k: null           # keep only the k most likely tokens (null: no limit)
      top_p: 0.95           # nucleus: the smallest set holding this much probability (null: off)
      seed: null            # null: use run.seed; else 0 .. 2**63 - 1 (what every generator takes)
      prompt: ""            # "" starts from the tokenizer's end-of-text token (or a newline)
      stop: []              # stop (and cut the text) where one of these strings appears

Command-line flags (--temperature, --top-k, ...) override these values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import check
from shared.sections import MAX_SEED
from week5_generation.sampling import SamplingSettings


def first_bad_byte(text: str) -> int | None:
    """The byte offset of the first byte of `text` that was not UTF-8, or None.

    Python hands a program the bytes of its command line decoded as UTF-8, and keeps a byte that
    is not UTF-8 as a "surrogate escape", a character no encoder accepts: `PROMPT=$'\\xff'` would
    fail deep inside the tokenizer.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return len(text[: error.start].encode("utf-8", "surrogateescape"))
    return None


@dataclass
class SampleConfig:
    """Generation settings; out-of-range values are a `ConfigError` naming `sample.<key>`.

    The keys are flat, as the YAML file writes them; `sampling` hands the sampler its three
    (temperature, top_k, top_p) as one `SamplingSettings`.
    """

    max_new_tokens: int = 200
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = 0.95
    seed: int | None = None
    prompt: str = ""
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        check(
            self.max_new_tokens >= 1,
            "max_new_tokens",
            f"an integer >= 1, not {self.max_new_tokens}",
        )
        SamplingSettings(self.temperature, self.top_k, self.top_p)  # checks their ranges
        check(
            self.seed is None or 0 <= self.seed <= MAX_SEED,
            "seed",
            f"an integer from 0 to {MAX_SEED} or null, not {self.seed}",
        )
        check(all(self.stop), "stop", "a list of non-empty strings")
        for key, text in [("prompt", self.prompt), *(("stop", stop) for stop in self.stop)]:
            offset = first_bad_byte(text)
            check(offset is None, key, f"UTF-8 text, but its byte at offset {offset} is not")

    @property
    def sampling(self) -> SamplingSettings:
        """temperature, top_k and top_p, the settings of every draw."""
        return SamplingSettings(self.temperature, self.top_k, self.top_p)
