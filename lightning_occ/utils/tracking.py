"""Checks that run before any work: a W&B logger that cannot log, a strategy Lightning does not know."""

from __future__ import annotations

import importlib.util
import netrc
import os
import socket
from collections.abc import Iterable
from urllib.parse import urlparse

from lightning.pytorch.strategies import StrategyRegistry

from lightning_occ.errors import UserError

__all__ = [
    "TrackingError",
    "check_logger_extras",
    "check_requested_logger_extras",
    "check_strategy_name",
    "check_wandb_ready",
]

LOGGER_EXTRAS = {"WandbLogger": ("wandb", "wandb"), "TensorBoardLogger": ("tensorboard", "tensorboard")}
"""Logger class name: (the module it needs, the lightning-occ extra that installs it)."""


class TrackingError(UserError, RuntimeError):
    """A logger that cannot log (no API key, no network): the message says how to fix it."""


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _logger_class_names(logger: object) -> list[str]:
    """The class names a ``--trainer.logger`` value asks for (a class path, a dict, a list of them)."""
    if isinstance(logger, (list, tuple)):
        return [name for item in logger for name in _logger_class_names(item)]
    class_path = logger.get("class_path") if isinstance(logger, dict) else getattr(logger, "class_path", logger)
    return [class_path.rsplit(".", 1)[-1]] if isinstance(class_path, str) else []


def check_logger_extras(logger: object) -> None:
    """Raise, naming the extra to install, when the configured logger's package is missing.

    Example:
        >>> check_logger_extras({"class_path": "lightning.pytorch.loggers.CSVLogger"}) is None
        True
    """
    for name in _logger_class_names(logger):
        module, extra = LOGGER_EXTRAS.get(name, (None, None))
        if module is not None and not _importable(module):
            raise UserError(
                f"The {name} logger needs the `{module}` package, which is not installed: "
                f"pip install 'lightning-occ[{extra}]' (or use lightning.pytorch.loggers.CSVLogger)."
            )


def check_requested_logger_extras(argv: list[str]) -> None:
    """:func:`check_logger_extras` for the loggers a command line asks for, read from its ``--config``
    files and ``--trainer.logger`` values before the parser runs (the parser cannot read a logger's
    arguments when the logger's package is missing, and its error would not say what to install)."""
    requested: list[object] = []
    for flag, value in zip(argv, argv[1:]):
        if flag == "--config" and os.path.isfile(value):
            import yaml

            try:
                config = yaml.safe_load(open(value).read()) or {}
            except (OSError, yaml.YAMLError):
                continue
            trainer = config.get("trainer") if isinstance(config, dict) else None
            if isinstance(trainer, dict) and trainer.get("logger") is not None:
                requested.append(trainer["logger"])
        elif flag == "--trainer.logger":
            requested.append(value)
    for logger in requested:
        check_logger_extras(logger)


def check_strategy_name(strategy: object) -> None:
    """Raise with the full list of names when ``strategy`` is an unknown string."""
    if not isinstance(strategy, str):
        return
    valid = sorted({"auto", *StrategyRegistry.available_strategies()})
    if strategy not in valid:
        raise ValueError(f"Unknown strategy {strategy!r} for --trainer.strategy. Valid names: {', '.join(valid)}.")


def _wandb_offline(logger: object) -> bool:
    mode = os.environ.get("WANDB_MODE", "").lower()
    return (
        bool(getattr(logger, "_offline", False))
        or mode in {"offline", "dryrun", "disabled"}
        or (os.environ.get("WANDB_DISABLED", "").lower() in {"1", "true"})
    )


def _has_wandb_credentials(host: str) -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def check_wandb_ready(loggers: Iterable[object], timeout: float = 3.0) -> None:
    """Fail fast when an online W&B logger has no credentials or cannot reach the server.

    Offline loggers (``offline=True`` or ``WANDB_MODE=offline``) always pass: they write locally
    and can be synced later with ``wandb sync``.
    """
    for logger in loggers:
        if type(logger).__name__ != "WandbLogger" or _wandb_offline(logger):
            continue
        base = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
        host = urlparse(base).hostname or "api.wandb.ai"
        fix = (
            "Run `wandb login` (or set WANDB_API_KEY), or log offline with "
            "--trainer.logger.init_args.offline true (or WANDB_MODE=offline) and `wandb sync` later."
        )
        if not _has_wandb_credentials(host):
            raise TrackingError(f"W&B is set to log online but no API key was found for {host}. {fix}")
        port = urlparse(base).port or (443 if base.startswith("https") else 80)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as error:
            raise TrackingError(
                f"W&B is set to log online but {host}:{port} cannot be reached ({error}). {fix}"
            ) from error
