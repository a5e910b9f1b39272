"""Shared by the benchmarks: the best wall time of several runs (noise only ever adds time), and results as JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def write_results(path: Path, result: object) -> None:
    """Write a benchmark's result as indented JSON into ``benchmarks/results/`` (README tables read it)."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
