"""Tables and figures generated from data (benchmarks/results/*.json, the zoo registry, the scenario
tables, the command line's own help), for the docs site (``docs/hooks.py``) and the README.

    python docs/generate.py            # rewrite the README's generated blocks
    python docs/generate.py --check    # exit 1 when the README differs from the data (CI, tests)

A block is the text between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- generated: (?P<name>[a-z0-9_-]+) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)", re.S)


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def mnist_one_class() -> str:
    """MNIST one-class: mean AUROC over the ten digits, clean and certified (benchmarks/mnist_one_class.py)."""
    data = _load("mnist_one_class.json")
    labels = ["clean", "8/255", "16/255", "36/255", "72/255"]
    lines = [
        "| detector | " + " | ".join(labels) + " | parameters | bytes | images/s |",
        "|---|" + "---|" * (len(labels) + 3),
    ]
    for name, row in data["summary"].items():
        cells = [_pct(v) for v in row["mean_auroc"]]
        rate = row.get("mean_images_per_second")
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {row.get('parameters', 0):,} | "
            f"{row.get('mean_bytes', 0) / 1e6:.2f} MB | {'' if rate is None else f'{rate:,.0f}'} |"
        )
    paper = data["paper_ocsdf"]
    lines.append("| paper OCSDF (70 GPU epochs) | " + " | ".join(f"{paper[k]:.1f}" for k in labels) + " | | | |")
    return "\n".join(lines) + "\n"


def compare_digits_cur() -> str:
    """The `lightning-occ compare` table on digits CUR (benchmarks/compare_digits_cur.py)."""
    data = _load("compare_digits_cur/comparison.json")
    radii = [e for e in data["epsilons"] if e > 0]
    lines = [
        "| detector | certificate | AUROC | "
        + " | ".join(f"cert. @{e:g}" for e in radii)
        + " | cert. acc. @"
        + f"{radii[0]:g} |",
        "|---|---|---|" + "---|" * (len(radii) + 1),
    ]
    for row in data["rows"]:
        kind = "smoothing" if "smoothing" in (row["certificate"] or "") else row["certificate"]
        certified = row["certified_auroc"][1:]
        accuracy = row["certified_accuracy"][1] if row["certified_accuracy"] else None
        lines.append(
            f"| {row['model']} | {kind} | "
            f"{row['auroc']:.3f} | "
            + " | ".join(f"{v:.3f}" for v in certified)
            + f" | {'-' if accuracy is None else f'{accuracy:.3f}'} |"
        )
    return "\n".join(lines) + "\n"


def speed() -> str:
    """Speed ratios measured in one process (benchmarks/*_speed.py, startup_time.py)."""
    knn, ortho, start = _load("knn_distance_speed.json"), _load("orthoconv_speed.json"), _load("startup_time.json")
    rows = [
        ("kNN scores without cancellation vs float32 cdist (MNIST digit-0 bank)", f"{knn['ratio']:.2f}x"),
        ("orthoconv OCSDF training step vs deel-torchlip", f"{ortho['train_step_ratio']:.2f}x"),
        ("exported orthoconv inference vs the trainable network", f"{ortho['export_inference_ratio']:.2f}x"),
        (
            "`import lightning_occ` + OCSDF + zoo vs `import lightning`",
            f"{start['ratio_to_import_lightning']['import lightning_occ + OCSDF + zoo']:.2f}x",
        ),
        ("`lightning-occ --help`", f"{start['seconds']['lightning-occ --help']:.2f} s"),
    ]
    return "| measurement | figure |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows) + "\n"


def certificate_tightness() -> str:
    """How far an attack gets below the clean AUROC, next to the certified floor (certificate_tightness.py)."""
    lines = ["| detector | radius | certified | attacked (PGD + APGD) | gap |", "|---|---|---|---|---|"]
    for row in _load("certificate_tightness.json"):
        for eps, c, a in zip(row["radii"], row["certified"], row["attacked"]):
            lines.append(f"| {row['detector']} | {eps:g} | {c:.3f} | {a:.3f} | {a - c:.3f} |")
    return "\n".join(lines) + "\n"


def zoo() -> str:
    """The zoo table, from the registry."""
    from lightning_occ.zoo.readme import render_table
    from lightning_occ.zoo.registry import default_registry

    return render_table(default_registry()).rstrip() + "\n"


def scenarios() -> str:
    """The super-category scenarios, from lightning_occ.data.SUPER_CATEGORIES."""
    from lightning_occ.data import SUPER_CATEGORIES

    lines = ["| dataset | super-category | normal classes |", "|---|---|---|"]
    for dataset, groups in SUPER_CATEGORIES.items():
        for name, classes in groups.items():
            lines.append(f"| {dataset} | {name} | {', '.join(str(c) for c in classes)} |")
    return "\n".join(lines) + "\n"


def cli() -> str:
    """The verbs, from the command line itself."""

    def run(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "lightning_occ", *args], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()

    parts = [
        "```text",
        run("--help"),
        "```",
        "",
        "`lightning-occ compare --help`:",
        "",
        "```text",
        run("compare", "--help"),
        "```",
        "",
        "`lightning-occ zoo --help`:",
        "",
        "```text",
        run("zoo", "--help"),
        "```",
        "",
    ]
    return "\n".join(parts)


def demo() -> str:
    """The table `make demo` prints, rebuilt from its results.json (benchmarks/results/demo_breast_cancer.json)."""
    data = _load("demo_breast_cancer.json")
    lines = [
        "```",
        "lightning-occ: OCSDF on breast_cancer",
        f"test set: {data['n_samples'] - data['n_anomalies']} normal, {data['n_anomalies']} anomalous samples",
        f"Certificate: {data['certificate']}",
    ]
    d = data["decisions"]
    lines.append(
        f"Decision threshold {data['threshold']:.6g} ({data['threshold_rule']}): precision "
        f"{d['precision']:.4f}, recall {d['recall']:.4f}, F1 {d['f1']:.4f}, FPR {d['fpr']:.4f}"
    )
    header = "  radius eps | certified AUROC | certified accuracy"
    lines += ["", header, "  " + "-" * (len(header) - 2)]
    for eps, auroc, accuracy in zip(data["epsilons"], data["certified_auroc"], data["certified_accuracy"]):
        label = "0 (clean)" if eps == 0 else f"{eps:g}"
        lines.append(f"  {label:>10} | {auroc:>15.4f} | {accuracy:>18.4f}")
    return "\n".join(lines) + "\n```\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "demo": demo,
    "mnist_one_class": mnist_one_class,
    "compare_digits_cur": compare_digits_cur,
    "speed": speed,
    "certificate_tightness": certificate_tightness,
    "zoo": zoo,
    "scenarios": scenarios,
    "cli": cli,
}


def fill(text: str) -> str:
    """``text`` with every generated block replaced by what the data says now."""
    return BLOCK.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + m.group(4), text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when the README is not what the data says")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    current = readme.read_text()
    expected = fill(current)
    if args.check:
        if current != expected:
            sys.exit("README.md differs from benchmarks/results: run `python docs/generate.py`.")
        return
    readme.write_text(expected)


if __name__ == "__main__":
    main()
