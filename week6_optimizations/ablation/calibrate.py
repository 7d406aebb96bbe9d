"""Calibration: how long one optimizer step of each variant takes on this machine, right now.

    for each variant:  build week 4's Trainer, take `warmup_steps` steps untimed
    `rounds` rounds, interleaved (shared.bench.interleaved):  time `steps` steps of each variant
    seconds_per_step = median over rounds of (round's seconds / steps)

The first steps of a model are slow (allocations, the first autocast kernels), so they are not
timed. The variants are timed in rounds, every variant once per round and the order rotated, so
that a change in the machine's load during the calibration touches every variant alike instead
of making the last ones look slow. Every step is a real `Trainer.train_step` of the variant's
config (its batch, its dtype, its optimizer) in this process; the training runs themselves are
separate processes with the same thread settings, so they step at the same speed as long as the
machine's load stays what it was.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shared.bench import interleaved
from shared.config import Config
from week6_optimizations.ablation.budget import StepTime

if TYPE_CHECKING:  # loads PyTorch: imported where the trainers are built
    from week4_training.trainer import Trainer


@dataclass(frozen=True)
class CalibrationSettings:
    """Steps taken untimed per variant, steps per timed round, and rounds."""

    warmup_steps: int = 5
    steps: int = 10
    rounds: int = 3  # a median of three rounds sets aside one disturbed round


FULL = CalibrationSettings()
QUICK = CalibrationSettings(warmup_steps=2, steps=5, rounds=2)


def seconds_per_step(
    steppers: Mapping[str, Callable[[], object]],
    settings: CalibrationSettings,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Each variant's seconds per step in each round, `step()` being one optimizer step."""
    for step in steppers.values():
        for _ in range(settings.warmup_steps):
            step()

    def steps_of(step: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(settings.steps):
                step()

        return run

    rounds = interleaved(
        {name: steps_of(step) for name, step in steppers.items()},
        settings.rounds,
        warmup=0,
        clock=clock,
    )
    return {name: [seconds / settings.steps for seconds in times] for name, times in rounds.items()}


def step_times(
    per_round: Mapping[str, list[float]], parameters: Mapping[str, int]
) -> dict[str, StepTime]:
    """The median of each variant's rounds, with the rounds and its parameter count."""
    return {
        name: StepTime(statistics.median(rounds), tuple(rounds), parameters[name])
        for name, rounds in per_round.items()
    }


@contextlib.contextmanager
def calibration_trainers(configs: Mapping[str, Config]) -> Iterator[dict[str, Trainer]]:
    """A week 4 `Trainer` for each config, writing to a temporary folder removed at the end."""
    from week4_training.trainer import Trainer

    with tempfile.TemporaryDirectory(prefix="course-ablation-") as folder:
        trainers: dict[str, Trainer] = {}
        for name, cfg in configs.items():
            cfg = cfg.replace("run", name=name, out_dir=str(Path(folder)))
            with contextlib.redirect_stdout(io.StringIO()):  # the tokenizer's and data's lines
                trainers[name] = Trainer(cfg, progress=False, log=_silent)
        yield trainers


def calibrate(
    configs: Mapping[str, Config],
    settings: CalibrationSettings = FULL,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, StepTime]:
    """Measure every config's seconds per step, interleaved (see the module docstring)."""
    with calibration_trainers(configs) as trainers:
        steppers = {name: trainer.train_step for name, trainer in trainers.items()}
        parameters = {name: _parameters(trainer) for name, trainer in trainers.items()}
        return step_times(seconds_per_step(steppers, settings, clock), parameters)


def _parameters(trainer: Trainer) -> int:
    """The model's parameter count, a tied matrix once (week 3's `num_parameters`); 0 for a
    backend whose model does not count them."""
    count = getattr(getattr(trainer.backend, "model", None), "num_parameters", None)
    return int(count()) if callable(count) else 0


def _silent(message: str) -> None:
    """What a calibration Trainer logs: nothing."""
