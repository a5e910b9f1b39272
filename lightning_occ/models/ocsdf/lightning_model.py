"""OCSDF: One-Class Signed Distance Function (Béthune et al., ICML 2023, arXiv:2303.01978)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.card import MethodCard
from lightning_occ.core.lazy import LazyNetworkDetector
from lightning_occ.core.protocol import training_inputs
from lightning_occ.models.ocsdf.hkr_loss import hkr_loss
from lightning_occ.models.ocsdf.negatives import frozen_parameters, initial_negatives, newton_raphson_negatives
from lightning_occ.nn import LipschitzMLP
from lightning_occ.nn.lipschitz_convnet import LipschitzConvNet
from lightning_occ.nn.orthoconv import OrthoConvNet
from lightning_occ.nn.rounding import conv_without_fast_transforms, network_rounding_bound

__all__ = ["OCSDF"]

NETWORKS = ("mlp", "orthoconv", "conv")


class _NegatedNetwork(nn.Module):
    """The anomaly score ``-f(x)`` of an OCSDF network, for export."""

    def __init__(self, net: nn.Module, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.net, self.input_shape = net, input_shape

    def forward(self, x: Tensor) -> Tensor:
        return -self.net(x.reshape(x.shape[0], *self.input_shape))


class OCSDF(LazyNetworkDetector):
    """A 1-Lipschitz network ``f`` trained to be the signed distance to the normal data's support.

    ``f > 0`` inside the support, ``f < 0`` outside; the anomaly score is ``-f(x)``. Because ``f``
    is 1-Lipschitz, a perturbation of l2 norm eps moves the score by at most eps: the certificate
    comes for free (:attr:`lipschitz_bound`). Training minimises the HKR loss between the normal
    data (y=+1) and negatives drawn anew every batch from Q0 and pushed by Newton-Raphson steps
    toward the level set ``f = level`` of the current network (T = 0 during warm-up).

    The weights are kept orthogonal by re-projection after every optimiser step (see
    :mod:`lightning_occ.nn.orthogonal`), so the forward pass costs what an unconstrained MLP costs.

    Args:
        in_features: input dimension (tabular); inferred from the DataModule's ``input_shape`` when
            neither it nor ``input_shape`` is given.
        input_shape: full input shape, e.g. ``(1, 28, 28)`` for the convolutional network.
        network: ``mlp`` (:class:`~lightning_occ.nn.LipschitzMLP`, tabular), ``orthoconv``
            (:class:`~lightning_occ.nn.orthoconv.OrthoConvNet`, orthogonal convolutions: gradient-norm
            preserving, the choice for images in [0, 1]) or ``conv``
            (:class:`~lightning_occ.nn.lipschitz_convnet.LipschitzConvNet`, spectrally normalised
            convolutions: 1-Lipschitz but contracting, kept for comparison).
        width: hidden width of the MLP.
        depth: number of hidden layers of the MLP.
        activation: MLP activation, ``groupsort2`` (default) or ``fullsort`` (the paper's tabular
            choice; in our runs on 2 CPU cores it stayed near its initialisation).
        channels: conv network channels per stage.
        convs_per_stage: conv network convolutions per stage.
        padding_mode: ``orthoconv`` padding, ``circular`` (orthogonal) or ``zeros``.
        stem: ``orthoconv`` first stage, ``conv`` (full resolution, widening) or ``patches``
            (gradient-norm preserving by construction); see :class:`~lightning_occ.nn.orthoconv.OrthoConvNet`.
        exported: the ``orthoconv`` network is in its exported form (plain convolutions, see
            :meth:`export_`); set by ``export_`` and read back from checkpoints and the zoo.
        conv_head: ``flatten`` (keeps input gradients larger) or ``global_pool`` (the paper's).
        margin: HKR margin m.
        lam: HKR lambda (the loss is divided by it, as in the reference code).
        negative_steps: T, Newton-Raphson steps per batch after warm-up.
        step_scale: the step multiplier ``eta_mult``.
        warmup_epochs: epochs with T = 0 (plain Q0 negatives).
        negative_init: ``gaussian`` (per-feature ``N(0, (s * max|x|)^2)``, tabular) or ``uniform``
            (in the domain box, images).
        negative_std_scale: s above. The paper uses 0.5; 1.0 covers more of the space around the
            data, which anomalies far outside the training range need (breast cancer: 0.948 vs
            < 0.5 AUROC in our runs).
        domain: the box ``(low, high)`` negatives are clipped to; None = ``+-3.5 * max |x|`` over
            the training data (a fixed [-5, 5] box leaves most malignant breast-cancer rows, which
            reach |z| = 22 in benign-standardised units, outside the region negatives explore).
        level: the level set negatives are pushed to (0 tabular, ``-margin`` images).
        lr: RMSprop learning rate.
        lr_final: if set, the learning rate decays linearly to it over ``trainer.max_epochs``.
        epsilons: radii of the certified AUROC.
        pretrained: ``zoo:NAME`` or a checkpoint of this method to start ``fit`` from.

    Example:
        >>> model = OCSDF(in_features=2, width=16, depth=2)
        >>> model.score(torch.zeros(3, 2)).shape
        torch.Size([3])
        >>> model.lipschitz_bound <= 1 + 1e-4
        True
    """

    domain_box: Tensor
    median_train_f: Tensor
    negative_std: Tensor | None

    lazy_networks = ("net",)
    net: LipschitzMLP | LipschitzConvNet | OrthoConvNet

    card = MethodCard(
        paper="Bethune et al., Robust One-Class Classification with Signed Distance Function using 1-Lipschitz "
        "Neural Networks, ICML 2023",
        url="https://arxiv.org/abs/2303.01978",
    )

    def __init__(
        self,
        in_features: int | None = None,
        input_shape: Sequence[int] | None = None,
        network: Literal["mlp", "conv", "orthoconv"] = "mlp",
        width: int = 512,
        depth: int = 4,
        activation: Literal["fullsort", "groupsort2"] = "groupsort2",
        channels: Sequence[int] = (32, 64, 128),
        convs_per_stage: int | Sequence[int] = 2,
        conv_head: Literal["flatten", "global_pool"] = "flatten",
        padding_mode: Literal["circular", "zeros"] = "circular",
        stem: Literal["conv", "patches"] = "conv",
        exported: bool = False,
        margin: float = 0.05,
        lam: float = 100.0,
        negative_steps: int = 4,
        step_scale: float = 1.0,
        warmup_epochs: int = 5,
        negative_init: Literal["gaussian", "uniform"] = "gaussian",
        negative_std_scale: float = 1.0,
        domain: tuple[float, float] | None = None,
        level: float = 0.0,
        lr: float = 5e-4,
        lr_final: float | None = None,
        epsilons: Sequence[float] = (0.25, 0.5, 1.0),
        pretrained: str | None = None,
    ) -> None:
        shape = tuple(input_shape) if input_shape is not None else (in_features,) if in_features is not None else None
        super().__init__(input_shape=shape, epsilons=epsilons, pretrained=pretrained)
        if network not in NETWORKS:
            raise ValueError(f"Unknown network {network!r}; choose one of {NETWORKS}.")
        if activation not in ("fullsort", "groupsort2"):
            raise ValueError(
                f"Unknown activation {activation!r}; choose 'groupsort2' or 'fullsort' (gradient-norm "
                "preserving; ReLU-like activations would break the signed distance)."
            )
        if width < 1 or depth < 1:
            raise ValueError(f"width and depth must be >= 1, got width={width}, depth={depth}.")
        if margin <= 0 or lam <= 0 or negative_steps < 0 or warmup_epochs < 0:
            raise ValueError("margin and lam must be > 0; negative_steps and warmup_epochs >= 0.")
        if domain is not None and domain[0] >= domain[1]:
            raise ValueError(f"domain must be (low, high) with low < high, got {domain}.")
        if negative_init == "uniform" and domain is None:
            raise ValueError("negative_init='uniform' needs an explicit domain box, e.g. [0.0, 1.0] for images.")
        if in_features is not None and input_shape is not None and int(torch.Size(input_shape).numel()) != in_features:
            raise ValueError(f"in_features={in_features} contradicts input_shape={tuple(input_shape)}.")
        self.save_hyperparameters()
        self.register_buffer("negative_std", None)
        self.register_buffer("domain_box", torch.tensor(domain if domain is not None else (-5.0, 5.0)))
        self.register_buffer("median_train_f", torch.tensor(float("nan")))
        self.build_pending()

    def build_networks(self, shape: tuple[int, ...]) -> None:
        hp = self.hparams
        features = int(torch.Size(shape).numel())
        hp.in_features = features
        if hp.network in ("conv", "orthoconv") and len(shape) != 3:
            raise ValueError(f"network={hp.network!r} needs (C, H, W) inputs, got shape {shape}.")
        if hp.network == "orthoconv":
            self.net = OrthoConvNet(
                shape, hp.channels, hp.convs_per_stage, hp.padding_mode, hp.stem, vanilla=hp.exported
            )
        elif hp.network == "conv":
            self.net = LipschitzConvNet(shape, hp.channels, hp.convs_per_stage, head=hp.conv_head)
        else:
            self.net = LipschitzMLP(features, hp.width, hp.depth, hp.activation)
        if hp.negative_init == "gaussian":
            self.negative_std = torch.ones(shape)

    def _require_net(self) -> LipschitzMLP | LipschitzConvNet | OrthoConvNet:
        self.require_built()
        return self.net

    def f(self, x: Tensor) -> Tensor:
        """The learned signed distance: positive inside the normal data's support."""
        return self._require_net()(x)

    def _as_input(self, x: Tensor) -> Tensor:
        shape = self.require_built()
        expected = int(torch.Size(shape).numel())
        if x[0].numel() != expected:
            raise ValueError(
                f"OCSDF expects inputs of shape {self.input_shape} ({expected} values), got shape {tuple(x.shape[1:])}"
                + (": a grayscale model fed RGB images (or the reverse)?" if x.dim() == 4 else ".")
            )
        return x.reshape(x.shape[0], *shape)

    def score(self, x: Tensor) -> Tensor:
        net = self._require_net()
        return -net(self._as_input(x))

    def certified_scores(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``-f`` evaluated in float64 and a proven bound on its rounding error over the largest
        radius's ball (:func:`lightning_occ.nn.rounding.network_rounding_bound`)."""
        net = self._require_net()
        x64 = self._as_input(x).to(torch.float64)
        with conv_without_fast_transforms():
            scores = -self._float64_twin.network(net)(x64)
        radius = x64.flatten(1).norm(dim=1) + max(self.epsilons)
        plan = self._float64_twin.plan(net)
        return scores, network_rounding_bound(plan, radius, torch.float64)

    @property
    def lipschitz_bound(self) -> float:
        """Proven l2 constant of ``score = -f``: the product of the layers' exact operator norms.

        See the networks' ``lipschitz_bound`` for the proofs; negation keeps the constant. Inputs are
        in the DataModule's units (standardised features, [0, 1] pixels), no scaling is inside. The
        bound is computed from the weights certified evaluation runs (:meth:`certified_scores`): for
        ``orthoconv`` the exported kernels, frozen, since the parametrisation's own state moves with
        every forward pass.
        """
        return self._float64_twin.network(self._require_net()).lipschitz_bound()

    def export_module(self) -> nn.Module:
        """``-f`` on inputs reshaped to ``input_shape``, with the exported network (plain layers)."""
        self.export_()
        return _NegatedNetwork(self._require_net(), self.require_built())

    @torch.no_grad()
    def export_(self) -> OCSDF:
        """Replace an ``orthoconv`` network by its exported form: plain ``nn.Conv2d`` layers holding the
        current kernels, the same outputs (to float32 round-off), no parametrisation, faster inference.
        The exported model cannot be trained further; checkpoints and the zoo record ``exported``.
        ``mlp`` and ``conv`` networks are plain layers already: nothing to do. Returns ``self``."""
        net = self._require_net()
        if self.hparams.network == "orthoconv" and not self.hparams.exported:
            self.net = cast(OrthoConvNet, net).export()
            self.hparams.exported = True
        return self

    def on_fit_start(self) -> None:
        if self.hparams.exported:
            raise ValueError(
                "This OCSDF holds an exported (plain-convolution) network, which training would take "
                "out of its orthogonality: fit from the training checkpoint (last.ckpt) instead."
            )
        super().on_fit_start()
        if self.negative_std is None and self.hparams.domain is not None:
            return
        max_abs = training_inputs(self).flatten(1).abs().amax(0).reshape(self.require_built()).to(self.device)
        if self.negative_std is not None:
            self.negative_std = (max_abs * self.hparams.negative_std_scale).clamp_min(1e-6)
        if self.hparams.domain is None:
            reach = 3.5 * float(max_abs.max())
            self.domain_box = torch.tensor((-reach, reach), device=self.device)

    def sample_negatives(self, n: int, steps: int | None = None) -> Tensor:
        """Draw n negatives: Q0, then ``steps`` Newton-Raphson steps (default: T, or 0 in warm-up)."""
        hp = self.hparams
        net = self._require_net()
        if steps is None:
            steps = 0 if self.current_epoch < hp.warmup_epochs else hp.negative_steps
        low, high = self.domain_box.tolist()
        z = initial_negatives(n, self.negative_std, low, high, self.require_built(), self.device)
        with frozen_parameters(net):
            return newton_raphson_negatives(net, z, steps, hp.step_scale, hp.level, low, high)

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x = self._as_input(AnomalyBatch.of(batch).input)
        negatives = self.sample_negatives(x.shape[0])
        net = self._require_net()
        f_positive, f_negative = net(x), net(negatives)
        loss = hkr_loss(f_positive, f_negative, self.hparams.margin, self.hparams.lam)
        self.log("train/loss", loss, prog_bar=True)
        self.log_dict({"train/f_normal": f_positive.mean(), "train/f_negative": f_negative.mean()})
        return loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        self._require_net().project_()

    def on_fit_end(self) -> None:
        """A last, tight projection so the certified bound is 1 up to float32 round-off; an ``orthoconv``
        network is exported (:meth:`export_`; the checkpoints written during training keep the
        trainable form); remember the median of f on the training data (the level boundary samples
        are pushed to)."""
        self._require_net().project_(tol=1e-7, max_iter=30)
        self.export_()
        with torch.no_grad():
            features = training_inputs(self).flatten(1)[:10_000].to(self.device)
            values = torch.cat([self.f(chunk.reshape(-1, *self.require_built())) for chunk in features.split(512)])
            self.median_train_f = values.median()

    def generate(
        self, n: int = 64, steps: int | None = None, level: float | None = None, seed: int = 0, progress: bool = False
    ) -> Tensor:
        """Boundary samples ("dreams"): uniform noise in the domain box moved by deterministic
        Newton-Raphson steps (eta = 1) toward ``f = level`` (default: the median of f on the
        training data, i.e. typical normal samples).

        Args:
            n: number of samples.
            steps: Newton-Raphson steps; default ``50 * T``.
            level: target level of f.
            seed: noise seed.
            progress: show a progress bar over the steps.

        Returns:
            Samples of the input shape, shape (n, *input_shape).
        """
        net = self._require_net()
        hp = self.hparams
        if level is None:
            level = float(self.median_train_f) if torch.isfinite(self.median_train_f) else 0.0
        steps = steps if steps is not None else 50 * max(1, hp.negative_steps)
        low, high = self.domain_box.tolist()
        generator = torch.Generator(device=self.device).manual_seed(seed)
        with torch.inference_mode(False), frozen_parameters(net):  # also callable from evaluation hooks
            z = torch.rand((n, *self.require_built()), generator=generator, device=self.device) * (high - low) + low
            return newton_raphson_negatives(
                net, z, steps, float(steps), level, low, high, eta=torch.ones(n, device=self.device), progress=progress
            )

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.RMSprop(self.parameters(), lr=self.hparams.lr)
        if self.hparams.lr_final is None:
            return optimizer
        epochs = max(1, self.trainer.max_epochs or 1)
        scheduler = torch.optim.lr_scheduler.LinearLR(
            optimizer, start_factor=1.0, end_factor=self.hparams.lr_final / self.hparams.lr, total_iters=epochs
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
