"""The ``lightning-occ`` command line: a LightningCLI for every detector and DataModule."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lightning_occ import zoo
from lightning_occ.checkpoints import load_checkpoint
from lightning_occ.detector import AnomalyDetector
from lightning_occ.errors import UserError
from lightning_occ.report import CertifiedReport
from lightning_occ.tracking import check_strategy_name, check_wandb_ready
from lightning_occ.trainer import OCCTrainer
from lightning_occ.zoo import commands as zoo_commands
from lightning_occ.zoo.loading import ZOO_PREFIX

__all__ = ["LightningOCCCLI", "build_cli", "main"]


class LightningOCCCLI(LightningCLI):
    """LightningCLI in subclass mode: ``--model`` is any :class:`AnomalyDetector`, ``--data`` any
    LightningDataModule, both given as ``class_path``/``init_args`` (YAML or flags). Verbs: fit,
    validate, test, predict and certify (:meth:`OCCTrainer.certify`). A
    :class:`~lightning_occ.report.CertifiedReport` is attached (``--report.out_dir``)."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """Lightning's verbs plus ``certify`` (smoothing certificates for any trained detector)."""
        return {**LightningCLI.subcommands(), "certify": {"model", "datamodule"}}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(CertifiedReport, "report")

    def before_instantiate_classes(self) -> None:
        config = self.config.get(self.subcommand, self.config) if self.subcommand else self.config
        check_strategy_name(config.get("trainer", {}).get("strategy"))

    def _parse_ckpt_path(self) -> None:
        """Read ``--ckpt_path`` safely before LightningCLI reads its hyper-parameters: a file with pickled
        objects is refused with a message naming them (``--trainer.unsafe_load true`` opts in)."""
        subcommand = self.config.get("subcommand")
        section = self.config.get(subcommand, {}) if subcommand else {}
        ckpt_path = section.get("ckpt_path")
        unsafe = bool(section.get("trainer", {}).get("unsafe_load", False))
        if ckpt_path and Path(ckpt_path).is_file():
            load_checkpoint(ckpt_path, unsafe_load=unsafe)
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
    try:
        build_cli(resolve_zoo_arguments(argv))
    except UserError as error:  # e.g. a zoo entry, --model.init_args.pretrained of another method, a checkpoint
        sys.exit(f"lightning-occ: error: {error}")


if __name__ == "__main__":
    main()
