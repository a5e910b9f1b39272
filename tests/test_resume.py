"""A run killed mid-epoch by SIGTERM and resumed with --ckpt_path last ends with the metrics of an
uninterrupted run (CPU, same seed): same batches, same negatives (OCSDF), same stage state (CLAD),
same optimiser state."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]


OCSDF_TWO_MOONS = {
    "model": {"class_path": "lightning_occ.models.OCSDF", "init_args": {
        "width": 16, "depth": 2, "warmup_epochs": 1, "negative_steps": 2, "lr": 1e-3, "lr_final": 1e-5,
        "epsilons": [0.1, 0.2]}},
    "data": {"class_path": "lightning_occ.data.TabularDataModule", "init_args": {
        "dataset": "two_moons", "batch_size": 32}},
}
CLAD_DIGITS = {  # killed in the first clustering epoch (epochs: 2 autoencoder, 2 clustering, 1 classifier)
    "model": {"class_path": "lightning_occ.models.CLAD", "init_args": {
        "num_clusters": 4, "latent_dim": 4, "ae_channels": [8, 8], "ae_epochs": 2, "dec_epochs": 2,
        "classifier_epochs": 1, "epsilons": [0.1]}},
    "data": {"class_path": "lightning_occ.data.ScenarioDataModule", "init_args": {
        "dataset": "digits", "normal": "CUR", "batch_size": 64}},
}


def write_config(folder: Path, method: dict) -> Path:
    config = {
        "seed_everything": 0,
        **method,
        "trainer": {"max_epochs": 5, "accelerator": "cpu", "devices": 1, "logger": False,
                    "enable_progress_bar": False, "enable_model_summary": False, "deterministic": True,
                    "callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                                   "init_args": {"dirpath": str(folder / "checkpoints"), "save_last": True}}]},
        "report": {"out_dir": str(folder / "report")},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "lightning_occ", *args], capture_output=True, text=True, env=env,
                          timeout=240)


def train_and_test(folder: Path, method: dict, interrupt: bool) -> dict:
    config = str(write_config(folder, method))
    if interrupt:
        killed = run("fit", "--config", config, "--trainer.callbacks+=tests.helpers.signals.SigtermAt",
                     "--trainer.callbacks.epoch", "2", "--trainer.callbacks.batch", "1")
        saved = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=False)
        assert saved["epoch"] == 1, killed.stderr[-2000:]  # stopped inside epoch 2, before its end
        resumed = run("fit", "--config", config, "--ckpt_path", "last")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
    else:
        finished = run("fit", "--config", config)
        assert finished.returncode == 0, finished.stderr[-3000:]
    tested = run("test", "--config", config, "--ckpt_path", str(folder / "checkpoints" / "last.ckpt"))
    assert tested.returncode == 0, tested.stderr[-3000:]
    return json.loads((folder / "report" / "results.json").read_text())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("method", [OCSDF_TWO_MOONS, CLAD_DIGITS], ids=["ocsdf", "clad"])
def test_sigterm_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, method):
    straight = train_and_test(tmp_path / "straight", method, interrupt=False)
    resumed = train_and_test(tmp_path / "resumed", method, interrupt=True)
    assert resumed["metrics"] == straight["metrics"]
    assert resumed["lipschitz_bound"] == straight["lipschitz_bound"]
