"""The ``lightning-occ`` command line: a LightningCLI for every detector and DataModule."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lightning_occ import zoo
from lightning_occ.callbacks.predictions import PredictionWriter
from lightning_occ.callbacks.report import CertifiedReport
from lightning_occ.callbacks.threshold import Threshold
from lightning_occ.core.checkpoints import load_checkpoint
from lightning_occ.core.detector import DETECTOR_CLASS_KEY, AnomalyDetector
from lightning_occ.errors import CheckpointError, UserError
from lightning_occ.trainer import OCCTrainer
from lightning_occ.utils.tracking import (
    check_logger_extras,
    check_requested_logger_extras,
    check_strategy_name,
    check_wandb_ready,
)
from lightning_occ.zoo import commands as zoo_commands
from lightning_occ.zoo.registry import ZOO_PREFIX

__all__ = ["LightningOCCCLI", "build_cli", "main"]


class LightningOCCCLI(LightningCLI):
    """LightningCLI in subclass mode: ``--model`` is any :class:`AnomalyDetector`, ``--data`` any
    LightningDataModule, both given as ``class_path``/``init_args`` (YAML or flags). Verbs: fit,
    validate, test, predict and certify (:meth:`OCCTrainer.certify`). A
    :class:`~lightning_occ.callbacks.report.CertifiedReport` is attached (``--report.out_dir``)."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """Lightning's verbs plus ``certify`` (smoothing certificates for any trained detector) and ``export``
        (ONNX or TorchScript score function with a sidecar)."""
        return {**LightningCLI.subcommands(), "certify": {"model", "datamodule"}, "export": {"model", "datamodule"}}

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        """``test`` and ``validate`` default to ``--verbose false``: the report prints the one table."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand in ("test", "validate"):
            parser.set_defaults(verbose=False)
        return parser

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(CertifiedReport, "report")
        parser.add_lightning_class_args(Threshold, "threshold")
        parser.add_lightning_class_args(PredictionWriter, "predictions")

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        check_strategy_name(config.get("trainer", {}).get("strategy"))
        check_logger_extras(config.get("trainer", {}).get("logger"))

    def _parse_ckpt_path(self) -> None:
        """Read ``--ckpt_path`` safely before LightningCLI reads its hyper-parameters: a file with pickled
        objects is refused with a message naming them (``--trainer.unsafe_load true`` opts in)."""
        subcommand = self.config.get("subcommand")
        section = self.config.get(subcommand, {}) if subcommand else {}
        ckpt_path = section.get("ckpt_path")
        unsafe = bool(section.get("trainer", {}).get("unsafe_load", False))
        if ckpt_path and Path(ckpt_path).is_file():
            checkpoint = load_checkpoint(ckpt_path, unsafe_load=unsafe)
            saved = checkpoint.get(DETECTOR_CLASS_KEY)
            model = section.get("model")
            configured = getattr(model, "class_path", None) if model is not None else None
            if saved and configured and saved.rpartition(".")[2] != str(configured).rpartition(".")[2]:
                raise CheckpointError(
                    f"{ckpt_path} holds a {saved.rpartition('.')[2]} model, but the config asks for "
                    f"{configured}: pass the config the checkpoint was trained with."
                )
            if unsafe:
                return  # Lightning would re-read it with weights_only=True; the config must name the model
        super()._parse_ckpt_path()

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        check_wandb_ready(self.trainer.loggers)  # before any data is loaded or a step is taken


def build_cli(args: Any = None, run: bool = True) -> LightningOCCCLI:
    """Parse ``args`` (default: ``sys.argv``) and, when ``run``, execute the subcommand."""
    return LightningOCCCLI(
        AnomalyDetector,
        L.LightningDataModule,
        trainer_class=OCCTrainer,
        subclass_mode_model=True,
        subclass_mode_data=True,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"exit_on_error": False},  # a bad argument raises, and `main` prints one line
        args=args,
        run=run,
    )


def resolve_zoo_arguments(argv: list[str]) -> list[str]:
    """``--ckpt_path zoo:NAME`` becomes the entry's verified, cached Lightning checkpoint; without a
    ``--config`` or ``--model``, a config with the entry's model and data (its recorded scenario) is
    added, so the command needs nothing else."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        value, prefix = None, ""
        if arg == "--ckpt_path" and i + 1 < len(argv) and argv[i + 1].startswith(ZOO_PREFIX):
            value, index = argv[i + 1], i + 1
        elif arg.startswith("--ckpt_path=" + ZOO_PREFIX):
            value, index, prefix = arg.split("=", 1)[1], i, "--ckpt_path="
        if value is None:
            continue
        argv[index] = prefix + str(zoo.checkpoint_path(value))
        if not any(a in ("--config", "-c") or a.startswith(("--config=", "--model")) for a in argv):
            argv[1:1] = ["--config", str(zoo.evaluation_config(value))]
        break
    return argv


def main(args: Any = None) -> None:
    """Entry point of ``lightning-occ`` and ``python -m lightning_occ``; ``lightning-occ zoo ...`` lists
    and describes the pretrained entries."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["zoo"]:
        zoo_commands.main(argv[1:])
        return
    quiet_third_party_noise()
    original = sys.argv
    logs_before = run_folders()
    try:
        # parsed from sys.argv, so LightningCLI does not warn about its `args` parameter
        sys.argv = [*(original[:1] or ["lightning-occ"]), *resolve_zoo_arguments(argv)]
        check_requested_logger_extras(sys.argv[1:])
        build_cli()
    except user_errors() as error:
        remove_empty_run_folders(logs_before)
        if os.environ.get(DEBUG_ENV):
            raise
        exit_with_user_error(error)
    finally:
        sys.argv = original


def run_guarded(run: Any) -> None:
    """Run a verb outside LightningCLI (``compare``) with the same one-line errors."""
    quiet_third_party_noise()
    try:
        run()
    except user_errors() as error:
        if os.environ.get(DEBUG_ENV):
            raise
        exit_with_user_error(error)


BOOKKEEPING_FILES = {"config.yaml", "hparams.yaml"}
EMPTY_EVENTS_BYTES = 1024  # a TensorBoard events file with a header and no logged value


def run_folders(root: Path = Path("lightning_logs")) -> set[Path]:
    """The ``lightning_logs/version_N`` folders of the working directory (Lightning's default log folder)."""
    return set(root.glob("version_*")) if root.is_dir() else set()


def remove_empty_run_folders(before: set[Path], root: Path = Path("lightning_logs")) -> None:
    """After a run that failed on a user error, remove the log folders it created that record nothing
    (the saved config, an events file without values): each failure would otherwise leave one behind."""
    for folder in run_folders(root) - before:
        files = [p for p in folder.rglob("*") if p.is_file()]
        if all(
            p.name in BOOKKEEPING_FILES
            or (p.name.startswith("events.out.tfevents") and p.stat().st_size < EMPTY_EVENTS_BYTES)
            for p in files
        ):
            shutil.rmtree(folder, ignore_errors=True)
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()


class DropTips(logging.Filter):
    """Drops Lightning's log lines advertising other products ("Tip: ...")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def quiet_third_party_noise() -> None:
    """Hide what a user can do nothing about: a pytree deprecation inside Lightning and its tips
    advertising other products."""
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropTips) for f in logger.filters):
            logger.addFilter(DropTips())


DEBUG_ENV = "LIGHTNING_OCC_DEBUG"
"""Set it (``LIGHTNING_OCC_DEBUG=1``) to see the traceback behind a one-line error."""


def user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input can cause, with messages written for them: data, config, checkpoint, zoo,
    file system, and Lightning's own configuration checks (e.g. an unknown strategy)."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    return (
        UserError,
        ValueError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        NotADirectoryError,
        MisconfigurationException,
        argparse.ArgumentError,
    )


def _is_parser_wrapper(error: BaseException) -> bool:
    text = str(error)
    return (
        type(error).__module__.startswith("jsonargparse")
        or "Does not validate against any of the" in text
        or "Problem with given class_path" in text
    )


def exit_with_user_error(error: BaseException) -> None:
    """``lightning-occ: error: <message>`` on stderr (at most three lines), exit code 2, no traceback.

    jsonargparse wraps errors raised while it instantiates the model or data in its own "Does not
    validate against any of the Union subtypes" text: the message is then the wrapped error's.
    """
    while error.__cause__ is not None and _is_parser_wrapper(error):
        error = error.__cause__
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()] or [type(error).__name__]
    message = " ".join(lines) if len(lines) > 3 else "\n".join(lines)
    print(f"lightning-occ: error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
