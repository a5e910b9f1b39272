"""Turning a zoo entry into a detector, a Lightning checkpoint, or initial weights for fine-tuning."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from lightning_occ.core.detector import DETECTOR_CLASS_KEY, AnomalyDetector
from lightning_occ.utils.atomic import atomic_path
from lightning_occ.zoo.errors import ZooError
from lightning_occ.zoo.files import cache_dir, weights_path
from lightning_occ.zoo.registry import ZOO_PREFIX, Registry, ZooEntry, default_registry

__all__ = ["ZOO_PREFIX", "checkpoint_path", "detector_class", "evaluation_config", "load", "pretrained_state"]


def detector_class(class_path: str) -> type[AnomalyDetector]:
    """The detector class an entry names; only lightning-occ detectors are accepted."""
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name.startswith("lightning_occ."):
        raise ZooError(f"Zoo entries may only name lightning-occ detectors, not {class_path!r}.")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, AnomalyDetector)):
        raise ZooError(f"{class_path!r} is not a lightning-occ AnomalyDetector.")
    return cls


def _entry(name: str, registry: Registry | None) -> tuple[ZooEntry, Registry]:
    registry = registry or default_registry()
    return registry.get(name.removeprefix(ZOO_PREFIX)), registry


def _weights(entry: ZooEntry, registry: Registry) -> dict[str, torch.Tensor]:
    return load_file(str(weights_path(entry, registry)))  # safetensors: tensors only, nothing unpickled


def load(name: str, registry: Registry | None = None) -> AnomalyDetector:
    """The entry's detector, weights loaded (hash checked), in eval mode.

    Example:
        >>> import lightning_occ as lo
        >>> model = lo.zoo.load("ocsdf-breast-cancer")
        >>> model.training, model.lipschitz_bound <= 1 + 1e-4
        (False, True)
    """
    entry, registry = _entry(name, registry)
    model = detector_class(entry.class_path)(**entry.init_args)
    model.load_state_dict(_weights(entry, registry))
    return model.eval()


def _healing(target: Path, problem: str) -> None:
    print(
        f"lightning-occ: the cached file {target} {problem}; rebuilt it from the verified zoo weights.", file=sys.stderr
    )


def _cached_checkpoint_problem(path: Path, entry: ZooEntry, state: dict[str, torch.Tensor]) -> str | None:
    """Why the cached checkpoint is not exactly the verified entry, or None when it is."""
    try:
        cached = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable or unsafe content is a reason to rebuild
        return f"cannot be read safely ({type(error).__name__})"
    if not isinstance(cached, dict) or cached.get(DETECTOR_CLASS_KEY) != entry.class_path:
        return "names another detector class"
    if cached.get("hyper_parameters") != _hyper_parameters(entry):
        return "holds other hyper-parameters than the registry"
    weights = cached.get("state_dict")
    if not isinstance(weights, dict) or weights.keys() != state.keys():
        return "holds other tensors than the verified weights"
    for key, tensor in state.items():
        other = weights[key]
        if not (isinstance(other, torch.Tensor) and identical(other, tensor)):
            return f"differs from the verified weights (tensor {key!r})"
    return None


def identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and values, NaN equal to NaN (an unset buffer such as OCSDF's ``median_train_f``).

    Example:
        >>> identical(torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0]))
        True
    """
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if not a.is_floating_point():
        return torch.equal(a, b)
    missing = torch.isnan(a)
    return torch.equal(missing, torch.isnan(b)) and torch.equal(a[~missing], b[~missing])


def _hyper_parameters(entry: ZooEntry) -> dict[str, Any]:
    return {"_class_path": entry.class_path, **entry.init_args}  # what LightningCLI reads back


def checkpoint_path(name: str, registry: Registry | None = None) -> Path:
    """A Lightning checkpoint of the entry, for ``Trainer.test(ckpt_path=...)`` and ``--ckpt_path zoo:NAME``.

    The checkpoint is cached, but never trusted: on every call its content is compared with the
    hash-checked safetensors weights, and a cached file that differs in any tensor, hyper-parameter
    or class (or cannot be read without unpickling code) is rebuilt, with a message on stderr.
    """
    entry, registry = _entry(name, registry)
    state = _weights(entry, registry)
    target = cache_dir() / f"{entry.sha256[:16]}-{entry.name}.ckpt"
    if target.is_file():
        problem = _cached_checkpoint_problem(target, entry, state)
        if problem is None:
            return target
        _healing(target, problem)
    import lightning

    checkpoint = {
        "state_dict": state,
        "hyper_parameters": _hyper_parameters(entry),
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": lightning.__version__,
        DETECTOR_CLASS_KEY: entry.class_path,
    }
    with atomic_path(target) as partial:
        torch.save(checkpoint, partial)
    return target


def evaluation_config(name: str, registry: Registry | None = None) -> Path:
    """A ``lightning-occ`` config (cached YAML) with the entry's model and its recorded scenario's data;
    a cached file whose text differs from the registry's is rewritten, with a message on stderr."""
    import yaml

    entry, _ = _entry(name, registry)
    config = {"model": {"class_path": entry.class_path, "init_args": entry.init_args}, "data": entry.data}
    text = yaml.safe_dump(config, sort_keys=False)
    target = cache_dir() / f"{entry.sha256[:16]}-{entry.name}.yaml"
    if target.is_file():
        try:
            if target.read_text() == text:
                return target
        except (OSError, UnicodeDecodeError):
            pass
        _healing(target, "differs from the registry's evaluation config")
    with atomic_path(target) as partial:
        partial.write_text(text)
    return target


def pretrained_state(source: str, expected: type[AnomalyDetector], registry: Registry | None = None) -> dict[str, Any]:
    """Weights to initialise a detector of class ``expected`` from ``zoo:NAME`` or a ``.ckpt`` file."""
    if source.startswith(ZOO_PREFIX):
        entry, registry = _entry(source, registry)
        class_path, state = entry.class_path, _weights(entry, registry)
    else:
        path = Path(source)
        if not path.is_file():
            raise ZooError(f"pretrained={source!r} is neither 'zoo:NAME' nor an existing checkpoint file.")
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        class_path, state = checkpoint.get(DETECTOR_CLASS_KEY, ""), checkpoint["state_dict"]
    if class_path.rpartition(".")[2] != expected.__name__:
        method = class_path.rpartition(".")[2] or "an unknown method"
        raise ZooError(
            f"pretrained={source!r} holds a {method} checkpoint; it cannot initialise a "
            f"{expected.__name__}. Pick an entry of the same method (`lightning-occ zoo list`)."
        )
    return state
