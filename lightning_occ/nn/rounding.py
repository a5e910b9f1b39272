"""Floating-point soundness: proven bounds on the rounding error of a computed score.

**The policy** (every certificate lightning-occ reports follows it):

1. A Lipschitz certificate is a claim about the score *as computed*, ``s_hat``. The proof of the
   Lipschitz constant ``L`` is about the exact real-arithmetic function ``s`` of the stored weights.
   Each certified detector therefore also returns, per input ``x``, a bound ``e(x)`` with
   ``|s_hat(x') - s(x')| <= e(x)`` for **every** ``x'`` with ``||x' - x|| <= eps_max``. Then, for
   all such ``x'``, ``|s_hat(x') - s_hat(x)| <= L * eps + 2 e(x)``, and the certified AUROC at a radius
   ``eps > 0`` ranks anomalies at ``s_hat - L eps - 2e`` and normals at ``s_hat + L eps + 2e``
   (:func:`lightning_occ.metrics.functional.certified_auroc`, ``score_error``). The clean AUROC
   (``eps = 0``) compares the computed scores as they are: no perturbation, nothing to bound.
2. Certified evaluation runs in float64 (float32 inputs and weights are exact in float64), so ``e``
   is about 1e-12 and the widening changes no reported figure. The same analysis, called with
   ``dtype=torch.float32``, gives the (much larger) bound for a float32 deployment.
3. Smoothing certificates (percentile, randomized and center smoothing) hold for any deterministic
   base function, so they certify the rounded base score as it is computed: no widening is needed.

**The rounding model** (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 2-3):
every operation rounds with relative error at most the unit roundoff ``u`` (2^-24 in float32, 2^-53
in float64, and 2^-8 for float32 matrix products when ``torch.get_float32_matmul_precision()`` is
not ``"highest"``, which allows TF32/bfloat16 kernels); a sum of ``n`` terms, in any order and with or
without fused multiply-adds, has error at most ``gamma_{n-1} * sum |terms|`` with
``gamma_n = n u / (1 - n u)``. Convolutions are evaluated by direct or GEMM summation: the certified
float64 pass disables cuDNN, whose FFT and Winograd algorithms the model does not cover.

**A network's bound** (:func:`network_rounding_bound`). Let ``h`` be a layer's exact input,
``h_hat`` the computed one, ``E >= ||h_hat - h||`` and ``H >= ||h||``. For an affine layer
``y = W h + b`` with fan-in ``n``, ``fl(W h_hat + b) = W h_hat + b + r`` with
``|r| <= gamma_{n+1} (|W| |h_hat| + |b|)`` entry-wise, so
``||y_hat - y|| <= ||W||_2 E + gamma_{n+1} (|| |W| ||_2 (H + E) + ||b||)`` and ``||y|| <= ||W||_2 H + ||b||``.
``||W||_2`` is the layer's own proven ``lipschitz_bound()``; ``|| |W| ||_2 <= ||W||_F`` for a dense layer
and ``<= sqrt(k_h k_w) ||K||_F`` for a convolution (sum over the kernel's offsets of each offset's
matrix norm, then Cauchy-Schwarz). Sorting activations, ReLU, flattening and negation compute their
outputs exactly and are 1-Lipschitz, so ``E`` and ``H`` pass unchanged. A scaled pooling of windows of
``m`` values (a sum, a division, a product with a stored constant) adds ``gamma_{m+2} (H + E)``. The
bound starts from ``E = 0`` and ``H = R``, the largest input norm in the ball.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, cast

import torch
from torch import Tensor, nn

from lightning_occ.nn.activations import FullSort, GroupSort

__all__ = [
    "Float64Twin",
    "RoundingStep",
    "affine_step",
    "conv_without_fast_transforms",
    "exact_float64",
    "gamma",
    "matmul_unit_roundoff",
    "network_rounding_bound",
    "rounding_plan",
    "unit_roundoff",
]

_EXACT_LAYERS = (GroupSort, FullSort, nn.ReLU, nn.Flatten, nn.Identity)


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u`` of a floating-point type: half the distance from 1 to the next number (2^-24 for float32).

    Example:
        >>> unit_roundoff(torch.float64) == 2.0 ** -53
        True
    """
    if not dtype.is_floating_point:
        raise ValueError(f"Rounding bounds need a floating-point dtype, got {dtype}.")
    return torch.finfo(dtype).eps / 2


def matmul_unit_roundoff(dtype: torch.dtype) -> float:
    """``u`` of a matrix product in ``dtype``: float32 products may run in TF32 or bfloat16 unless the
    matmul precision is ``"highest"``, so their ``u`` is then taken as bfloat16's (2^-8)."""
    if dtype == torch.float32 and torch.get_float32_matmul_precision() != "highest":
        return 2.0**-8
    return unit_roundoff(dtype)


def gamma(n: int, u: float) -> float:
    """``gamma_n = n u / (1 - n u)``, the relative error bound of ``n`` chained roundings.

    Example:
        >>> gamma(1, 2.0 ** -53) > 2.0 ** -53
        True
    """
    if n * u >= 1:
        return math.inf
    return n * u / (1 - n * u)


RoundingStep = tuple[str, float, float, int, float]
"""``(kind, operator norm, |W| norm, fan-in or window, bias norm)``: one step of a rounding plan."""


def affine_step(layer: nn.Linear | nn.Conv2d, operator_norm: float, output_positions: int = 1) -> RoundingStep:
    """The rounding step of a dense or convolutional layer, given a proven bound of its operator norm
    and the number of output positions its bias is added at (1 for a dense layer)."""
    weight = layer.weight.detach().to(torch.float64)
    frobenius = float(torch.linalg.vector_norm(weight))
    if isinstance(layer, nn.Linear):
        fan_in, absolute = weight.shape[1], frobenius
    else:
        offsets = weight.shape[2] * weight.shape[3]
        fan_in, absolute = weight.shape[1] * offsets, math.sqrt(offsets) * frobenius
    bias_norm = 0.0 if layer.bias is None else float(layer.bias.detach().double().norm()) * math.sqrt(output_positions)
    return ("affine", float(operator_norm), absolute, fan_in, bias_norm)


def rounding_plan(layers: Iterable[nn.Module]) -> list[RoundingStep]:
    """Per layer the constants of :func:`network_rounding_bound` (computed once per set of weights:
    the operator norms need SVDs). Dense and convolutional layers need a ``lipschitz_bound()``
    method (a convolution also ``output_positions``); networks with other layers give their own plan."""
    plan = []
    for layer in layers:
        if isinstance(layer, _EXACT_LAYERS):
            continue
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            own_bound = getattr(layer, "lipschitz_bound", None)
            if callable(own_bound):
                operator = own_bound()
            elif isinstance(layer, nn.Linear):
                operator = float(torch.linalg.matrix_norm(layer.weight.detach().double(), ord=2))
            else:
                raise TypeError(
                    f"{type(layer).__name__} has no lipschitz_bound(): give the network's own rounding plan."
                )
            plan.append(affine_step(layer, operator, _output_positions(layer)))
            continue
        terms = getattr(layer, "rounding_terms", None)
        if not callable(terms):
            raise TypeError(
                f"No rounding analysis for {type(layer).__name__}: certified networks may use "
                "linear/conv layers, sorting activations, ReLU, flatten and scaled pooling."
            )
        operator, window = terms()
        plan.append(("pool", operator, 1.0, window, 0.0))
    return plan


def network_rounding_bound(
    layers: Iterable[nn.Module] | list[RoundingStep],
    input_norm: Tensor,
    dtype: torch.dtype,
    input_scale: float = 1.0,
    output_scale: float = 1.0,
) -> Tensor:
    """A proven bound on ``||net_hat(x) - net(x)||`` for every input of norm at most ``input_norm``.

    ``net`` multiplies the input by ``input_scale``, applies ``layers`` in order, then multiplies by
    ``output_scale``; the proof and the model of rounding are in this module's docstring.

    Args:
        layers: the network's modules in forward order (``nn.Linear``/``nn.Conv2d`` and subclasses,
            sorting activations, ReLU, flatten, modules with ``rounding_terms()`` such as the scaled
            pooling layers), or their :func:`rounding_plan`.
        input_norm: R per sample, shape (N,): the largest input norm the bound must cover.
        dtype: the dtype the network is evaluated in.
        input_scale: a constant the input is multiplied by first.
        output_scale: a constant the output is multiplied by last.

    Returns:
        Float64 tensor of shape (N,).

    Raises:
        TypeError: for a module whose rounding error the analysis does not cover.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
        >>> bool(network_rounding_bound(net, torch.tensor([1.0]), torch.float64) < 1e-13)
        True
    """
    plan = (
        layers
        if isinstance(layers, list) and all(isinstance(p, tuple) for p in layers)
        else rounding_plan(cast(Iterable[nn.Module], layers))
    )
    u, u_product = unit_roundoff(dtype), matmul_unit_roundoff(dtype)
    size = input_norm.detach().to(torch.float64)
    error = torch.zeros_like(size)
    if input_scale != 1.0:
        size = abs(input_scale) * size
        error = u * size
    for kind, operator, absolute, count, bias_norm in plan:
        local = (
            gamma(count + 1, u_product) * (absolute * (size + error) + bias_norm)
            if kind == "affine"
            else gamma(count + 2, u) * (size + error)
        )
        error = operator * error + local
        size = operator * size + bias_norm
    if output_scale != 1.0:
        error = abs(output_scale) * (error + u * (size + error))
    return error


class Float64Twin:
    """A float64 copy of a network (its exported form when it has ``export()``, so parametrised
    kernels are frozen) and that copy's :func:`rounding_plan`, rebuilt whenever a trainable parameter
    or a buffer of the original changes (in place, by loading, or by moving it to another device).

    Certified evaluation uses the copy for the scores, the Lipschitz bound and the rounding bound alike,
    so all three are about one and the same set of weights. Not an ``nn.Module``: assigning it to a
    module attribute does not register the copy.

    Example:
        >>> twin = Float64Twin(); net = nn.Linear(2, 1)
        >>> twin.network(net).weight.dtype
        torch.float64
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._network: nn.Module | None = None
        self._plan: list[RoundingStep] | None = None

    @staticmethod
    def _state_key(module: nn.Module) -> tuple:
        # trainable parameters and buffers: a parametrisation's own state (e.g. power-iteration
        # vectors stored as frozen parameters) changes at every forward pass and is not the model
        tensors = [*(p for p in module.parameters() if p.requires_grad), *module.buffers()]
        return tuple((t.data_ptr(), _version(t), t.device, t.dtype) for t in tensors)

    def network(self, module: nn.Module) -> Any:
        key = self._state_key(module)
        if key != self._key or self._network is None:
            self._network, self._plan, self._key = exact_float64(module), None, key
        return self._network

    def plan(
        self,
        module: nn.Module,
        select: Callable[[Any], Iterable[nn.Module]] | None = None,
    ) -> list[RoundingStep]:
        """The rounding plan of the copy: of the layers ``select(copy)`` picks, else the copy's own
        ``rounding_plan()``, else its ``layers``; cached with the copy."""
        twin = self.network(module)
        if self._plan is None:
            own = getattr(twin, "rounding_plan", None)
            if select is not None:
                self._plan = rounding_plan(select(twin))
            else:
                self._plan = own() if callable(own) else rounding_plan(cast(nn.Module, twin.layers).children())
        return self._plan


def _output_positions(layer: nn.Module) -> int:
    """The number of output positions a layer's bias is added at: 1 for dense layers."""
    if isinstance(layer, nn.Linear):
        return 1
    size = getattr(layer, "output_positions", None)
    if size is None:
        raise TypeError(
            f"{type(layer).__name__} must record `output_positions` (H_out * W_out) for its rounding bound."
        )
    return int(size)


def _version(tensor: Tensor) -> int:
    """The in-place modification counter; inference tensors have none (and cannot be modified outside
    inference mode), so their storage address alone identifies them."""
    try:
        return tensor._version
    except RuntimeError:
        return -1


def exact_float64(module: nn.Module) -> nn.Module:
    """A float64 copy of ``module`` (of ``module.export()`` when it has one) for certified evaluation;
    the original is left untouched. Made outside inference mode, so attacks may differentiate through it."""
    with torch.inference_mode(False), torch.no_grad():
        export = getattr(module, "export", None)
        source = export() if callable(export) else copy.deepcopy(module)
        return source.to(torch.float64).eval()


def conv_without_fast_transforms() -> AbstractContextManager[None]:
    """A context that keeps convolutions on direct/GEMM algorithms (cuDNN off), as the model assumes."""
    return torch.backends.cudnn.flags(enabled=False)
