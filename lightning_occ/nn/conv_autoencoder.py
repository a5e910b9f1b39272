"""A small convolutional autoencoder for 8 to 64 pixel images (CLAD's first stage)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvAutoencoder"]


class ConvAutoencoder(nn.Module):
    """Two stride-2 convolutions down to a linear code, mirrored by transposed convolutions.

    The decoder output passes through a sigmoid (inputs are images in [0, 1]) and is resized to the
    input size when the size is not a multiple of 4 (e.g. 30 px).

    Args:
        input_shape: (C, H, W).
        latent_dim: size of the code.
        channels: channels of the two convolutions.

    Example:
        >>> import torch
        >>> ae = ConvAutoencoder((1, 28, 28), latent_dim=10)
        >>> ae.encode(torch.rand(2, 1, 28, 28)).shape, ae(torch.rand(2, 1, 28, 28)).shape
        (torch.Size([2, 10]), torch.Size([2, 1, 28, 28]))
    """

    def __init__(self, input_shape: Sequence[int], latent_dim: int = 10, channels: Sequence[int] = (32, 64)) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"ConvAutoencoder needs (C, H, W) images, got input shape {tuple(input_shape)}.")
        c, h, w = (int(d) for d in input_shape)
        c1, c2 = channels
        self.input_shape = (c, h, w)
        self.code_grid = (c2, (h + 3) // 4, (w + 3) // 4)
        grid_features = c2 * self.code_grid[1] * self.code_grid[2]
        self.encoder = nn.Sequential(
            nn.Conv2d(c, c1, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(grid_features, latent_dim),
        )
        self.decoder_input = nn.Sequential(nn.Linear(latent_dim, grid_features), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, c, 3, stride=2, padding=1, output_padding=1),
        )

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        out = self.decoder(self.decoder_input(z).reshape(z.shape[0], *self.code_grid))
        if out.shape[-2:] != self.input_shape[-2:]:
            out = F.interpolate(out, size=self.input_shape[-2:], mode="bilinear", align_corners=False)
        return out.sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))
