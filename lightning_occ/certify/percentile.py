"""Percentile (median) smoothing of a real-valued anomaly score (Chiang et al., NeurIPS 2020)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import norm
from torch import Tensor

from lightning_occ.certify.sampling import noisy_outputs
from lightning_occ.certify.statistics import check_sigma, dkw_margin, order_statistic_indices
from lightning_occ.metrics.functional import _as_epsilons

__all__ = ["PercentileSmoothing", "ScoreCertificate"]


@dataclass
class ScoreCertificate:
    """Smoothed scores and, per radius, certified bounds on the smoothed score of any perturbed input.

    ``lower[i, k] <= h(x_i + delta) <= upper[i, k]`` for every ``||delta|| <= epsilons[k]``; an infinite
    bound means "not certified" (the sample abstains). Validity, over the noise draws, for each sample:

    * simultaneous mode (DKW band): both sides at every radius at once, with probability >= 1 - alpha;
    * binomial mode: both sides at one radius, with probability >= 1 - alpha (each side is built
      at level alpha / 2); different radii are separate statements.
    """

    score: Tensor
    lower: Tensor
    upper: Tensor
    epsilons: list[float]

    @property
    def abstain(self) -> Tensor:
        """(B, K) True where a bound is infinite."""
        return ~(torch.isfinite(self.lower) & torch.isfinite(self.upper))


class PercentileSmoothing:
    """Certify a real-valued score by smoothing it with its p-th percentile under Gaussian noise.

    With ``h_p(x)`` the p-th percentile of ``s(x + N(0, sigma^2 I))``, for ``||delta|| <= eps``:
    ``h_{p_lo}(x) <= h_p(x + delta) <= h_{p_hi}(x)``, ``p_lo/hi = Phi(Phi^-1(p) -/+ eps / sigma)``.
    Both sides are estimated from below/above by order statistics of n samples (see
    :func:`~lightning_occ.certify.statistics.order_statistic_indices`), so for each sample the
    two-sided interval holds with probability >= 1 - alpha: at one radius in binomial mode (each
    side at level alpha / 2), or at all radii at once with ``simultaneous=True`` (a DKW band). The bounds feed
    :class:`~lightning_occ.metrics.CertifiedAUROC` in interval mode.

    Args:
        sigma: noise standard deviation, in the detector's input units.
        n: noisy samples per input.
        epsilons: radii to certify. None: radii given later through :meth:`at_radii` (as
            :class:`SmoothedDetector` and ``lightning-occ certify`` do); until then n is only checked
            against radius 0, and :meth:`certify` asks for radii.
        percentile: p in (0, 1); 0.5 is median smoothing.
        alpha: failure probability of a sample's two-sided interval (per radius unless ``simultaneous``).
        simultaneous: make the bounds valid for every radius at once (DKW band; the default, since a
            certified-AUROC curve reads all radii together). False: binomial bounds, one radius at a time.
        chunk_size: noisy inputs per forward pass.
        seed: same seed, same certificate.
        progress: show a progress bar.

    Raises:
        ValueError: sigma <= 0, or n too small for alpha and the largest radius (the message gives
            the largest radius this n can certify and the n the requested radius needs).

    Example:
        >>> smoother = PercentileSmoothing(sigma=0.5, n=1000, epsilons=[0.25])
        >>> cert = smoother.certify(lambda z: z.sum(1), torch.zeros(4, 2))
        >>> bool((cert.lower[:, 0] < cert.score).all() and (cert.score < cert.upper[:, 0]).all())
        True
    """

    def __init__(
        self,
        sigma: float = 0.25,
        n: int = 2000,
        epsilons: Sequence[float] | None = None,
        percentile: float = 0.5,
        alpha: float = 0.001,
        simultaneous: bool = True,
        chunk_size: int = 4096,
        seed: int = 0,
        progress: bool = False,
    ) -> None:
        check_sigma(sigma)
        if not 0 < percentile < 1:
            raise ValueError(f"percentile must lie in (0, 1), got {percentile}.")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}.")
        self.sigma, self.n, self.percentile, self.alpha = float(sigma), int(n), float(percentile), float(alpha)
        self.simultaneous, self.chunk_size, self.seed, self.progress = simultaneous, chunk_size, seed, progress
        self.epsilons = None if epsilons is None else _as_epsilons(epsilons).tolist()
        self._side_alpha = self.alpha if simultaneous else self.alpha / 2  # binomial: alpha/2 per side
        self._lo, self._hi = self._indices(self.n)
        if (self._lo < 0).any() or (self._hi >= self.n).any():
            raise ValueError(self._too_few_samples_message())

    def at_radii(self, epsilons: Sequence[float]) -> PercentileSmoothing:
        """The same settings, certifying at other radii."""
        return PercentileSmoothing(
            self.sigma,
            self.n,
            epsilons,
            self.percentile,
            self.alpha,
            self.simultaneous,
            self.chunk_size,
            self.seed,
            self.progress,
        )

    def _require_radii(self) -> None:
        if self.epsilons is None:
            raise ValueError(
                "This PercentileSmoothing has no radii to certify: pass epsilons=[...] or use at_radii([...])."
            )

    def _radii_checked(self) -> list[float]:
        return self.epsilons if self.epsilons is not None else [0.0]

    def _quantile_levels(self) -> tuple[np.ndarray, np.ndarray]:
        shift = np.asarray(self._radii_checked()) / self.sigma
        z = norm.ppf(self.percentile)
        return norm.cdf(z - shift), norm.cdf(z + shift)

    def _indices(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        p_lo, p_hi = self._quantile_levels()
        return order_statistic_indices(n, p_lo, p_hi, self._side_alpha, self.simultaneous)

    def minimum_samples(self) -> int:
        """The smallest n that gives finite bounds at every requested radius (closed forms, no sampling).

        Binomial bounds exist iff ``p_hi^n <= alpha/2`` and ``(1 - p_lo)^n <= alpha/2``; DKW bounds iff
        ``p_hi + d(n) <= 1`` and ``p_lo - d(n) >= 1/n``.
        """
        p_lo, p_hi = self._quantile_levels()
        top, bottom = float(p_hi.max()), float(p_lo.min())
        if top >= 1.0 or bottom <= 0.0:
            raise ValueError("No sample count can certify these radii with this sigma and alpha.")
        if not self.simultaneous:
            log_alpha = math.log(self._side_alpha)
            n = max(math.ceil(log_alpha / math.log(top)), math.ceil(log_alpha / math.log1p(-bottom)))
            while n > 1 and self._binomial_bounds_exist(n - 1, top, bottom):  # float round-off
                n -= 1
            while not self._binomial_bounds_exist(n, top, bottom):
                n += 1
            return n

        def enough(n: int) -> bool:
            d = dkw_margin(n, self.alpha)
            return top + d <= 1.0 and bottom - d >= 1.0 / n

        high = 1
        while not enough(high):
            high *= 2
            if high > 2**62:
                raise ValueError("No sample count can certify these radii with this sigma and alpha.")
        low = high // 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (low, mid) if enough(mid) else (mid, high)
        return high

    def _binomial_bounds_exist(self, n: int, top: float, bottom: float) -> bool:
        return top**n <= self._side_alpha and (1.0 - bottom) ** n <= self._side_alpha

    def max_certifiable_epsilon(self) -> float:
        """The largest radius n samples can certify at this sigma and alpha (binomial bounds: exact)."""
        z = norm.ppf(self.percentile)
        if self.simultaneous:
            d = dkw_margin(self.n, self.alpha)
            top, bottom = min(1 - d, 1 - 1e-16), d + 1.0 / self.n
        else:
            top, bottom = self._side_alpha ** (1.0 / self.n), 1.0 - self._side_alpha ** (1.0 / self.n)
        if top <= 0 or bottom >= 1:
            return -np.inf
        return float(self.sigma * min(norm.ppf(top) - z, z - norm.ppf(bottom)))

    def _too_few_samples_message(self) -> str:
        try:
            advice = f"Use n >= {self.minimum_samples()}, a larger sigma, a larger alpha, or smaller radii."
        except ValueError:
            advice = "No practical n reaches these radii: use a larger sigma or smaller radii."
        largest = self.max_certifiable_epsilon()
        reach = (
            f"the largest radius it can certify is {largest:.4g} (eps / sigma = {largest / self.sigma:.3g})"
            if largest >= 0
            else "it cannot even bound the smoothed score at radius 0"
        )
        return (
            f"n={self.n} noisy samples are too few for alpha={self.alpha} and radii {self._radii_checked()} at "
            f"sigma={self.sigma}: {reach}. {advice}"
        )

    def sample_scores(self, score_fn: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """Sorted scores of n noisy copies of every input, shape (B, n)."""
        scores = noisy_outputs(score_fn, x, self.n, self.sigma, self.chunk_size, self.seed, self.progress)
        if scores.dim() != 2:
            raise ValueError(
                f"score_fn must return one score per input, got shape {tuple(scores.shape[2:])} per input."
            )
        return scores.sort(dim=1).values

    def certify(self, score_fn: Callable[[Tensor], Tensor], x: Tensor) -> ScoreCertificate:
        """Smoothed score and certified bounds for each input of the batch ``x``."""
        self._require_radii()
        ordered = self.sample_scores(score_fn, x)
        return self.certificate_from_sorted(ordered)

    def certificate_from_sorted(self, ordered: Tensor) -> ScoreCertificate:
        """Build the certificate from already sorted noisy scores (B, n)."""
        self._require_radii()
        if torch.isnan(ordered).any():
            raise ValueError(
                "The score function returned NaN on noisy inputs; it must be defined on all of input space."
            )
        point = int(np.ceil(self.percentile * self.n)) - 1
        lo = torch.as_tensor(self._lo, device=ordered.device)
        hi = torch.as_tensor(self._hi, device=ordered.device)
        return ScoreCertificate(ordered[:, point], ordered[:, lo], ordered[:, hi], list(self.epsilons or []))
