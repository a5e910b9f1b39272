"""Small convolutional encoders and decoders for 8 to 64 pixel images (CLAD's autoencoder, CompactVAE's
``network='conv'``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvAutoencoder", "ConvDecoder", "ConvEncoder", "ConvGaussianEncoder"]


def _code_grid(input_shape: Sequence[int], channels: Sequence[int]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"Convolutional networks need (C, H, W) images, got input shape {tuple(input_shape)}.")
    _, h, w = (int(d) for d in input_shape)
    return int(channels[-1]), (h + 3) // 4, (w + 3) // 4


class ConvEncoder(nn.Sequential):
    """Two stride-2 3x3 convolutions with ReLU, then a linear map to ``out_features``."""

    def __init__(self, input_shape: Sequence[int], out_features: int, channels: Sequence[int] = (32, 64)) -> None:
        c2, gh, gw = _code_grid(input_shape, channels)
        c1 = int(channels[0])
        super().__init__(
            nn.Conv2d(int(input_shape[0]), c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * gh * gw, out_features),
        )


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvEncoder`: linear map to a feature grid, two stride-2 transposed
    convolutions, a sigmoid (images in [0, 1]); resized to the output size when it is not a multiple of 4."""

    def __init__(self, in_features: int, output_shape: Sequence[int], channels: Sequence[int] = (32, 64)) -> None:
        super().__init__()
        self.grid = _code_grid(output_shape, channels)
        self.output_shape = tuple(int(d) for d in output_shape)
        c2, gh, gw = self.grid
        self.expand = nn.Sequential(nn.Linear(in_features, c2 * gh * gw), nn.ReLU())
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(c2, int(channels[0]), 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(int(channels[0]), self.output_shape[0], 3, stride=2, padding=1, output_padding=1),
        )

    def forward(self, z: Tensor) -> Tensor:
        out = self.upsample(self.expand(z).reshape(z.shape[0], *self.grid))
        if out.shape[-2:] != self.output_shape[-2:]:
            out = F.interpolate(out, size=self.output_shape[-2:], mode="bilinear", align_corners=False)
        return out.sigmoid()


class ConvAutoencoder(nn.Module):
    """:class:`ConvEncoder` to a ``latent_dim`` code and :class:`ConvDecoder` back.

    Example:
        >>> import torch
        >>> ae = ConvAutoencoder((1, 28, 28), latent_dim=10)
        >>> ae.encode(torch.rand(2, 1, 28, 28)).shape, ae(torch.rand(2, 1, 28, 28)).shape
        (torch.Size([2, 10]), torch.Size([2, 1, 28, 28]))
    """

    def __init__(self, input_shape: Sequence[int], latent_dim: int = 10, channels: Sequence[int] = (32, 64)) -> None:
        super().__init__()
        self.encoder = ConvEncoder(input_shape, latent_dim, channels)
        self.decoder = ConvDecoder(latent_dim, input_shape, channels)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


class ConvGaussianEncoder(nn.Module):
    """A VAE encoder on images: :class:`ConvEncoder` features, then linear mean and log-variance heads."""

    def __init__(
        self, input_shape: Sequence[int], hidden: int, latent_dim: int, channels: Sequence[int] = (32, 64)
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvEncoder(input_shape, hidden, channels), nn.ReLU())
        self.mean = nn.Linear(hidden, latent_dim)
        self.log_variance = nn.Linear(hidden, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return self.mean(h), self.log_variance(h)
