"""Class tables of the image scenarios: one-class (a single normal class) and latent multi-class
(a super-category is normal, its sub-classes hidden; anomalies are the other classes)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CLASS_NAMES", "SUPER_CATEGORIES", "resolve_normal_classes"]

_DIGITS = [str(d) for d in range(10)]
_TINY = {
    "ANML": "n02099601 n02085620 n02106662 n02099712 n02113799 n02094433 n02125311 n02123394",
    "ISCT": "n02268443 n02233338 n02206856 n02226429 n02190166 n02236044 n02279972 n02281406",
    "ISTM": "n04560804 n02823428 n04398044 n03983396 n02815834 n04118538 n04540053 n03937543",
    "STRT": "n04486054 n04366367 n03388043 n04532670 n02788148 n04311004 n03837869 n02814860",
    "VHCL": "n04146614 n04487081 n04285008 n02917067 n03100240 n04465501 n03977966 n02814533",
}
TINY_IMAGENET_WNIDS = [wnid for group in _TINY.values() for wnid in group.split()]

CLASS_NAMES: dict[str, list[str]] = {
    "mnist": _DIGITS,
    "digits": _DIGITS,
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "gtsrb": [str(c) for c in range(43)],
    "tiny_imagenet": TINY_IMAGENET_WNIDS,  # the 40 classes of the five super-categories
}
"""Class names per dataset, in label order (the label of a class is its index)."""

_MNIST_GROUPS = {"CUR": [0, 3, 8], "STR": [1, 4, 7], "MIX": [2, 5, 6, 9]}
SUPER_CATEGORIES: dict[str, dict[str, list[int]]] = {
    "mnist": _MNIST_GROUPS,
    "digits": _MNIST_GROUPS,
    "cifar10": {"THG": [0, 1, 8, 9], "LIV": [2, 3, 4, 5, 6, 7]},
    "gtsrb": {
        "SPDL": [0, 1, 2, 3, 4, 5, 7, 8],
        "INST": [9, 10, 15, 16],
        "WARN": [11, *range(18, 32)],
        "DIRC": list(range(33, 41)),
        "SPEC": [12, 13, 14, 17],
        "REGN": [6, 32, 41, 42],
    },
    "tiny_imagenet": {name: [TINY_IMAGENET_WNIDS.index(w) for w in group.split()] for name, group in _TINY.items()},
}
"""Super-categories (latent multi-class normal sets) per dataset, as class labels."""


def resolve_normal_classes(
    dataset: str, normal: str | int | Sequence[str | int], num_classes: int, class_names: Sequence[str] | None = None
) -> list[int]:
    """Turn a super-category name, a class label or name, or a list of them into sorted labels.

    Example:
        >>> resolve_normal_classes("mnist", "CUR", 10)
        [0, 3, 8]
        >>> resolve_normal_classes("cifar10", ["cat", 5], 10)
        [3, 5]
    """
    groups = SUPER_CATEGORIES.get(dataset, {})
    names = list(class_names) if class_names is not None else CLASS_NAMES.get(dataset, [])
    items = [normal] if isinstance(normal, (str, int)) else list(normal)
    if not items:
        raise ValueError("The normal set is empty: give a super-category name or at least one class.")
    labels: set[int] = set()
    for item in items:
        if isinstance(item, str) and item.upper() in groups:
            labels.update(groups[item.upper()])
        elif isinstance(item, str) and item in names:
            labels.add(names.index(item))
        elif isinstance(item, int) or (isinstance(item, str) and item.lstrip("-").isdigit()):
            label = int(item)
            if not 0 <= label < num_classes:
                raise ValueError(f"Class {label} is out of range for {dataset}: labels go from 0 to {num_classes - 1}.")
            labels.add(label)
        else:
            valid = sorted(groups) or ["(none for this dataset)"]
            raise ValueError(
                f"Unknown normal class or super-category {item!r} for {dataset}. Super-categories: "
                f"{', '.join(valid)}; or class labels 0..{num_classes - 1}"
                + (f" or names such as {', '.join(names[:4])}, ..." if names and names != _DIGITS else "")
                + "."
            )
    if len(labels) == num_classes:
        raise ValueError(f"Every class of {dataset} is normal, so there would be no anomalies to test on.")
    return sorted(labels)
