"""Unlabelled inputs for ``predict``: a CSV or NPY table, or a folder of images without class sub-folders."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

__all__ = ["IMAGE_SUFFIXES", "UnlabelledDataset", "read_image_folder", "read_unlabelled_table"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class UnlabelledDataset(Dataset):
    """Inputs with an id each (a file path, or a row number); items are the inputs alone."""

    def __init__(self, inputs: Tensor, ids: Sequence[str]) -> None:
        if len(inputs) != len(ids):
            raise ValueError(f"{len(inputs)} inputs but {len(ids)} ids.")
        self.inputs, self.ids = inputs, list(ids)

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> Tensor:
        return self.inputs[index]


def read_unlabelled_table(
    path: str | Path,
    n_features: int,
    drop_columns: Sequence[str] = (),
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> UnlabelledDataset:
    """Rows of a ``.csv`` (numeric columns; ``drop_columns`` such as a label column are left out) or a
    2-D ``.npy`` file, checked against the model's ``n_features``, then ``transform`` (the training
    scaler); ids are row numbers from 0."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"The predict file {str(path)!r} does not exist (working directory: {Path.cwd()}).")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        header, body = rows[0], [row for row in rows[1:] if row]
        keep = [j for j, name in enumerate(header) if name not in set(drop_columns)]
        try:
            values = np.array([[float(row[j]) for j in keep] for row in body], dtype=np.float64).reshape(len(body), -1)
        except ValueError as error:
            raise ValueError(
                f"{path}: {error}; predict reads numeric feature columns only (with a header row)."
            ) from None
    elif suffix == ".npy":
        values = np.load(path, allow_pickle=False).astype(np.float64)
    else:
        raise ValueError(f"predict_path {str(path)!r}: give a .csv or .npy table, or a folder of images.")
    if values.ndim != 2 or values.shape[1] != n_features:
        raise ValueError(
            f"{path} holds rows of {values.shape[1:] if values.ndim == 2 else values.shape} values, "
            f"but the model takes {n_features} features (the training table's columns, label excluded)."
        )
    if not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0][0])
        raise ValueError(f"{path} holds NaN or inf (first at row {row}): fill or drop those rows first.")
    if transform is not None:
        values = transform(values)
    return UnlabelledDataset(torch.as_tensor(values, dtype=torch.float32), [str(i) for i in range(len(values))])


def read_image_folder(path: str | Path, shape: Sequence[int], image_size: int | None = None) -> UnlabelledDataset:
    """Every image file directly in ``path`` (sorted by name), as ``shape`` = (C, H, W) tensors in [0, 1];
    ids are the file names. An image of another size (unless ``image_size`` resizes it) or another
    channel count is refused, with its name."""
    from PIL import Image

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"The predict folder {str(folder)!r} does not exist (working directory: {Path.cwd()}).")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder} holds no image file ({', '.join(IMAGE_SUFFIXES)}).")
    channels, height, width = (int(d) for d in shape)
    images = []
    for file in files:
        with Image.open(file) as opened:
            image: Image.Image = opened
            mode_channels = {"L": 1, "RGB": 3}.get(image.mode)
            if mode_channels is None:
                image = image.convert("RGB" if channels == 3 else "L")
                mode_channels = channels
            if mode_channels != channels:
                raise ValueError(
                    f"{file.name} has {mode_channels} channel(s) ({image.mode}), but the model takes "
                    f"{channels}: convert the images to {'RGB' if channels == 3 else 'grayscale'}."
                )
            if image_size is not None:
                image = image.resize((image_size, image_size))
            if image.size != (width, height):
                raise ValueError(
                    f"{file.name} is {image.size[0]}x{image.size[1]} pixels, but the model takes "
                    f"{width}x{height}: resize it (or set image_size for an image_folder dataset)."
                )
            array = np.asarray(image, dtype=np.float32) / 255.0
        images.append(torch.from_numpy(array.reshape(height, width, channels)).permute(2, 0, 1))
    return UnlabelledDataset(torch.stack(images), [file.name for file in files])
