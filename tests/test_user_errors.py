"""Every user mistake ends in one clear message on stderr, exit code 2, no traceback (issue 19's list,
re-created as cases). Each case fails before any training, so the whole table runs in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightning_occ.cli import main

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
KNN = [
    "fit",
    "--config",
    str(ROOT / "configs/knn/breast_cancer.yaml"),
    "--trainer.logger",
    "false",
    "--trainer.enable_progress_bar",
    "false",
]
OCSDF = [
    "fit",
    "--config",
    str(ROOT / "configs/ocsdf/two_moons.yaml"),
    "--trainer.logger",
    "false",
    "--trainer.max_epochs",
    "1",
    "--trainer.enable_progress_bar",
    "false",
]


def csv_file(folder: Path, text: str) -> str:
    path = folder / "data.csv"
    path.write_text(text)
    return str(path)


def tabular(path: str, *extra: str) -> list[str]:
    return [*KNN, "--data.init_args.dataset", path, *extra]


CASES = {
    "NaN feature": (
        lambda d: tabular(csv_file(d, "a,b,label\n1,2,0\nnan,3,0\n4,5,1\n"), "--data.init_args.label_column", "label"),
        "NaN",
    ),
    "string feature": (
        lambda d: tabular(csv_file(d, "a,b,label\n1,x,0\n2,3,0\n4,5,1\n"), "--data.init_args.label_column", "label"),
        "number",
    ),
    "header-only CSV": (
        lambda d: tabular(csv_file(d, "a,b,label\n"), "--data.init_args.label_column", "label"),
        "no rows",
    ),
    "missing label column": (
        lambda d: tabular(csv_file(d, "a,b,label\n1,2,0\n3,4,1\n"), "--data.init_args.label_column", "target"),
        "target",
    ),
    "data file missing": (lambda d: tabular(str(d / "missing.csv")), "missing.csv"),
    "unknown dataset": (lambda d: tabular("breast_cancr"), "Unknown dataset 'breast_cancr'"),
    "unknown super-category": (
        lambda d: [
            "fit",
            "--config",
            str(ROOT / "configs/knn/digits_cur.yaml"),
            "--data.init_args.normal",
            "CURVY",
            "--trainer.logger",
            "false",
        ],
        "CURVY",
    ),
    "negative radius": (lambda d: [*KNN, "--model.init_args.epsilons", "[-0.1]"], "radius"),
    "unknown strategy": (lambda d: [*KNN, "--trainer.strategy", "ddpx"], "Unknown strategy 'ddpx'"),
    "MNIST missing offline": (
        lambda d: [
            "fit",
            "--config",
            str(ROOT / "configs/ocsdf/mnist_one_class.yaml"),
            "--data.init_args.root",
            str(d),
            "--trainer.logger",
            "false",
        ],
        "MNIST",
    ),
    "checkpoint missing": (lambda d: ["test", *KNN[1:], "--ckpt_path", str(d / "none.ckpt")], "none.ckpt"),
    "garbage checkpoint": (
        lambda d: (d / "bad.ckpt").write_bytes(b"garbage") and ["test", *KNN[1:], "--ckpt_path", str(d / "bad.ckpt")],
        "Cannot read",
    ),
    "unknown zoo entry": (lambda d: ["test", "--ckpt_path", "zoo:ocsdf-digit-cur"], "Did you mean 'ocsdf-digits-cur'"),
    "unknown activation": (lambda d: [*OCSDF, "--model.init_args.activation", "relu6"], "relu6"),
    "negative width": (lambda d: [*OCSDF, "--model.init_args.width", "-5"], "width and depth must be >= 1"),
    "unknown network": (lambda d: [*OCSDF, "--model.init_args.network", "orthconv"], "orthconv"),
    "k larger than the data": (lambda d: [*KNN, "--model.init_args.k", "100000"], "lower k"),
    "report folder not writable": (
        lambda d: (d / "file").write_text("x") and ["test", *KNN[1:], "--report.out_dir", str(d / "file" / "report")],
        "Cannot write the report to",
    ),
}


@pytest.fixture
def run_case(tmp_path, capsys):
    def run(args: list[str]) -> tuple[int, str]:
        with pytest.raises(SystemExit) as exited:
            main(args)
        return exited.value.code, capsys.readouterr().err

    return run


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_mistake_is_one_message_without_traceback(case, tmp_path, run_case):
    build, expected = CASES[case]
    code, stderr = run_case(build(tmp_path))
    assert code == 2, stderr[-2000:]
    assert "Traceback" not in stderr
    assert "error:" in stderr and expected in stderr, stderr[-2000:]
    if "usage:" not in stderr:  # the argument parser's own errors come with its usage text
        assert len(stderr.strip().splitlines()) <= 3 and stderr.startswith("lightning-occ: error:"), stderr


def test_a_zoo_manifest_that_is_missing_or_broken_is_named(tmp_path, monkeypatch, run_case):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("LIGHTNING_OCC_ZOO", str(tmp_path / "nowhere.json"))
    code, stderr = run_case(["test", "--ckpt_path", "zoo:ocsdf-digits-cur"])
    assert code == 2 and "nowhere.json, which is not a file" in stderr and "Traceback" not in stderr
    (tmp_path / "broken.json").write_text("{not json")
    monkeypatch.setenv("LIGHTNING_OCC_ZOO", str(tmp_path / "broken.json"))
    code, stderr = run_case(["test", "--ckpt_path", "zoo:ocsdf-digits-cur"])
    assert code == 2 and "broken.json is not a valid registry" in stderr and "Traceback" not in stderr


def test_a_failed_run_leaves_no_empty_log_folder(tmp_path, run_case, monkeypatch):
    """An image folder with no images fails in setup; Lightning's default logger had already made
    lightning_logs/version_0 (a header-only events file): it is removed, older runs' folders are kept."""
    monkeypatch.chdir(tmp_path)
    kept = tmp_path / "lightning_logs" / "version_7"
    kept.mkdir(parents=True)
    (kept / "metrics.csv").write_text("epoch,loss\n0,1.0\n")
    for split, name in (("train", "good"), ("test", "crack")):
        (tmp_path / "images" / split / name).mkdir(parents=True)
    code, stderr = run_case(
        [
            "fit",
            "--model",
            "lightning_occ.models.KNNDetector",
            "--data",
            "lightning_occ.data.ScenarioDataModule",
            "--data.init_args.dataset",
            "image_folder",
            "--data.init_args.root",
            str(tmp_path / "images"),
            "--trainer.max_epochs",
            "1",
        ]
    )
    assert code == 2 and "Found no valid file" in stderr
    assert sorted(p.name for p in (tmp_path / "lightning_logs").iterdir()) == ["version_7"]


def test_online_wandb_without_a_key_is_one_line_before_any_work(tmp_path, run_case, monkeypatch):
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    code, stderr = run_case(
        [
            *KNN,
            "--config",
            str(ROOT / "configs/logger/wandb.yaml"),
            "--trainer.logger.init_args.save_dir",
            str(tmp_path),
        ]
    )
    assert code == 2 and "Traceback" not in stderr
    assert "W&B is set to log online but no API key" in stderr and "offline true" in stderr
