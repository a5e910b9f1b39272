"""Center smoothing for functions with metric-space outputs (Kumar & Goldstein, NeurIPS 2021)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from scipy.stats import norm
from torch import Tensor
from tqdm.auto import tqdm

from lightning_occ.certify.metrics_space import Distance, checked_distances, chunked_median_distances, resolve_distance
from lightning_occ.certify.sampling import noisy_outputs
from lightning_occ.certify.statistics import check_sigma
from lightning_occ.metrics.functional import _as_epsilons

__all__ = ["CenterCertificate", "CenterSmoothing"]


@dataclass
class CenterCertificate:
    """Smoothed outputs and, per input radius, certified output radii (inf where abstaining).

    ``d(center(x), center(x')) <= radius[i, k]`` for every ``||x' - x_i|| <= epsilons[k]``, with
    probability >= 1 - alpha1 - alpha2.
    """

    center: Tensor
    radius: Tensor
    abstain: Tensor
    epsilons: list[float]


class CenterSmoothing:
    """Certify a function whose outputs live in a metric space (latent codes, reconstructions).

    The smoothed output is (approximately) the centre of the smallest ball holding half of the
    probability mass of ``fn(x + N(0, sigma^2 I))``: the sample with the smallest median distance to
    the others (a 2-approximation, so ``beta = 2``). Fresh samples check that the ball of that
    median radius really holds about half the mass (else abstain). For an input radius eps,
    ``q = Phi(Phi^-1(1/2 + Delta) + eps / sigma) + sqrt(ln(1/alpha2) / (2 n_cert))`` and R = the
    empirical q-quantile of the distances from the centre on ``n_cert`` fresh samples; the
    certificate is ``(1 + beta) R``.

    Looseness: the certificate bounds the change of the centre by ``(1 + beta) R``, with R a quantile
    of the outputs' spread under the noise, not by how far the centre itself moves. For ``f(x) = x``
    at sigma 0.25 (where the true worst change at input radius eps is eps) the certified radius is
    6-12x the truth for 2-D outputs and 12-28x for 10-D outputs; the paper's ``n_cert = 10^6``
    tightens it by only 2 %, since the factor ``1 + beta = 3`` and the spread dominate
    (``benchmarks/center_smoothing_tightness.py``). Sound, but loose.

    Args:
        sigma: input noise standard deviation.
        epsilons: input radii to certify.
        n_pred: samples for the centre, and again for the abstain check.
        n_cert: samples for the certified radius.
        alpha1: failure probability of the abstain check.
        alpha2: failure probability of the radius.
        delta: Delta, slack on the half-mass ball.
        metric: ``"l2"``, ``"angular"`` or a callable ``(a (m,D), b (n,D)) -> (m, n)`` metric.
        num_candidates: centre candidates (None = all n_pred samples; e.g. 30 for huge outputs).
        chunk_size: noisy inputs per forward pass.
        max_distance_elements: memory bound of one block of the centre search's distance matrix.
        seed: same seed, same certificate.
        progress: show a progress bar over the inputs.

    Example:
        >>> cs = CenterSmoothing(sigma=0.1, epsilons=[0.05], n_pred=2000, n_cert=2000)
        >>> cert = cs.certify(lambda z: z, torch.zeros(1, 3))
        >>> bool(cert.radius[0, 0] >= 0.05)
        True
    """

    beta = 2.0

    def __init__(
        self,
        sigma: float = 0.25,
        epsilons: Sequence[float] = (0.25,),
        n_pred: int = 10_000,
        n_cert: int = 10_000,
        alpha1: float = 0.005,
        alpha2: float = 0.005,
        delta: float = 0.05,
        metric: str | Distance = "l2",
        num_candidates: int | None = None,
        chunk_size: int = 4096,
        max_distance_elements: int = 2**24,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        check_sigma(sigma)
        if not 0 < delta < 0.5:
            raise ValueError(f"delta must lie in (0, 1/2), got {delta}.")
        self.sigma, self.delta, self.alpha1, self.alpha2 = float(sigma), float(delta), alpha1, alpha2
        self.n_pred, self.n_cert, self.num_candidates = n_pred, n_cert, num_candidates
        self.distance = resolve_distance(metric)
        self.chunk_size, self.max_distance_elements, self.seed, self.progress = (
            chunk_size,
            max_distance_elements,
            seed,
            progress,
        )
        self.epsilons = _as_epsilons(epsilons).tolist()
        needed = math.ceil(math.log(2 / alpha1) / (2 * delta**2)) + 1
        if n_pred < needed:
            raise ValueError(
                f"n_pred={n_pred} is too small for alpha1={alpha1} and delta={delta}: the abstain check "
                f"would always abstain. Use n_pred >= {needed}."
            )
        largest = self.max_certifiable_epsilon()
        if max(self.epsilons) > largest:
            raise ValueError(
                f"n_cert={n_cert} at sigma={sigma} can certify input radii up to {largest:.4g} "
                f"(eps / sigma <= {largest / sigma:.3g}), but {max(self.epsilons)} was requested: "
                "increase n_cert or sigma, or lower the radius."
            )

    def _quantile_margin(self) -> float:
        return math.sqrt(math.log(1 / self.alpha2) / (2 * self.n_cert))

    def max_certifiable_epsilon(self) -> float:
        """The largest input radius for which the quantile level q stays below 1."""
        top = 1.0 - self._quantile_margin()
        if top <= 0.5 + self.delta:
            return -math.inf
        return float(self.sigma * (norm.ppf(top) - norm.ppf(0.5 + self.delta)))

    def _quantile_levels(self) -> list[float]:
        base = norm.ppf(0.5 + self.delta)
        return [float(norm.cdf(base + eps / self.sigma)) + self._quantile_margin() for eps in self.epsilons]

    def _samples(self, fn: Callable[[Tensor], Tensor], x: Tensor, n: int, stream: int) -> Tensor:
        out = noisy_outputs(fn, x.unsqueeze(0), n, self.sigma, self.chunk_size, self.seed + stream)[0]
        return out.reshape(n, -1)

    def smooth(self, fn: Callable[[Tensor], Tensor], x: Tensor) -> tuple[Tensor, Tensor, bool]:
        """Centre, half-mass radius and abstain flag for one input ``x`` (no batch dimension)."""
        outputs = self._samples(fn, x, self.n_pred, stream=0)
        candidates = outputs if self.num_candidates is None else outputs[: self.num_candidates]
        medians = chunked_median_distances(self.distance, candidates, outputs, self.max_distance_elements)
        best = int(medians.argmin())
        center, r = candidates[best], medians[best]
        fresh = self._samples(fn, x, self.n_pred, stream=1)
        inside = (checked_distances(self.distance, center[None], fresh)[0] <= r).double().mean().item()
        margin = math.sqrt(math.log(2 / self.alpha1) / (2 * self.n_pred))
        abstain = max(margin, 0.5 - (inside - margin)) > self.delta
        return center, r, abstain

    def certify(self, fn: Callable[[Tensor], Tensor], x: Tensor) -> CenterCertificate:
        """Smoothed output and certified output radius at each input radius, for every input of ``x``."""
        centers, radii, abstains = [], [], []
        for row in tqdm(x, desc="center smoothing", disable=not self.progress, leave=False):
            center, _, abstain = self.smooth(fn, row)
            distances = checked_distances(self.distance, center[None], self._samples(fn, row, self.n_cert, 2))[0]
            ordered = distances.sort().values
            radius = [(1 + self.beta) * float(ordered[math.ceil(q * self.n_cert) - 1]) for q in self._quantile_levels()]
            centers.append(center)
            radii.append(torch.full((len(radius),), math.inf) if abstain else torch.tensor(radius))
            abstains.append(abstain)
        output_shape = fn(x[:1]).shape[1:]
        return CenterCertificate(
            torch.stack(centers).reshape(x.shape[0], *output_shape),
            torch.stack(radii).double(),
            torch.tensor(abstains),
            list(self.epsilons),
        )
