"""``lightning-occ compare``: one split, several detectors, one table, JSON and plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightning_occ.console import main

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]


def test_compare_writes_one_row_per_detector_with_lipschitz_or_smoothing_certificates(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    models = [
        str(ROOT / "configs" / c) for c in ("knn/digits_cur.yaml", "vae/digits_cur.yaml", "pyod/ecod_digits_cur.yaml")
    ]
    main(
        [
            "compare",
            "--data",
            str(ROOT / "configs/knn/digits_cur.yaml"),
            "--models",
            *models,
            "--max_epochs",
            "1",
            "--epsilons",
            "0.1",
            "0.5",
            "--sigma",
            "0.5",
            "--n",
            "1000",
            "--out",
            "cmp",
        ]
    )
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    rows = {row["config"]: row for row in result["rows"]}
    assert result["epsilons"] == [0.0, 0.1, 0.5] and list(rows) == models
    knn, vae, ecod = (rows[m] for m in models)
    assert knn["certificate"] == "Lipschitz" and len(knn["certified_accuracy"]) == 3
    assert knn["certified_auroc"][0] == pytest.approx(knn["auroc"])
    for smoothed in (vae, ecod):  # sphere-latent VAE and PyOD: no bound, so percentile smoothing
        assert "percentile smoothing" in smoothed["certificate"]
        assert smoothed["certified_auroc"][2] <= smoothed["certified_auroc"][1] <= smoothed["smoothed_auroc"]
    for row in result["rows"]:
        assert row["fit_seconds"] >= 0 and row["inputs_per_second"] > 0 and row["model_bytes"] > 0
        assert row["threshold"] is not None and set(row["decisions"]) == {"precision", "recall", "f1", "fpr"}
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    assert table.count("\n| ") == 1 + len(models) and "cert. AUROC @0.5" in table and "smoothing" in table
    assert (tmp_path / "cmp" / "certified_auroc.png").stat().st_size > 5000
    assert "comparison.md" in capsys.readouterr().out


def test_compare_with_a_missing_config_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--data", str(ROOT / "configs/knn/digits_cur.yaml"), "--models", "nope.yaml"])
    assert exit_.value.code == 2
    assert "no config file 'nope.yaml'" in capsys.readouterr().err
