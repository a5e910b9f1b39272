"""Networks built once the input shape is known, written once for every detector that infers it."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from lightning_occ.core.detector import AnomalyDetector
from lightning_occ.core.protocol import datamodule_input_shape

__all__ = ["LazyNetworkDetector", "NotBuiltError"]


class NotBuiltError(AttributeError):
    """A network read before the input shape was known (an AttributeError, so ``hasattr`` stays False)."""


class LazyNetworkDetector(AnomalyDetector):
    """A detector whose networks depend on the input shape, which may come from three places:

    * the constructor (``input_shape=...``): built at once;
    * the DataModule's ``input_shape`` in ``setup``, when a Trainer attaches the detector;
    * a checkpoint's ``built_input_shape`` buffer, before its weights are loaded (``load_from_checkpoint``,
      the zoo, and the weights ``ddp_spawn`` sends back to the main process, where ``setup`` never ran).

    Subclasses implement :meth:`build_networks`; the shape is recorded in ``hparams.input_shape``
    so a checkpoint rebuilds the same networks.
    """

    built_input_shape: Tensor
    lazy_networks: ClassVar[tuple[str, ...]] = ()
    """Names of the networks :meth:`build_networks` creates (reading one before is a clear error)."""

    def __init__(self, input_shape: Sequence[int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_shape: tuple[int, ...] | None = None
        self.register_buffer("built_input_shape", torch.zeros(0, dtype=torch.long))
        self._pending_shape = input_shape

    def build_pending(self) -> None:
        """Build from the constructor's ``input_shape`` (call at the end of a subclass's ``__init__``,
        once its hyper-parameters are saved)."""
        if self._pending_shape is not None:
            self.build(self._pending_shape)
        self._pending_shape = None

    @abstractmethod
    def build_networks(self, shape: tuple[int, ...]) -> None:
        """Create the networks for inputs of ``shape`` (C, H, W) or (D,)."""

    @property
    def is_built(self) -> bool:
        return self.input_shape is not None

    def build(self, shape: Sequence[int]) -> None:
        self.input_shape = tuple(int(d) for d in shape)
        self.built_input_shape = torch.tensor(self.input_shape, dtype=torch.long)
        self.hparams["input_shape"] = list(self.input_shape)
        self.build_networks(self.input_shape)

    def setup(self, stage: str) -> None:
        if not self.is_built:
            self.build(datamodule_input_shape(self))

    def require_built(self) -> tuple[int, ...]:
        """The input shape, or a clear error when the networks are not built yet."""
        if self.input_shape is None:
            raise RuntimeError(
                f"{type(self).__name__}'s networks are not built yet: pass `input_shape` or let a "
                "Trainer set the model up with a DataModule."
            )
        return self.input_shape

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name in type(self).lazy_networks:
                raise NotBuiltError(
                    f"{type(self).__name__}.{name} is not built yet: pass `input_shape`, or let a "
                    "Trainer set the model up with a DataModule."
                ) from None
            raise

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        shape = state_dict.get(prefix + "built_input_shape")
        if not self.is_built and shape is not None and shape.numel() > 0:
            self.build(shape.tolist())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
