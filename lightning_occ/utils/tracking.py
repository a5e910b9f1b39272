"""Checks that run before any work: a W&B logger that cannot log, a strategy Lightning does not know."""

from __future__ import annotations

import netrc
import os
import socket
from collections.abc import Iterable
from urllib.parse import urlparse

from lightning.pytorch.strategies import StrategyRegistry

from lightning_occ.errors import UserError

__all__ = ["TrackingError", "check_strategy_name", "check_wandb_ready"]


class TrackingError(UserError, RuntimeError):
    """A logger that cannot log (no API key, no network): the message says how to fix it."""


def check_strategy_name(strategy: object) -> None:
    """Raise with the full list of names when ``strategy`` is an unknown string."""
    if not isinstance(strategy, str):
        return
    valid = sorted({"auto", *StrategyRegistry.available_strategies()})
    if strategy not in valid:
        raise ValueError(f"Unknown strategy {strategy!r} for --trainer.strategy. Valid names: {', '.join(valid)}.")


def _wandb_offline(logger: object) -> bool:
    mode = os.environ.get("WANDB_MODE", "").lower()
    return bool(getattr(logger, "_offline", False)) or mode in {"offline", "dryrun", "disabled"} or (
        os.environ.get("WANDB_DISABLED", "").lower() in {"1", "true"})


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
        fix = ("Run `wandb login` (or set WANDB_API_KEY), or log offline with "
               "--trainer.logger.init_args.offline true (or WANDB_MODE=offline) and `wandb sync` later.")
        if not _has_wandb_credentials(host):
            raise TrackingError(f"W&B is set to log online but no API key was found for {host}. {fix}")
        port = urlparse(base).port or (443 if base.startswith("https") else 80)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as error:
            raise TrackingError(f"W&B is set to log online but {host}:{port} cannot be reached ({error}). {fix}") from error
