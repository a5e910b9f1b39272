"""The ``lightning-occ`` entry point. ``zoo`` and the top-level ``--help`` are answered without importing
torch or Lightning (they start in well under a second); the training verbs load the full command line."""

from __future__ import annotations

import sys

__all__ = ["main"]

HELP = """usage: lightning-occ {fit,validate,test,predict,certify,export,compare,zoo} [options]

Certifiably robust one-class classification (anomaly detection) with PyTorch Lightning.

verbs:
  fit        train a detector:            lightning-occ fit --config configs/ocsdf/breast_cancer.yaml
  validate   evaluate on the validation split
  test       evaluate on the test split:  lightning-occ test --config ... --ckpt_path <ckpt | zoo:NAME>
  predict    score new data, write predictions.csv:  ... --data.init_args.predict_path new.csv
  certify    smoothing certificates for any trained detector
  export     ONNX / TorchScript score function + sidecar:  ... --ckpt_path <ckpt> --format onnx
  compare    several detectors, one split, one table:  lightning-occ compare --data <cfg> --models <cfg> ...
  zoo        pretrained detectors:        lightning-occ zoo list | info NAME | readme

`lightning-occ VERB --help` lists every option of a verb. A mistake ends in one line on stderr with
exit code 2; set LIGHTNING_OCC_DEBUG=1 to see the traceback."""


def main(args: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["zoo"]:
        from lightning_occ.zoo.commands import main as zoo_main

        zoo_main(argv[1:])
        return
    if argv[:1] == ["compare"]:
        from lightning_occ.cli import run_guarded
        from lightning_occ.compare import main as compare_main

        run_guarded(lambda: compare_main(argv[1:]))
        return
    if argv in ([], ["-h"], ["--help"]):
        print(HELP)
        return
    from lightning_occ.cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
