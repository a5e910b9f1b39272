"""Benchmarks build their models from the YAML files in ``configs/``, never from retyped settings."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def model_from_config(config: str, **overrides: Any) -> Any:
    """The model of ``configs/<config>`` (its ``class_path`` and ``init_args``), with ``overrides`` applied.

    Example: ``model_from_config("ocsdf/digits_one_class.yaml", warmup_epochs=2)``.
    """
    model = yaml.safe_load((ROOT / "configs" / config).read_text())["model"]
    module_name, class_name = model["class_path"].rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(**{**model.get("init_args", {}), **overrides})
