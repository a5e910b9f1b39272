"""The zoo's README table, generated from the registry (a test keeps zoo/README.md in step)."""

from __future__ import annotations

from lightning_occ.zoo.registry import Registry, ZooEntry, default_registry

__all__ = ["render_readme", "render_table"]

HEADER = """# lightning-occ model zoo

Pretrained detectors, loaded offline with their sha256 checked:

```python
import lightning_occ as lo
lo.zoo.list_models("*digits*")
model = lo.zoo.load("ocsdf-digits-cur")          # eval mode, weights verified
```

```bash
lightning-occ zoo list
lightning-occ test --ckpt_path zoo:ocsdf-digits-cur            # its recipe config is used
lightning-occ fit --config configs/ocsdf/digits_cur.yaml --data.init_args.normal STR \\
    --model.init_args.pretrained zoo:ocsdf-digits-cur           # fine-tune on another scenario
```

Every entry was trained by its recipe (`zoo/recipes/NAME.yaml`: a config from `configs/` plus overrides) with
`python zoo/build.py NAME`, on CPU, and evaluated on the test split of its recorded scenario. The
AUROC columns are those measurements; the test suite re-evaluates every entry and must reproduce them
to 1e-4. Certified AUROC is at the radii listed (l2, input units): from the Lipschitz bound for OCSDF and
the Lipschitz-latent CompactVAE; CLAD has no bound (certify it with `lightning-occ certify`).
Entries without a bound are stored in float16 where the size says so (a certified detector keeps
float32: rounding would void its proof); they load into float32 models.

This file is generated: `python -m lightning_occ.zoo readme > zoo/README.md`.
"""


def _certified(metrics: dict[str, float]) -> str:
    pairs = sorted((float(k.split("@")[1]), v) for k, v in metrics.items() if k.startswith("test/certified_auroc@"))
    return ", ".join(f"{v:.3f} @ {r:.4g}" for r, v in pairs) or "-"


def _size(entry: ZooEntry) -> str:
    return f"{entry.size / 1e6:.2f} MB" + ("" if entry.dtype == "float32" else f" ({entry.dtype})")


def render_table(registry: Registry) -> str:
    lines = [
        "| name | method | dataset | scenario | AUROC | certified AUROC | size | sha256 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in registry.names():
        e = registry.get(name)
        lines.append(
            f"| `{e.name}` | {e.method} | {e.dataset} | {e.scenario} | {e.metrics['test/auroc']:.4f} | "
            f"{_certified(e.metrics)} | {_size(e)} | `{e.sha256[:12]}` |"
        )
    return "\n".join(lines)


def render_readme(registry: Registry | None = None) -> str:
    registry = registry or default_registry()
    total = sum(registry.get(n).size for n in registry.names())
    return f"{HEADER}\n{render_table(registry)}\n\n{len(registry.names())} entries, {total / 1e6:.2f} MB in all.\n"
