"""Compact-latent VAE with a vacant-hole score (after Glazunov & Zarras, UAI 2023, arXiv:2306.09646)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.card import MethodCard
from lightning_occ.core.lazy import LazyNetworkDetector
from lightning_occ.core.protocol import AnomalyDataModule, attached_datamodule
from lightning_occ.data.subsets import first_items
from lightning_occ.metrics.plots import plot_latent_scatter, plot_reconstructions
from lightning_occ.models.compact_vae.export import VAEScore
from lightning_occ.models.compact_vae.torch_model import LipschitzEncoder, MLPDecoder, MLPEncoder, inverse_stereographic
from lightning_occ.nn.conv_autoencoder import ConvDecoder, ConvGaussianEncoder
from lightning_occ.nn.nearest import BankDistance, exact_knn, knn_mean_distance, knn_relative_error
from lightning_occ.nn.rounding import network_rounding_bound

__all__ = ["CompactVAE"]


class CompactVAE(LazyNetworkDetector):
    """A VAE whose latent image is compact, scored by how far a code falls from the training codes.

    Latents:

    * ``gaussian``: the plain VAE (the baseline).
    * ``sphere``: the one-point (Alexandroff) compactification. The Gaussian code z is mapped to
      S^d by inverse stereographic projection before decoding and scoring. The prior on the sphere
      is the push-forward of N(0, I); the map is a bijection onto S^d minus the north pole, so the
      KL term is the usual Gaussian one on z. A deterministic map was chosen over a von
      Mises-Fisher latent so that the encoder stays Lipschitz-analysable and sampling stays cheap.
    * ``lipschitz``: an encoder whose mean map is L-Lipschitz (orthogonal layers times L), so a
      bounded input domain has a bounded latent image.

    Scores (``score_name``, switchable at test time):

    * ``elbo``: the negative ELBO at the posterior mean, ``||x - dec(m)||^2 + KL(q(z|x) || N(0, I))``.
    * ``recon``: ``||x - dec(m)||^2``.
    * ``hole``: ``h(x) = mean of the k smallest ||c(x) - c_i||``, with c(x) the code (the mean, or its
      sphere image) and c_i the training codes. With ``hole_normalized``, h is divided by the mean
      k-NN distance among training codes of the nearest training code (the local spacing).

    ``lipschitz_bound`` is ``L * prod ||W||`` for the ``hole`` score of the ``lipschitz`` latent
    without normalisation. Proof: the mean map has that constant (see ``LipschitzEncoder``), and a
    mean of k nearest-neighbour distances is 1-Lipschitz in the code (each distance is 1-Lipschitz and
    the k smallest of 1-Lipschitz functions, and their mean, stay 1-Lipschitz). In all other cases it
    is None; certify those with ``lightning_occ.certify``.

    Networks (``network``): ``mlp`` (any input, flattened) or ``conv`` (images: two stride-2
    convolutions and their transposed mirror, sigmoid output). The ``lipschitz`` latent needs ``mlp``:
    its orthogonal layers carry the proven bound.

    Report figures (``lightning-occ test``): ``latent_scatter.png`` (training codes, test normals,
    test anomalies; 2-D or 3-D codes drawn as they are, larger ones by their first two principal
    axes) and, for images, ``reconstructions.png``.

    Args:
        input_shape: input shape; inferred from the DataModule when None.
        network: ``mlp`` or ``conv``.
        latent: ``gaussian``, ``sphere`` or ``lipschitz``.
        latent_dim: d (the sphere lives in R^(d+1); needs d >= 2).
        hidden: hidden width of encoder and decoder.
        lipschitz: L of the ``lipschitz`` encoder.
        beta: weight of the KL term.
        k: neighbours in the hole score.
        score_name: ``elbo``, ``recon`` or ``hole``.
        hole_normalized: divide the hole score by the local spacing of training codes.
        lr: Adam learning rate.
        epsilons: radii of the certified AUROC.
        pretrained: ``zoo:NAME`` or a checkpoint of this method to start ``fit`` from.

    Example:
        >>> vae = CompactVAE(input_shape=(4,), latent="sphere", latent_dim=2, hidden=8)
        >>> vae.codes(torch.zeros(3, 4)).norm(dim=1)
        tensor([1., 1., 1.], grad_fn=<LinalgVectorNormBackward0>)
    """

    bank: Tensor
    bank_spacing: Tensor

    lazy_networks = ("encoder", "decoder")
    encoder: MLPEncoder | LipschitzEncoder | ConvGaussianEncoder
    decoder: MLPDecoder | ConvDecoder

    card = MethodCard(
        paper="Glazunov & Zarras, Vacant Holes for Unsupervised Detection of the Outliers in Compact Latent "
        "Representation, UAI 2023",
        url="https://arxiv.org/abs/2306.09646",
    )

    def __init__(
        self,
        input_shape: Sequence[int] | None = None,
        network: Literal["mlp", "conv"] = "mlp",
        latent: Literal["gaussian", "sphere", "lipschitz"] = "sphere",
        latent_dim: int = 8,
        hidden: int = 256,
        lipschitz: float = 1.0,
        beta: float = 1.0,
        k: int = 5,
        score_name: Literal["elbo", "recon", "hole"] = "hole",
        hole_normalized: bool = False,
        lr: float = 1e-3,
        epsilons: Sequence[float] = (0.1, 0.25, 0.5),
        pretrained: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, epsilons=epsilons, pretrained=pretrained)
        if latent == "sphere" and latent_dim < 2:
            raise ValueError(f"latent='sphere' needs latent_dim >= 2 (the sphere S^d with d >= 2), got {latent_dim}.")
        if lipschitz <= 0:
            raise ValueError(f"The encoder's Lipschitz constant must be > 0, got lipschitz={lipschitz}.")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}.")
        if network not in ("mlp", "conv"):
            raise ValueError(f"network must be 'mlp' or 'conv', got {network!r}.")
        if network == "conv" and latent == "lipschitz":
            raise ValueError(
                "latent='lipschitz' needs network='mlp' (its orthogonal layers carry the proven bound); "
                "use network='conv' with latent 'gaussian' or 'sphere'."
            )
        if score_name not in ("elbo", "recon", "hole"):
            raise ValueError(f"score_name must be 'elbo', 'recon' or 'hole', got {score_name!r}.")
        self.save_hyperparameters()
        self.score_name = score_name
        self.register_buffer("bank", torch.empty(0, 0))
        self.register_buffer("bank_spacing", torch.empty(0))
        self.build_pending()

    def build_networks(self, shape: tuple[int, ...]) -> None:
        hp = self.hparams
        features = int(torch.Size(shape).numel())
        code_dim = hp.latent_dim + (1 if hp.latent == "sphere" else 0)
        if hp.get("network", "mlp") == "conv":
            self.encoder = ConvGaussianEncoder(shape, hp.hidden, hp.latent_dim)
            self.decoder = ConvDecoder(code_dim, shape)
            return
        if hp.latent == "lipschitz":
            self.encoder = LipschitzEncoder(features, hp.hidden, hp.latent_dim, hp.lipschitz)
        else:
            self.encoder = MLPEncoder(features, hp.hidden, hp.latent_dim)
        self.decoder = MLPDecoder(code_dim, hp.hidden, shape)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        for name in ("bank", "bank_spacing"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _to_code(self, z: Tensor) -> Tensor:
        return inverse_stereographic(z) if self.hparams.latent == "sphere" else z

    def codes(self, x: Tensor) -> Tensor:
        """The deterministic latent code of each input (posterior mean, on the sphere if compactified)."""
        mean, _ = self._require_encoder()(x)
        return self._to_code(mean)

    def _require_encoder(self) -> MLPEncoder | LipschitzEncoder | ConvGaussianEncoder:
        self.require_built()
        return self.encoder

    def _terms(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor, Tensor]:
        mean, log_variance = self._require_encoder()(x)
        log_variance = log_variance.clamp(-10, 10)
        z = mean + torch.randn_like(mean) * (0.5 * log_variance).exp() if sample else mean
        reconstruction = self.decoder(self._to_code(z))
        recon = (reconstruction - x).flatten(1).pow(2).sum(1)
        kl = 0.5 * (mean.pow(2) + log_variance.exp() - 1 - log_variance).sum(1)
        return recon, kl, self._to_code(mean)

    def score(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], *self.input_shape) if self.input_shape else x
        if self.score_name == "hole":
            if self.bank.numel() == 0:
                raise RuntimeError("The training-code bank is empty: fit the model (or call build_bank) first.")
            if self.hparams.k > self.bank.shape[0]:
                raise ValueError(f"k={self.hparams.k} is larger than the bank of {self.bank.shape[0]} training codes.")
            code = self.codes(x)
            if not self.hparams.hole_normalized:
                return knn_mean_distance(code, self.bank, self.hparams.k)
            distances, indices = exact_knn(code, self.bank, self.hparams.k)
            return distances.mean(1) / self.bank_spacing[indices[:, 0]].clamp_min(1e-12)
        recon, kl, _ = self._terms(x, sample=False)
        return recon if self.score_name == "recon" else recon + kl

    def export_module(self) -> nn.Module:
        """The current ``score_name`` as one traceable module (:class:`VAEScore`)."""
        shape = self.require_built()
        bank = None
        if self.score_name == "hole":
            if self.bank.numel() == 0:
                raise RuntimeError("The training-code bank is empty: fit the model before exporting it.")
            spacing = self.bank_spacing if self.hparams.hole_normalized else None
            bank = BankDistance(self.bank, self.hparams.k, spacing)
        return VAEScore(
            self._require_encoder(), self.decoder, shape, self.hparams.latent == "sphere", self.score_name, bank
        )

    def _certified_hole(self) -> bool:
        return self.hparams.latent == "lipschitz" and self.score_name == "hole" and not self.hparams.hole_normalized

    @property
    def lipschitz_bound(self) -> float | None:
        return cast(LipschitzEncoder, self._require_encoder()).lipschitz_bound() if self._certified_hole() else None

    def certified_scores(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The hole score with the encoder run in float64, and its rounding bound (see
        :mod:`lightning_occ.nn.rounding`): the code's error ``e_c`` plus the kNN step's relative error
        ``rho`` on distances of at most ``s_hat + L eps_max + 2 e_c``."""
        if not self._certified_hole():
            return super().certified_scores(x)
        encoder = self._require_encoder()
        assert isinstance(encoder, LipschitzEncoder)
        x64 = x.reshape(x.shape[0], *self.require_built()).to(torch.float64)
        code = self._float64_twin.network(encoder)(x64)[0]
        scores = knn_mean_distance(code, self.bank, self.hparams.k)
        plan = self._float64_twin.plan(encoder, lambda twin: [*twin.body, twin.mean])
        radius = x64.flatten(1).norm(dim=1) + max(self.epsilons)
        code_error = network_rounding_bound(plan, radius, torch.float64, output_scale=encoder.scale)
        lipschitz = encoder.scale * math.prod(step[1] for step in plan)
        rho = knn_relative_error(code.shape[1], self.hparams.k)
        error = code_error + rho * (scores * (1 + 2 * rho) + lipschitz * max(self.epsilons) + 2 * code_error)
        return scores, error.detach()

    @torch.no_grad()
    def build_bank(self, features: Tensor) -> None:
        """Store the training codes (and their local spacing) used by the hole score."""
        codes = torch.cat([self.codes(chunk.to(self.device)) for chunk in features.split(1024)])
        if self.hparams.k >= codes.shape[0]:
            raise ValueError(f"k={self.hparams.k} needs more than {codes.shape[0]} training codes; lower k.")
        self.bank = codes
        distances = exact_knn(codes, codes, self.hparams.k + 1)[0][:, 1:]
        self.bank_spacing = distances.mean(1).to(codes.dtype)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x = AnomalyBatch.of(batch).input
        recon, kl, _ = self._terms(x.reshape(x.shape[0], *self.require_built()), sample=True)
        loss = (recon + self.hparams.beta * kl).mean()
        self.log_dict({"train/loss": loss, "train/recon": recon.mean(), "train/kl": kl.mean()}, prog_bar=True)
        return loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        if isinstance(self.encoder, LipschitzEncoder):
            self.encoder.project_()

    def on_validation_start(self) -> None:
        self._refresh_bank()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """A checkpoint's bank always matches its weights."""
        super().on_save_checkpoint(checkpoint)
        if self._trainer is not None and self.trainer.training:
            self._refresh_bank()
            for name in ("bank", "bank_spacing"):
                checkpoint["state_dict"][name] = getattr(self, name).detach().clone()

    def on_fit_end(self) -> None:
        if isinstance(self.encoder, LipschitzEncoder):
            self.encoder.project_(tol=1e-7, max_iter=30)
        self._refresh_bank()

    def _refresh_bank(self) -> None:
        """Codes of the DataModule's full training set: the same bank on every process under DDP."""
        datamodule = attached_datamodule(self)
        if isinstance(datamodule, AnomalyDataModule):
            self.build_bank(datamodule.train_features())

    @torch.no_grad()
    def report_figures(self, datamodule: object) -> dict[str, Any]:
        """The latent scatter and, for images, a reconstruction grid (see the class docstring)."""
        test = getattr(datamodule, "test_dataset", None)
        if not isinstance(datamodule, AnomalyDataModule) or test is None or not self.is_built:
            return {}
        x, target = first_items(test, 2000)
        x, train = x.to(self.device), datamodule.train_features()[:2000].to(self.device)
        figures = {
            "latent_scatter.png": plot_latent_scatter(
                self.codes(train), self.codes(x[target == 0]), self.codes(x[target == 1])
            )
        }
        if len(self.require_built()) == 3:
            picks = torch.cat([x[target == 0][:8], x[target == 1][:8]])
            mean, _ = self.encoder(picks)
            figures["reconstructions.png"] = plot_reconstructions(picks, self.decoder(self._to_code(mean)))
        return figures

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
