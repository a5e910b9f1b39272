"""Train zoo entries from their recipes, export their weights, measure them, and update the registry.

    python zoo/build.py                      # every recipe in zoo/recipes
    python zoo/build.py clad-digits-cur ...  # some of them
    LIGHTNING_OCC_DATA=../shared/data python zoo/build.py ocsdf-mnist-0

For each NAME: ``lightning-occ fit`` with the recipe's config (``zoo/recipe.py``: a file in ``configs/``
plus overrides; CPU), the checkpoint it selected
(``best.ckpt`` where the recipe monitors a validation metric, else ``last.ckpt``) is exported to
``lightning_occ/zoo/weights/NAME.safetensors`` (tensors only; float16 for detectors without a
Lipschitz bound, see ``lightning_occ.zoo.export.storage_dtype``) with its hyper-parameters in the
registry (a detector with ``export_`` is exported first: plain layers, no parametrisation), then the
exported entry is loaded back and tested on the recipe's scenario: those are the
recorded metrics. Finally ``zoo/README.md`` is regenerated.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipe import RECIPES, load_recipe  # noqa: E402  (zoo/ is on sys.path when run as a script)

from lightning_occ.cli import build_cli  # noqa: E402
from lightning_occ.core.checkpoints import load_detector  # noqa: E402
from lightning_occ.zoo.evaluate import evaluate_entry  # noqa: E402
from lightning_occ.zoo.export import export_weights  # noqa: E402
from lightning_occ.zoo.files import sha256_of  # noqa: E402
from lightning_occ.zoo.readme import render_readme  # noqa: E402
from lightning_occ.zoo.registry import MANIFEST, WEIGHTS_DIR, Registry, ZooEntry  # noqa: E402

LOCAL_ONLY = ("pretrained", "init_from", "start_stage")


def scenario_text(data: dict) -> str:
    args = data.get("init_args", {})
    normal = args.get("normal")
    if normal is None:
        return "one-class (normal class of the table)"
    if isinstance(normal, str):
        return f"latent multi-class {normal}"
    return f"one-class, normal {normal}"


def plain(value: object) -> object:
    """Hyper-parameters as JSON (tuples become lists)."""
    return json.loads(json.dumps(value, default=list))


def build(name: str, registry: Registry) -> ZooEntry:
    config = load_recipe(name)
    with tempfile.TemporaryDirectory() as folder:
        merged = Path(folder) / f"{name}.yaml"
        merged.write_text(yaml.safe_dump(config, sort_keys=False))
        build_cli(
            [
                "fit",
                "--config",
                str(merged),
                "--trainer.logger",
                "false",
                "--trainer.enable_progress_bar",
                "false",
                "--trainer.accelerator",
                "cpu",
            ]
        )
    folder = ROOT / "results" / "zoo" / name / "checkpoints"
    checkpoint = folder / "best.ckpt" if (folder / "best.ckpt").is_file() else folder / "last.ckpt"
    model = load_detector(checkpoint)
    export = getattr(model, "export_", None)
    if callable(export):
        export()  # the zoo serves the exported form (e.g. orthoconv OCSDF: plain convolutions)
    init_args = {k: v for k, v in plain(dict(model.hparams)).items() if k not in LOCAL_ONLY}
    weights = WEIGHTS_DIR / f"{name}.safetensors"
    class_path = f"{type(model).__module__}.{type(model).__qualname__}"
    dtype = export_weights(model, weights, metadata={"name": name, "class_path": class_path})
    method = type(model).__name__
    entry = ZooEntry(
        name=name,
        method=method,
        class_path=class_path,
        init_args=init_args,
        data=config["data"],
        dataset=config["data"]["init_args"]["dataset"],
        scenario=scenario_text(config["data"]),
        recipe=f"zoo/recipes/{name}.yaml",
        metrics={},
        sha256=sha256_of(weights),
        size=weights.stat().st_size,
        file=weights.name,
        certificate=model.certificate_description(),
        paper=type(model).card.paper,
        notes=f"checkpoint: {checkpoint.name}",
        dtype=str(dtype).removeprefix("torch."),
    )
    registry.add(entry)
    entry.metrics = evaluate_entry(name, registry)
    return entry


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("names", nargs="*", help="recipes to build (default: all)")
    args = parser.parse_args()
    names = args.names or sorted(p.stem for p in RECIPES.glob("*.yaml"))
    registry = Registry.from_file(MANIFEST)
    for name in names:
        entry = build(name, registry)
        registry.save(MANIFEST)
        print(f"{name}: {entry.metrics} ({entry.size / 1e6:.2f} MB)", flush=True)
    (ROOT / "zoo" / "README.md").write_text(render_readme(registry))


if __name__ == "__main__":
    main()
