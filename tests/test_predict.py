"""``lightning-occ predict`` on unlabelled inputs: a CSV table and a folder of PNGs, read back."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lightning_occ.callbacks.predictions import PREDICTION_COLUMNS
from lightning_occ.cli import main
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.data import ScenarioDataModule, TabularDataModule

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
QUIET = [
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.logger",
    "false",
]


def fit(config: str, folder: Path) -> Path:
    main(
        [
            "fit",
            "--config",
            str(ROOT / "configs" / config),
            *QUIET,
            "--trainer.default_root_dir",
            str(folder),
            "--trainer.callbacks",
            "lightning.pytorch.callbacks.ModelCheckpoint",
            "--trainer.callbacks.dirpath",
            str(folder / "ckpt"),
            "--trainer.callbacks.save_last",
            "true",
        ]
    )
    return folder / "ckpt" / "last.ckpt"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_predict_on_an_unlabelled_csv_writes_the_documented_columns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = fit("knn/breast_cancer.yaml", tmp_path / "run")
    data = TabularDataModule("breast_cancer")
    raw = data.table.features[:7]
    with (tmp_path / "new_rows.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(data.feature_names)
        writer.writerows(raw.tolist())
    main(
        [
            "predict",
            "--config",
            str(ROOT / "configs/knn/breast_cancer.yaml"),
            *QUIET,
            "--ckpt_path",
            str(checkpoint),
            "--data.init_args.predict_path",
            "new_rows.csv",
            "--predictions.out_dir",
            "out",
        ]
    )
    rows = read_rows(tmp_path / "out" / "predictions.csv")
    assert list(rows[0]) == list(PREDICTION_COLUMNS)
    assert [row["id"] for row in rows] == [str(i) for i in range(7)]
    detector = load_detector(checkpoint)
    data.setup()
    expected = detector.score(torch.as_tensor(data.scaler.transform(raw), dtype=torch.float32))
    assert [float(row["score"]) for row in rows] == pytest.approx(expected.tolist(), rel=1e-8)
    for row in rows:
        assert row["decision"] == str(int(float(row["score"]) > detector.threshold))
        radius = abs(float(row["score"]) - detector.threshold)
        assert float(row["certified_radius"]) == pytest.approx(min(radius, max(detector.epsilons)), rel=1e-6)


def digit_pngs(folder: Path, n: int = 6) -> list[np.ndarray]:
    folder.mkdir()
    data = ScenarioDataModule("digits", normal="CUR")
    data.setup()
    images = (data.test_dataset.images[:n, 0].numpy()).astype(np.uint8)
    for i, image in enumerate(images):
        Image.fromarray(image, mode="L").save(folder / f"digit_{i}.png")
    return list(images)


def predict_folder(checkpoint: Path, *extra: str) -> None:
    """``lightning-occ predict`` of the digits kNN on the images in ./my_images."""
    main(
        [
            "predict",
            "--config",
            str(ROOT / "configs/knn/digits_cur.yaml"),
            *QUIET,
            "--ckpt_path",
            str(checkpoint),
            "--data.init_args.predict_path",
            "my_images",
            *extra,
        ]
    )


def test_predict_on_a_folder_of_pngs_writes_one_row_per_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = fit("knn/digits_cur.yaml", tmp_path / "run")
    images = digit_pngs(tmp_path / "my_images")
    predict_folder(checkpoint, "--predictions.out_dir", "out")
    rows = read_rows(tmp_path / "out" / "predictions.csv")
    assert [row["id"] for row in rows] == [f"digit_{i}.png" for i in range(len(images))]
    detector = load_detector(checkpoint)
    pixels = torch.from_numpy(np.stack(images)).float().div(255).unsqueeze(1)
    assert [float(row["score"]) for row in rows] == pytest.approx(detector.score(pixels).tolist(), rel=1e-8)
    assert all(row["decision"] in ("0", "1") and float(row["certified_radius"]) >= 0 for row in rows)


@pytest.mark.parametrize(
    "bad, message",
    [("size", "digit_bad.png is 9x8 pixels, but the model takes 8x8"), ("channels", "digit_bad.png has 3 channel(s)")],
)
def test_an_image_of_the_wrong_size_or_channels_is_named(tmp_path, monkeypatch, capsys, bad, message):
    monkeypatch.chdir(tmp_path)
    checkpoint = fit("knn/digits_cur.yaml", tmp_path / "run")
    digit_pngs(tmp_path / "my_images", n=2)
    odd = Image.new("L", (9, 8)) if bad == "size" else Image.new("RGB", (8, 8))
    odd.save(tmp_path / "my_images" / "digit_bad.png")
    with pytest.raises(SystemExit) as exit_:
        predict_folder(checkpoint)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
