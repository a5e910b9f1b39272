import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_trains_evaluates_and_plots(tmp_path):
    namespace = runpy.run_path(str(ROOT / "examples/quickstart.py"))
    metrics = namespace["main"](epochs=60, out=str(tmp_path))
    assert metrics["test/auroc"] > 0.8
    assert metrics["test/certified_auroc@0.2"] <= metrics["test/certified_auroc@0.05"] <= metrics["test/auroc"]
    assert (tmp_path / "score_field.png").stat().st_size > 1000
    assert (tmp_path / "certified_auroc.png").stat().st_size > 1000
