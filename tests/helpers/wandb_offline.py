"""Read back what an offline W&B run recorded, from its ``run-<id>.wandb`` file.

wandb 0.31 writes no ``wandb-summary.json`` offline and has no public reader for the run file, so
the tests parse it: a LevelDB-style log (32 KiB blocks, 7-byte record headers: crc, length, type)
of ``wandb_internal_pb2.Record`` protobufs, after a 7-byte ``:W&B`` file header.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2

BLOCK, HEADER = 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _payloads(data: bytes) -> Iterator[bytes]:
    if data[:4] != b":W&B":
        raise ValueError("not a W&B run file")
    position, pieces = HEADER, []
    while position + HEADER <= len(data):
        left = BLOCK - position % BLOCK
        if left < HEADER:
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        if kind == 0:  # zero padding up to the end of the block
            position += left
            continue
        payload = data[position + HEADER : position + HEADER + length]
        position += HEADER + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pieces = [payload]
        elif kind == MIDDLE:
            pieces.append(payload)
        elif kind == LAST:
            yield b"".join([*pieces, payload])


def offline_run_contents(save_dir: Path) -> tuple[dict, list[dict], dict]:
    """(summary, history rows, config) of the single offline run under ``save_dir``."""
    runs = list(Path(save_dir).rglob("offline-run-*/run-*.wandb"))
    if len(runs) != 1:
        raise AssertionError(f"expected one offline run under {save_dir}, found {runs}")
    summary: dict = {}
    history: list[dict] = []
    config: dict = {}
    for payload in _payloads(runs[0].read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
        elif kind == "history":
            history.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
        elif kind == "config":
            for item in record.config.update:
                config[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary, history, config
