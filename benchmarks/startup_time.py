"""Start-up cost of the command line and the package, in fresh interpreters (best of repeats):
``lightning-occ --help``, ``lightning-occ zoo list``, ``import lightning_occ`` and its first public
names, against ``import lightning`` (the ratio is what the issue asks about; machines here are noisy).

    python benchmarks/startup_time.py

Writes ``benchmarks/results/startup_time.json``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from timing import write_results  # benchmarks/ is on sys.path when run as a script

RESULTS = Path(__file__).parent / "results" / "startup_time.json"
COMMANDS = {
    "import lightning": [sys.executable, "-c", "import lightning"],
    "import lightning_occ": [sys.executable, "-c", "import lightning_occ"],
    "import lightning_occ + OCSDF + zoo": [sys.executable, "-c", "import lightning_occ as lo; lo.OCSDF; lo.zoo.load"],
    "lightning-occ --help": [sys.executable, "-m", "lightning_occ", "--help"],
    "lightning-occ zoo list": [sys.executable, "-m", "lightning_occ", "zoo", "list"],
    "lightning-occ fit --help": [sys.executable, "-m", "lightning_occ", "fit", "--help"],
}


def best_wall_time(command: list[str], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    seconds = {name: best_wall_time(command) for name, command in COMMANDS.items()}
    reference = seconds["import lightning"]
    result = {"seconds": seconds, "ratio_to_import_lightning": {k: v / reference for k, v in seconds.items()}}
    write_results(RESULTS, result)
    for name, value in seconds.items():
        print(f"  {name:38s} {value:6.2f} s   {value / reference:5.2f}x import lightning")


if __name__ == "__main__":
    main()
