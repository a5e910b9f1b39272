"""Errors whose message is complete: the command line prints them as one line, without a traceback."""

from __future__ import annotations

__all__ = ["CheckpointError", "ExportError", "MissingCheckpointError", "UnsafeCheckpointError", "UserError"]


class UserError(Exception):
    """A mistake in what the user asked for (a file, a setting); the message says what and how to fix it."""


class CheckpointError(UserError, ValueError):
    """A checkpoint cannot be read: missing, truncated, not a torch file, or not a detector's."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds pickled objects that loading would execute; refused unless the user opts in."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """No file at the checkpoint path."""


class ExportError(UserError, ValueError):
    """A detector that cannot be exported in the asked format (the message says why and what instead)."""
