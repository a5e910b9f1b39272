"""Export round trips: the ONNX (onnxruntime) and TorchScript files score as the detector does, to 1e-5."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

import lightning_occ as lo
from lightning_occ.cli import main
from lightning_occ.data import ScenarioDataModule, TabularDataModule
from lightning_occ.errors import ExportError
from lightning_occ.export import export_detector
from lightning_occ.models import KNNDetector

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]


def run_exported(path: Path, x: torch.Tensor) -> np.ndarray:
    if path.suffix == ".onnx":
        return onnxruntime.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        return torch.jit.load(str(path))(x).numpy()


def digits() -> torch.Tensor:
    data = ScenarioDataModule("digits", normal="CUR")
    data.setup()
    return data.test_dataset.images[:100].float() / 255


def breast_cancer() -> tuple[TabularDataModule, torch.Tensor]:
    data = TabularDataModule("breast_cancer")
    data.setup()
    return data, data.test_dataset.tensors[0]


def fitted_knn() -> KNNDetector:
    data, _ = breast_cancer()
    detector = KNNDetector(k=5)
    detector.fit_bank(data.train_features())
    return detector


@pytest.mark.parametrize("format", ["onnx", "torchscript"])
@pytest.mark.parametrize("name", ["ocsdf-digits-cur", "vae-digits-cur", "knn-breast-cancer"])
def test_the_exported_file_scores_as_the_detector(name, format, tmp_path):
    if name == "knn-breast-cancer":
        detector, x = fitted_knn(), breast_cancer()[1]
    else:
        detector, x = lo.zoo.load(name), digits()
    path, sidecar = export_detector(detector, tmp_path, format)
    with torch.no_grad():
        expected = detector.score(x).double().numpy()
    np.testing.assert_allclose(run_exported(path, x), expected, rtol=1e-5, atol=1e-5)
    description = json.loads(sidecar.read_text())
    assert description["file"] == path.name and description["input"]["shape"][1:] == list(x.shape[1:])
    assert description["lipschitz_bound"] == pytest.approx(detector.lipschitz_bound)


def test_the_command_line_export_records_the_threshold_and_preprocessing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = str(ROOT / "configs/knn/breast_cancer.yaml")
    quiet = ["--trainer.enable_progress_bar", "false", "--trainer.logger", "false"]
    main(["fit", "--config", config, *quiet])
    main(
        [
            "export",
            "--config",
            config,
            *quiet,
            "--ckpt_path",
            "results/knn_breast_cancer/checkpoints/last.ckpt",
            "--format",
            "onnx",
            "--out_dir",
            "served",
        ]
    )
    description = json.loads((tmp_path / "served" / "score.json").read_text())
    assert description["threshold"] is not None and "FPR" in description["threshold_rule"]
    assert len(description["preprocessing"]["standardize"]["mean"]) == 30
    data, x = breast_cancer()
    raw = data.table.features[:5]
    standardised = (raw - np.array(description["preprocessing"]["standardize"]["mean"])) / np.array(
        description["preprocessing"]["standardize"]["scale"]
    )
    scores = run_exported(tmp_path / "served" / "score.onnx", torch.as_tensor(standardised, dtype=torch.float32))
    np.testing.assert_allclose(
        scores, fitted_knn().score(torch.as_tensor(data.scaler.transform(raw), dtype=torch.float32)).numpy(), rtol=1e-5
    )


def test_a_bank_over_the_onnx_limit_is_refused_with_the_way_out(tmp_path):
    detector = fitted_knn()
    bank_bytes = detector.bank.numel() * 8  # exported in float64
    with pytest.raises(ExportError, match="over ONNX's .* limit: export with --format torchscript"):
        export_detector(detector, tmp_path, "onnx", onnx_limit_bytes=bank_bytes // 2)
    path, _ = export_detector(detector, tmp_path, "torchscript", onnx_limit_bytes=bank_bytes // 2)
    assert path.suffix == ".pt"


def test_a_detector_without_a_traceable_score_says_so(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--ckpt_path", "zoo:clad-digits-cur", "--out_dir", str(tmp_path)])
    assert exit_.value.code == 2
    assert "CLAD cannot be exported" in capsys.readouterr().err
