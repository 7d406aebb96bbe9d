"""Week 4: training a GPT: data, AdamW, schedule, mixed precision, evaluation, checkpoints.

config.py      TrainConfig, the `train` section of a run config
data.py        corpus -> cached token memmaps; seeded training batches
schedule.py    linear warmup, then cosine decay
optim.py       AdamW with decay / no-decay parameter groups
step.py        one optimizer step: accumulation, GradScaler, clipping
evaluate.py    exact validation loss, perplexity, bits per byte over the whole split
checkpoint.py  atomic checkpoints, load_checkpoint / latest_run for week 5
trainer.py     the loop: eval, checkpoint, step, log, resume, Ctrl-C (for every framework)
backend.py     what a framework supplies to the loop;  torch_backend.py  PyTorch's
resume.py      what a resume must agree with
sample.py      a tiny sampler for samples.txt;  plot.py  loss and lr curves
cli.py         python -m week4_training train|eval|plot
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week4_training.checkpoint import LoadedCheckpoint, latest_run, load_checkpoint
from week4_training.config import TrainConfig
from week4_training.data import BatchSampler, TokenSplit, encode_split, load_token_data
from week4_training.evaluate import EvalResult, evaluate
from week4_training.schedule import learning_rate

__all__ = [
    "BatchSampler",
    "EvalResult",
    "LoadedCheckpoint",
    "TokenSplit",
    "TrainConfig",
    "encode_split",
    "evaluate",
    "latest_run",
    "learning_rate",
    "load_checkpoint",
    "load_token_data",
]
