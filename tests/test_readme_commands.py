"""The `lightning-occ` commands of the README and the docs' guides, run as written (with a 2-epoch cap on
`fit`), in page order.

Commands that need what a CI machine lacks or cannot afford (a GPU, several GPUs or nodes, long MNIST
runs, a W&B account) are listed and skipped with the reason; every other command runs in one session, so the
`test`/`certify` lines find the checkpoints their `fit` lines wrote.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from lightning_occ.console import main

pytestmark = pytest.mark.slow  # trains models or runs the command line: not in the fast lane

ROOT = Path(__file__).resolve().parents[1]
NEEDS = {  # what a command needs that a CPU-only test machine may lack
    "a GPU": re.compile(r"gpu|bf16|--trainer.devices 4|num_nodes"),
    "a long run on the real MNIST (see benchmarks/mnist_one_class.py)": re.compile(r"mnist"),
    "a W&B account": re.compile(r"logger/wandb\.yaml(?!.*offline true)"),
    "2 processes (covered by tests/test_distributed.py)": re.compile(r"ddp_spawn"),
    "a placeholder to fill in (covered by tests/test_predict.py, test_export.py, test_compare.py)": re.compile(
        r"<[a-z ]+>"
    ),
}
PAGES = [
    "README.md",
    "docs/getting-started.md",
    "docs/guides/certifiers.md",
    "docs/guides/data.md",
    "docs/guides/zoo.md",
    "docs/guides/tracking.md",
    "docs/guides/distributed.md",
    "docs/guides/deployment.md",
]
FIT_CAP = ["--trainer.max_epochs", "2", "--trainer.check_val_every_n_epoch", "1"]


def finish_wandb_run() -> None:
    import sys

    if "wandb" in sys.modules:
        sys.modules["wandb"].finish()


def readme_commands() -> list[str]:
    """Every `lightning-occ ...` line of the pages' bash blocks, continuation lines joined, comments cut."""
    text = "\n".join((ROOT / page).read_text() for page in PAGES)
    commands, block = [], re.findall(r"```bash\n(.*?)```", text, re.S)
    for text in block:
        for line in re.sub(r"\\\n\s*", " ", text).splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("lightning-occ ") or re.match(r"[A-Z_]+=\S+ lightning-occ ", line):
                commands.append(line)
    return commands


def missing_need(command: str) -> str | None:
    for need, pattern in NEEDS.items():
        if pattern.search(command):
            return need
    return None


def test_the_readme_shows_commands_for_every_verb():
    verbs = {shlex.split(c)[1] for c in readme_commands() if not c.split()[0].count("=")}
    assert {"fit", "test", "certify", "zoo"} <= verbs


def test_every_runnable_readme_command_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    ran, skipped = [], []
    for command in readme_commands():
        need = missing_need(command)
        if need:
            skipped.append((command, need))
            continue
        words = [
            w.replace("configs/", f"{ROOT}/configs/") if w.startswith("configs/") else w
            for w in shlex.split(command)
            if "=" not in w or w.startswith("--")
        ]
        args = words[1:] + (FIT_CAP if words[1] == "fit" and "--print_config" not in words else [])
        try:
            main(args)
        except SystemExit as exited:  # --print_config and --help exit 0 after printing
            assert exited.code in (0, None), f"{command}\n{capsys.readouterr().err[-2000:]}"
        finally:
            finish_wandb_run()  # a W&B run left open would capture the next test's logger
        ran.append(command)
    output = capsys.readouterr().out
    assert len(ran) >= 12, ran
    assert "lightning-occ: OCSDF" in output and "certified AUROC" in output
    print("skipped:", *(f"{c}  ({need})" for c, need in skipped), sep="\n  ")


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    """The README's Python block, as written except for a 2-epoch budget."""
    monkeypatch.chdir(tmp_path)
    block = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[0]
    namespace: dict = {}
    exec(compile(block.replace("max_epochs=450", "max_epochs=2"), "README.md", "exec"), namespace)
    decided = namespace["model"].decide(namespace["data"].test_dataset.tensors[0][:5])
    assert set(decided) == {"score", "decision", "certified_radius"}
    assert (tmp_path / "lightning_logs").is_dir() or any(tmp_path.rglob("results.json"))
