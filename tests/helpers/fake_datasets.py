"""Small fake copies of the image datasets, written in each dataset's exact on-disk format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from lightning_occ.data.scenarios import TINY_IMAGENET_WNIDS


def _image(rng: np.random.Generator, size: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def write_cifar10(root: Path, per_batch: int = 20, seed: int = 0) -> Path:
    """cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}: pickled dicts with bytes keys."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [i % 10 for i in range(per_batch)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)],
        }
        with (folder / name).open("wb") as handle:
            pickle.dump(batch, handle)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with (folder / "batches.meta").open("wb") as handle:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": per_batch}, handle)
    return folder


def write_gtsrb(root: Path, per_class: int = 2, test_images: int = 86, seed: int = 0) -> Path:
    """gtsrb/GTSRB/Training/<5-digit class>/*.ppm (+ GT csv), gtsrb/GTSRB/Final_Test/Images/*.ppm,
    gtsrb/GT-final_test.csv."""
    rng = np.random.default_rng(seed)
    base = root / "gtsrb"
    for label in range(43):
        folder = base / "GTSRB" / "Training" / f"{label:05d}"
        folder.mkdir(parents=True)
        rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
        for i in range(per_class):
            size = int(rng.integers(25, 40))
            _image(rng, size).save(folder / f"00000_{i:05d}.ppm")
            rows.append(f"00000_{i:05d}.ppm;{size};{size};5;5;{size - 5};{size - 5};{label}")
        (folder / f"GT-{label:05d}.csv").write_text("\n".join(rows) + "\n")
    test_folder = base / "GTSRB" / "Final_Test" / "Images"
    test_folder.mkdir(parents=True)
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    for i in range(test_images):
        _image(rng, 30).save(test_folder / f"{i:05d}.ppm")
        rows.append(f"{i:05d}.ppm;30;30;5;5;25;25;{i % 43}")
    (base / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    return base


def write_tiny_imagenet(root: Path, per_class: int = 3, val_per_class: int = 2, seed: int = 0) -> Path:
    """tiny-imagenet-200/{wnids.txt, train/<wnid>/images/<wnid>_<i>.JPEG, val/images, val/val_annotations.txt}.

    Besides the 40 scenario classes, one extra class is written to check it is ignored.
    """
    rng = np.random.default_rng(seed)
    folder = root / "tiny-imagenet-200"
    wnids = [*TINY_IMAGENET_WNIDS, "n99999999"]
    (folder / "val" / "images").mkdir(parents=True)
    (folder / "wnids.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")
    annotations = []
    for wnid in wnids:
        images = folder / "train" / wnid / "images"
        images.mkdir(parents=True)
        for i in range(per_class):
            _image(rng, 64).save(images / f"{wnid}_{i}.JPEG", format="JPEG")
        (folder / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for _ in range(val_per_class):
            name = f"val_{len(annotations)}.JPEG"
            _image(rng, 64).save(folder / "val" / "images" / name, format="JPEG")
            annotations.append(f"{name}\t{wnid}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(annotations) + "\n")
    return folder


def write_image_folder(root: Path, classes: tuple[str, ...] = ("cat", "dog", "fox"), per_class: int = 4) -> Path:
    """root/{train,test}/<class>/<i>.png."""
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for name in classes:
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                _image(rng, 40).save(folder / f"{i}.png")
    return root


def write_mvtec_category(
    root: Path, defects: tuple[str, ...] = ("crack", "scratch"), per_folder: int = 4, size: int = 16
) -> Path:
    """MVTec AD's on-disk layout for one category: train/good/, test/good/, test/<defect>/ (PNG)."""
    rng = np.random.default_rng(1)
    folders = [root / "train" / "good", root / "test" / "good", *(root / "test" / d for d in defects)]
    for folder in folders:
        folder.mkdir(parents=True)
        for i in range(per_folder * (3 if folder.parts[-2] == "train" else 1)):
            _image(rng, size).save(folder / f"{i:03d}.png")
    return root


def write_mnist(root: Path, per_class: int = 6, test_per_class: int = 3, seed: int = 0) -> Path:
    """MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte: big-endian IDX headers then uint8 data."""
    rng = np.random.default_rng(seed)
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for prefix, count in (("train", per_class), ("t10k", test_per_class)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), count)
        images = rng.integers(0, 256, (labels.size, 28, 28), dtype=np.uint8)
        header = np.array([2051, labels.size, 28, 28], dtype=">i4").tobytes()
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            np.array([2049, labels.size], dtype=">i4").tobytes() + labels.tobytes()
        )
    return folder
