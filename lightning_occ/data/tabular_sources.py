"""Readers for tabular anomaly-detection data: sklearn's bundled sets, synthetic sets, user files.

Every reader returns a :class:`TabularTable`: float features, the raw class of each row and the
default normal classes. Which rows are anomalies is decided later from ``normal_classes``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["BUILTIN_DATASETS", "FILE_FORMATS", "TabularTable", "check_finite", "read_tabular"]


@dataclass
class TabularTable:
    """Features (N, d), the class of each row (N,) as strings, and the default normal classes."""

    features: np.ndarray
    classes: np.ndarray
    default_normal: list[str]
    feature_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float64)
        self.classes = np.asarray(self.classes).astype(str)
        if not self.feature_names:
            self.feature_names = [f"x{i}" for i in range(self.features.shape[1])]


def _sklearn_table(loader: str, names: list[str] | None, default_normal: list[str]) -> TabularTable:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)()
    classes = np.asarray(names)[bunch.target] if names else bunch.target
    return TabularTable(bunch.data, classes, default_normal, list(getattr(bunch, "feature_names", [])))


def _with_uniform_anomalies(normal: np.ndarray, n_anomalies: int, rng: np.random.Generator) -> TabularTable:
    low, high = normal.min(0), normal.max(0)
    pad = 0.25 * (high - low)
    anomalies = rng.uniform(low - pad, high + pad, size=(n_anomalies, normal.shape[1]))
    classes = np.array(["normal"] * len(normal) + ["uniform"] * n_anomalies)
    return TabularTable(np.vstack([normal, anomalies]), classes, ["normal"])


def _two_moons(n_samples: int, seed: int) -> TabularTable:
    from sklearn.datasets import make_moons

    normal, _ = make_moons(n_samples=n_samples, noise=0.06, random_state=seed)
    return _with_uniform_anomalies(normal, n_samples // 5, np.random.default_rng(seed))


def _blobs(n_samples: int, seed: int) -> TabularTable:
    from sklearn.datasets import make_blobs

    normal, _ = make_blobs(n_samples=n_samples, centers=3, n_features=2, cluster_std=0.6, random_state=seed)
    return _with_uniform_anomalies(normal, n_samples // 5, np.random.default_rng(seed))


BUILTIN_DATASETS = {
    "breast_cancer": lambda n, seed: _sklearn_table("load_breast_cancer", ["malignant", "benign"], ["benign"]),
    "wine": lambda n, seed: _sklearn_table("load_wine", None, ["0"]),
    "digits": lambda n, seed: _sklearn_table("load_digits", None, ["0"]),
    "two_moons": _two_moons,
    "blobs": _blobs,
}
FILE_FORMATS = (".csv", ".npy", ".npz", ".mat")


def _read_csv(path: Path, label_column: str | None) -> TabularTable:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise ValueError(f"{path} is empty.")
    header, body = rows[0], [row for row in rows[1:] if any(value.strip() for value in row)]
    if not body:
        raise ValueError(
            f"{path} has a header but no rows of data: it needs normal (and, for testing, anomalous) rows."
        )
    if label_column is None or label_column not in header:
        what = "No `label_column` was given" if label_column is None else f"Label column {label_column!r} not found"
        raise ValueError(f"{what} for {path}; its columns are: {header}. Pass e.g. --data.label_column {header[-1]}.")
    label_at = header.index(label_column)
    names = [name for i, name in enumerate(header) if i != label_at]
    features = np.empty((len(body), len(names)))
    for r, row in enumerate(body):
        values = [value for i, value in enumerate(row) if i != label_at]
        for c, value in enumerate(values):
            try:
                features[r, c] = float(value) if value.strip() else np.nan
            except ValueError:
                raise ValueError(
                    f"{path}, row {r + 2}, column {names[c]!r}: {value!r} is not a number. Encode "
                    "categorical columns numerically (e.g. one-hot) or drop them."
                ) from None
    classes = np.array([row[label_at] for row in body])
    return TabularTable(features, classes, ["0"], names)


def _read_arrays(path: Path, label_column: str | None) -> TabularTable:
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        if array.ndim != 2:
            raise ValueError(f"{path} must hold a 2-D array (rows x columns), got shape {array.shape}.")
        column = int(label_column) if label_column is not None else -1
        return TabularTable(np.delete(array, column, axis=1), array[:, column].astype(np.int64), ["0"])
    if path.suffix == ".npz":
        arrays = dict(np.load(path, allow_pickle=False))
    else:
        from scipy.io import loadmat

        arrays = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
    missing = [key for key in ("X", "y") if key not in arrays]
    if missing:
        raise ValueError(
            f"{path} must hold arrays 'X' (features) and 'y' (1 = anomaly, 0 = normal, the ODDS convention); "
            f"missing {missing}, found {sorted(arrays)}."
        )
    return TabularTable(arrays["X"], np.asarray(arrays["y"]).reshape(-1).astype(np.int64), ["0"])


def read_tabular(
    dataset: str, *, label_column: str | None = None, n_samples: int = 1000, seed: int = 0
) -> TabularTable:
    """Load a built-in dataset by name, or a user file (.csv, .npy, .npz, ODDS .mat) by path."""
    if dataset in BUILTIN_DATASETS:
        return BUILTIN_DATASETS[dataset](n_samples, seed)
    path = Path(dataset).expanduser()
    if path.suffix.lower() not in FILE_FORMATS:
        raise ValueError(
            f"Unknown dataset {dataset!r}. Use a built-in name ({', '.join(BUILTIN_DATASETS)}) or the path of a "
            f"file ending in {', '.join(FILE_FORMATS)}."
        )
    if not path.is_file():
        raise FileNotFoundError(f"Dataset file {str(path)!r} does not exist (working directory: {Path.cwd()}).")
    reader = _read_csv if path.suffix.lower() == ".csv" else _read_arrays
    return reader(path, label_column)


def check_finite(features: np.ndarray, feature_names: list[str]) -> None:
    """Raise a ValueError naming the rows and columns that hold NaN or inf."""
    bad = ~np.isfinite(features)
    if bad.any():
        rows = np.flatnonzero(bad.any(1))
        columns = [feature_names[c] for c in np.flatnonzero(bad.any(0))]
        raise ValueError(
            f"Features hold NaN or inf in {len(rows)} row(s) (first: {rows[:10].tolist()}) and column(s) "
            f"{columns[:10]}. Impute or drop them first (e.g. sklearn.impute.SimpleImputer)."
        )
