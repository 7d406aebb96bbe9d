"""Training the runs: one `python -m week4_training train` process per (variant, seed).

    runs/ablation/<name>/<variant>-s<seed>/     a run folder of week 4, like any `make train`

One process per run, so that a crash (a variant that diverges, a full disk) loses that run
alone, memory starts clean for every run, and each run is exactly what

    make train CFG=<base> ARGS="<variant's overrides> <schedule> run.name=... run.seed=..."

would train. The order is seed by seed (every variant with the first seed, then every variant
with the second), so an ablation stopped half-way holds whole comparisons, and a slow hour of
the machine touches every variant of one seed alike.

Running the ablation again continues it: a run whose metrics hold the final evaluation (step
max_iters) is skipped, a run that was stopped (it has last.pt) is resumed with week 4's
`--resume`, which restores it bit for bit, and the others are trained. Ctrl-C stops the run in
progress the way it stops `make train` (it saves last.pt first) and ends the ablation.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import yaml

from shared.errors import EXIT_INTERRUPTED, CourseError
from shared.runs import METRICS, read_metrics
from week6_optimizations.ablation.budget import PlannedVariant


class RunState(Enum):
    NEW = "new"  # nothing trained yet
    STARTED = "started"  # last.pt saved, the final evaluation not reached: resume it
    FINISHED = "finished"  # the final evaluation is in metrics.jsonl: skip it


@dataclass(frozen=True)
class RunSpec:
    """One training process: which variant and seed, where, and the overrides of the base
    config it trains (the base's own, the variant's, the schedule, then the run's identity)."""

    variant: str
    seed: int
    folder: Path
    base: str
    overrides: tuple[str, ...]
    max_iters: int

    @property
    def label(self) -> str:
        return self.folder.name


def run_name(variant: str, seed: int) -> str:
    return f"{variant}-s{seed}"


def run_specs(
    planned: Sequence[PlannedVariant],
    seeds: Sequence[int],
    base: str,
    base_overrides: Sequence[str],
    folder: Path,
) -> list[RunSpec]:
    """Every (variant, seed) run, seed by seed."""
    specs = []
    for seed in seeds:
        for variant in planned:
            name = run_name(variant.name, seed)
            identity = (f"run.name={name}", f"run.out_dir={folder}", f"run.seed={seed}")
            overrides = (*base_overrides, *variant.overrides, *variant.schedule, *identity)
            specs.append(
                RunSpec(variant.name, seed, folder / name, base, overrides, variant.max_iters)
            )
    return specs


def final_eval_row(folder: Path, max_iters: int) -> dict | None:
    """The evaluation row of step `max_iters` (the run's last, over the whole split), if any."""
    if not (folder / METRICS).is_file():
        return None
    rows = [r for r in read_metrics(folder / METRICS) if "val_bits_per_byte" in r]
    final = [r for r in rows if r.get("step") == max_iters]
    return final[-1] if final else None


def run_state(folder: Path, max_iters: int) -> RunState:
    """Where the run in `folder` stands; a run planned for other steps is a one-line error (its
    plan.json was removed and the variant calibrated again)."""
    config = folder / "config.yaml"
    if config.is_file():
        trained = (yaml.safe_load(config.read_text(encoding="utf-8")) or {}).get("train", {})
        if trained.get("max_iters", max_iters) != max_iters:
            raise CourseError(
                f"{folder} trains {trained['max_iters']} steps, the ablation's plan "
                f"{max_iters}; remove that run folder, or give another --name"
            )
    if final_eval_row(folder, max_iters) is not None:
        return RunState.FINISHED
    if (folder / "last.pt").is_file():
        return RunState.STARTED
    return RunState.NEW


def train_command(spec: RunSpec, state: RunState) -> list[str]:
    """The command that trains (or resumes) `spec`; a folder left without a last.pt (stopped
    before its first save) is started again."""
    # through `measured`, so that the run records its own peak memory (measured.py says why)
    measured = ["-m", "week6_optimizations.ablation.measured", str(spec.folder / PROCESS_FILE)]
    command = [sys.executable, *measured, "week4_training.cli", "train"]
    if state is RunState.STARTED:
        return [*command, "--resume", str(spec.folder)]
    again = ["--overwrite=1"] if spec.folder.exists() else []
    return [*command, "--config", spec.base, *again, *spec.overrides]


def launch(command: Sequence[str]) -> int:
    """Run `command` with this terminal; its exit status. A Ctrl-C reaches the child as well
    (same process group): wait while it saves, then report it interrupted."""
    process = subprocess.Popen(list(command))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.wait()
        return EXIT_INTERRUPTED


@dataclass(frozen=True)
class Outcome:
    """What became of one run, and how long its process took (start-up and evaluations too)."""

    spec: RunSpec
    status: str  # finished, skipped (finished before), failed (exit N), interrupted, not started
    wall_seconds: float = 0.0


PROCESS_FILE = "process.json"  # in a run folder: its last process's peak memory and wall time


def train_all(
    specs: Sequence[RunSpec],
    run: Callable[[Sequence[str]], int] = launch,
    say: Callable[[str], None] = print,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Outcome]:
    """Train every spec not finished yet, in order; stop at a Ctrl-C (the rest: not started)."""
    outcomes: list[Outcome] = []
    for index, spec in enumerate(specs, 1):
        where = f"[{index}/{len(specs)}] {spec.label}"
        state = run_state(spec.folder, spec.max_iters)
        if state is RunState.FINISHED:
            say(f"{where}: finished before, skipped")
            outcomes.append(Outcome(spec, "skipped"))
            continue
        verb = "resuming" if state is RunState.STARTED else "training"
        say(f"{where}: {verb}, {spec.max_iters} steps")
        start = clock()
        code = run(train_command(spec, state))
        seconds = clock() - start
        if code == EXIT_INTERRUPTED:
            outcomes.append(Outcome(spec, "interrupted", seconds))
            outcomes += [Outcome(rest, "not started") for rest in specs[index:]]
            break
        finished = run_state(spec.folder, spec.max_iters) is RunState.FINISHED
        status = "finished" if finished else f"failed (exit {code})"
        say(f"{where}: {status} after {seconds:.0f} s")
        outcomes.append(Outcome(spec, status, seconds))
    return outcomes
