import pytest
import torch

from shared.config import ConfigError, config_from_dict
from shared.runs import read_metrics
from week3_model import GPT, GPTConfig
from week4_training import torch_backend
from week4_training.checkpoint import read_checkpoint
from week4_training.config import TrainConfig
from week4_training.optim import (
    OPTIMIZER,
    build_adamw,
    build_optimizer,
    make_optimizer,
    parameter_groups,
    set_learning_rate,
)
from week4_training.schedule import learning_rate
from week4_training.trainer import Trainer


def tiny_gpt(**changes) -> GPT:
    shape = dict(vocab_size=40, block_size=8, n_layer=2, n_head=2, n_embd=16) | changes
    return GPT(GPTConfig(**shape))


@pytest.mark.task("4.3")
def test_decay_group_holds_exactly_the_matrices():
    model = tiny_gpt()
    decay, no_decay = parameter_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decay_names = {names[id(p)] for p in decay["params"]}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    expected_decay = {n for n, p in model.named_parameters() if p.dim() >= 2}
    assert decay_names == expected_decay
    assert all(n.endswith(("bias", ".weight")) for n in no_decay_names)
    assert all("ln" in n or n.endswith("bias") for n in no_decay_names)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    # every parameter exactly once; the tied LM head is the token embedding
    total = len(decay["params"]) + len(no_decay["params"])
    assert total == len(list(model.parameters()))
    assert "token_embedding.weight" in decay_names and "lm_head.weight" not in decay_names


@pytest.mark.task("4.3")
def test_untied_head_is_decayed_too():
    model = tiny_gpt(tie_weights=False)
    decay, _ = parameter_groups(model, 0.1)
    assert any(p is model.lm_head.weight for p in decay["params"])


@pytest.mark.task("4.3")
def test_optimizer_groups_and_learning_rate():
    model = tiny_gpt()
    optimizer = make_optimizer(
        model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.95), device=torch.device("cpu")
    )
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]
    set_learning_rate(optimizer, 5e-4)
    assert all(g["lr"] == 5e-4 for g in optimizer.param_groups)
    assert optimizer.param_groups[0]["betas"] == (0.9, 0.95)


@pytest.mark.task("4.3")
def test_weight_decay_shrinks_matrices_but_not_norms():
    model = tiny_gpt()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer = make_optimizer(
        model, lr=0.1, weight_decay=0.5, betas=(0.9, 0.95), device=torch.device("cpu")
    )
    before_w = model.blocks[0].mlp.c_fc.weight.detach().clone()
    before_ln = model.ln_f.weight.detach().clone()
    optimizer.step()
    assert torch.allclose(model.blocks[0].mlp.c_fc.weight, before_w * (1 - 0.1 * 0.5))
    assert torch.equal(model.ln_f.weight, before_ln)


# ----------------------------------------------------------------------------- train.optimizer

CPU = torch.device("cpu")
MEASURED = ("tokens_per_s", "train_seconds")


def train_section(*overrides: str):
    values = {"tokenizer": {"kind": "bytes"}}
    return config_from_dict(values, list(overrides), sections=("tokenizer", "train")).train


def test_the_default_optimizer_is_week_4s_adamw_entry():
    assert TrainConfig().optimizer == "adamw"
    assert OPTIMIZER.get("adamw") is build_adamw


@pytest.mark.task("4.3")
def test_the_adamw_entry_builds_the_two_groups_fused():
    model = tiny_gpt()
    optimizer = build_optimizer(model, train_section("train.beta2=0.95"), CPU)
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"]
    expected = parameter_groups(model, 0.1)
    for group, want in zip(optimizer.param_groups, expected, strict=True):
        assert [id(p) for p in group["params"]] == [id(p) for p in want["params"]]
        assert group["weight_decay"] == want["weight_decay"] and group["lr_scale"] == 1.0
        assert group["lr"] == 1e-3 and group["betas"] == (0.9, 0.95)


def todays_adamw(model, train, device):
    """The optimizer as week 4 built it before the OPTIMIZER table: no lr_scale anywhere."""
    groups = parameter_groups(model, train.weight_decay)
    betas = (train.beta1, train.beta2)
    return torch.optim.AdamW(groups, lr=train.lr, betas=betas, fused=True)


def todays_set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


@pytest.mark.task("4.1", "4.2", "4.3", "4.4", "4.5", "4.6")
def test_the_adamw_entry_trains_bit_for_bit_as_the_optimizer_built_directly(
    config_factory, monkeypatch
):
    entry = Trainer(config_factory("run.name=entry"), progress=False, log=lambda _: None).run()
    monkeypatch.setitem(OPTIMIZER._entries, "adamw", todays_adamw)
    monkeypatch.setattr(torch_backend, "set_learning_rate", todays_set_learning_rate)
    direct = Trainer(config_factory("run.name=direct"), progress=False, log=lambda _: None).run()
    rows = [
        [{k: v for k, v in row.items() if k not in MEASURED} for row in read_metrics(path)]
        for path in (entry.run_dir / "metrics.jsonl", direct.run_dir / "metrics.jsonl")
    ]
    assert rows[0] == rows[1]
    ends = [read_checkpoint(r.run_dir / "last.pt", resume=True) for r in (entry, direct)]
    for key, tensor in ends[0]["model"].items():
        assert torch.equal(tensor, ends[1]["model"][key]), key
    for index, state in ends[0]["optimizer"]["state"].items():
        assert all(
            torch.equal(v, ends[1]["optimizer"]["state"][index][k]) for k, v in state.items()
        )


@pytest.mark.task("4.2")
def test_each_group_gets_the_scheduled_rate_times_its_lr_scale():
    weights = [torch.zeros(2, requires_grad=True) for _ in range(3)]
    optimizer = torch.optim.SGD(
        [
            {"params": [weights[0]], "lr_scale": 1.0},
            {"params": [weights[1]], "lr_scale": 20.0},
            {"params": [weights[2]]},  # no lr_scale: the scheduled rate itself
        ],
        lr=1e-3,
    )
    for step in range(12):
        lr = learning_rate(step, lr=1e-3, min_lr=1e-4, warmup_iters=3, lr_decay_iters=10)
        set_learning_rate(optimizer, lr)
        assert [g["lr"] for g in optimizer.param_groups] == [lr, lr * 20.0, lr]


@pytest.mark.task("4.3")
def test_an_adamw_state_saved_without_lr_scale_still_follows_the_schedule():
    model = tiny_gpt()
    saved = make_optimizer(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device=CPU)
    state = saved.state_dict()
    for group in state["param_groups"]:
        del group["lr_scale"]  # a last.pt written before the groups had one
    optimizer = make_optimizer(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device=CPU)
    optimizer.load_state_dict(state)
    set_learning_rate(optimizer, 5e-4)
    assert [g["lr"] for g in optimizer.param_groups] == [5e-4, 5e-4]


def test_an_unknown_optimizer_is_one_line_naming_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        train_section("train.optimizer=sgd")
    message = str(caught.value)
    assert message.startswith("train.optimizer: must be one of adamw")  # and later weeks' entries
    assert message.endswith("(the tiny_gpt.optimizer table), got 'sgd'") and "\n" not in message


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.muon_lr=0", "train.muon_lr: must be a positive number"),
        ("train.muon_momentum=1.0", r"train.muon_momentum: must be in \[0, 1\)"),
        ("train.muon_ns_steps=0", "train.muon_ns_steps: must be a positive integer"),
    ],
)
def test_muons_settings_are_checked(override, message):
    with pytest.raises(ConfigError, match=message):
        train_section(override)
