"""The ``lightning-occ`` command line: a LightningCLI for every detector and DataModule."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lightning_occ.detector import AnomalyDetector
from lightning_occ.report import CertifiedReport
from lightning_occ.tracking import check_strategy_name, check_wandb_ready
from lightning_occ.trainer import OCCTrainer

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


def main(args: Any = None) -> None:
    """Entry point of ``lightning-occ`` and ``python -m lightning_occ``."""
    build_cli(args)


if __name__ == "__main__":
    main()
