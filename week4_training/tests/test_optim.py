import pytest
import torch

from week3_model import GPT, GPTConfig
from week4_training.optim import make_optimizer, parameter_groups, set_learning_rate


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
