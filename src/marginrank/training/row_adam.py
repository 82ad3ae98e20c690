"""Adam on the rows a sparse embedding gradient touches ("lazy Adam"), without densifying anything."""

from __future__ import annotations

import torch


class RowAdam(torch.optim.Optimizer):
    """Adam (Kingma & Ba, 2015) applied only to the rows present in each sparse gradient.

    For the parameters of ``nn.Embedding(sparse=True)``: the gradient's row indices are made
    unique (their values summed), and the first and second moments and the weights of those rows
    alone are updated, with the usual bias correction by the global step count. Rows a step does
    not touch keep their moments unchanged (unlike dense Adam, whose momentum keeps moving them),
    which is what makes a step cost O(rows touched) instead of O(table). Dense gradients (any other
    parameter) get the ordinary Adam update.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                step_size = group["lr"] / (1 - beta1 ** state["step"])
                second_correction = 1 - beta2 ** state["step"]
                grad = param.grad
                if grad.is_sparse:
                    rows, inverse = torch.unique(grad._indices()[0], return_inverse=True)
                    values = grad._values().reshape(grad._values().shape[0], -1)
                    summed = torch.zeros(len(rows), values.shape[1], dtype=values.dtype, device=values.device)
                    summed.index_add_(0, inverse, values)
                    summed = summed.view(len(rows), *param.shape[1:])
                    exp_avg = state["exp_avg"].index_select(0, rows).mul_(beta1).add_(summed, alpha=1 - beta1)
                    exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(summed, summed, value=1 - beta2)
                    state["exp_avg"].index_copy_(0, rows, exp_avg)
                    state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
                    update = exp_avg.div_(exp_avg_sq.div_(second_correction).sqrt_().add_(group["eps"]))
                    param.index_add_(0, rows, update, alpha=-step_size)
                else:
                    state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
                    state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (state["exp_avg_sq"] / second_correction).sqrt_().add_(group["eps"])
                    param.addcdiv_(state["exp_avg"], denom, value=-step_size)
        return None
