"""Muon: momentum, orthogonalised, for the weight matrices inside the blocks.

For each matrix W (rows x cols) of attention and MLP, with gradient g:

    m = mu m + g                                   the momentum buffer
    u = g + mu m                                   Nesterov: the gradient plus the look-ahead
    O = NS5(u)                                     about U V^T, where u = U S V^T
    W = W - lr wd W - lr sqrt(max(1, rows/cols)) O decoupled decay, then the update

Everything else (token and position embeddings, the LM head, norm gains, biases) keeps AdamW, at
train.lr with week 4's decay rule, in other groups of the same optimizer.

Why orthogonalise: the gradient of a linear layer is a sum of outer products of inputs and
output errors, and its singular values fall steeply: a few directions dominate, and a step
along u mostly moves W in those. O = U V^T keeps the directions and sets every singular value to
1, so W moves as far along the rare directions as along the common ones, and the step's size no
longer depends on the gradient's scale (hence a rate of 0.02, far above AdamW's).

NS5, the Newton-Schulz iteration (Keller Jordan, "Muon: An optimizer for hidden layers in neural
networks", 2024, with his published coefficients): on X = u / (||u||_F + 1e-7), whose singular
values lie in (0, 1], repeat five times

    X = a X + b (X X^T) X + c (X X^T)^2 X          (a, b, c) = (3.4445, -4.7750, 2.0315)

Each step maps every singular value s to a s + b s^3 + c s^5 and keeps U and V. The slope a at
0 lifts small values fast, at the price of not converging: they end in a band around 1, not at
1. Iterating the map in float64, every value that starts at 2e-3 or more ends in [0.68, 1.21].
A tall matrix is transposed first, so X X^T is the smaller of the two Gram matrices.

Why float32, where the reference implementation iterates in bfloat16 on GPUs (built for it, and
the iteration tolerates the rounding): on a CPU the saving is small, and float32 keeps the
update within rounding of the reference written in the tests. On the course machine (Intel Xeon
with AVX-512 BF16 and AMX, 2 cores, idle, one thread) bfloat16 was 1.0-1.6x as fast for the baby
model's matrices (0.56-1.9 ms per matrix in float32) and moved a random 512 x 128 update by 2.8%
(relative Frobenius norm).

The shape-aware scale sqrt(max(1, rows/cols)) is the rule of Keller Jordan's reference
implementation (torch.optim.Muon's `adjust_lr_fn="original"`): O has min(rows, cols) singular
values near 1, so its entries have RMS 1/sqrt(max(rows, cols)); the scale makes that
1/sqrt(cols) for every shape. The decay is decoupled, as in "Muon is Scalable for LLM Training"
(Liu et al., 2025): W shrinks by lr x wd, with the scheduled lr before the shape scale.

The momentum is the form of `torch.optim.SGD(nesterov=True)`; torch.optim.Muon keeps an average
instead (m = mu m + (1 - mu) g), which is (1 - mu) times this m, and NS5 divides any factor out.

With DistributedDataParallel, the gradients are averaged across processes during backward, so
every process orthogonalises the same u and takes the same step: nothing else is needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from shared.errors import CourseError
from week4_training.optim import parameter_groups

if TYPE_CHECKING:
    from week4_training.config import TrainConfig

# Keller Jordan's quintic: the largest slope at 0 for which five steps still end near 1.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7  # in ||u||_F + eps: a zero gradient stays zero instead of becoming NaN


def newton_schulz(u: Tensor, steps: int = 5) -> Tensor:
    """NS5 of a matrix, in float32: about U V^T of u = U S V^T, singular values near 1."""
    x = u.float()
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T  # work on the wide side: X X^T is then the smaller Gram matrix
    x = x / (x.norm() + NS_EPS)  # singular values in (0, 1]
    a, b, c = NS_COEFFICIENTS
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def shape_scale(matrix: Tensor) -> float:
    """sqrt(max(1, rows / cols)): every update then has entries of RMS about 1/sqrt(cols)."""
    rows, cols = matrix.shape
    return math.sqrt(max(1.0, rows / cols))


class Muon(torch.optim.Optimizer):
    """Muon for the groups with `use_muon` (the default), AdamW for those without.

    Muon groups read `lr`, `weight_decay`, `momentum`, `ns_steps`; AdamW groups read `lr`,
    `weight_decay`, `betas`, `eps`. One object for both keeps one state_dict for checkpoints
    and one `step()` for the GradScaler. A Muon group may hold matrices only.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        *,
        lr: float,
        momentum: float = 0.95,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.99),
        eps: float = 1e-8,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_scale": 1.0,
            "weight_decay": weight_decay,
            "use_muon": True,
            "momentum": momentum,
            "ns_steps": ns_steps,
            "betas": betas,
            "eps": eps,
        }
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"] if group["use_muon"] else ():
            if p.dim() != 2:
                raise CourseError(
                    f"Muon orthogonalises matrices, but a group with use_muon=True holds a "
                    f"parameter of shape {tuple(p.shape)}; give it to a group with use_muon=False"
                )

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            update = self._muon_update if group["use_muon"] else self._adamw_update
            for p in group["params"]:
                if p.grad is not None:
                    update(p, p.grad, group)
        return loss

    def _muon_update(self, p: Tensor, g: Tensor, group: dict[str, Any]) -> None:
        lr, mu = group["lr"], group["momentum"]
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
        m = state["momentum_buffer"]
        m.mul_(mu).add_(g)
        u = g.add(m, alpha=mu)
        orthogonal = newton_schulz(u, group["ns_steps"]).to(p.dtype)
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(orthogonal, alpha=-lr * shape_scale(p))

    def _adamw_update(self, p: Tensor, g: Tensor, group: dict[str, Any]) -> None:
        """AdamW (Loshchilov and Hutter), as torch.optim.AdamW computes it."""
        lr, (beta1, beta2) = group["lr"], group["betas"]
        state = self.state[p]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        p.mul_(1 - lr * group["weight_decay"])
        m.lerp_(g, 1 - beta1)  # m = beta1 m + (1 - beta1) g
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v = beta2 v + (1 - beta2) g^2
        # p -= lr m_hat / (sqrt(v_hat) + eps), with the bias corrections 1 - beta^t
        denominator = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(group["eps"])
        p.addcdiv_(m, denominator, value=-lr / (1 - beta1**t))


def build_muon(model: nn.Module, train: TrainConfig, device: torch.device) -> Muon:
    """The `muon` entry of week 4's OPTIMIZER table: Muon for the blocks' matrices at
    train.muon_lr, AdamW for the rest at train.lr (week 4's groups, without those matrices).

    Each group's `lr_scale` is its peak rate over train.lr, so the schedule keeps the ratio.
    """
    blocks = model.get_submodule("blocks")
    matrices = [p for p in blocks.parameters() if p.requires_grad and p.dim() == 2]
    taken = {id(p) for p in matrices}
    muon_group = {
        "params": matrices,
        "use_muon": True,
        "lr": train.muon_lr,
        "lr_scale": train.muon_lr / train.lr,
        "weight_decay": train.weight_decay,  # week 4's rule: matrices decay
    }
    groups: list[dict[str, Any]] = [muon_group]
    for group in parameter_groups(model, train.weight_decay):
        rest = [p for p in group["params"] if id(p) not in taken]
        if rest:
            groups.append({**group, "params": rest, "use_muon": False})
    return Muon(
        groups,
        lr=train.lr,
        momentum=train.muon_momentum,
        ns_steps=train.muon_ns_steps,
        betas=(train.beta1, train.beta2),
    )
