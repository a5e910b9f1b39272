import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(autouse=True)
def _quiet_and_local(tmp_path, monkeypatch):
    """Every test runs in its own folder so results/ and lightning_logs/ never collide."""
    monkeypatch.chdir(tmp_path)
    yield
