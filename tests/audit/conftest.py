"""Small trained certified detectors for the audit, one per kind of certificate (built once per session)."""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import pytest
import torch
from torch import Tensor

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.data import ScenarioDataModule, TabularDataModule
from lightning_occ.models import OCSDF, CompactVAE, KNNDetector
from tests.helpers.training import tiny_trainer

TABULAR_RADII = (0.1, 0.25, 0.5, 1.0)  # the README's breast-cancer radii
IMAGE_RADII = (8 / 255, 16 / 255, 36 / 255, 72 / 255)  # the paper's pixel radii


@dataclass
class Audited:
    """A trained certified detector and the data the audit attacks it on."""

    detector: AnomalyDetector
    x: Tensor
    target: Tensor
    radii: tuple[float, ...]
    low: float | None = None
    high: float | None = None
    bank_points: Tensor | None = None


def _test_split(datamodule: L.LightningDataModule, limit: int = 160) -> tuple[Tensor, Tensor]:
    """A class-balanced slice of the test split (the attack costs grow with it)."""
    datamodule.setup("test")
    loader = datamodule.test_dataloader()
    x, y = (torch.cat(parts) for parts in zip(*[(batch[0], batch[1]) for batch in loader]))
    normal, anomaly = torch.nonzero(y == 0).flatten()[: limit // 2], torch.nonzero(y == 1).flatten()[: limit // 2]
    keep = torch.cat([normal, anomaly])
    return x[keep], y[keep]


def _ocsdf_mlp() -> Audited:
    L.seed_everything(0, verbose=False)
    datamodule = TabularDataModule("breast_cancer", seed=0)
    model = OCSDF(width=32, depth=2, warmup_epochs=10, negative_steps=2, lr=1e-3, epsilons=TABULAR_RADII)
    tiny_trainer(max_epochs=40, limit_val_batches=0).fit(model, datamodule=datamodule)
    return Audited(model.eval(), *_test_split(datamodule), TABULAR_RADII)


def _ocsdf_image(network: str, channels: tuple[int, int]) -> Audited:
    """OCSDF on digit 0, trained briefly; the two image networks differ only in ``network`` and width."""
    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal=0, batch_size=64)
    model = OCSDF(
        network=network,
        channels=channels,
        convs_per_stage=1,
        negative_init="uniform",
        domain=(0.0, 1.0),
        level=-0.05,
        warmup_epochs=2,
        negative_steps=2,
        lr=1e-3,
        epsilons=IMAGE_RADII,
    )
    tiny_trainer(max_epochs=6, limit_val_batches=0).fit(model, datamodule=datamodule)
    return Audited(model.eval(), *_test_split(datamodule), IMAGE_RADII, 0.0, 1.0)


def _ocsdf_conv() -> Audited:
    return _ocsdf_image("conv", (4, 8))


def _ocsdf_orthoconv() -> Audited:
    return _ocsdf_image("orthoconv", (8, 16))


def _knn() -> Audited:
    datamodule = TabularDataModule("breast_cancer", seed=0)
    datamodule.setup()
    model = KNNDetector(k=5, epsilons=TABULAR_RADII)
    model.fit_bank(datamodule.train_features())
    return Audited(model.eval(), *_test_split(datamodule), TABULAR_RADII, bank_points=model.bank[:64])


def _vae_hole() -> Audited:
    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal=0, batch_size=64)
    model = CompactVAE(latent="lipschitz", latent_dim=6, hidden=32, lipschitz=2.0, epsilons=IMAGE_RADII)
    tiny_trainer(max_epochs=5, limit_val_batches=0).fit(model, datamodule=datamodule)
    train = datamodule.train_features()[:64]
    return Audited(model.eval(), *_test_split(datamodule), IMAGE_RADII, 0.0, 1.0, bank_points=train)


BUILDERS = {
    "ocsdf-mlp": _ocsdf_mlp,
    "ocsdf-conv": _ocsdf_conv,
    "ocsdf-orthoconv": _ocsdf_orthoconv,
    "knn": _knn,
    "vae-hole": _vae_hole,
}


@pytest.fixture(scope="session")
def audited_detectors() -> dict[str, Audited]:
    return {}


def built(name: str, cache: dict[str, Audited]) -> Audited:
    if name not in cache:
        cache[name] = BUILDERS[name]()
    return cache[name]


@pytest.fixture(params=sorted(BUILDERS))
def audited(request: pytest.FixtureRequest, audited_detectors: dict[str, Audited]) -> Audited:
    return built(request.param, audited_detectors)
