"""What the ablation compares: each variant is a name and a list of config overrides.

    baseline                      the base config as written (configs/tiny.yaml: GPT-2)
    rope, rmsnorm, swiglu, ...    one change each, on top of the baseline
    modern, modern_muon           the changes of a LLaMA-style model stacked together

An override is what `make train ARGS="..."` takes (`section.key=value`), so every variant is a
run a learner can repeat by hand:

    make train ARGS="model.position=rope model.norm=rmsnorm"

To add a variant, add a line to VARIANTS. The schedule (max_iters, warmup_iters,
lr_decay_iters, eval_interval) and the run's name, folder and seed belong to the ablation, which
sets them from the time budget (budget.py): a variant may not set those.

Note that the variants are not matched in size: an untied head adds vocab_size x n_embd
parameters, grouped-query attention removes some from the key and value projections, SwiGLU's
8/3 rule keeps its MLP close to GELU's. The table lists every variant's parameter count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import CourseError


@dataclass(frozen=True)
class Variant:
    """One arm of the ablation: its name, its overrides of the base config, and one line saying
    what it changes."""

    name: str
    overrides: tuple[str, ...]
    what: str


# LLaMA's choices (Touvron et al., 2023), with grouped-query attention (Ainslie et al., 2023),
# QK-norm (Dehghani et al., 2023) and an untied head.
MODERN_STACK = (
    "model.position=rope",
    "model.norm=rmsnorm",
    "model.mlp=swiglu",
    "model.qk_norm=true",
    "model.n_kv_head=2",
    "model.tie_weights=false",
)

VARIANTS: tuple[Variant, ...] = (
    Variant("baseline", (), "the base config as written: GPT-2's blocks, AdamW"),
    Variant("rope", ("model.position=rope",), "rotary positions instead of a learned table"),
    Variant("rmsnorm", ("model.norm=rmsnorm",), "RMSNorm instead of LayerNorm"),
    Variant("swiglu", ("model.mlp=swiglu",), "a gated SiLU MLP, hidden 8/3 n_embd"),
    Variant("relu2", ("model.mlp=relu2",), "relu(x)^2 instead of GELU"),
    Variant("qk_norm", ("model.qk_norm=true",), "RMSNorm of every query and key head"),
    Variant("gqa", ("model.n_kv_head=2",), "grouped-query attention, 2 key/value heads"),
    Variant("mqa", ("model.n_kv_head=1",), "multi-query attention, 1 key/value head"),
    Variant("softcap", ("model.logit_softcap=30",), "logits 30 tanh(z / 30)"),
    Variant("untied", ("model.tie_weights=false",), "an LM head of its own"),
    Variant("muon", ("train.optimizer=muon",), "Muon for the blocks' matrices"),
    Variant("modern", MODERN_STACK, "rope + rmsnorm + swiglu + qk_norm + gqa + untied"),
    Variant("modern_muon", (*MODERN_STACK, "train.optimizer=muon"), "the modern stack, with Muon"),
)

BASELINE = "baseline"

# Keys the ablation sets for every run (the equal-time schedule, the run's identity).
RESERVED_KEYS = (
    "train.max_iters",
    "train.warmup_iters",
    "train.lr_decay_iters",
    "train.eval_interval",
    "run.name",
    "run.out_dir",
    "run.seed",
)


def select_variants(
    only: Sequence[str] | None, variants: Sequence[Variant] = VARIANTS
) -> list[Variant]:
    """The variants named by `--only`, in the order of `variants` (all of them for None); an
    unknown name is a one-line error that lists the known ones."""
    known = [v.name for v in variants]
    if not only:
        return list(variants)
    unknown = [name for name in only if name not in known]
    if unknown:
        raise CourseError(
            f"--only: unknown variant {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    return [v for v in variants if v.name in only]


def check_variant(variant: Variant) -> None:
    """A variant changes the model or the optimizer, never what the ablation sets itself."""
    for override in variant.overrides:
        key = override.partition("=")[0].strip()
        if key in RESERVED_KEYS:
            raise CourseError(
                f"variant {variant.name!r}: {key} is set by the ablation from the time budget; "
                f"a variant may not override {', '.join(RESERVED_KEYS)}"
            )
