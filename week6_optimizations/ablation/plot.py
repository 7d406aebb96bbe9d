"""ablation.png: every run's validation bits per byte against its training seconds, and each
variant's final figure with its seeds' range.

Left: one colour per variant, one line per seed, the budget as a dashed line. At equal time
every curve ends near the budget, so the comparison is read at the right edge (a curve that ends
well past it stepped slower than its calibration); a variant whose curve is lower all along
learns faster per second, not only per step. The evaluation at step 0 (the untrained model, near
log2(vocab) / bytes per token) is left out, or it would squash every curve into the bottom of
the plot. Right: the final evaluation, the mean over seeds as a dot, the seeds' range as a bar,
the baseline's mean as a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from shared.atomic import atomic_write  # noqa: E402
from shared.runs import METRICS, read_metrics  # noqa: E402
from week6_optimizations.ablation.launch import run_name  # noqa: E402
from week6_optimizations.ablation.results import VariantResult, eval_curve  # noqa: E402
from week6_optimizations.ablation.variants import BASELINE  # noqa: E402

PLOT_FILE = "ablation.png"
LINE_STYLES = ("-", "--", ":", "-.")


def plot_ablation(
    results: Sequence[VariantResult],
    folder: Path,
    seeds: Sequence[int],
    title: str,
    budget_seconds: float | None = None,
) -> Path:
    """Draw `folder/ablation.png` from the run folders `folder/<variant>-s<seed>/`, with the
    budget as a vertical line when it is given."""
    figure, (curves, finals) = plt.subplots(
        1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [3, 2]}
    )
    for index, result in enumerate(results):
        colour = colour_of(index)
        for number, seed in enumerate(seeds):
            metrics = folder / run_name(result.name, seed) / METRICS
            if not metrics.is_file():
                continue
            points = [(s, b) for step, s, b in eval_curve(read_metrics(metrics)) if step > 0]
            if points:
                curves.plot(
                    *zip(*points, strict=True),
                    LINE_STYLES[number % len(LINE_STYLES)],
                    marker="o",
                    markersize=3,
                    color=colour,
                    label=result.name if number == 0 else None,
                )
    if budget_seconds is not None:
        curves.axvline(budget_seconds, color="grey", linestyle="--", linewidth=1, label="budget")
    curves.set_xlabel("training seconds (evaluations not counted)")
    curves.set_ylabel("validation bits per byte (lower is better)")
    curves.set_title(title)
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8, ncol=2)
    _draw_finals(finals, results)
    figure.tight_layout()
    target = folder / PLOT_FILE
    try:
        atomic_write(target, lambda handle: figure.savefig(handle, format="png", dpi=100))
    finally:
        plt.close(figure)
    return target


def colour_of(index: int) -> tuple[float, float, float, float]:
    """The dark shades of tab20's ten hues first, then the light ones: neighbours differ."""
    return plt.get_cmap("tab20")((2 * index + index // 10) % 20)


def _draw_finals(axis: Axes, results: Sequence[VariantResult]) -> None:
    """Mean and min-max of the final evaluation, one row per variant, the first at the top."""
    shown = [r for r in results if r.mean is not None]
    for row, result in enumerate(shown):
        colour = colour_of(results.index(result))
        assert result.mean is not None and result.low is not None and result.high is not None
        axis.plot([result.low, result.high], [row, row], color=colour, linewidth=3, alpha=0.5)
        axis.plot([result.mean], [row], "o", color=colour)
    baseline = next((r for r in shown if r.name == BASELINE), None)
    if baseline is not None and baseline.mean is not None:
        axis.axvline(baseline.mean, color="grey", linestyle="--", linewidth=1)
    axis.set_yticks(range(len(shown)), [r.name for r in shown])
    axis.invert_yaxis()
    axis.set_xlabel("final validation bits per byte: mean (dot), seeds' range (bar)")
    axis.grid(alpha=0.3, axis="x")
