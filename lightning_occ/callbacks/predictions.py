"""PredictionWriter: ``predict`` writes one row per input to CSV (and Parquet when pyarrow is installed)."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch import Tensor

from lightning_occ.utils.atomic import atomic_path

__all__ = ["PREDICTION_COLUMNS", "PredictionWriter"]

PREDICTION_COLUMNS = ("id", "score", "decision", "certified_radius")
"""Columns of ``predictions.csv``: the input's id (file name or row number), its anomaly score, the
decision ``score > threshold`` (1 = anomaly; empty without a threshold) and the l2 radius within
which the decision is certified (empty without a threshold or a Lipschitz bound). A smoothing
certifier adds ``lower@eps`` and ``upper@eps`` per radius."""


class PredictionWriter(BasePredictionWriter):
    """Writes ``predictions.csv`` (and ``predictions.parquet`` with pyarrow) when ``predict`` ends.

    Rows are written as batches finish, into a hidden partial file renamed at the end, so an
    interrupted run never leaves a half-written ``predictions.csv``.

    Args:
        out_dir: folder of the files; default ``<trainer.log_dir>/predictions``.
    """

    def __init__(self, out_dir: str | None = None) -> None:
        super().__init__(write_interval="batch")
        self.out_dir = out_dir
        self._rows: list[dict[str, Any]] = []

    def folder(self, trainer: L.Trainer) -> Path:
        return Path(self.out_dir or os.path.join(trainer.log_dir or trainer.default_root_dir, "predictions"))

    def on_predict_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._rows = []

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        if not isinstance(prediction, dict):
            prediction = {"score": prediction}
        ids: list[str] = getattr(getattr(trainer, "datamodule", None), "predict_ids", list)()
        n = len(prediction["score"])
        indices = (
            list(batch_indices) if batch_indices is not None else list(range(len(self._rows), len(self._rows) + n))
        )
        for row, index in enumerate(indices):
            values: dict[str, Any] = {"_index": int(index), "id": ids[index] if index < len(ids) else str(index)}
            for key, column in prediction.items():
                item = column[row]
                values[key] = item.tolist() if isinstance(item, Tensor) else item
            self._rows.append(values)

    def on_predict_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        rows = self._rows
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # every process's shard
            shards: list[Any] = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(shards, rows)
            rows = [row for shard in shards for row in shard]
        if not trainer.is_global_zero or not rows:
            return
        rows = [{k: v for k, v in row.items() if k != "_index"} for row in sorted(rows, key=lambda r: r["_index"])]
        written = write_predictions(rows, self.folder(trainer))
        print(f"Predictions for {len(rows)} inputs written to " + ", ".join(str(p.resolve()) for p in written))


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    extra = sorted({key for row in rows for key in row} - set(PREDICTION_COLUMNS))
    return [*PREDICTION_COLUMNS, *extra]


def write_predictions(rows: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write the rows as ``predictions.csv`` (and ``.parquet`` with pyarrow); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = _columns(rows)
    path = folder / "predictions.csv"
    with atomic_path(path) as partial, partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    written = [path]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return written
    table = pa.table({column: [row.get(column) for row in rows] for column in columns})
    parquet = folder / "predictions.parquet"
    with atomic_path(parquet) as partial:
        pq.write_table(table, partial)
    written.append(parquet)
    return written


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)
