"""The report's figures: titled, readable boundary samples, and matplotlib's global state left alone."""

from __future__ import annotations

import subprocess
import sys

import lightning as L
import pytest
from PIL import Image

from lightning_occ.callbacks import EvaluationRecorder
from lightning_occ.callbacks.report_files import describe_run, radius_units, write_report
from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import OCSDF
from tests.helpers.training import tiny_trainer

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane


def test_importing_lightning_occ_keeps_the_matplotlib_backend():
    code = (
        "import matplotlib; matplotlib.use('svg'); import lightning_occ, lightning_occ.callbacks; "
        "print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "svg"


def test_image_reports_have_upscaled_boundary_samples_a_roc_curve_and_titles(tmp_path):
    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=64)
    model = OCSDF(
        network="orthoconv",
        stem="patches",
        channels=(4, 16),
        convs_per_stage=1,
        negative_init="uniform",
        domain=(0.0, 1.0),
        warmup_epochs=1,
        negative_steps=2,
        epsilons=[0.1],
    )
    tiny_trainer(max_epochs=2, limit_val_batches=0).fit(model, datamodule=datamodule)
    recorder = EvaluationRecorder()
    tiny_trainer(callbacks=[recorder]).test(model, datamodule=datamodule, verbose=False)
    written = {p.name for p in write_report(recorder.latest["test"], tmp_path, model, datamodule)}
    assert {"certified_auroc.png", "roc_curve.png", "score_histograms.png", "boundary_samples.png"} <= written
    width, height = Image.open(tmp_path / "boundary_samples.png").size
    assert width >= 8 * 64 and height >= 8 * 64  # 8x8 digits drawn at least 64 px each
    assert describe_run(model, datamodule) == "OCSDF on digits (normal: CUR)"
    assert radius_units(model) == "[0, 1] pixels"
