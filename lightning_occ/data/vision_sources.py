"""Readers for the image datasets, each returning uint8 tensors (N, C, H, W) and integer labels.

Real on-disk formats: MNIST IDX files and GTSRB folders through torchvision; CIFAR-10's python
pickle batches and Tiny-ImageNet's folders read here (torchvision has no Tiny-ImageNet, and its
CIFAR-10 class refuses any copy whose MD5 differs from the official archive). Downloads use
torchvision's checksummed ``download_and_extract_archive``; offline, a missing dataset is an error
that names the folder and the files expected there.
"""

from __future__ import annotations

import csv
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from lightning_occ.data.scenarios import TINY_IMAGENET_WNIDS

__all__ = ["ImageTable", "default_root", "load_images"]

DATA_ENV = "LIGHTNING_OCC_DATA"
CIFAR10_URL = ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")
TINY_IMAGENET_URL = ("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de")


@dataclass
class ImageTable:
    """The official train and test splits of one dataset."""

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    class_names: list[str] | None = None


def default_root() -> Path:
    """``$LIGHTNING_OCC_DATA`` if set, else ``./data``."""
    return Path(os.environ.get(DATA_ENV, "data"))


def _missing(name: str, folder: Path, expected: list[str], download_hint: str) -> FileNotFoundError:
    files = "\n  ".join(str(folder / f) for f in expected)
    return FileNotFoundError(
        f"{name} is not at {folder}. Expected:\n  {files}\n{download_hint} Point --data.root (or ${DATA_ENV}) "
        "at the folder that holds it."
    )


def _download(url_md5: tuple[str, str], root: Path, name: str, folder: Path, expected: list[str]) -> None:
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(url_md5[0], str(root), md5=url_md5[1])
    except Exception as error:  # network unreachable, bad checksum, ...
        raise _missing(name, folder, expected, f"Download from {url_md5[0]} failed ({error}).") from error


def _mnist(root: Path, download: bool) -> ImageTable:
    from torchvision.datasets import MNIST

    files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    folder = root / "MNIST" / "raw"
    try:
        train, test = (MNIST(str(root), train=flag, download=download) for flag in (True, False))
    except RuntimeError as error:
        raise _missing("MNIST", folder, files, "Set download=True where the network allows.") from error
    return ImageTable(train.data[:, None], train.targets.long(), test.data[:, None], test.targets.long(), 10)


def _digits(root: Path, download: bool) -> ImageTable:
    """sklearn's 8x8 digits (shipped offline), values 0..16 scaled to 0..255, split 70/30 seeded."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = torch.from_numpy(np.round(data.images * 255.0 / 16.0).astype(np.uint8))[:, None]
    labels = torch.from_numpy(data.target).long()
    train, test = train_test_split(np.arange(len(labels)), test_size=0.3, stratify=labels.numpy(), random_state=0)
    return ImageTable(images[train], labels[train], images[test], labels[test], 10)


def _cifar10(root: Path, download: bool) -> ImageTable:
    folder = root / "cifar-10-batches-py"
    batches = [f"data_batch_{i}" for i in range(1, 6)]
    expected = [*batches, "test_batch"]
    if download and not all((folder / f).is_file() for f in expected):
        _download(CIFAR10_URL, root, "CIFAR-10", folder, expected)
    if not all((folder / f).is_file() for f in expected):
        raise _missing("CIFAR-10", folder, expected, f"Download and extract {CIFAR10_URL[0]} there.")

    def read(names: list[str]) -> tuple[Tensor, Tensor]:
        images, labels = [], []
        for name in names:
            with (folder / name).open("rb") as handle:
                batch = pickle.load(handle, encoding="bytes")
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.extend(batch[b"labels"])
        return torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)

    return ImageTable(*read(batches), *read(["test_batch"]), 10)


def _to_tensor(images: Sequence[Image.Image], size: int | None) -> Tensor:
    """RGB uint8 (N, 3, H, W), resized to ``size x size`` (None: keep the native size)."""
    rgb = [img.convert("RGB") for img in images]
    arrays = [np.asarray(img if size is None else img.resize((size, size), Image.Resampling.BILINEAR)) for img in rgb]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _gtsrb(root: Path, download: bool) -> ImageTable:
    from torchvision.datasets import GTSRB

    folder = root / "gtsrb" / "GTSRB"
    expected = ["Training/00000/*.ppm ... Training/00042/*.ppm", "Final_Test/Images/*.ppm", "../GT-final_test.csv"]
    try:
        splits = [GTSRB(str(root), split=s, download=download) for s in ("train", "test")]
    except RuntimeError as error:
        raise _missing("GTSRB", folder, expected, "Set download=True where the network allows.") from error
    tables = []
    for dataset in splits:
        pairs = [dataset[i] for i in range(len(dataset))]
        tables += [_to_tensor([image for image, _ in pairs], 32), torch.tensor([label for _, label in pairs])]
    return ImageTable(tables[0], tables[1], tables[2], tables[3], 43)


def _tiny_imagenet(root: Path, download: bool) -> ImageTable:
    folder = root / "tiny-imagenet-200"
    expected = [
        "wnids.txt",
        "train/<wnid>/images/<wnid>_<i>.JPEG",
        "val/images/val_<i>.JPEG",
        "val/val_annotations.txt",
    ]
    if download and not (folder / "val" / "val_annotations.txt").is_file():
        _download(TINY_IMAGENET_URL, root, "Tiny-ImageNet", folder, expected)
    if not (folder / "val" / "val_annotations.txt").is_file() or not (folder / "train").is_dir():
        raise _missing("Tiny-ImageNet", folder, expected, f"Download and extract {TINY_IMAGENET_URL[0]} there.")
    label_of = {wnid: i for i, wnid in enumerate(TINY_IMAGENET_WNIDS)}
    train_files, train_labels = [], []
    for wnid, label in label_of.items():
        files = sorted((folder / "train" / wnid / "images").glob("*.JPEG"))
        if not files:
            raise _missing("Tiny-ImageNet", folder, [f"train/{wnid}/images/*.JPEG"], "The copy is incomplete.")
        train_files += files
        train_labels += [label] * len(files)
    test_files, test_labels = [], []
    with (folder / "val" / "val_annotations.txt").open() as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if row and row[1] in label_of:
                test_files.append(folder / "val" / "images" / row[0])
                test_labels.append(label_of[row[1]])

    def read(files: list[Path]) -> Tensor:
        return _to_tensor([Image.open(f) for f in files], 64)

    return ImageTable(
        read(train_files),
        torch.tensor(train_labels),
        read(test_files),
        torch.tensor(test_labels),
        len(TINY_IMAGENET_WNIDS),
    )


def _image_folder(root: Path, download: bool, size: int | None = None) -> ImageTable:
    """Two layouts. Classes: ``train/<class>/`` and ``test/<class>/`` with the same class folders.
    MVTec: ``train/good/`` only, and ``test/good/`` plus one folder per defect; each defect is a class,
    so ``normal='good'`` makes every defect anomalous. Images keep their native size when they all
    share it; ``size`` resizes them to ``size x size``."""
    from torchvision.datasets import ImageFolder

    expected = ["train/<class>/<image>", "test/<class>/<image>  (or MVTec: train/good/, test/good/, test/<defect>/)"]
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise _missing("The image folder", root, expected, "Give --data.root the folder holding train/ and test/.")
    train, test = ImageFolder(str(root / "train")), ImageFolder(str(root / "test"))
    if train.classes == test.classes:
        train_targets = train.targets
    elif train.classes == ["good"] and "good" in test.classes:  # MVTec AD
        train_targets = [test.classes.index("good")] * len(train.samples)
    else:
        raise ValueError(
            f"train/ and test/ under {root} do not match: train has {train.classes}, test has "
            f"{test.classes}. Use the same class folders in both, or the MVTec layout (train/good/ "
            "only; test/good/ and test/<defect>/)."
        )
    images = [[Image.open(path) for path, _ in dataset.samples] for dataset in (train, test)]
    if size is None:
        sizes = {img.size for split in images for img in split}
        if len(sizes) > 1:
            shown = ", ".join(f"{w}x{h}" for w, h in sorted(sizes)[:3])
            raise ValueError(
                f"The images under {root} have different sizes ({shown}, ...): pass image_size "
                "(e.g. --data.init_args.image_size 256) to resize them all."
            )
    return ImageTable(
        _to_tensor(images[0], size),
        torch.tensor(train_targets, dtype=torch.long),
        _to_tensor(images[1], size),
        torch.tensor(test.targets, dtype=torch.long),
        len(test.classes),
        list(test.classes),
    )


LOADERS = {
    "mnist": _mnist,
    "digits": _digits,
    "cifar10": _cifar10,
    "gtsrb": _gtsrb,
    "tiny_imagenet": _tiny_imagenet,
    "image_folder": _image_folder,
}


def load_images(
    dataset: str, root: str | Path | None = None, download: bool = False, image_size: int | None = None
) -> ImageTable:
    """Read a dataset's official train and test splits as uint8 tensors (``image_size``: image folders only).

    Example:
        >>> table = load_images("digits")
        >>> tuple(table.train_images.shape[1:]), table.num_classes
        ((1, 8, 8), 10)
    """
    if dataset not in LOADERS:
        raise ValueError(f"Unknown image dataset {dataset!r}: choose one of {sorted(LOADERS)}.")
    folder = Path(root) if root is not None else default_root()
    if dataset == "image_folder":
        return _image_folder(folder, download, image_size)
    if image_size is not None:
        raise ValueError(f"image_size applies to image_folder only; {dataset} has its own fixed size.")
    return LOADERS[dataset](folder, download)
