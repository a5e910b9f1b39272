"""What is evaluated is what was verified: tampered zoo files are refused or healed (cached checkpoint,
cached YAML, cached download, shipped weights), and no checkpoint runs code when loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import lightning_occ as lo
from lightning_occ.cli import main
from lightning_occ.core.checkpoints import load_checkpoint, load_detector
from lightning_occ.data import TabularDataModule
from lightning_occ.errors import CheckpointError, UnsafeCheckpointError
from lightning_occ.models import KNNDetector
from lightning_occ.zoo import ZooError
from lightning_occ.zoo.files import cache_dir
from tests.helpers.http_server import serve_folder
from tests.helpers.training import tiny_trainer
from tests.test_zoo import copied_registry, remote_registry, served_copy

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _private_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def test_a_tampered_cached_checkpoint_is_rebuilt_with_a_message_and_the_test_reports_the_registry_auroc(capsys):
    name = "ocsdf-digits-cur"
    path = lo.zoo.checkpoint_path(name)
    checkpoint = torch.load(path, weights_only=True)
    last = [key for key in checkpoint["state_dict"] if key.endswith("weight")][-1]
    checkpoint["state_dict"][last] = -checkpoint["state_dict"][last]  # the audit's attack: flip the score
    torch.save(checkpoint, path)
    capsys.readouterr()
    main(
        [
            "test",
            "--ckpt_path",
            f"zoo:{name}",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger",
            "false",
            "--report.out_dir",
            "report",
        ]
    )
    captured = capsys.readouterr()
    assert f"the cached file {path}" in captured.err and "rebuilt it from the verified zoo weights" in captured.err
    recorded = lo.zoo.get_info(name)["metrics"]["test/auroc"]
    assert f"{recorded:.4f}" in captured.out  # the verified model was tested, not the tampered one
    assert torch.equal(torch.load(path, weights_only=True)["state_dict"][last], -checkpoint["state_dict"][last])


def test_an_unreadable_cached_checkpoint_is_rebuilt(capsys):
    path = lo.zoo.checkpoint_path("ocsdf-breast-cancer")
    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert lo.zoo.checkpoint_path("ocsdf-breast-cancer") == path
    assert "cannot be read safely" in capsys.readouterr().err
    assert load_detector(path).lipschitz_bound <= 1 + 1e-4


def test_a_tampered_cached_config_is_rewritten_with_a_message(capsys):
    path = lo.zoo.evaluation_config("ocsdf-digits-cur")
    original = path.read_text()
    path.write_text(original.replace("normal: CUR", "normal: STR"))
    assert lo.zoo.evaluation_config("ocsdf-digits-cur").read_text() == original
    assert "differs from the registry's evaluation config" in capsys.readouterr().err


def test_a_tampered_shipped_file_is_refused(tmp_path):
    registry = copied_registry(tmp_path / "zoo", "ocsdf-breast-cancer")
    path = tmp_path / "zoo" / registry.get("ocsdf-breast-cancer").file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    for load in (lo.zoo.load, lo.zoo.checkpoint_path):
        with pytest.raises(ZooError, match="Refusing to load zoo entry 'ocsdf-breast-cancer'"):
            load("ocsdf-breast-cancer", registry)


def test_a_tampered_cached_download_is_fetched_again_with_a_message(tmp_path, capsys):
    name = "ocsdf-digits-str"
    with serve_folder(served_copy(tmp_path, name)) as base:
        registry = remote_registry(tmp_path, name, f"{base}/weights.safetensors")
        lo.zoo.load(name, registry)
        (cached,) = cache_dir().iterdir()
        cached.write_bytes(cached.read_bytes()[:-8] + b"tampered")
        reference = lo.zoo.load(name).state_dict()
        healed = lo.zoo.load(name, registry).state_dict()
    assert "does not match its recorded sha256; removed it and fetching it again" in capsys.readouterr().err
    for key, value in reference.items():
        torch.testing.assert_close(healed[key], value, rtol=0, atol=0, equal_nan=True)


class RunsCode:
    """A pickled object whose unpickling would call os.getcwd (harmless, but code all the same)."""

    def __reduce__(self):
        return (os.getcwd, ())


@pytest.fixture
def poisoned_checkpoint(tmp_path) -> tuple[Path, Path]:
    """A real kNN fit checkpoint, and a copy carrying a pickled callable."""
    datamodule = TabularDataModule("breast_cancer", seed=0)
    trainer = tiny_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(KNNDetector(k=5, epsilons=[0.1]), datamodule=datamodule)
    clean = tmp_path / "clean.ckpt"
    trainer.save_checkpoint(clean)
    checkpoint = torch.load(clean, weights_only=True)
    checkpoint["payload"] = RunsCode()
    poisoned = tmp_path / "poisoned.ckpt"
    torch.save(checkpoint, poisoned)
    return clean, poisoned


def test_load_detector_refuses_a_pickled_callable_and_names_the_opt_in(poisoned_checkpoint):
    clean, poisoned = poisoned_checkpoint
    assert isinstance(load_detector(clean), KNNDetector)
    with pytest.raises(UnsafeCheckpointError, match=r"pickled object \(posix.getcwd\).*--trainer.unsafe_load true"):
        load_detector(poisoned)
    assert isinstance(load_detector(poisoned, unsafe_load=True), KNNDetector)  # the explicit opt-in


@pytest.mark.parametrize("verb", ["test", "certify"])
def test_cli_refuses_a_pickled_callable_in_one_line(poisoned_checkpoint, verb, capsys):
    _, poisoned = poisoned_checkpoint
    args = [
        verb,
        "--model",
        "lightning_occ.models.KNNDetector",
        "--data",
        "lightning_occ.data.TabularDataModule",
        "--data.dataset",
        "breast_cancer",
        "--trainer.logger",
        "false",
        "--ckpt_path",
        str(poisoned),
    ]
    if verb == "certify":
        args += ["--certifier.n", "100", "--certifier.alpha", "0.1", "--epsilons", "[0.01]"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "\n" not in message and "Traceback" not in message
    assert message.startswith(f"lightning-occ: error: Refusing to load {poisoned}: it holds a pickled object")
    assert "--trainer.unsafe_load true" in message


def test_a_garbage_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.ckpt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="Cannot read .*garbage.ckpt as a checkpoint") as raised:
        load_checkpoint(path)
    assert "weights_only=False" not in str(raised.value)  # no advice to run untrusted code


def test_an_intact_cache_is_used_as_it_is_even_with_unset_nan_buffers(capsys):
    first = lo.zoo.checkpoint_path("ocsdf-breast-cancer")  # its median_train_f buffer is NaN
    capsys.readouterr()
    written = first.stat().st_mtime_ns
    assert lo.zoo.checkpoint_path("ocsdf-breast-cancer") == first
    assert "rebuilt" not in capsys.readouterr().err
    assert first.stat().st_mtime_ns == written
