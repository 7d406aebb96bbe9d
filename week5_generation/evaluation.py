"""The evaluation harness behind `make evaluate`: numbers and samples that compare runs fairly.

For each checkpoint:
1. validation loss, perplexity and bits per byte on the *whole* validation split (week 4's
   exact `evaluate`), the split encoded with the checkpoint's own tokenizer, with the run's own
   batch size and dtype: the figures are `make eval`'s, digit for digit;
2. samples for the fixed prompts in prompts.txt, each with the fixed seeds, all with the same
   sampling settings (EVAL_PLAN, not the run's own), so two runs are sampled alike;
3. sample statistics over the generated tokens (stats.py): distinct-1, distinct-2, repetition
   rate, mean length.

Each run gets `evaluation.md` in its folder; the command prints a table with a row per run.
Bits per byte is the column to compare: it does not depend on the tokenizer. Progress bars on
stderr show the samples as they are drawn, and (week 4's) the validation batches of a walk that
takes more than a few seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from shared.atomic import atomic_write_text
from shared.data import corpus_path, read_text
from shared.errors import CourseError
from week1_setup.split import split_text
from week5_generation.generate import generate
from week5_generation.loading import SamplingSource
from week5_generation.sampling import SamplingSettings, make_generator
from week5_generation.session import prompt_ids
from week5_generation.stats import sample_statistics

if TYPE_CHECKING:
    from week4_training.data import TokenSplit

PROMPTS_FILE = Path(__file__).with_name("prompts.txt")
REPORT_NAME = "evaluation.md"


@dataclass(frozen=True)
class SamplingPlan:
    """How every model is sampled: each prompt once per seed, each sample from a fresh generator
    with that seed, all with the same settings and length."""

    max_new_tokens: int = 100
    settings: SamplingSettings = SamplingSettings(temperature=0.8, top_k=None, top_p=0.95)
    seeds: tuple[int, ...] = (1, 2)


EVAL_PLAN = SamplingPlan()  # what `make evaluate` uses for every run


def read_prompts(path: str | Path = PROMPTS_FILE) -> list[str]:
    """One prompt per line; `\\n` in a line stands for a line break; `#` lines are comments."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: prompt file not found")
    prompts = [
        line.replace("\\n", "\n")
        for line in read_text(path).splitlines()  # not UTF-8: one line naming the byte offset
        if line.strip() and not line.startswith("#")
    ]
    if not prompts:
        raise CourseError(f"{path}: holds no prompts (one per line)")
    return prompts


@dataclass
class Sample:
    prompt: str
    seed: int
    tokens: list[int]
    text: str


@dataclass
class Evaluation:
    """Everything the report shows for one checkpoint."""

    name: str
    step: int | None
    loss: float
    perplexity: float
    bits_per_byte: float
    n_tokens: int
    n_bytes: int
    dtype: str
    plan: SamplingPlan
    samples: list[Sample]
    statistics: dict[str, float]
    report: Path | None = None


def validation_split(source: SamplingSource, corpus: str | None = None) -> TokenSplit:
    """The validation text of `corpus` (default: the run's own data.corpus) as week 4 evaluates
    it: [eot] + its tokens, with its UTF-8 byte count."""
    from week4_training.data import encode_split

    corpus = source.config.data.corpus if corpus is None else corpus
    _, val_text = split_text(read_text(corpus_path(corpus)))
    return encode_split(source.tokenizer, val_text)


def draw_samples(
    source: SamplingSource, prompts: Sequence[str], plan: SamplingPlan
) -> list[Sample]:
    """A sample per (prompt, seed) of `plan`, each from a fresh generator with that seed."""
    samples = []
    block_size = source.model.config.block_size
    eot = source.tokenizer.eot_id
    total = len(prompts) * len(plan.seeds)
    with tqdm(total=total, desc="samples", unit="sample", leave=False) as bar:
        for prompt in prompts:
            ids = prompt_ids(source.tokenizer, prompt, block_size)
            for seed in plan.seeds:
                tokens = list(
                    generate(
                        source.model,
                        ids,
                        plan.max_new_tokens,
                        plan.settings,
                        generator=make_generator(seed),
                        stop_ids=() if eot is None else (eot,),
                    )
                )
                samples.append(Sample(prompt, seed, tokens, source.tokenizer.decode(tokens)))
                bar.update(1)
    return samples


def evaluate_source(
    source: SamplingSource,
    prompts: Sequence[str],
    device: torch.device,
    *,
    plan: SamplingPlan | None = None,
    corpus: str | None = None,
) -> Evaluation:
    """Validation figures, samples (EVAL_PLAN unless `plan` is given) and sample statistics of
    one model; `corpus` replaces the run's own corpus (to compare models on one text, e.g. GPT-2
    and a course run).

    The validation walk is week 4's, with the run's own batch size and autocast dtype (a run
    trained in bfloat16 was evaluated in bfloat16 while it trained, and by `make eval`).
    """
    from week4_training.evaluate import evaluate

    plan = EVAL_PLAN if plan is None else plan
    train = source.config.train
    result = evaluate(
        source.model,
        validation_split(source, corpus),
        block_size=source.model.config.block_size,
        batch_size=train.batch_size,
        device=device,
        dtype=train.dtype,
        progress=True,
    )
    samples = draw_samples(source, prompts, plan)
    return Evaluation(
        name=source.name,
        step=source.step,
        loss=result.loss,
        perplexity=result.perplexity,
        bits_per_byte=result.bits_per_byte,
        n_tokens=result.n_tokens,
        n_bytes=result.n_bytes,
        dtype=train.dtype,
        plan=plan,
        samples=samples,
        statistics=sample_statistics([s.tokens for s in samples]),
    )


TABLE_COLUMNS = (
    "run", "step", "val loss", "perplexity", "bits/byte",
    "distinct-1", "distinct-2", "repetition", "mean length",
)  # fmt: skip


def table_row(evaluation: Evaluation) -> list[str]:
    stats = evaluation.statistics
    return [
        evaluation.name,
        "-" if evaluation.step is None else str(evaluation.step),
        f"{evaluation.loss:.4f}",
        f"{evaluation.perplexity:.2f}",
        f"{evaluation.bits_per_byte:.4f}",
        f"{stats['distinct_1']:.3f}",
        f"{stats['distinct_2']:.3f}",
        f"{stats['repetition']:.3f}",
        f"{stats['mean_length']:.1f}",
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table with columns padded to line up in a terminal too."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    lines = [header, ["-" * w for w in widths], *rows]
    return "\n".join(
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    )


def comparison_table(evaluations: Sequence[Evaluation]) -> str:
    """One row per run: the side-by-side view `make evaluate` prints."""
    return markdown_table(TABLE_COLUMNS, [table_row(e) for e in evaluations])


def quote(text: str) -> str:
    """Text as a markdown block quote, line breaks kept."""
    return "\n".join("> " + line for line in text.split("\n"))


def render_report(evaluation: Evaluation) -> str:
    """The markdown of evaluation.md."""
    stats = evaluation.statistics
    plan, settings = evaluation.plan, evaluation.plan.settings
    parts = [
        f"# Evaluation of {evaluation.name}",
        "",
        "## Validation split (every token, week 4's exact evaluation)",
        "",
        markdown_table(
            ["metric", "value"],
            [
                ["step", "-" if evaluation.step is None else str(evaluation.step)],
                ["loss (nats per token)", f"{evaluation.loss:.4f}"],
                ["perplexity", f"{evaluation.perplexity:.2f}"],
                ["bits per byte", f"{evaluation.bits_per_byte:.4f}"],
                ["tokens evaluated", str(evaluation.n_tokens)],
                ["bytes of text", str(evaluation.n_bytes)],
                ["dtype (autocast)", evaluation.dtype],
            ],
        ),
        "",
        "## Sample statistics (generated tokens only)",
        "",
        markdown_table(
            ["statistic", "value"],
            [
                ["distinct-1", f"{stats['distinct_1']:.3f}"],
                ["distinct-2", f"{stats['distinct_2']:.3f}"],
                ["repetition rate (repeated 4-grams)", f"{stats['repetition']:.3f}"],
                ["mean length (tokens)", f"{stats['mean_length']:.1f}"],
            ],
        ),
        "",
        "## Samples",
        "",
        f"Settings: max_new_tokens={plan.max_new_tokens}, temperature={settings.temperature}, "
        f"top_k={settings.top_k}, top_p={settings.top_p}; seeds {', '.join(map(str, plan.seeds))}.",
    ]
    for sample in evaluation.samples:
        parts += [
            "",
            f"### Prompt {sample.prompt.strip()!r}, seed {sample.seed}",
            "",
            quote(sample.prompt + sample.text),
        ]
    return "\n".join(parts) + "\n"


def write_report(evaluation: Evaluation, run_dir: Path) -> Path:
    """Write `run_dir/evaluation.md` atomically and return its path."""
    path = Path(run_dir) / REPORT_NAME
    atomic_write_text(path, render_report(evaluation))
    evaluation.report = path
    return path
