"""ODIN (Liang et al., 2018): temperature scaling plus an input perturbation towards confidence."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["max_softmax", "odin_grid_scores", "odin_perturbation", "odin_scores"]


def max_softmax(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """The largest class probability of ``softmax(logits / T)``, computed in float64 (with T = 1000
    the probabilities differ from 1/K only in the fifth decimal)."""
    return F.softmax(logits.double() / temperature, dim=1).max(dim=1).values


def odin_perturbation(classifier: nn.Module, x: Tensor, temperature: float, epsilon: float) -> Tensor:
    """``x - epsilon * sign(grad_x CE(f(x) / T, argmax f(x)))``: one signed step that lowers the
    cross-entropy of the predicted class, i.e. raises the max softmax.

    The loss is summed over the batch, so each sample's step depends on that sample alone (a mean
    would scale the gradients by 1/batch size, and with T = 1000 small ones would underflow to 0 and
    lose their sign). Works inside ``torch.no_grad`` and ``torch.inference_mode`` (Lightning's
    evaluation loops, the smoothing certifiers) and leaves no gradient on the classifier's parameters.
    """
    if epsilon == 0:
        return x
    return x.detach() - epsilon * _confidence_gradient_sign(classifier, x, temperature)


def _confidence_gradient_sign(classifier: nn.Module, x: Tensor, temperature: float) -> Tensor:
    """``sign(grad_x CE(f(x) / T, argmax f(x)))``, the direction of every ODIN step at temperature T."""
    with torch.inference_mode(False), torch.enable_grad():
        inputs = x.detach().clone().requires_grad_(True)
        logits = classifier(inputs) / temperature
        loss = F.cross_entropy(logits, logits.argmax(dim=1), reduction="sum")
        (gradient,) = torch.autograd.grad(loss, inputs)
        return gradient.sign()


def odin_scores(classifier: nn.Module, x: Tensor, temperature: float = 1000.0, epsilon: float = 1e-4) -> Tensor:
    """Anomaly score ``-max softmax(f(x') / T)`` with x' the ODIN-perturbed input (higher = more anomalous),
    in float64: at T = 1000 the scores differ only from the fifth decimal on, and float32 would tie them.

    Args:
        classifier: a network returning logits; put it in eval mode first.
        x: a batch of inputs.
        temperature: T > 0.
        epsilon: size of the signed input step (>= 0; 0 gives the temperature-scaled max softmax).
    """
    _check_setting(temperature, epsilon)
    perturbed = odin_perturbation(classifier, x, temperature, epsilon)
    with torch.no_grad():
        return -max_softmax(classifier(perturbed), temperature)


def odin_grid_scores(
    classifier: nn.Module, x: Tensor, temperatures: Sequence[float], epsilons: Sequence[float]
) -> dict[tuple[float, float], Tensor]:
    """:func:`odin_scores` for every (T, eps) pair of a grid, with one input gradient per temperature.

    The step direction depends on T but not on eps, and the unperturbed logits on neither, so a grid
    of n_T x n_eps pairs costs n_T backward passes and about n_T x n_eps forward passes instead of
    n_T x n_eps of each. The scores are the ones :func:`odin_scores` gives pair by pair.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).eval()
        >>> grid = odin_grid_scores(net, torch.rand(5, 1, 2, 2), [1.0, 1000.0], [0.0, 0.01])
        >>> sorted(grid), grid[(1000.0, 0.01)].shape
        ([(1.0, 0.0), (1.0, 0.01), (1000.0, 0.0), (1000.0, 0.01)], torch.Size([5]))
    """
    for temperature in temperatures:
        for epsilon in epsilons:
            _check_setting(temperature, epsilon)
    x = x.detach()
    scores: dict[tuple[float, float], Tensor] = {}
    with torch.no_grad():
        clean_logits = classifier(x) if 0 in epsilons else None
    for temperature in temperatures:
        direction = _confidence_gradient_sign(classifier, x, temperature) if any(epsilons) else None
        for epsilon in epsilons:
            with torch.no_grad():
                logits = clean_logits if epsilon == 0 or direction is None else classifier(x - epsilon * direction)
                assert logits is not None
                scores[(float(temperature), float(epsilon))] = -max_softmax(logits, temperature)
    return scores


def _check_setting(temperature: float, epsilon: float) -> None:
    if temperature <= 0:
        raise ValueError(f"The ODIN temperature must be > 0, got {temperature}.")
    if epsilon < 0:
        raise ValueError(f"The ODIN perturbation size must be >= 0, got {epsilon}.")
