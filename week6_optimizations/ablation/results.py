"""The result of an ablation: each variant's final validation bits per byte over its seeds.

    a run's result    = the val_bits_per_byte of its last evaluation row (step max_iters, always
                        over the whole validation split: exact, whatever train.eval_iters says)
    a variant's mean  = the mean over its finished seeds;  spread = min-max over those seeds
    vs baseline       = variant mean - baseline mean   (negative: the variant compresses better)

The spread is what changing only the seed does (the initial weights, the order of the batches,
dropout): a difference to the baseline smaller than it is not a finding, whatever its sign. With
two seeds the range is a rough guide, not an interval: more seeds give a wider, truer range. The
table marks a variant whose seeds' range overlaps the baseline's.

Seconds are the training seconds each run recorded (the optimizer steps, as budgeted). The
runs' own steps/s beside the calibrated figure show whether they kept the calibrated speed: a
run that stepped slower than calibrated had more than the budget, one that stepped faster less.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from shared.atomic import atomic_write_text
from shared.runs import METRICS, read_metrics
from week6_optimizations.ablation.budget import PlannedVariant
from week6_optimizations.ablation.launch import PROCESS_FILE, run_name
from week6_optimizations.ablation.variants import BASELINE

RESULTS_MD, RESULTS_JSON = "results.md", "results.json"


@dataclass(frozen=True)
class RunResult:
    """One finished run: the step of its last evaluation, its training seconds then, and that
    evaluation's bits per byte."""

    seed: int
    steps: int
    train_seconds: float
    bits_per_byte: float
    exact: bool
    peak_rss_mb: float | None = None  # of its training process (measured.py), if recorded


def training_points(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, float]]:
    """(step, training seconds so far) of every training row, starting with (0, 0)."""
    points = [(0, 0.0)]
    points += [(int(r["step"]), float(r["train_seconds"])) for r in rows if "train_seconds" in r]
    return sorted(points)


def seconds_at(step: int, points: Sequence[tuple[int, float]]) -> float:
    """Training seconds at `step`: interpolated between training rows (logged every
    log_interval steps), past the last one at the last row's average speed."""
    before = [p for p in points if p[0] <= step]
    after = [p for p in points if p[0] >= step]
    (s0, t0) = before[-1]
    if after:
        (s1, t1) = after[0]
        return t0 if s1 == s0 else t0 + (t1 - t0) * (step - s0) / (s1 - s0)
    return t0 * step / s0 if s0 > 0 else 0.0


def eval_curve(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, float, float]]:
    """(step, training seconds, val bits per byte) of every evaluation row."""
    points = training_points(rows)
    return [
        (int(r["step"]), seconds_at(int(r["step"]), points), float(r["val_bits_per_byte"]))
        for r in rows
        if isinstance(r.get("val_bits_per_byte"), int | float)
    ]


def read_run(folder: Path, seed: int, max_iters: int) -> RunResult | None:
    """The result of the run in `folder`, or None unless it reached its final evaluation."""
    if not (folder / METRICS).is_file():
        return None
    rows = read_metrics(folder / METRICS)
    curve = eval_curve(rows)
    if not curve or curve[-1][0] != max_iters:
        return None
    step, seconds, bits = curve[-1]
    final = [r for r in rows if "val_bits_per_byte" in r][-1]
    process = folder / PROCESS_FILE
    peak = (
        json.loads(process.read_text(encoding="utf-8")).get("peak_rss_mb")
        if process.is_file()
        else None
    )
    return RunResult(seed, step, seconds, bits, bool(final.get("val_exact", True)), peak)


def tokens_per_step(run_folder: Path) -> int:
    """batch_size x grad_accum_steps x block_size of the run's config.yaml (0 if unreadable)."""
    try:
        config = yaml.safe_load((run_folder / "config.yaml").read_text(encoding="utf-8"))
        train, model = config["train"], config["model"]
        return int(train["batch_size"] * train.get("grad_accum_steps", 1) * model["block_size"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return 0


@dataclass
class VariantResult:
    """A variant's row of the table: its plan, its finished runs and their summary."""

    name: str
    overrides: tuple[str, ...]
    max_iters: int
    parameters: int
    calibrated_steps_per_second: float
    runs: list[RunResult] = field(default_factory=list)
    seeds_planned: int = 0
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    vs_baseline: float | None = None
    overlaps_baseline: bool | None = None

    tokens_per_step: int = 0

    @property
    def measured_steps_per_second(self) -> float | None:
        seconds = sum(r.train_seconds for r in self.runs)
        return sum(r.steps for r in self.runs) / seconds if seconds > 0 else None

    @property
    def tokens_per_second(self) -> float | None:
        """The runs' own training speed in tokens: steps/s x tokens per optimizer step."""
        steps = self.measured_steps_per_second
        return None if steps is None or not self.tokens_per_step else steps * self.tokens_per_step

    @property
    def peak_rss_mb(self) -> float | None:
        """The largest peak resident memory among its runs' processes."""
        peaks = [r.peak_rss_mb for r in self.runs if r.peak_rss_mb is not None]
        return max(peaks) if peaks else None


def summarize(
    planned: Sequence[PlannedVariant], folder: Path, seeds: Sequence[int]
) -> list[VariantResult]:
    """Read every (variant, seed) run under `folder`; mean, spread and difference to the
    baseline (None where the baseline has no finished run, or the variant none)."""
    results = []
    for variant in planned:
        timing = variant.step_time
        result = VariantResult(
            variant.name,
            variant.overrides,
            variant.max_iters,
            timing.parameters,
            timing.steps_per_second,
            seeds_planned=len(seeds),
        )
        for seed in seeds:
            run_folder = folder / run_name(variant.name, seed)
            run = read_run(run_folder, seed, variant.max_iters)
            if run is not None:
                result.runs.append(run)
                result.tokens_per_step = tokens_per_step(run_folder)
        if result.runs:
            values = [r.bits_per_byte for r in result.runs]
            result.mean, result.low, result.high = statistics.mean(values), min(values), max(values)
        results.append(result)
    compare_to_baseline(results)
    return results


def compare_to_baseline(results: Sequence[VariantResult]) -> None:
    """Fill in each result's difference to the baseline's mean and whether the ranges of their
    seeds overlap (None with one seed on either side: no range to judge)."""
    base = next((r for r in results if r.name == BASELINE), None)
    if base is None or base.mean is None or base.low is None or base.high is None:
        return
    for result in results:
        if result.mean is None or result.low is None or result.high is None:
            continue
        result.vs_baseline = result.mean - base.mean
        if len(result.runs) > 1 and len(base.runs) > 1 and result is not base:
            result.overlaps_baseline = result.low <= base.high and base.low <= result.high


# ----------------------------------------------------------------------------- the table


OFF_BUDGET = 0.15  # a run's steps/s this far from its calibration had another training time


def off_budget(results: Sequence[VariantResult], tolerance: float = OFF_BUDGET) -> list[str]:
    """The variants whose runs stepped more than `tolerance` off their calibrated steps/s."""
    names = []
    for r in results:
        measured = r.measured_steps_per_second
        if measured is not None and abs(measured / r.calibrated_steps_per_second - 1) > tolerance:
            names.append(r.name)
    return names


def _number(value: float | None, digits: int = 3, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def table_rows(results: Sequence[VariantResult]) -> list[list[str]]:
    rows = []
    for r in results:
        spread = "-" if r.low is None else f"{r.low:.3f}-{r.high:.3f}"
        overlap = {None: "", True: "yes", False: "no"}[r.overlaps_baseline]
        seconds = [run.train_seconds for run in r.runs]
        rows.append(
            [
                r.name,
                f"{r.calibrated_steps_per_second:.2f}",
                _number(r.measured_steps_per_second, 2),
                "-" if r.tokens_per_second is None else f"{r.tokens_per_second:,.0f}",
                "-" if r.peak_rss_mb is None else f"{r.peak_rss_mb:.0f}",
                str(r.max_iters),
                f"{statistics.mean(seconds):.1f}" if seconds else "-",
                f"{r.parameters:,}",
                _number(r.mean, 4),
                spread,
                _number(r.vs_baseline, 4, sign=True) if r.name != BASELINE else "",
                overlap,
                f"{len(r.runs)}/{r.seeds_planned}",
            ]
        )
    return rows


HEADER = [
    "variant",
    "steps/s (calibrated)",
    "steps/s (runs)",
    "tokens/s (runs)",
    "peak RSS MB",
    "steps",
    "training s",
    "parameters",
    "val bits/byte (mean)",
    "min-max over seeds",
    "vs baseline",
    "overlaps baseline",
    "seeds",
]


def markdown(results: Sequence[VariantResult], context: Mapping[str, Any]) -> str:
    """The table with a header that says what was run where (`context`: see `write_results`)."""
    lines = [
        f"# Ablation {context['name']}: {context['budget_seconds']:g} s of training per run",
        "",
        f"base {context['base']}, seeds {', '.join(map(str, context['seeds']))}; "
        "equal training time per run (steps from each variant's calibrated speed), final exact "
        "validation bits per byte, lower is better",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    off = off_budget(results)
    if off:
        lines += [
            "",
            f"**Not an equal-time comparison:** {', '.join(off)} stepped more than "
            f"{OFF_BUDGET:.0%} faster or slower than calibrated, so their training time was "
            "not the budget (the machine's load changed between calibration and the runs). "
            "Rerun on a quiet machine, with a new --name, before reading the table as a result.",
        ]
    machine = context["machine"]
    lines += [
        "",
        f"machine: {machine.get('cpu')}, {machine.get('cores')} cores, torch "
        f"{machine.get('torch')} ({machine.get('torch_threads')} threads); load average "
        f"(1, 5, 15 min) at the start {context['load_average_start']}, at the end "
        f"{context['load_average_end']}; calibrated at load {context['calibration_load']}",
    ]
    return "\n".join(lines) + "\n"


def write_results(
    folder: Path, results: Sequence[VariantResult], context: Mapping[str, Any]
) -> tuple[Path, Path]:
    """results.md and results.json in `folder`. `context`: name, base, budget_seconds, seeds,
    machine, load_average_start, load_average_end, calibration_load."""
    text = markdown(results, context)
    document = dict(context) | {"variants": [_record(r) for r in results]}
    md, js = folder / RESULTS_MD, folder / RESULTS_JSON
    atomic_write_text(md, text)
    atomic_write_text(js, json.dumps(document, indent=2) + "\n")
    return md, js


def _record(result: VariantResult) -> dict[str, Any]:
    record = asdict(result)
    record["overrides"] = list(result.overrides)
    record["measured_steps_per_second"] = result.measured_steps_per_second
    record["tokens_per_second"] = result.tokens_per_second
    record["peak_rss_mb"] = result.peak_rss_mb
    return record
