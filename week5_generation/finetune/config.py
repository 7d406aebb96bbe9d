"""The `finetune` section of a run config: what a fine-tuning run starts from and learns from.

    finetune:
      base: runs/tiny          # the run (or .pt file) whose weights it starts from; or gpt2
      weights: null            # with base: gpt2, GPT-2's model.safetensors (make gpt2 fetches it)
      data: sft/speakers-train.jsonl   # the JSONL examples (see jsonl.py)
      val_data: null           # held-out examples; null: a share of `data` by a hash of each line
      val_fraction: 0.1        # that share
      overlong: truncate       # an example longer than the context: cut its prompt's start
      data_sha256: null        # set when the run starts; a resume refuses data that changed since

`make finetune CKPT=... DATA=... [VAL=...]` fills base, weights, data and val_data; a run's
config.yaml holds them all, so `make sample` knows the checkpoint speaks the chat template.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import check

OVERLONG = ("truncate", "refuse")


@dataclass
class FinetuneConfig:
    """Where the weights and the examples come from, and how examples are fitted and split."""

    base: str = ""
    weights: str | None = None
    data: str = ""
    val_data: str | None = None
    val_fraction: float = 0.1
    overlong: str = "truncate"
    data_sha256: str | None = None

    def __post_init__(self) -> None:
        check(
            0.0 < self.val_fraction < 1.0,
            "val_fraction",
            f"a number in (0, 1), not {self.val_fraction}",
        )
        check(self.overlong in OVERLONG, "overlong", f"one of {', '.join(OVERLONG)}")
