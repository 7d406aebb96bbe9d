"""Week 6, part 7: which of the modern blocks pay for themselves on a laptop CPU? (make ablate)

    for every variant (a list of config overrides):      calibrate: seconds per step, measured
        max_iters = floor(budget / seconds per step)      the same seconds for every variant
    for every seed, for every variant:                    python -m week4_training train ...
        runs/ablation/<name>/<variant>-s<seed>/           a week 4 run folder; finished: skipped
    results.md, results.json, ablation.png                mean and min-max over seeds, vs baseline

A change to the model is worth having at a fixed budget only if what it buys per step outweighs
what it costs per step, so the variants are compared at equal training time, not equal steps.
Each is trained with several seeds, because two runs that differ only in their seed already
differ in their last digits, and a difference smaller than that is noise.

variants.py   the variants as data: baseline, each change alone, the modern stack; --only
budget.py     equal time: max_iters from the step time, the schedule that follows it, plan.json
calibrate.py  seconds per step of each variant: week 4's Trainer, warm-up, interleaved rounds
launch.py     one training process per (variant, seed), resumable: finished runs are skipped
results.py    the table: final exact bits per byte, mean, spread over seeds, vs baseline
plot.py       ablation.png: bits per byte against training seconds, and the finals with ranges
quick.py      --quick: a tiny model on a slice of the corpus, seconds per run (for tests)
cli.py        the command: python -m week6_optimizations.ablation [--minutes 5] [--seeds 2]
              [--only VARIANT ...] [--base configs/tiny.yaml] [--name NAME] [--dry-run] [--quick]

The lesson is section 7 of week 6's README.
"""

from week6_optimizations.ablation.variants import BASELINE, VARIANTS, Variant, select_variants

__all__ = ["BASELINE", "VARIANTS", "Variant", "select_variants"]
