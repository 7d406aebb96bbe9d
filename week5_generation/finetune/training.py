"""Fine-tuning is week 4's training loop with three parts swapped: what it starts from, what it
trains on, and what it is judged by.

    week 4 (make train)                       fine-tuning (make finetune)
    random weights                            the base model's, grown by the template's tokens
    random windows of the corpus              whole examples, loss on the answers only
    bits per byte of the validation text      loss on the held-out answers

Everything else is the loop's own and unchanged: AdamW and its schedule, AMP, accumulation,
clipping, checkpoint.pt and last.pt, metrics.jsonl, the plot, Ctrl-C and an exact resume. The
three swaps are a `Trainer` whose `_prepare` hands the loop this run's tokenizer, examples and
sampler (`FineTuner`) and a PyTorch backend that starts from the base weights, evaluates the
held-out answers and writes answers as samples.txt (`FineTuneBackend`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from shared.device import seed_everything
from week4_training.backend import RunSetup, SavedState
from week4_training.checkpoint import check_tokenizer, load_model_state
from week4_training.evaluate import EvalResult
from week4_training.schedule import schedule_warnings
from week4_training.torch_backend import PyTorch, TorchBackend
from week4_training.trainer import Trainer
from week5_generation.finetune.chat import answer, split_last_answer
from week5_generation.finetune.evaluate import completion_loss
from week5_generation.finetune.examples import ExampleData, ExampleSampler

if TYPE_CHECKING:
    from shared.config import Config
    from week2_tokenizer import Tokenizer
    from week3_model import GPT

SAMPLE_ANSWERS = 3  # held-out examples answered in samples.txt


class FineTuneBackend(TorchBackend):
    """Week 4's PyTorch backend, started from `start`'s weights and judged on held-out answers."""

    def __init__(self, setup: RunSetup, saved: SavedState | None, start: GPT | None) -> None:
        super().__init__(setup, saved)
        if saved is None and start is not None:  # a resume has its own weights in last.pt
            load_model_state(self.model, start.state_dict(), "the base model")

    @property
    def examples(self) -> ExampleData:
        data = self.setup.data
        assert isinstance(data, ExampleData)
        return data

    def describe(self) -> str:
        data, cfg = self.examples, self.setup.cfg
        return (
            f"fine-tuning {cfg.finetune.base} into {self.setup.run_dir}: "
            f"{self.model.num_parameters() / 1e6:.2f}M parameters, device {self.device}, "
            f"dtype {cfg.train.dtype}, tokenizer vocab {self.setup.tokenizer.vocab_size}, "
            f"{len(data.train_examples):,} training examples ({len(data.train.tokens):,} tokens), "
            f"{len(data.val_examples):,} held out"
        )

    def evaluate(self, max_windows: int | None = None) -> EvalResult:
        """The held-out answers' loss, always all of them (train.eval_iters does not apply)."""
        cfg = self.setup.cfg
        return completion_loss(
            self.eval_model,
            self.examples.val_examples,
            batch_size=cfg.train.batch_size,
            device=self.device,
            dtype=cfg.train.dtype,
        )

    def draw_samples(self, step: int, n_tokens: int) -> str:
        """The best model's greedy answers to the first held-out examples, and the expected ones."""
        model, best_step, source = self._best_model(step)
        gpt = cast("GPT", model)  # a copy of this backend's GPT
        lines = [f"# step {best_step} ({source}): greedy answers to held-out examples"]
        for conversation in self.examples.val_conversations[:SAMPLE_ANSWERS]:
            question, expected = split_last_answer(list(conversation.messages))
            reply = answer(gpt, self.setup.tokenizer, question, max_new_tokens=n_tokens)
            lines += ["", f"## line {conversation.line}"]
            lines += [f"{m.role}: {m.content}" for m in question]
            lines += [f"model: {reply}", f"expected: {expected}"]
        return "\n".join(lines) + "\n"


@dataclass
class FineTuning(PyTorch):
    """The framework of a fine-tuning run: PyTorch, building a `FineTuneBackend`."""

    start: GPT | None = None

    def build(self, setup: RunSetup, saved: SavedState | None) -> FineTuneBackend:
        return FineTuneBackend(setup, saved, self.start)


class FineTuner(Trainer):
    """Week 4's loop over examples: `_prepare` gives it this run's tokenizer, data and batches."""

    def __init__(
        self,
        cfg: Config,
        *,
        tokenizer: Tokenizer,
        data: ExampleData,
        start: GPT | None,
        **options: Any,
    ) -> None:
        self.tokenizer, self.data = tokenizer, data
        super().__init__(cfg, framework=FineTuning(start), **options)

    def resume_hint(self) -> str:
        return f"make finetune RESUME={self.run_dir}"

    def _prepare(self, cfg: Config, saved: SavedState | None, progress: bool) -> RunSetup:
        seed_everything(cfg.run.seed)
        for warning in schedule_warnings(cfg.train):
            self.log(f"warning: {warning}")
        if saved is not None:
            check_tokenizer(saved.record, self.tokenizer, saved.path)
        pad = self.tokenizer.eot_id or 0
        sampler = ExampleSampler(
            self.data.train_examples,
            cfg.train.batch_size,
            cfg.run.seed,
            rank=self.parallel.rank,
            pad_id=pad,
        )
        return RunSetup(
            cfg, Path(self.run_dir), self.tokenizer, self.data, sampler, self.parallel, progress
        )
