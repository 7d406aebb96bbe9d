"""Did fine-tuning teach the task? Speaker attribution on held-out speeches, three ways.

    fine-tuned, answering   the reply it writes (greedy) to "Who says this?\\n\\n<speech>"
    fine-tuned, choosing    the label whose answer it finds most likely, label + <|end|>
    base, choosing          the label L for which "L:\\n<speech>" is most likely, the corpus's
                            own format: what a model that only continues text can be asked
    majority                always the most frequent training label

Choosing among the labels is a fair way to ask the base model, which has never seen the
question: it knows that a name line comes before a speech, so the probability it gives
"PETRUCHIO:\\n<speech>" is its belief that Petruchio says it (times its prior for the name).
Answering is harder than choosing: the reply must be a label, spelled exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from shared.device import pick_device
from shared.errors import CourseError
from week5_generation.finetune.chat import answer
from week5_generation.finetune.jsonl import read_conversations
from week5_generation.finetune.speakers import QUESTION, TRAIN_FILE, majority_baseline
from week5_generation.finetune.template import END, Message, reply_prompt
from week5_generation.loading import load_run

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week3_model import GPT


@torch.inference_mode()
def continuation_logprobs(
    model: GPT, sequences: Sequence[list[int]], starts: Sequence[int]
) -> list[float]:
    """For each sequence, the summed log-probability of its ids from index `start` on."""
    # BEGIN TASK 5.11 [Fine-tuning]: sum log p(id | ids before it) over each sequence's tail
    width = max(len(s) for s in sequences) - 1
    x = torch.zeros(len(sequences), width, dtype=torch.int64)
    y = torch.full((len(sequences), width), -1, dtype=torch.int64)
    for row, (ids, start) in enumerate(zip(sequences, starts, strict=True)):
        tensor = torch.tensor(ids)
        x[row, : len(ids) - 1] = tensor[:-1]
        y[row, start - 1 : len(ids) - 1] = tensor[start:]
    device = next(model.parameters()).device
    logits, _ = model(x.to(device))
    nats = F.cross_entropy(
        logits.float().transpose(1, 2), y.to(device), ignore_index=-1, reduction="none"
    )
    return (-nats.sum(dim=1)).tolist()
    # END TASK 5.11


def base_choice(model: GPT, tokenizer: Tokenizer, speech: str, labels: Sequence[str]) -> str:
    """The label L that makes "L:\\n<speech>" most likely under a text-continuing model.

    Every label is scored on the same speech tokens: a speech too long for the context is cut
    at its end by as much as the longest label needs.
    """
    start = [] if tokenizer.eot_id is None else [tokenizer.eot_id]
    names = [tokenizer.encode(f"{label}:\n", allowed_special="none") for label in labels]
    room = model.config.block_size + 1 - len(start) - max(len(n) for n in names)
    if room < 1:
        raise CourseError(f"the labels are too long for a context of {model.config.block_size}")
    said = tokenizer.encode(speech, allowed_special="none")[:room]
    sequences = [start + name + said for name in names]
    scores = continuation_logprobs(model, sequences, [max(len(start), 1)] * len(labels))
    return labels[max(range(len(labels)), key=scores.__getitem__)]


def tuned_choice(model: GPT, tokenizer: Tokenizer, prompt: str, labels: Sequence[str]) -> str:
    """The label whose answer (label, then <|end|>) the fine-tuned model finds most likely."""
    context = reply_prompt(tokenizer, [Message("user", prompt)])
    end = tokenizer.special_tokens[END]
    sequences = [
        context + tokenizer.encode(label, allowed_special="none") + [end] for label in labels
    ]
    if max(len(s) for s in sequences) > model.config.block_size + 1:
        keep = model.config.block_size + 1 - (max(len(s) for s in sequences) - len(context))
        sequences = [context[-keep:] + s[len(context) :] for s in sequences]
        context = context[-keep:]
    scores = continuation_logprobs(model, sequences, [len(context)] * len(labels))
    return labels[max(range(len(labels)), key=scores.__getitem__)]


@dataclass(frozen=True)
class Score:
    """How many held-out examples a method got right."""

    method: str
    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total


def attribution_scores(
    base: GPT,
    base_tokenizer: Tokenizer,
    tuned: GPT,
    tuned_tokenizer: Tokenizer,
    examples: Sequence[tuple[str, str]],
    train_labels: Sequence[str],
) -> list[Score]:
    """The four methods' scores on (prompt, speaker) pairs; labels are the training labels."""
    labels = sorted(set(train_labels))
    truth = [speaker for _, speaker in examples]
    answered = [
        answer(tuned, tuned_tokenizer, [Message("user", p)], max_new_tokens=16).strip()
        for p, _ in examples
    ]
    chosen = [tuned_choice(tuned, tuned_tokenizer, p, labels) for p, _ in examples]
    speeches = [p.removeprefix(QUESTION) for p, _ in examples]
    base_chosen = [base_choice(base, base_tokenizer, s, labels) for s in speeches]
    label, majority = majority_baseline(train_labels, truth)
    n = len(truth)

    def right(guesses: Sequence[str]) -> int:
        return sum(g == t for g, t in zip(guesses, truth, strict=True))

    return [
        Score("fine-tuned, answering (greedy)", right(answered), n),
        Score("fine-tuned, choosing a label", right(chosen), n),
        Score("base, choosing a label", right(base_chosen), n),
        Score(f"majority (always {label})", round(majority * n), n),
    ]


def accuracy_command(base_run: str, tuned_run: str, held_out: Path, device: str = "auto") -> int:
    """`make sft-eval`: the table of `attribution_scores` for two runs and a held-out file."""
    train_file = held_out.parent / TRAIN_FILE
    if not train_file.is_file():
        raise CourseError(
            f"{train_file}: not found; make sft-data writes it beside {held_out.name}"
        )
    chosen = pick_device(device)
    base, tuned = load_run(base_run, chosen), load_run(tuned_run, chosen)
    examples = [
        (c.messages[0].content, c.messages[-1].content) for c in read_conversations(held_out)
    ]
    train_labels = [c.messages[-1].content for c in read_conversations(train_file)]
    scores = attribution_scores(
        base.model, base.tokenizer, tuned.model, tuned.tokenizer, examples, train_labels
    )
    print(f"speaker attribution on {held_out} ({len(examples)} held-out speeches)")
    print(f"{'method':<34} {'accuracy':>8} {'correct':>9}")
    for score in scores:
        print(f"{score.method:<34} {score.accuracy:>8.1%} {score.correct:>4}/{score.total}")
    return 0
