"""Activation checkpointing (`train.activation_checkpointing`): the same numbers, less kept."""

import copy

import pytest
import torch
import yaml
from torch.utils.checkpoint import checkpoint

from shared.config import ConfigError, config_from_dict
from shared.runs import read_metrics
from week3_model import GPT, GPTConfig
from week4_training.checkpoint import read_checkpoint
from week4_training.checkpointing import checkpoint_blocks
from week4_training.trainer import Trainer

MEASURED = ("tokens_per_s", "train_seconds")  # wall-clock figures: never identical


def deterministic_rows(run_dir) -> list[dict]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


def tiny_gpt(dropout: float = 0.0, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(
        vocab_size=50, block_size=16, n_layer=3, n_head=2, n_embd=16, dropout=dropout
    )
    return GPT(config).train()


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    window = torch.randint(50, (4, 17), generator=torch.Generator().manual_seed(seed))
    return window[:, :-1], window[:, 1:]


def loss_and_grads(model: GPT, seed: int = 7) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One forward and backward with the random state at `seed` (dropout's masks)."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    _, loss = model(*batch())
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def plain_and_checkpointed(dropout: float) -> tuple[GPT, GPT]:
    plain = tiny_gpt(dropout)
    recomputed = copy.deepcopy(plain)
    assert checkpoint_blocks(recomputed) == 3
    return plain, recomputed


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_the_loss_and_every_gradient_are_those_of_the_plain_model(dropout):
    plain, recomputed = plain_and_checkpointed(dropout)
    loss, grads = loss_and_grads(plain)
    checkpointed_loss, checkpointed_grads = loss_and_grads(recomputed)
    torch.testing.assert_close(checkpointed_loss, loss, rtol=1e-6, atol=1e-7)
    assert checkpointed_grads.keys() == grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(checkpointed_grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)


def test_without_the_saved_random_state_dropout_would_change_the_gradients():
    """Why `preserve_rng_state` must stay on: a recomputation that draws fresh dropout masks
    differentiates another function than the one whose loss was computed."""
    plain = tiny_gpt(dropout=0.2)
    loss, grads = loss_and_grads(plain)
    careless = copy.deepcopy(plain)
    for block in careless.blocks:
        original = block.forward

        def fresh_masks(x, original=original):
            return checkpoint(original, x, use_reentrant=False, preserve_rng_state=False)

        block.forward = fresh_masks
    careless_loss, careless_grads = loss_and_grads(careless)
    torch.testing.assert_close(careless_loss, loss)  # the forward pass is the same ...
    blocks = [name for name in grads if name.startswith("blocks.")]
    differ = [n for n in blocks if not torch.allclose(careless_grads[n], grads[n], atol=1e-6)]
    assert len(differ) > len(blocks) // 2  # ... its gradients are not


def attention_calls_per_step(model: GPT) -> int:
    """How often the Blocks' attention runs in one forward and backward. (Attention, not the
    MLP: the recomputation stops early, once it has rebuilt what backward needs, which is
    inside the MLP's last layer, before its forward hook would fire.)"""
    calls = []
    hooks = [b.attn.register_forward_hook(lambda *_: calls.append(1)) for b in model.blocks]
    loss_and_grads(model)
    for hook in hooks:
        hook.remove()
    return len(calls)


def saved_bytes(model: GPT) -> int:
    """Bytes that autograd keeps for backward during one forward pass (outside checkpoints)."""
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(*batch())
    return sum(saved)


def test_each_block_runs_twice_and_keeps_far_fewer_tensors_for_backward():
    plain, recomputed = plain_and_checkpointed(dropout=0.0)
    assert attention_calls_per_step(plain) == 3
    assert attention_calls_per_step(recomputed) == 6  # forward, then again in backward
    assert saved_bytes(recomputed) < saved_bytes(plain) / 4  # measured: 6.4x fewer bytes


def test_names_state_dict_and_evaluation_are_unchanged():
    plain, recomputed = plain_and_checkpointed(dropout=0.2)
    assert list(recomputed.state_dict()) == list(plain.state_dict())
    recomputed.load_state_dict(plain.state_dict())  # loads either way
    x, y = batch()
    plain.eval()
    recomputed.eval()
    with torch.no_grad():
        torch.testing.assert_close(recomputed(x, y)[0], plain(x, y)[0], rtol=0, atol=0)


def test_a_deep_copy_recomputes_with_its_own_weights():
    """The trainer samples from a deep copy holding checkpoint.pt's weights."""
    _, recomputed = plain_and_checkpointed(dropout=0.0)
    duplicate = copy.deepcopy(recomputed)
    with torch.no_grad():
        for parameter in duplicate.blocks.parameters():
            parameter.mul_(2.0)
    reference = tiny_gpt()
    reference.load_state_dict(duplicate.state_dict())
    _, grads = loss_and_grads(duplicate)
    _, reference_grads = loss_and_grads(reference)
    for name, grad in reference_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-5, atol=1e-7, msg=name)
    assert recomputed.blocks[0].attn.c_attn.weight.grad is None  # the original was not touched


def test_the_option_round_trips_through_the_config_and_is_checked():
    cfg = config_from_dict({}, ["train.activation_checkpointing=true"], sections=["train"])
    assert cfg.train.activation_checkpointing is True
    again = config_from_dict(yaml.safe_load(cfg.to_yaml()))
    assert again.train.activation_checkpointing is True
    assert config_from_dict({}, sections=["train"]).train.activation_checkpointing is False
    with pytest.raises(ConfigError, match=r"^train.activation_checkpointing: must be true or"):
        config_from_dict({}, ["train.activation_checkpointing=sometimes"], sections=["train"])


@pytest.mark.task("4.1", "4.2", "4.3", "4.4", "4.5", "4.6")
def test_a_run_with_it_trains_to_the_plain_runs_numbers(config_factory):
    common = ("model.dropout=0.1", "model.n_layer=2", "train.grad_accum_steps=2")
    runs, trainers = {}, {}
    for on in (False, True):
        cfg = config_factory(*common, f"run.name=ckpt-{on}", f"train.activation_checkpointing={on}")
        trainers[on] = Trainer(cfg, progress=False, log=lambda _: None)
        runs[on] = trainers[on].run().run_dir
    assert attention_calls_per_step(trainers[True].backend.model) == 2 * 2  # it recomputed
    assert attention_calls_per_step(trainers[False].backend.model) == 2
    rows = {on: deterministic_rows(run_dir) for on, run_dir in runs.items()}
    evals = [r["val_loss"] for r in rows[True] if "val_loss" in r]
    assert evals[-1] < evals[0]  # it learned
    assert len(rows[True]) == len(rows[False])
    for checkpointed, plain in zip(rows[True], rows[False], strict=True):
        assert checkpointed.keys() == plain.keys()
        for key, value in plain.items():
            assert checkpointed[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    saved = read_checkpoint(runs[True] / "checkpoint.pt")
    assert saved["config"]["train"]["activation_checkpointing"] is True
    assert list(saved["model"]) == list(read_checkpoint(runs[False] / "checkpoint.pt")["model"])
