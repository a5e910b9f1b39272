"""CLAD: the DEC and ODIN pieces against hand computations, the staged pipeline end to end on digits,
stage control (stop_after / init_from / start_stage), certify on a CLAD checkpoint, bad input."""

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch import nn

from lightning_occ.cli import build_cli
from lightning_occ.core.checkpoints import load_detector
from lightning_occ.data import ScenarioDataModule
from lightning_occ.models import CLAD
from lightning_occ.models.clad.classifiers import create_classifier
from lightning_occ.models.clad.clustering import cluster_purity
from lightning_occ.models.clad.dec import DECHead, classifier_targets, sharpened_target, student_t_assignment
from lightning_occ.models.clad.odin import max_softmax, odin_grid_scores, odin_perturbation, odin_scores
from tests.helpers.training import tiny_trainer

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs/clad/digits_cur.yaml")
FAST = [
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    # a smaller classifier than the config's half-width ResNet-18 at 16 px keeps the test fast
    "--model.init_args.classifier_kwargs",
    "{channels: [8, 16, 16, 16]}",
    "--model.init_args.classifier_input_size",
    "null",
]
SHORT = [
    "--model.init_args.ae_epochs",
    "2",
    "--model.init_args.dec_epochs",
    "2",
    "--model.init_args.classifier_epochs",
    "1",
    "--trainer.max_epochs",
    "5",
    "--trainer.check_val_every_n_epoch",
    "1",
]


def tiny_clad(**overrides) -> CLAD:
    settings = dict(
        num_clusters=4,
        latent_dim=4,
        ae_channels=(8, 8),
        ae_epochs=2,
        dec_epochs=2,
        classifier_epochs=1,
        classifier="resnet18",
        epsilons=[0.1],
    )
    settings.update(overrides)
    return CLAD(**settings)


def test_student_t_assignment_and_sharpened_target_by_hand():
    codes = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    centres = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    q = student_t_assignment(codes, centres, alpha=1.0)
    # squared distances (0, 1) and (4, 1): kernels 1/(1+d2) = (1, 1/2) and (1/5, 1/2)
    assert torch.allclose(q, torch.tensor([[2 / 3, 1 / 3], [2 / 7, 5 / 7]]))
    # f = (20/21, 22/21); p1 ~ (4/9 / f1, 1/9 / f2) ~ (88, 20); p2 ~ (4/49 / f1, 25/49 / f2) ~ (88, 500)
    assert torch.allclose(sharpened_target(q), torch.tensor([[88 / 108, 20 / 108], [88 / 588, 500 / 588]]))
    q2 = student_t_assignment(codes, centres, alpha=2.0)
    kernel = torch.tensor([[1.0, 1.5**-1.5], [3.0**-1.5, 1.5**-1.5]])
    assert torch.allclose(q2, kernel / kernel.sum(1, keepdim=True))


def test_dec_loss_is_kl_of_the_target_and_its_steps_sharpen_the_assignment():
    head = DECHead(2, 2)
    head.centres.data = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    codes = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    q = head(codes)
    p = sharpened_target(q)
    assert head.loss(q).detach().item() == pytest.approx(float((p * (p / q).log()).sum(1).mean()))
    before = q.max(1).values.detach()
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(20):
        optimizer.zero_grad()
        head.loss(head(codes)).backward()
        optimizer.step()
    assert (head(codes).max(1).values > before).all()  # self-training: each code grows surer of its cluster
    assert cluster_purity(head(codes).argmax(1), torch.tensor([7, 9])) == 1.0


def test_classifier_targets_hard_soft_and_sharpened():
    q = torch.tensor([[0.6, 0.4], [0.3, 0.7], [0.55, 0.45]])
    assert classifier_targets(q, "hard").tolist() == [0, 1, 0]
    assert classifier_targets(q, "soft") is q
    p = classifier_targets(q, "sharpened")
    assert torch.allclose(p, sharpened_target(q)) and torch.allclose(p.sum(1), torch.ones(3))
    assert (p.max(1).values > q.max(1).values).all()  # between Q and one-hot: sharper than Q
    with pytest.raises(ValueError, match="pseudo_targets must be one of"):
        classifier_targets(q, "fuzzy")


def test_odin_step_raises_the_max_softmax_and_leaves_no_parameter_gradient():
    torch.manual_seed(0)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(16, 5)).eval()
    x = torch.rand(64, 1, 4, 4)
    for temperature in (1.0, 1000.0):
        with torch.inference_mode():  # as in Lightning's test loop
            perturbed = odin_perturbation(classifier, x, temperature, epsilon=1e-3)
            before = max_softmax(classifier(x), temperature)
            after = max_softmax(classifier(perturbed), temperature)
        assert (after > before).all()
        assert (perturbed - x).abs().max().item() == pytest.approx(1e-3, rel=1e-4)
    assert all(p.grad is None for p in classifier.parameters())
    scores = odin_scores(classifier, x, 1000.0, 0.0)
    assert scores.dtype == torch.float64  # float32 would tie scores that differ in the fifth decimal
    assert torch.equal(scores, -max_softmax(classifier(x), 1000.0).detach())


def test_odin_grid_scores_equal_the_scores_of_each_pair():
    torch.manual_seed(0)
    classifier = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(16, 5)).eval()
    x = torch.rand(32, 1, 4, 4)
    temperatures, epsilons = [1.0, 10.0, 1000.0], [0.0, 0.002, 0.05]
    with torch.inference_mode():
        grid = odin_grid_scores(classifier, x, temperatures, epsilons)
        assert set(grid) == {(t, e) for t in temperatures for e in epsilons}
        for (temperature, epsilon), scores in grid.items():
            assert torch.equal(scores, odin_scores(classifier, x, temperature, epsilon))
    assert all(p.grad is None for p in classifier.parameters())
    with pytest.raises(ValueError, match="must be >= 0"):
        odin_grid_scores(classifier, x, [1.0], [0.0, -0.1])


def test_bad_odin_and_classifier_settings_are_clear_errors():
    with pytest.raises(ValueError, match="temperature T must be > 0"):
        tiny_clad(temperature=0.0)
    with pytest.raises(ValueError, match="must be > 0"):
        odin_scores(nn.Linear(2, 2), torch.zeros(1, 2), temperature=-1.0)
    with pytest.raises(ValueError, match="odin_eps"):
        tiny_clad(odin_eps=-0.1)
    with pytest.raises(ValueError, match=r"no model named 'resnet181'.*resnet18"):
        create_classifier("resnet181", 3, (1, 8, 8))
    with pytest.raises(ValueError, match="needs images"):
        tiny_clad(input_shape=(64,))
    with pytest.raises(ValueError, match="stop_after"):
        tiny_clad(stop_after="testing")
    with pytest.raises(ValueError, match=r"pseudo_targets must be one of \('hard', 'soft', 'sharpened'\)"):
        tiny_clad(pseudo_targets="fuzzy")
    with pytest.raises(ValueError, match="input_size must be a positive number of pixels"):
        create_classifier("resnet18", 3, (1, 8, 8), input_size=0)


def test_more_clusters_than_normal_training_samples_is_a_clear_error():
    datamodule = ScenarioDataModule("digits", normal=0, batch_size=64)
    model = tiny_clad(num_clusters=5000)
    with pytest.raises(ValueError, match=r"num_clusters=5000 is larger than the \d+ normal training samples"):
        tiny_trainer(max_epochs=5).fit(model, datamodule=datamodule)


def test_too_few_max_epochs_for_the_stages_is_a_clear_error():
    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=64)
    with pytest.raises(ValueError, match="max_epochs >= 5"):
        tiny_trainer(max_epochs=3).fit(tiny_clad(), datamodule=datamodule)


def test_small_image_stem_keeps_the_resolution_of_8_pixel_inputs():
    net = create_classifier("resnet18", 3, (1, 8, 8))
    assert net.conv1.stride == (1, 1) and isinstance(net.maxpool, nn.Identity)
    assert net.forward_features(torch.rand(2, 1, 8, 8)).shape[-1] == 1  # 8 -> 8 -> 4 -> 2 -> 1
    big = create_classifier("resnet18", 3, (3, 224, 224))
    assert big.conv1.stride == (2, 2) and isinstance(big.maxpool, nn.MaxPool2d)


def test_classifier_input_size_resizes_inside_the_network_and_passes_input_gradients():
    net = create_classifier("resnet18", 3, (1, 8, 8), input_size=16, channels=[8, 16, 32, 64])
    seen = []
    net.network.conv1.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].shape))
    x = torch.rand(2, 1, 8, 8, requires_grad=True)
    net(x).sum().backward()
    assert seen == [torch.Size([2, 1, 16, 16])]
    assert x.grad is not None and x.grad.abs().sum() > 0  # ODIN's step reaches the original pixels
    assert net.network.forward_features(torch.rand(2, 1, 16, 16)).shape[-1] == 2  # 16 -> 16 -> 8 -> 4 -> 2


def test_soft_targets_train_the_classifier_on_dec_posteriors_and_skip_one_image_batches():
    """337 normal CUR training images in batches of 48 end with a batch of one, which BatchNorm cannot
    train on: the classifier stage skips it. Soft targets: the classifier is fitted to Q itself."""
    L.seed_everything(0, verbose=False)
    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=48)
    model = tiny_clad(
        pseudo_targets="soft",
        classifier_input_size=12,
        classifier_kwargs={"channels": [8, 8, 8, 8]},
        classifier_epochs=6,
        classifier_lr=3e-3,
    )
    tiny_trainer(max_epochs=10, limit_val_batches=0).fit(model, datamodule=datamodule)
    assert len(datamodule.train_dataset) % 48 == 1
    assert int(model.classifier_steps) == 6 * (len(datamodule.train_dataset) // 48)
    model.eval()
    x = datamodule.train_features()
    with torch.no_grad():
        q = model.cluster_assignment(x)
        p = torch.softmax(model.classifier(model._images(x)), dim=1)
    kl = float((q * (q / p).log()).sum(1).mean())
    assert kl < 0.01  # the classifier has learnt Q (here nearly flat); hard targets leave it at ~0.04


def read_metrics(folder: Path) -> list[dict[str, str]]:
    with next(folder.rglob("metrics.csv")).open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.timeout(300)
def test_one_command_trains_every_stage_then_tests_and_certifies_the_checkpoint(tmp_path):
    logger = ["--trainer.logger", "lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir", str(tmp_path)]
    build_cli(["fit", "--config", CONFIG, *FAST, *SHORT, *logger])
    checkpoint = Path("results/clad_digits_cur/checkpoints/last.ckpt")
    rows = read_metrics(tmp_path)
    logged = {k for row in rows for k, v in row.items() if v}
    assert {
        "train/autoencoder_loss_epoch",
        "train/clustering_loss_epoch",
        "train/classifier_loss_epoch",
        "clustering/nmi",
        "clustering/purity",
        "clustering/label_change",
        "val/auroc",
        "val/msp_auroc",
    } <= logged
    clusters = yaml.safe_load(Path(CONFIG).read_text())["model"]["init_args"]["num_clusters"]
    histogram = [row for row in rows if row.get("clustering/pseudo_label_fraction/0")][-1]
    fractions = [float(histogram[f"clustering/pseudo_label_fraction/{j}"] or 0) for j in range(clusters)]
    assert sum(fractions) == pytest.approx(1.0)
    assert len({row["epoch"] for row in rows if row.get("val/auroc")}) == 1  # only after the classifier stage

    model = load_detector(checkpoint)
    assert isinstance(model, CLAD) and model.stage == "done" and int(model.classifier_steps) > 0
    reloaded = CLAD.load_from_checkpoint(checkpoint)
    x = torch.rand(5, 1, 8, 8)
    assert torch.equal(model.eval().score(x), reloaded.eval().score(x))

    report = tmp_path / "report"
    cli = build_cli(
        ["test", "--config", CONFIG, *FAST, "--ckpt_path", str(checkpoint), "--report.out_dir", str(report)]
    )
    results = json.loads((report / "results.json").read_text())
    assert results["metrics"]["test/auroc"] == pytest.approx(float(cli.trainer.callback_metrics["test/auroc"]))
    assert results["certified_auroc"][0] == results["metrics"]["test/auroc"]
    assert all(value is None for value in results["certified_auroc"][1:])  # CLAD alone certifies nothing
    assert 0.0 <= float(cli.trainer.callback_metrics["test/msp_auroc"]) <= 1.0
    build_cli(
        [
            "certify",
            "--config",
            CONFIG,
            *FAST,
            "--ckpt_path",
            str(checkpoint),
            "--report.out_dir",
            str(report),
            "--certifier.sigma",
            "0.25",
            "--certifier.n",
            "100",
            "--epsilons",
            "[0.05]",
            "--trainer.limit_test_batches",
            "2",
        ]
    )  # n=100 could not certify the default radius 0.25
    certified = json.loads((report / "results.json").read_text())["certified_auroc"]
    assert len(certified) == 2 and certified[1] <= certified[0]


@pytest.mark.timeout(300)
def test_stages_run_alone_and_chain_through_init_from(tmp_path):
    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=64)
    L.seed_everything(0, verbose=False)
    first = tiny_clad(stop_after="autoencoder")
    trainer = tiny_trainer(max_epochs=10, limit_val_batches=0, enable_checkpointing=False)
    trainer.fit(first, datamodule=datamodule)
    assert trainer.current_epoch == 2 and first.stage == "done" and int(first.reached_stage) == 0
    trainer.save_checkpoint(tmp_path / "ae.ckpt")
    with pytest.raises(RuntimeError, match="needs a trained classifier"):
        first.score(torch.rand(2, 1, 8, 8))

    second = tiny_clad(init_from=str(tmp_path / "ae.ckpt"), stop_after="clustering")
    trainer = tiny_trainer(max_epochs=10, limit_val_batches=0)
    trainer.fit(second, datamodule=datamodule)
    assert int(second.reached_stage) == 1 and int(second.classifier_steps) == 0
    assert torch.equal(
        second.autoencoder.decoder.upsample[0].weight, first.autoencoder.decoder.upsample[0].weight
    )  # decoder untouched
    assert not torch.equal(second.autoencoder.encoder[0].weight, first.autoencoder.encoder[0].weight)  # DEC trained it
    trainer.save_checkpoint(tmp_path / "dec.ckpt")

    third = tiny_clad(init_from=str(tmp_path / "dec.ckpt"), score_name="odin")
    tiny_trainer(max_epochs=10, limit_val_batches=0).fit(third, datamodule=datamodule)
    assert third.stage == "done" and int(third.classifier_steps) == 6  # one epoch of 6 batches
    assert torch.equal(third.dec.centres, second.dec.centres)
    out = tiny_trainer().test(third, datamodule=datamodule, verbose=False)[0]
    assert 0 <= out["test/auroc"] <= 1

    with pytest.raises(ValueError, match="start_stage='classifier' needs the earlier stages"):
        tiny_trainer(max_epochs=10).fit(
            tiny_clad(init_from=str(tmp_path / "ae.ckpt"), start_stage="classifier"), datamodule=datamodule
        )


@pytest.mark.timeout(300)
def test_odin_candidates_are_chosen_on_the_validation_split():
    from sklearn.metrics import roc_auc_score

    datamodule = ScenarioDataModule("digits", normal="CUR", batch_size=64)
    L.seed_everything(0, verbose=False)
    model = tiny_clad(
        ae_epochs=1, dec_epochs=1, classifier_epochs=2, temperature=[1.0, 1000.0], odin_eps=[0.0, 0.01, 0.05]
    )
    trainer = tiny_trainer(max_epochs=4)
    trainer.fit(model, datamodule=datamodule)
    model.eval()
    batches = [
        (model._images(batch[0]), batch[1]) for batch in datamodule.val_dataloader()
    ]  # the batches validation saw
    target = torch.cat([y for _, y in batches]).numpy()
    aurocs = {
        (t, e): roc_auc_score(target, torch.cat([odin_scores(model.classifier, x, t, e) for x, _ in batches]))
        for t in (1.0, 1000.0)
        for e in (0.0, 0.01, 0.05)
    }
    chosen = model.odin.current()
    assert aurocs[chosen] == pytest.approx(max(aurocs.values()), abs=1e-6)
    assert float(trainer.callback_metrics["val/odin_auroc"]) == pytest.approx(aurocs[chosen], abs=1e-6)
    reloaded = CLAD(**{**model.hparams, "input_shape": [1, 8, 8]})
    reloaded.load_state_dict(model.state_dict())
    assert reloaded.odin.current() == chosen  # the choice travels with the weights
    with pytest.raises(ValueError, match="Every ODIN temperature T must be > 0"):
        tiny_clad(temperature=[1.0, -2.0])
