"""Zoo recipes: a config from ``configs/`` plus the overrides that make one zoo entry.

A recipe ``zoo/recipes/NAME.yaml`` holds ``base`` (a path under ``configs/``) and ``overrides`` (a
nested mapping merged into it: mappings key by key, anything else replaced). The run's folders
(``trainer.default_root_dir``, every ``ModelCheckpoint``'s ``dirpath``, ``report.out_dir``) are
set to ``results/zoo/NAME`` (checkpoints without version suffixes), so entries never write into each
other's folders and the build finds ``best.ckpt`` / ``last.ckpt``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "zoo" / "recipes"

__all__ = ["RECIPES", "load_recipe", "merge"]


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in (nested mappings merged, other values replaced); a new dict."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_recipe(name: str) -> dict[str, Any]:
    """The full ``lightning-occ fit`` config of zoo entry ``name``."""
    recipe = yaml.safe_load((RECIPES / f"{name}.yaml").read_text())
    config = merge(yaml.safe_load((ROOT / recipe["base"]).read_text()), recipe.get("overrides") or {})
    folder = f"results/zoo/{name}"
    trainer = config.setdefault("trainer", {})
    trainer["default_root_dir"] = folder
    for callback in trainer.get("callbacks") or []:
        if callback.get("class_path", "").endswith("ModelCheckpoint"):
            options = callback.setdefault("init_args", {})
            options.update(dirpath=f"{folder}/checkpoints", enable_version_counter=False)
    config.setdefault("report", {})["out_dir"] = f"{folder}/report"
    return config
