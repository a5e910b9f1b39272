"""ODIN (Liang et al., 2018): temperature scaling plus an input perturbation towards confidence."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["max_softmax", "odin_perturbation", "odin_scores"]


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
    with torch.inference_mode(False), torch.enable_grad():
        inputs = x.detach().clone().requires_grad_(True)
        logits = classifier(inputs) / temperature
        loss = F.cross_entropy(logits, logits.argmax(dim=1), reduction="sum")
        (gradient,) = torch.autograd.grad(loss, inputs)
        return (inputs - epsilon * gradient.sign()).detach()


def odin_scores(classifier: nn.Module, x: Tensor, temperature: float = 1000.0, epsilon: float = 1e-4) -> Tensor:
    """Anomaly score ``-max softmax(f(x') / T)`` with x' the ODIN-perturbed input (higher = more anomalous),
    in float64: at T = 1000 the scores differ only from the fifth decimal on, and float32 would tie them.

    Args:
        classifier: a network returning logits; put it in eval mode first.
        x: a batch of inputs.
        temperature: T > 0.
        epsilon: size of the signed input step (>= 0; 0 gives the temperature-scaled max softmax).
    """
    if temperature <= 0:
        raise ValueError(f"The ODIN temperature must be > 0, got {temperature}.")
    if epsilon < 0:
        raise ValueError(f"The ODIN perturbation size must be >= 0, got {epsilon}.")
    perturbed = odin_perturbation(classifier, x, temperature, epsilon)
    with torch.no_grad():
        return -max_softmax(classifier(perturbed), temperature)
