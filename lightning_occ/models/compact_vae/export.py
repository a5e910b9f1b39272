"""CompactVAE's score as one traceable module, for ONNX and TorchScript export."""

from __future__ import annotations

from torch import Tensor, nn

from lightning_occ.models.compact_vae.torch_model import inverse_stereographic
from lightning_occ.nn.nearest import BankDistance

__all__ = ["VAEScore"]


class VAEScore(nn.Module):
    """The deterministic scores of a CompactVAE: ``hole`` (distance of the posterior-mean code to the
    k nearest training codes, optionally normalised by their spacing), ``recon`` or ``elbo`` (both
    at the posterior mean)."""

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        input_shape: tuple[int, ...],
        sphere: bool,
        score_name: str,
        bank: BankDistance | None,
    ) -> None:
        super().__init__()
        self.encoder, self.decoder, self.bank = encoder, decoder, bank
        self.input_shape, self.sphere, self.score_name = input_shape, sphere, score_name

    def _code(self, z: Tensor) -> Tensor:
        return inverse_stereographic(z) if self.sphere else z

    def forward(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], *self.input_shape)
        mean, log_variance = self.encoder(x)
        if self.score_name == "hole":
            assert self.bank is not None
            return self.bank(self._code(mean))
        recon = (self.decoder(self._code(mean)) - x).flatten(1).pow(2).sum(1)
        if self.score_name == "recon":
            return recon
        log_variance = log_variance.clamp(-10, 10)
        return recon + 0.5 * (mean.pow(2) + log_variance.exp() - 1 - log_variance).sum(1)
