"""Equal wall-clock time: every variant gets the same seconds of training, not the same steps.

    max_iters      = floor(budget_seconds / seconds_per_step)     seconds_per_step: calibrate.py
    warmup_iters   = max_iters // 20                              week 4's rule (5%)
    lr_decay_iters = max_iters                                    the cosine ends with the run
    eval_interval  = ceil(max_iters / EVALUATIONS)                the same fractions of each run

Why time and not steps: a change that makes a step slower (Muon's Newton-Schulz iterations, an
untied head's extra matrix) must buy more per step than it costs, and a change that makes a step
faster (fewer key/value heads) may take more steps in the same time. At equal steps the slower
variant is compared with a baseline that had less compute; at equal time both had the same
budget, which is the question a practitioner with a fixed budget asks. Both schedule lengths
follow the run's own length, so every variant warms up, decays and ends its cosine inside its
budget, as a run planned for that many steps would.

The base config's own schedule is replaced: configs/tiny.yaml names warmup_iters 100 and
lr_decay_iters 2600 for its 2600 steps; here both are set from each variant's max_iters with
TrainConfig's rules for a run that leaves them out. The budget counts the optimizer steps only
(the `train_seconds` of metrics.jsonl); evaluations, checkpoints and start-up come on top.

The plan of an ablation is written to its folder (plan.json) before any training, so running
it again continues with the same steps per variant instead of recalibrating.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_text
from shared.errors import CourseError
from week4_training.config import WARMUP_DIVISOR
from week6_optimizations.ablation.variants import Variant

EVALUATIONS = 6  # evaluations after step 0: every variant's curve has points at 1/6, 2/6, ...
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class StepTime:
    """A variant's calibration: the median seconds per optimizer step over the rounds, each
    round's own figure, and the model's parameter count."""

    seconds_per_step: float
    rounds: tuple[float, ...]
    parameters: int

    @property
    def steps_per_second(self) -> float:
        return 1.0 / self.seconds_per_step


def steps_in_budget(budget_seconds: float, seconds_per_step: float) -> int:
    """floor(budget / seconds per step); a budget that buys no step is a one-line error."""
    if seconds_per_step <= 0:
        raise ValueError(f"seconds_per_step must be positive, got {seconds_per_step}")
    steps = math.floor(budget_seconds / seconds_per_step)
    if steps < 1:
        raise CourseError(
            f"a budget of {budget_seconds:g} s buys no training step at {seconds_per_step:.3g} s "
            "per step; give more --minutes"
        )
    return steps


def schedule_overrides(max_iters: int) -> tuple[str, ...]:
    """The train.* overrides of a run of `max_iters` steps (the module docstring's rules)."""
    eval_interval = max(1, math.ceil(max_iters / EVALUATIONS))
    return (
        f"train.max_iters={max_iters}",
        f"train.warmup_iters={max_iters // WARMUP_DIVISOR}",
        f"train.lr_decay_iters={max_iters}",
        f"train.eval_interval={eval_interval}",
    )


@dataclass(frozen=True)
class PlannedVariant:
    """A variant with its calibration and the steps it may take."""

    name: str
    overrides: tuple[str, ...]
    step_time: StepTime
    max_iters: int

    @property
    def schedule(self) -> tuple[str, ...]:
        return schedule_overrides(self.max_iters)


def plan_variant(variant: Variant, step_time: StepTime, budget_seconds: float) -> PlannedVariant:
    """A variant's share of the budget: as many steps as its measured step time allows."""
    steps = steps_in_budget(budget_seconds, step_time.seconds_per_step)
    return PlannedVariant(variant.name, variant.overrides, step_time, steps)


@dataclass
class Plan:
    """What an ablation trains: the base config (and the overrides every run gets, e.g. the
    quick corpus), the budget, and each variant's calibration and steps."""

    base: str
    base_overrides: tuple[str, ...]
    budget_seconds: float
    variants: dict[str, PlannedVariant] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)  # where it was calibrated

    def add(self, planned: Sequence[PlannedVariant]) -> None:
        for variant in planned:
            self.variants[variant.name] = variant

    def check_same(self, base: str, base_overrides: Sequence[str], budget_seconds: float) -> None:
        """A saved plan is continued only with the settings it was made with."""
        asked = (base, tuple(base_overrides), budget_seconds)
        if asked != (self.base, self.base_overrides, self.budget_seconds):
            raise CourseError(
                f"this ablation was planned with --base {self.base} and a budget of "
                f"{self.budget_seconds:g} s (overrides: {' '.join(self.base_overrides) or 'none'});"
                " continue it with the same options, or give another --name"
            )


def save_plan(plan: Plan, folder: Path) -> Path:
    """Write `folder/plan.json` (atomically)."""
    target = folder / PLAN_FILE
    document = {
        "base": plan.base,
        "base_overrides": list(plan.base_overrides),
        "budget_seconds": plan.budget_seconds,
        "machine": plan.machine,
        "variants": {name: _variant_record(v) for name, v in plan.variants.items()},
    }
    atomic_write_text(target, json.dumps(document, indent=2) + "\n")
    return target


def _variant_record(variant: PlannedVariant) -> dict[str, Any]:
    record = asdict(variant)
    record["step_time"]["rounds"] = list(variant.step_time.rounds)
    record["overrides"] = list(variant.overrides)
    return record


def load_plan(folder: Path) -> Plan | None:
    """The plan saved in `folder`, or None when there is none yet."""
    path = folder / PLAN_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        variants = {name: _variant_from(r) for name, r in document["variants"].items()}
        return Plan(
            base=document["base"],
            base_overrides=tuple(document["base_overrides"]),
            budget_seconds=float(document["budget_seconds"]),
            variants=variants,
            machine=document.get("machine", {}),
        )
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CourseError(
            f"{path}: not an ablation plan ({error}); remove it to calibrate again"
        ) from None


def _variant_from(record: Mapping[str, Any]) -> PlannedVariant:
    timing = record["step_time"]
    step_time = StepTime(
        float(timing["seconds_per_step"]), tuple(timing["rounds"]), int(timing["parameters"])
    )
    return PlannedVariant(
        record["name"], tuple(record["overrides"]), step_time, int(record["max_iters"])
    )
