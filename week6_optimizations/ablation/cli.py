"""`python -m week6_optimizations.ablation` (make ablate): plan, calibrate, train, tabulate, plot.

python -m week6_optimizations.ablation [--minutes 5] [--seeds 2] [--only baseline rope ...]
    [--base configs/tiny.yaml] [--name NAME] [--out-dir runs/ablation] [--dry-run] [--quick]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.bench import machine_description
from shared.config import Config, load_config
from shared.errors import EXIT_INTERRUPTED, CourseError
from shared.paths import CONFIGS_DIR, RUNS_DIR
from week4_training.cli import TRAIN_SECTIONS
from week6_optimizations.ablation import calibrate as calibration
from week6_optimizations.ablation.budget import (
    Plan,
    PlannedVariant,
    load_plan,
    plan_variant,
    save_plan,
)
from week6_optimizations.ablation.launch import Outcome, run_specs, train_all
from week6_optimizations.ablation.plot import plot_ablation
from week6_optimizations.ablation.quick import QUICK_BUDGET_SECONDS, quick_overrides
from week6_optimizations.ablation.results import markdown, summarize, write_results
from week6_optimizations.ablation.variants import (
    BASELINE,
    VARIANTS,
    Variant,
    check_variant,
    select_variants,
)

DEFAULT_MINUTES = 5.0
DEFAULT_SEEDS = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m week6_optimizations.ablation",
        description="Train each variant of VARIANTS for the same wall-clock time, over seeds.",
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help=f"training time per run (default {DEFAULT_MINUTES:g}; --quick: "
        f"{QUICK_BUDGET_SECONDS:g} s)",
    )
    parser.add_argument(
        "--seeds", type=int, default=DEFAULT_SEEDS, help="seeds per variant: run.seed, +1, ..."
    )
    names = ", ".join(v.name for v in VARIANTS)
    parser.add_argument("--only", nargs="+", metavar="VARIANT", help=f"some of: {names}")
    parser.add_argument("--base", default=str(CONFIGS_DIR / "tiny.yaml"), help="the base config")
    parser.add_argument("--name", help="the folder under --out-dir (default: <base>-<minutes>min)")
    parser.add_argument("--out-dir", default=str(RUNS_DIR / "ablation"))
    parser.add_argument("--dry-run", action="store_true", help="calibrate and print the plan only")
    parser.add_argument("--quick", action="store_true", help="a tiny model, seconds per run")
    return parser


def budget_seconds(args: argparse.Namespace) -> float:
    seconds = QUICK_BUDGET_SECONDS if args.quick else DEFAULT_MINUTES * 60
    if args.minutes is not None:
        if args.minutes <= 0:
            raise CourseError(f"--minutes: must be a positive number, got {args.minutes:g}")
        seconds = args.minutes * 60
    return seconds


def default_name(base: str, budget: float, quick: bool) -> str:
    """`tiny-5min` for configs/tiny.yaml and 5 minutes; `quick-1s` for --quick."""
    return f"quick-{budget:g}s" if quick else f"{Path(base).stem}-{budget / 60:g}min"


def variant_configs(
    base: str, base_overrides: Sequence[str], variants: Sequence[Variant]
) -> dict[str, Config]:
    """Every variant's config, loaded and checked before anything runs."""
    configs = {}
    for variant in variants:
        check_variant(variant)
        overrides = [*base_overrides, *variant.overrides]
        configs[variant.name] = load_config(base, overrides, sections=TRAIN_SECTIONS)
    return configs


def planned_variants(
    plan: Plan,
    variants: Sequence[Variant],
    configs: dict[str, Config],
    settings: calibration.CalibrationSettings,
) -> list[PlannedVariant]:
    """The plan's entry for each variant; the ones it lacks are calibrated now, together."""
    for variant in variants:
        saved = plan.variants.get(variant.name)
        if saved is not None and saved.overrides != variant.overrides:
            raise CourseError(
                f"variant {variant.name!r} was planned with {' '.join(saved.overrides)}, and is "
                f"now {' '.join(variant.overrides)}; give another --name"
            )
    missing = [v for v in variants if v.name not in plan.variants]
    if missing:
        print(
            f"calibrating {len(missing)} variants: {settings.warmup_steps} steps each untimed, "
            f"then {settings.rounds} interleaved rounds of {settings.steps} steps",
            flush=True,
        )
        times = calibration.calibrate({v.name: configs[v.name] for v in missing}, settings)
        plan.add([plan_variant(v, times[v.name], plan.budget_seconds) for v in missing])
    return [plan.variants[v.name] for v in variants]


def format_plan(planned: Sequence[PlannedVariant], n_seeds: int, budget: float) -> str:
    """The plan as a markdown table: each variant's overrides, calibration and schedule."""
    lines = [
        "| variant | overrides | s/step (rounds) | steps/s | max_iters | warmup | eval every |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in planned:
        timing, schedule = p.step_time, dict(s.split("=", 1) for s in p.schedule)
        rounds = f"{min(timing.rounds):.4f}-{max(timing.rounds):.4f}"
        lines.append(
            f"| {p.name} | {' '.join(p.overrides) or '(the base config)'} | "
            f"{timing.seconds_per_step:.4f} ({rounds}) | {timing.steps_per_second:.2f} | "
            f"{p.max_iters} | {schedule['train.warmup_iters']} | "
            f"{schedule['train.eval_interval']} |"
        )
    runs = len(planned) * n_seeds
    lines.append(
        f"{runs} runs x {budget:g} s = {runs * budget / 60:.1f} minutes of training, plus each "
        "run's start-up, evaluations and samples"
    )
    return "\n".join(lines)


def report_outcomes(outcomes: Sequence[Outcome]) -> int:
    """Exit status: 0 when every run finished, 130 after a Ctrl-C; failed runs are an error."""
    if any(o.status == "interrupted" for o in outcomes):
        print("interrupted; run the same command again to continue where it stopped")
        return EXIT_INTERRUPTED
    failed = [o for o in outcomes if o.status.startswith("failed")]
    if failed:
        named = ", ".join(f"{o.spec.label} ({o.status})" for o in failed)
        raise CourseError(
            f"{len(failed)} runs did not finish: {named}; their output is above, and running "
            "the same command again retries them"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Check every option and config, calibrate what the plan lacks, train, report."""
    args = build_parser().parse_args(argv)
    if args.seeds < 1:
        raise CourseError(f"--seeds: must be a positive integer, got {args.seeds}")
    budget = budget_seconds(args)
    variants = select_variants(args.only)
    base = str(Path(args.base).resolve())
    folder = Path(args.out_dir).resolve() / (args.name or default_name(base, budget, args.quick))
    base_overrides = quick_overrides(_corpus_of(base), folder) if args.quick else ()
    configs = variant_configs(base, base_overrides, variants)
    first = next(iter(configs.values()))
    seeds = [first.run.seed + i for i in range(args.seeds)]
    machine = machine_description()
    plan = load_plan(folder)
    if plan is None:
        plan = Plan(base, tuple(base_overrides), budget, machine=machine)
    plan.check_same(base, base_overrides, budget)
    settings = calibration.QUICK if args.quick else calibration.FULL
    planned = planned_variants(plan, variants, configs, settings)
    print(format_plan(planned, len(seeds), budget))
    if args.dry_run:
        print("dry run: nothing trained, no plan.json written")
        return 0
    save_plan(plan, folder)
    outcomes = train_all(run_specs(planned, seeds, base, base_overrides, folder))
    report(plan, variants, folder, seeds, machine)
    return report_outcomes(outcomes)


def report(
    plan: Plan,
    variants: Sequence[Variant],
    folder: Path,
    seeds: Sequence[int],
    machine: dict[str, Any],
) -> None:
    """Write and print the table of the chosen variants (and the baseline), and the plot."""
    shown = [plan.variants[v.name] for v in VARIANTS if v in variants or _baseline_of(v, plan)]
    results = summarize(shown, folder, seeds)
    context: dict[str, Any] = {
        "name": folder.name,
        "base": plan.base,
        "base_overrides": list(plan.base_overrides),
        "budget_seconds": plan.budget_seconds,
        "seeds": list(seeds),
        "machine": machine,
        "load_average_start": machine.get("load_average"),
        "load_average_end": machine_description().get("load_average"),
        "calibration_load": plan.machine.get("load_average"),
    }
    md, js = write_results(folder, results, context)
    title = f"{folder.name}: equal training time per run"
    png = plot_ablation(results, folder, seeds, title, plan.budget_seconds)
    print(markdown(results, context))
    print(f"wrote {md}, {js} and {png}")


def _baseline_of(variant: Variant, plan: Plan) -> bool:
    """The baseline is shown with any selection, once the plan has it."""
    return variant.name == BASELINE and BASELINE in plan.variants


def _corpus_of(base: str) -> str:
    return load_config(base, sections=TRAIN_SECTIONS).data.corpus
