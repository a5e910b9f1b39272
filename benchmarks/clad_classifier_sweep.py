"""CLAD's classifier stage alone, on pseudo-labels cached once per scenario and seed: how the classifier's input
size, width, targets and epochs move the ODIN AUROC (the sweep behind configs/clad/digits_cur.yaml).

    python benchmarks/clad_classifier_sweep.py --num-clusters 15 --set input_size=16 width=32 targets=sharpened
    python benchmarks/clad_classifier_sweep.py --num-clusters 10 --set targets=hard --oracle   # true sub-labels

The autoencoder and DEC stages run once per (scenario, seed) with the config's settings (stop_after=clustering);
then a plain loop trains ``create_classifier`` (Adam, cross-entropy on ``classifier_targets``) and scores ODIN,
with T and eps chosen on the validation split. Validation and test AUROC are both printed: choose on validation.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
import yaml
from sklearn.metrics import roc_auc_score

from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import CLAD
from lightning_occ.models.clad.classifiers import create_classifier
from lightning_occ.models.clad.dec import classifier_targets
from lightning_occ.models.clad.odin import odin_grid_scores, odin_scores
from lightning_occ.utils.trainers import quiet_trainer

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "clad" / "digits_cur.yaml"
TEMPERATURES = (1.0, 10.0, 100.0, 1000.0)
STEPS = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
DEFAULTS = dict(input_size=0, width=16, targets="hard", epochs=40, lr=1e-3, batch_size=64)


def pseudo_labelled(normal: str, seed: int, settings: dict) -> dict:
    """Train autoencoder + DEC; return the splits and the training set's soft assignment Q."""
    datamodule = ScenarioDataModule("digits", normal=normal, seed=seed, batch_size=64)
    L.seed_everything(seed, verbose=False)
    model = CLAD(**{**settings, "stop_after": "clustering"})
    quiet_trainer(
        max_epochs=settings["ae_epochs"] + settings["dec_epochs"], accelerator="cpu", limit_val_batches=0
    ).fit(model, datamodule=datamodule)
    split = {name: getattr(datamodule, f"{name}_dataset") for name in ("train", "val", "test")}
    images = {name: data.images.float().div(255) for name, data in split.items()}
    with torch.no_grad():
        q = model.eval().cluster_assignment(images["train"])
    return dict(
        images=images, q=q, anomaly={n: d.is_anomaly for n, d in split.items()}, sub_labels=split["train"].sub_labels
    )


def oracle_assignment(sub_labels: torch.Tensor) -> torch.Tensor:
    classes = sub_labels.unique()
    return F.one_hot(torch.searchsorted(classes, sub_labels), len(classes)).float()


def train_classifier(data: dict, q: torch.Tensor, seed: int, v: dict) -> torch.nn.Module:
    torch.manual_seed(seed)
    x = data["images"]["train"]
    widths = [v["width"] * 2**i for i in range(4)]
    net = create_classifier("resnet18", q.shape[1], x.shape[1:], input_size=v["input_size"] or None, channels=widths)
    optimizer = torch.optim.Adam(net.parameters(), lr=v["lr"])
    for _ in range(v["epochs"]):
        net.train()
        for batch in torch.randperm(len(x)).split(v["batch_size"]):
            if len(batch) > 1:
                loss = F.cross_entropy(net(x[batch]), classifier_targets(q[batch], v["targets"]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return net.eval()


def odin_aurocs(net: torch.nn.Module, data: dict) -> tuple[float, float]:
    """(validation AUROC, test AUROC) of the (T, eps) pair best on validation."""

    def auroc(split: str, scores: torch.Tensor) -> float:
        return float(roc_auc_score(data["anomaly"][split].numpy(), scores.numpy()))

    candidates = odin_grid_scores(net, data["images"]["val"], TEMPERATURES, STEPS)
    best_val, (temperature, step) = max((auroc("val", scores), pair) for pair, scores in candidates.items())
    return best_val, auroc("test", odin_scores(net, data["images"]["test"], temperature, step))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-clusters", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scenarios", nargs="+", default=["CUR", "STR", "MIX"])
    parser.add_argument("--set", nargs="*", default=[], help=f"classifier settings key=value, of {DEFAULTS}")
    parser.add_argument("--oracle", action="store_true", help="train on the true sub-labels instead of DEC's")
    args = parser.parse_args()
    variant = {**DEFAULTS, **{k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}}
    settings = {**yaml.safe_load(CONFIG.read_text())["model"]["init_args"], "num_clusters": args.num_clusters}
    print(f"K={args.num_clusters} {variant}{' oracle labels' if args.oracle else ''}")
    for normal in args.scenarios:
        val, test = [], []
        for seed in args.seeds:
            data = pseudo_labelled(normal, seed, settings)
            q = oracle_assignment(data["sub_labels"]) if args.oracle else data["q"]
            v, t = odin_aurocs(train_classifier(data, q, seed, variant), data)
            val.append(v)
            test.append(t)
            print(f"  {normal} seed {seed}: val {v:.3f} test {t:.3f}", flush=True)
        print(f"{normal}: mean ODIN AUROC val {statistics.mean(val):.3f} test {statistics.mean(test):.3f}", flush=True)


if __name__ == "__main__":
    main()
