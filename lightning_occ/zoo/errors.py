"""The one error type of the zoo: its message is complete, so the CLI prints it without a traceback."""

from lightning_occ.errors import UserError

__all__ = ["ZooError"]


class ZooError(UserError, RuntimeError):
    """A zoo entry could not be found, fetched, verified or used."""
