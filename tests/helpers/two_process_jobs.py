"""Several distributed jobs on one pair of CPU processes, launched the way torchrun launches `ddp`.

Each `ddp_spawn` fit or test starts two fresh interpreters that import torch, Lightning and this
package again (about 10 s each on 2 cores). Here two processes are started once, join one gloo
group through the standard environment variables (Lightning then sees an externally launched
`ddp` run), and run every job in turn: fit under DDP, save the checkpoint, test under DDP. The
parent process reloads each checkpoint and tests it alone, so every job is still compared with a
single-process run.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch.multiprocessing as mp

from tests.helpers.training import tiny_trainer

JobResult = dict  # {"checkpoint": path or None when the job does not fit, "metrics": {...}, "world_size": 2}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ddp_trainer(**overrides) -> L.Trainer:
    return tiny_trainer(devices=2, strategy="ddp", limit_val_batches=0, **overrides)


def _worker(rank: int, port: int, jobs: dict[str, Callable[[], tuple]], out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE="2",
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        NODE_RANK="0",
    )
    for name, job in jobs.items():
        L.seed_everything(0, verbose=False)
        model, datamodule, fit_epochs = job()
        result = {"checkpoint": None}
        if fit_epochs:
            trainer = ddp_trainer(max_epochs=fit_epochs)
            trainer.fit(model, datamodule=datamodule)
            result["checkpoint"] = str(Path(out) / f"{name}.ckpt")
            trainer.save_checkpoint(result["checkpoint"])
        tester = ddp_trainer()
        result["metrics"] = tester.test(model, datamodule=datamodule, verbose=False)[0]
        result["world_size"] = tester.world_size
        if rank == 0:
            (Path(out) / f"{name}.json").write_text(json.dumps(result))


def run_jobs_on_two_processes(jobs: dict[str, Callable[[], tuple]], out: Path) -> dict[str, JobResult]:
    """Run every job (a module-level function returning ``(model, datamodule, fit_epochs)``) on 2 gloo
    processes; returns each job's checkpoint (after fitting) and 2-process test metrics."""
    out.mkdir(parents=True, exist_ok=True)
    mp.start_processes(_worker, args=(free_port(), jobs, str(out)), nprocs=2, start_method="spawn")
    return {name: json.loads((out / f"{name}.json").read_text()) for name in jobs}
