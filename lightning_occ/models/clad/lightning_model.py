"""CLAD: confidence-based self-labelling anomaly detection (after Park et al., 2021, arXiv:2104.09793)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

import torch
import torch.nn.functional as F
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor

from lightning_occ.core.batch import AnomalyBatch
from lightning_occ.core.card import MethodCard
from lightning_occ.core.lazy import LazyNetworkDetector
from lightning_occ.core.protocol import training_inputs, training_sub_labels
from lightning_occ.metrics.exact_auroc import ExactAUROC
from lightning_occ.models.clad.classifiers import create_classifier
from lightning_occ.models.clad.clustering import (
    cluster_fractions,
    cluster_purity,
    kmeans_centres,
    normalized_mutual_information,
)
from lightning_occ.models.clad.dec import DECHead, check_target_kind, classifier_targets
from lightning_occ.models.clad.odin import max_softmax, odin_scores
from lightning_occ.models.clad.odin_selection import ODINSettings, as_grid
from lightning_occ.models.clad.stages import STAGES, StagePlan
from lightning_occ.nn.conv_autoencoder import ConvAutoencoder

__all__ = ["CLAD"]

ScoreName = Literal["odin", "msp", "dec", "recon"]


class CLAD(LazyNetworkDetector):
    """Self-labelling anomaly detection for normal data made of hidden classes, trained in one ``fit``.

    Stages, run one after the other inside a single ``Trainer.fit`` (epochs per stage below):

    1. ``autoencoder``: a :class:`ConvAutoencoder` on the normal training images (MSE, Adam).
    2. ``clustering``: DEC. k-means on the codes of the whole training set initialises K centres
       (computed once on rank 0 and broadcast under DDP), then encoder and centres minimise
       KL(P || Q) (SGD with momentum). Before each clustering epoch the pseudo-labels of the
       whole training set are recomputed; the stage ends when fewer than ``dec_tol`` of them
       changed, or after ``dec_epochs``.
    3. ``classifier``: a timm network (``classifier``, random init, small-image stem) trained with
       cross-entropy on the pseudo-labels of the (frozen) encoder, computed on the fly: argmax Q
       (``pseudo_targets="hard"``, the paper), Q itself (``"soft"``: DEC's posterior distilled) or
       DEC's sharpened target P of the batch (``"sharpened"``).

    Scores (``score_name``): ``odin`` (default): ``-max softmax(f(x') / T)`` with x' the ODIN input
    step of size ``odin_eps``; ``msp``: the baseline ``-max softmax(f(x))``; ``dec``: ``-max Q`` of the
    clustering head; ``recon``: the autoencoder's squared error. ``val``/``test`` also log
    ``{stage}/msp_auroc`` next to ``{stage}/auroc`` once the classifier is trained. ``T`` and
    ``odin_eps`` are either fixed (the paper's values) or lists of candidates: then each validation
    epoch scores every pair on the validation split (drawn from the training side) and keeps the best
    (:class:`ODINSettings`); the test split is never used.

    The stage state (current stage, the epoch it started, the last pseudo-labels) lives in buffers,
    so ``--ckpt_path last`` resumes inside any stage. To run stages alone: ``stop_after`` ends the
    fit after a stage; ``init_from`` starts a new fit from an earlier CLAD checkpoint's weights and
    stage, and ``start_stage`` rewinds to a stage whose predecessors that checkpoint has finished.

    CLAD has no Lipschitz bound: certify it with ``lightning-occ certify`` (smoothing).

    Args:
        input_shape: (C, H, W); inferred from the DataModule when None.
        num_clusters: K, the number of pseudo-classes.
        latent_dim: code size of the autoencoder.
        ae_channels: channels of the autoencoder's two convolutions.
        classifier: timm model name.
        classifier_kwargs: extra keyword arguments of ``timm.create_model``.
        classifier_input_size: when set, the classifier sees the images resized (bilinear) to this
            many pixels a side; None keeps their size.
        pseudo_targets: classifier targets, ``hard`` (argmax Q), ``soft`` (Q) or ``sharpened`` (P).
        ae_epochs: epochs of the autoencoder stage.
        dec_epochs: the most epochs of the clustering (DEC) stage.
        classifier_epochs: epochs of the classifier stage.
        ae_lr: the autoencoder's Adam learning rate.
        dec_lr: DEC's SGD learning rate.
        dec_momentum: DEC's SGD momentum.
        classifier_lr: the classifier's Adam learning rate.
        dec_tol: fraction of changed pseudo-labels below which clustering stops.
        alpha: degrees of freedom of the Student-t kernel.
        temperature: ODIN's T (> 0), or candidates chosen on validation data.
        odin_eps: ODIN's input step (>= 0, in pixel units of [0, 1] images), or candidates.
        score_name: ``odin``, ``msp``, ``dec`` or ``recon``.
        kmeans_seed: seed of the k-means initialisation.
        init_from: path of a CLAD checkpoint to start a new fit from.
        start_stage: stage to (re)start at with ``init_from``.
        stop_after: last stage to train.
        epsilons: radii reported by ``lightning-occ certify``.
        pretrained: ``zoo:NAME`` or a checkpoint of this method to start ``fit`` from.
    """

    stage_index: Tensor
    stage_start_epoch: Tensor
    labels_epoch: Tensor
    pseudo_labels: Tensor
    reached_stage: Tensor
    classifier_steps: Tensor

    lazy_networks = ("autoencoder", "dec", "classifier")
    autoencoder: ConvAutoencoder
    dec: DECHead
    classifier: torch.nn.Module

    card = MethodCard(
        paper="Park et al., Confidence-based self-labelling anomaly detection, arXiv:2104.09793",
        url="https://arxiv.org/abs/2104.09793",
    )

    def __init__(
        self,
        input_shape: Sequence[int] | None = None,
        num_clusters: int = 10,
        latent_dim: int = 10,
        ae_channels: Sequence[int] = (32, 64),
        classifier: str = "resnet18",
        classifier_kwargs: dict[str, Any] | None = None,
        classifier_input_size: int | None = None,
        pseudo_targets: Literal["hard", "soft", "sharpened"] = "hard",
        ae_epochs: int = 20,
        dec_epochs: int = 20,
        classifier_epochs: int = 20,
        ae_lr: float = 1e-3,
        dec_lr: float = 0.01,
        dec_momentum: float = 0.9,
        classifier_lr: float = 1e-4,
        dec_tol: float = 1e-3,
        alpha: float = 1.0,
        temperature: float | Sequence[float] = 1000.0,
        odin_eps: float | Sequence[float] = 1e-4,
        score_name: ScoreName = "odin",
        kmeans_seed: int = 0,
        init_from: str | None = None,
        start_stage: Literal["autoencoder", "clustering", "classifier"] | None = None,
        stop_after: Literal["autoencoder", "clustering", "classifier"] = "classifier",
        epsilons: Sequence[float] = (0.1, 0.25, 0.5),
        pretrained: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, epsilons=epsilons, pretrained=pretrained)
        if num_clusters < 1:
            raise ValueError(f"num_clusters (K) must be >= 1, got {num_clusters}.")
        temperatures = as_grid(temperature, "ODIN temperature T", 0.0, strict=True)
        odin_steps = as_grid(odin_eps, "ODIN step odin_eps", 0.0, strict=False)
        check_target_kind(pseudo_targets)
        if score_name not in ("odin", "msp", "dec", "recon"):
            raise ValueError(f"score_name must be 'odin', 'msp', 'dec' or 'recon', got {score_name!r}.")
        if min(ae_epochs, dec_epochs, classifier_epochs) < 0:
            raise ValueError("Stage epochs (ae_epochs, dec_epochs, classifier_epochs) must be >= 0.")
        if start_stage is not None and init_from is None and start_stage != "autoencoder":
            raise ValueError(
                f"start_stage={start_stage!r} needs init_from: a CLAD checkpoint whose earlier stages are trained."
            )
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.score_name = score_name
        self.plan = StagePlan(ae_epochs, dec_epochs, classifier_epochs, stop_after)
        self.register_buffer("stage_index", torch.tensor(0))
        self.register_buffer("stage_start_epoch", torch.tensor(0))
        self.register_buffer("labels_epoch", torch.tensor(-1))
        self.register_buffer("pseudo_labels", torch.zeros(0, dtype=torch.long))
        self.register_buffer("reached_stage", torch.tensor(0))
        self.register_buffer("classifier_steps", torch.tensor(0))
        self._pending_stage: str | None = None
        self.odin = ODINSettings(temperatures, odin_steps)
        self.val_msp = ExactAUROC()
        self.test_msp = ExactAUROC()
        self.build_pending()

    # ----------------------------------------------------------------------------------- building
    def build_networks(self, shape: tuple[int, ...]) -> None:
        hp = self.hparams
        if len(shape) != 3:
            raise ValueError(f"CLAD needs images (C, H, W), got input shape {shape}.")
        self.autoencoder = ConvAutoencoder(shape, hp.latent_dim, hp.ae_channels)
        self.dec = DECHead(hp.num_clusters, hp.latent_dim, hp.alpha)
        self.classifier = create_classifier(
            hp.classifier, hp.num_clusters, shape, input_size=hp.classifier_input_size, **(hp.classifier_kwargs or {})
        )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        strategy = self.trainer.strategy if self._trainer is not None else None
        if stage == "fit" and isinstance(strategy, DDPStrategy):
            # Each stage trains a different part of the model, so DDP must expect unused parameters.
            strategy._ddp_kwargs["find_unused_parameters"] = True

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        if prefix + "pseudo_labels" in state_dict:
            self.pseudo_labels = torch.empty_like(state_dict[prefix + "pseudo_labels"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def stage(self) -> str:
        """The stage being trained (``done`` once ``stop_after`` has finished)."""
        return STAGES[int(self.stage_index)]

    # ------------------------------------------------------------------------------------ scoring
    def _images(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.require_built())

    def _require_clustering(self) -> None:
        if int(self.reached_stage) < STAGES.index("clustering"):
            raise RuntimeError(
                f"score_name={self.score_name!r} needs the clustering stage; this model has only "
                "trained its autoencoder. Train further or use score_name='recon'."
            )

    def _classifier_trained(self) -> bool:
        return int(self.classifier_steps) > 0

    def _require_classifier(self) -> None:
        if not self._classifier_trained():
            raise RuntimeError(
                f"score_name={self.score_name!r} needs a trained classifier; this model is at stage "
                f"{self.stage!r}. Train further or use score_name 'recon' or 'dec'."
            )

    def cluster_assignment(self, x: Tensor) -> Tensor:
        """DEC's soft assignment Q of a batch of images."""
        return self.dec(self.autoencoder.encode(self._images(x)))

    def score(self, x: Tensor) -> Tensor:
        x = self._images(x)
        if self.score_name == "recon":
            return (self.autoencoder(x) - x).flatten(1).pow(2).sum(1)
        if self.score_name == "dec":
            self._require_clustering()
            return -self.cluster_assignment(x).max(dim=1).values
        self._require_classifier()
        if self.score_name == "msp":
            with torch.no_grad():
                return -max_softmax(self.classifier(x))
        return odin_scores(self.classifier, x, *self.odin.current())

    def msp_scores(self, x: Tensor) -> Tensor:
        """The baseline score ``-max softmax(f(x))`` (T = 1, no input step)."""
        return -max_softmax(self.classifier(self._images(x)))

    # ------------------------------------------------------------------------------ stage control
    def on_fit_start(self) -> None:
        super().on_fit_start()
        features = self._train_features()
        if self.hparams.num_clusters > features.shape[0]:
            raise ValueError(
                f"num_clusters={self.hparams.num_clusters} is larger than the {features.shape[0]} normal "
                "training samples; lower num_clusters (K)."
            )
        if self.hparams.init_from and self.trainer.ckpt_path is None:
            self._initialise_from(self.hparams.init_from)
        needed = self.trainer.current_epoch + self.plan.remaining_epochs(self.stage, self._epochs_in_stage())
        max_epochs = self.trainer.max_epochs
        if max_epochs is not None and max_epochs >= 0 and max_epochs < needed:
            raise ValueError(
                f"CLAD needs trainer.max_epochs >= {needed} (ae_epochs + dec_epochs + classifier_epochs "
                f"up to stop_after={self.plan.stop_after!r}); got {max_epochs}."
            )

    def on_pretrained_loaded(self) -> None:
        """Pretrained weights, with every stage to train again (fine-tuning all of them)."""
        for name in ("stage_index", "stage_start_epoch", "reached_stage", "classifier_steps"):
            getattr(self, name).zero_()
        self.labels_epoch.fill_(-1)
        self.pseudo_labels = torch.zeros(0, dtype=torch.long, device=self.device)

    def _initialise_from(self, path: str) -> None:
        """Weights and stage state of an earlier CLAD checkpoint; the stage to train then starts afresh."""
        checkpoint = torch.load(path, map_location=self.device, weights_only=True)
        self.load_state_dict(checkpoint["state_dict"])
        reached, wanted = int(self.reached_stage), self.hparams.start_stage
        if wanted is not None and STAGES.index(wanted) > reached + 1:
            raise ValueError(
                f"start_stage={wanted!r} needs the earlier stages trained, but {path} has only "
                f"reached the {STAGES[reached]!r} stage."
            )
        if wanted is None and self.stage == "done":
            wanted = STAGES[reached + 1]
        self.stage_start_epoch.fill_(self.trainer.current_epoch)
        self.labels_epoch.fill_(-1)
        if wanted is not None:
            self.stage_index.fill_(STAGES.index(wanted))
            self._pending_stage = wanted

    def _epochs_in_stage(self) -> int:
        return self.trainer.current_epoch - int(self.stage_start_epoch)

    def _train_features(self) -> Tensor:
        return training_inputs(
            self,
            needed_by="CLAD (k-means and the pseudo-label check run on the whole "
            "training set, identically on every process)",
        )

    def on_train_epoch_start(self) -> None:
        """Advance through finished stages. Decisions are taken here, from the epoch counter and the
        buffers only, so a checkpoint saved anywhere in the previous epoch resumes identically."""
        if self._pending_stage is not None:
            self._enter(self._pending_stage)
            self._pending_stage = None
        while True:
            stage, done = self.stage, self._epochs_in_stage()
            if stage == "clustering":
                self._update_pseudo_labels()
            if stage == "done" or not self.plan.stage_finished(stage, done, self._clustering_converged()):
                break
            self._enter(STAGES[STAGES.index(stage) + 1])
        if self.stage == "done":
            self.trainer.should_stop = True

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """After the last batch of the last planned stage, mark the model ``done`` (before the epoch-end
        checkpoint is written, so a later ``init_from`` knows that stage is complete)."""
        if not self.trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return
        if self.plan.is_last(self.stage) and self.plan.stage_finished(self.stage, self._epochs_in_stage() + 1, False):
            self._enter("done")
            self.trainer.should_stop = True

    def _enter(self, stage: str) -> None:
        if stage != "done" and not self.plan.runs(stage):
            stage = "done"
        self.stage_index.fill_(STAGES.index(stage))
        self.stage_start_epoch.fill_(self.trainer.current_epoch)
        if stage != "done":
            self.reached_stage.fill_(max(int(self.reached_stage), STAGES.index(stage)))
        if stage == "classifier":
            self.classifier_steps.zero_()
        if stage == "clustering":
            self._initialise_centres()
            self._update_pseudo_labels()

    @torch.no_grad()
    def _train_codes(self) -> Tensor:
        return torch.cat(
            [self.autoencoder.encode(chunk.to(self.device)) for chunk in self._train_features().split(1024)]
        )

    def _initialise_centres(self) -> None:
        codes = self._train_codes()
        centres = (
            kmeans_centres(codes, self.hparams.num_clusters, self.hparams.kmeans_seed)
            if self.trainer.is_global_zero
            else None
        )
        centres = cast(Tensor, self.trainer.strategy.broadcast(centres, src=0))
        self.dec.centres.data.copy_(centres.to(self.dec.centres.data))
        self.labels_epoch.fill_(-1)
        self.pseudo_labels = torch.zeros(0, dtype=torch.long, device=self.device)

    @torch.no_grad()
    def _update_pseudo_labels(self) -> None:
        """Recompute the whole training set's pseudo-labels once per epoch and log the diagnostics."""
        if int(self.labels_epoch) == self.trainer.current_epoch:
            return
        labels = self.dec(self._train_codes()).argmax(dim=1)
        previous = self.pseudo_labels
        self._label_change = float((labels != previous).double().mean()) if previous.numel() == labels.numel() else 1.0
        self.pseudo_labels = labels
        self.labels_epoch.fill_(self.trainer.current_epoch)
        self._log_clustering(labels)

    def _clustering_converged(self) -> bool:
        return (
            int(self.labels_epoch) == self.trainer.current_epoch
            and int(self.trainer.current_epoch) > int(self.stage_start_epoch)
            and getattr(self, "_label_change", 1.0) < self.hparams.dec_tol
        )

    def _log_clustering(self, labels: Tensor) -> None:
        values = {"clustering/label_change": getattr(self, "_label_change", 1.0)}
        for j, fraction in enumerate(cluster_fractions(labels, self.hparams.num_clusters).tolist()):
            values[f"clustering/pseudo_label_fraction/{j}"] = fraction
        truth = training_sub_labels(self)
        if truth is not None:
            values["clustering/nmi"] = normalized_mutual_information(labels, truth)
            values["clustering/purity"] = cluster_purity(labels, truth)
        self.clustering_diagnostics = values
        for name, value in values.items():
            self.log(name, value, on_epoch=True, on_step=False)

    # ---------------------------------------------------------------------------------- training
    def training_step(self, batch: Any, batch_idx: int) -> Tensor | None:
        stage = self.stage
        if stage == "done":
            return None
        x = self._images(AnomalyBatch.of(batch).input)
        if stage == "classifier" and x.shape[0] == 1:
            # BatchNorm cannot train on one image (a training set of n * batch_size + 1 images). Under DDP
            # the ranks' batches are padded to equal sizes, so every rank skips it together.
            return None
        if stage == "autoencoder":
            loss = F.mse_loss(self.autoencoder(x), x)
        elif stage == "clustering":
            loss = self.dec.loss(self.cluster_assignment(x))
        else:
            with torch.no_grad():
                q = self.cluster_assignment(x)
            loss = F.cross_entropy(self.classifier(x), classifier_targets(q, self.hparams.pseudo_targets))
            self.classifier_steps += 1
        optimizer = cast(list[Any], self.optimizers())[STAGES.index(stage)]
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        self.log(f"train/{stage}_loss", loss, prog_bar=True, on_step=True, on_epoch=True)
        return loss.detach()

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp = self.hparams
        return [
            torch.optim.Adam(self.autoencoder.parameters(), lr=hp.ae_lr),
            torch.optim.SGD(
                [*self.autoencoder.encoder.parameters(), self.dec.centres], lr=hp.dec_lr, momentum=hp.dec_momentum
            ),
            torch.optim.Adam(self.classifier.parameters(), lr=hp.classifier_lr),
        ]

    # -------------------------------------------------------------------------------- evaluation
    def _evaluates(self) -> bool:
        if self.score_name == "dec":
            return int(self.reached_stage) >= STAGES.index("clustering")
        return self.score_name == "recon" or self._classifier_trained()

    def evaluation_step(self, metric: Any, batch: AnomalyBatch) -> None:
        if metric is self.val_certified and not self._evaluates():
            return  # validation before the scored stage is trained; ``test`` raises a clear error instead
        super().evaluation_step(metric, batch)
        if self._classifier_trained():
            x, target = batch.labelled()
            msp = self.val_msp if metric is self.val_certified else self.test_msp
            msp.update(self.msp_scores(x), target)
            if metric is self.val_certified and self.odin.searching:
                self.odin.update(self.classifier, self._images(x), target)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self.odin.reset()
        elif (aurocs := self.odin.select()) is not None:
            temperature, epsilon = self.odin.current()
            self.log_dict(
                {"val/odin_temperature": temperature, "val/odin_eps": epsilon, "val/odin_auroc": max(aurocs.values())}
            )
        if self._evaluates():
            self._log_msp("val", self.val_msp)
            super().on_validation_epoch_end()
        else:
            self.val_certified.reset()

    def on_test_epoch_end(self) -> None:
        self._log_msp("test", self.test_msp)
        super().on_test_epoch_end()

    def _log_msp(self, stage: str, metric: ExactAUROC) -> None:
        if metric.update_count and not self.trainer.sanity_checking:
            self.log(f"{stage}/msp_auroc", metric.compute())
        metric.reset()
