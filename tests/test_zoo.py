"""The model zoo: every shipped entry reproduces its recorded metrics offline; hashes are enforced for
local and downloaded files (a real HTTP server on 127.0.0.1); the CLI takes zoo: URIs; errors are clear."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lightning_occ as lo
from lightning_occ.cli import main
from lightning_occ.zoo import Registry, ZooError
from lightning_occ.zoo.evaluate import evaluate_entry
from lightning_occ.zoo.files import cache_dir
from lightning_occ.zoo.readme import render_readme
from lightning_occ.zoo.registry import MANIFEST, WEIGHTS_DIR
from tests.helpers.http_server import serve_folder

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = lo.zoo.list_models()
MNIST_PRESENT = (Path(os.environ.get("LIGHTNING_OCC_DATA", ROOT.parent / "shared" / "data")) / "MNIST" / "raw").is_dir()


@pytest.fixture(autouse=True)
def _private_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("LIGHTNING_OCC_DATA", str(ROOT.parent / "shared" / "data"))


def copied_registry(folder: Path, name: str) -> Registry:
    """A one-entry registry in ``folder`` with its own copy of the weights."""
    folder.mkdir(parents=True, exist_ok=True)
    entry = lo.zoo.default_registry().get(name)
    shutil.copy(WEIGHTS_DIR / entry.file, folder / entry.file)
    registry = Registry([entry], folder)
    registry.save(folder / "registry.json")
    return Registry.from_file(folder / "registry.json")


def test_the_zoo_ships_the_required_entries_within_30_mb():
    for required in (
        "ocsdf-breast-cancer",
        "ocsdf-mnist-0",
        *(f"{m}-digits-{s}" for m in ("ocsdf", "clad", "vae") for s in ("cur", "str", "mix")),
    ):
        assert required in SHIPPED
    assert sum((WEIGHTS_DIR / lo.zoo.get_info(n)["file"]).stat().st_size for n in SHIPPED) < 30e6
    assert lo.zoo.list_models("clad-*") == ["clad-digits-cur", "clad-digits-mix", "clad-digits-str"]
    info = lo.zoo.get_info("zoo:ocsdf-digits-cur")
    assert {"method", "dataset", "scenario", "recipe", "metrics", "sha256", "size", "licence", "paper"} <= info.keys()
    assert (ROOT / info["recipe"]).is_file()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", SHIPPED)
def test_every_entry_reproduces_its_recorded_metrics_offline(name):
    if "mnist" in name and not MNIST_PRESENT:
        pytest.skip("the real MNIST is not under ../shared/data")
    recorded = lo.zoo.get_info(name)["metrics"]
    measured = evaluate_entry(name)
    assert measured.keys() == recorded.keys()
    for key, value in recorded.items():
        assert measured[key] == pytest.approx(value, abs=1e-4), key


def test_unknown_name_suggests_close_ones():
    with pytest.raises(ZooError, match="No zoo entry named 'ocsdf-digit-cur'. Did you mean 'ocsdf-digits-cur'"):
        lo.zoo.load("ocsdf-digit-cur")


def test_a_local_file_whose_hash_differs_is_refused(tmp_path):
    registry = copied_registry(tmp_path / "zoo", "vae-digits-cur")
    assert not lo.zoo.load("vae-digits-cur", registry).training
    path = tmp_path / "zoo" / registry.get("vae-digits-cur").file
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ZooError, match="Refusing to load zoo entry 'vae-digits-cur'.*sha256"):
        lo.zoo.load("vae-digits-cur", registry)


def served_copy(tmp_path: Path, name: str) -> Path:
    """A folder holding the entry's weights as ``weights.safetensors``, for a local HTTP server."""
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(WEIGHTS_DIR / lo.zoo.get_info(name)["file"], served / "weights.safetensors")
    return served


def remote_registry(folder: Path, name: str, url: str) -> Registry:
    entry = lo.zoo.default_registry().get(name)
    entry.file, entry.url = None, url
    return Registry([entry], folder)


def test_remote_entry_downloads_once_into_the_hub_cache_with_its_hash_checked(tmp_path):
    name = "ocsdf-digits-str"
    with serve_folder(served_copy(tmp_path, name)) as base:
        registry = remote_registry(tmp_path, name, f"{base}/weights.safetensors")
        reference = lo.zoo.load(name)
        model = lo.zoo.load(name, registry)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0, equal_nan=True)
    cached = list(cache_dir().iterdir())
    assert len(cached) == 1 and cached[0].name.endswith("weights.safetensors")
    assert str(cache_dir()).startswith(str(tmp_path / "torch_home"))
    assert lo.zoo.load(name, registry) is not None  # server gone: served from the cache


def test_remote_file_with_a_wrong_hash_leaves_nothing_in_the_cache(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "weights.safetensors").write_bytes(b"not the weights")
    with serve_folder(served) as base:
        registry = remote_registry(tmp_path, "ocsdf-digits-str", f"{base}/weights.safetensors")
        with pytest.raises(ZooError, match="has sha256 .* the registry records .* Nothing was kept"):
            lo.zoo.load("ocsdf-digits-str", registry)
    assert not cache_dir().exists() or list(cache_dir().iterdir()) == []


def test_unreachable_url_is_one_clear_line_from_the_cli(tmp_path, monkeypatch, capsys):
    with serve_folder(tmp_path) as base:
        dead = base  # the port is closed once the server stops
    registry = remote_registry(tmp_path, "ocsdf-digits-str", f"{dead}/weights.safetensors")
    registry.save(tmp_path / "registry.json")
    monkeypatch.setenv("LIGHTNING_OCC_ZOO", str(tmp_path / "registry.json"))
    with pytest.raises(SystemExit) as exited:
        main(["test", "--ckpt_path", "zoo:ocsdf-digits-str"])
    message = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "\n" not in message and "Traceback" not in message
    assert message.startswith("lightning-occ: error: Could not download zoo entry 'ocsdf-digits-str'")
    assert "Check the network" in message


def test_cli_lists_the_zoo_and_tests_an_entry_with_no_other_argument(capsys):
    main(["zoo", "list"])
    listing = capsys.readouterr().out
    assert all(f"`{name}`" in listing for name in SHIPPED)
    main(
        [
            "test",
            "--ckpt_path",
            "zoo:ocsdf-digits-cur",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--report.out_dir",
            "report",
        ]
    )
    report = json.loads(Path("report/results.json").read_text())
    recorded = lo.zoo.get_info("ocsdf-digits-cur")["metrics"]
    assert report["metrics"]["test/auroc"] == pytest.approx(recorded["test/auroc"], abs=1e-4)


def test_pretrained_initialises_a_fit_on_another_scenario_from_the_cli(tmp_path):
    config = str(ROOT / "configs/ocsdf/digits_cur.yaml")
    cli = lo.cli.build_cli(
        [
            "fit",
            "--config",
            config,
            "--data.init_args.normal",
            "STR",
            "--model.init_args.pretrained",
            "zoo:ocsdf-digits-cur",
            "--model.init_args.lr",
            "1e-12",
            "--model.init_args.lr_final",
            "1e-12",
            "--trainer.max_epochs",
            "1",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
        ]
    )
    zoo_weights = lo.zoo.load("ocsdf-digits-cur").state_dict()
    tuned = cli.model.state_dict()
    layers = [k for k in zoo_weights if k.startswith("net.") and zoo_weights[k].is_floating_point()]
    assert layers and all(torch.allclose(tuned[k].cpu(), zoo_weights[k], atol=1e-6) for k in layers)


def test_pretrained_of_another_method_is_refused(capsys):
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "fit",
                "--config",
                str(ROOT / "configs/ocsdf/digits_cur.yaml"),
                "--model.init_args.pretrained",
                "zoo:clad-digits-cur",
                "--trainer.max_epochs",
                "1",
                "--trainer.logger",
                "false",
            ]
        )
    assert exited.value.code == 2
    assert "holds a CLAD checkpoint; it cannot initialise a OCSDF" in capsys.readouterr().err


def test_zoo_readme_is_generated_from_the_registry():
    assert (ROOT / "zoo" / "README.md").read_text() == render_readme(), (
        "zoo/README.md is stale: run `python -m lightning_occ.zoo readme > zoo/README.md`"
    )


@pytest.mark.timeout(300)
def test_the_wheel_ships_the_weights_and_the_manifest(tmp_path):
    source = tmp_path / "source"  # build from a copy: the checkout gets no build/ or egg-info folders
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "results", "build", "*.egg-info", "__pycache__", "lightning_logs"
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    import zipfile

    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    assert "lightning_occ/zoo/weights/registry.json" in names
    for name in SHIPPED:
        assert f"lightning_occ/zoo/weights/{lo.zoo.get_info(name)['file']}" in names
    assert MANIFEST.name == "registry.json"


def test_every_recipe_is_a_config_plus_overrides_that_matches_its_registry_entry():
    import json
    import sys

    sys.path.insert(0, str(ROOT / "zoo"))
    from recipe import RECIPES, load_recipe

    from lightning_occ.zoo.registry import default_registry

    registry = default_registry()
    names = sorted(path.stem for path in RECIPES.glob("*.yaml"))
    assert names == sorted(registry.names())
    for name in names:
        config, entry = load_recipe(name), registry.get(name)
        as_json = json.loads(json.dumps(config, default=list))
        assert as_json["data"] == entry.data, name
        assert as_json["model"]["class_path"].rsplit(".", 1)[1] == entry.method
        for key, value in as_json["model"].get("init_args", {}).items():
            assert entry.init_args[key] == value, (name, key)
        assert (ROOT / yaml_base(name)).is_file()


def yaml_base(name: str) -> str:
    import yaml

    return yaml.safe_load((ROOT / "zoo" / "recipes" / f"{name}.yaml").read_text())["base"]
