"""A run killed mid-epoch by SIGTERM and resumed with --ckpt_path last ends in the state of an
uninterrupted run (CPU, same seed): same batches, same negatives (OCSDF), same stage state (CLAD),
same optimiser state."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]


OCSDF_TWO_MOONS = {
    "model": {
        "class_path": "lightning_occ.models.OCSDF",
        "init_args": {
            "width": 16,
            "depth": 2,
            "warmup_epochs": 1,
            "negative_steps": 2,
            "lr": 1e-3,
            "lr_final": 1e-5,
            "epsilons": [0.1, 0.2],
        },
    },
    "data": {
        "class_path": "lightning_occ.data.TabularDataModule",
        "init_args": {"dataset": "two_moons", "batch_size": 32},
    },
}
CLAD_DIGITS = {  # killed in the first clustering epoch (epochs: 2 autoencoder, 2 clustering, 1 classifier)
    "model": {
        "class_path": "lightning_occ.models.CLAD",
        "init_args": {
            "num_clusters": 4,
            "latent_dim": 4,
            "ae_channels": [8, 8],
            "ae_epochs": 2,
            "dec_epochs": 2,
            "classifier_epochs": 1,
            "epsilons": [0.1],
        },
    },
    "data": {
        "class_path": "lightning_occ.data.ScenarioDataModule",
        "init_args": {"dataset": "digits", "normal": "CUR", "batch_size": 64},
    },
}


def write_config(folder: Path, method: dict) -> Path:
    config = {
        "seed_everything": 0,
        **method,
        "trainer": {
            "max_epochs": 5,
            "accelerator": "cpu",
            "devices": 1,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "deterministic": True,
            "callbacks": [
                {
                    "class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                    "init_args": {"dirpath": str(folder / "checkpoints"), "save_last": True},
                }
            ],
        },
        "report": {"out_dir": str(folder / "report")},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(*args: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }  # two runs share the 2 CI cores; both runs see the same thread count
    return subprocess.Popen(
        [sys.executable, "-m", "lightning_occ", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=240)
    return process.returncode, stderr


def final_state(folder: Path) -> dict:
    checkpoint = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=False)
    return {
        "epoch": checkpoint["epoch"],
        "global_step": checkpoint["global_step"],
        "state_dict": checkpoint["state_dict"],
        "optimizer_states": checkpoint["optimizer_states"],
    }


def assert_same(straight, resumed, where: str = "") -> None:
    if isinstance(straight, torch.Tensor):
        torch.testing.assert_close(resumed, straight, rtol=0, atol=0, equal_nan=True, msg=where)
    elif isinstance(straight, dict):
        assert straight.keys() == resumed.keys(), where
        for key in straight:
            assert_same(straight[key], resumed[key], f"{where}/{key}")
    elif isinstance(straight, (list, tuple)):
        assert len(straight) == len(resumed), where
        for i, (a, b) in enumerate(zip(straight, resumed)):
            assert_same(a, b, f"{where}/{i}")
    else:
        assert straight == resumed, where


@pytest.mark.timeout(600)
@pytest.mark.parametrize("method", [OCSDF_TWO_MOONS, CLAD_DIGITS], ids=["ocsdf", "clad"])
def test_sigterm_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, method):
    """The final weights, buffers and optimiser state are bit-identical, so every metric is too."""
    straight, killed = (str(write_config(tmp_path / name, method)) for name in ("straight", "resumed"))
    runs = [
        start("fit", "--config", straight),
        start(
            "fit",
            "--config",
            killed,
            "--trainer.callbacks+=tests.helpers.signals.SigtermAt",
            "--trainer.callbacks.epoch",
            "2",
            "--trainer.callbacks.batch",
            "1",
        ),
    ]
    (code, stderr), (_, killed_stderr) = (finish(run) for run in runs)
    assert code == 0, stderr[-3000:]
    saved = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=False)
    assert saved["epoch"] == 1, killed_stderr[-2000:]  # stopped inside epoch 2, before its end
    code, stderr = finish(start("fit", "--config", killed, "--ckpt_path", "last"))
    assert code == 0, stderr[-3000:]
    assert_same(final_state(tmp_path / "straight"), final_state(tmp_path / "resumed"))
