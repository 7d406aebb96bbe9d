"""Loss and learning-rate curves from metrics.jsonl, as PNG files a person can open.

How to read them: the training loss (per step, noisy) should fall fast, then slowly; the
validation loss (per evaluation, exact) tracks it from above. Validation rising while training
still falls is overfitting: the model memorises the training text. A sudden jump in either
is instability (too high a learning rate, no clipping); a flat line from the start means no
learning at all (a learning rate far too small, or a bug in the targets).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from shared.atomic import atomic_write  # noqa: E402
from shared.runs import read_metrics  # noqa: E402


def curves(rows: list[dict]) -> dict[str, tuple[list[int], list[float]]]:
    """Split metrics rows into series: train loss, val loss, lr and val bits per byte by step."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for name, key in (
        ("train loss", "loss"),
        ("val loss", "val_loss"),
        ("lr", "lr"),
        ("val bits/byte", "val_bits_per_byte"),
    ):
        points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
        series[name] = ([s for s, _ in points], [v for _, v in points])
    return series


def plot_run(run_dir: str | Path) -> Path:
    """Draw `<run>/curves.png`: loss (train and validation) above, learning rate below."""
    run_dir = Path(run_dir)
    data = curves(read_metrics(run_dir / "metrics.jsonl"))
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot(*data["train loss"], label="train loss", alpha=0.6)
    top.plot(*data["val loss"], "o-", label="validation loss")
    top.set_ylabel("loss (nats per token)")
    top.set_title(run_dir.name)
    top.legend()
    top.grid(alpha=0.3)
    bottom.plot(*data["lr"], color="tab:green")
    bottom.set_ylabel("learning rate")
    bottom.set_xlabel("step")
    bottom.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, run_dir / "curves.png")


def plot_comparison(run_dirs: Sequence[str | Path], target: str | Path) -> Path:
    """Validation bits per byte of several runs on one axis: the fair cross-tokenizer comparison."""
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        steps, values = curves(read_metrics(run_dir / "metrics.jsonl"))["val bits/byte"]
        axis.plot(steps, values, "o-", label=run_dir.name)
    axis.set_xlabel("step")
    axis.set_ylabel("validation bits per byte")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return _save(figure, Path(target))


def _save(figure: Figure, target: Path) -> Path:
    """Write the PNG atomically: a full disk or a read-only folder is one line naming `target`,
    and never leaves half a picture behind."""
    try:
        atomic_write(target, lambda handle: figure.savefig(handle, format="png", dpi=100))
    finally:
        plt.close(figure)
    return target
