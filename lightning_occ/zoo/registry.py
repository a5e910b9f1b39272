"""The zoo's registry: declarative entries in one JSON manifest, looked up by name."""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lightning_occ.zoo.errors import ZooError

__all__ = ["ZOO_PREFIX", "MANIFEST", "WEIGHTS_DIR", "ZooEntry", "Registry", "default_registry"]

ZOO_PREFIX = "zoo:"
"""How a source names a zoo entry: ``zoo:NAME``."""

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST = WEIGHTS_DIR / "registry.json"


@dataclass
class ZooEntry:
    """One pretrained detector: how it was made, how well it does, and where its weights are.

    ``file`` names a file next to the manifest (shipped in the package); ``url`` a remote copy,
    cached in torch hub's cache directory. Either way ``sha256`` is checked before the weights are read.
    ``dtype`` is the precision the floating-point weights are stored in (they load into a float32 model).
    """

    name: str
    method: str
    class_path: str
    init_args: dict[str, Any]
    data: dict[str, Any]
    dataset: str
    scenario: str
    recipe: str
    metrics: dict[str, float]
    sha256: str
    size: int
    file: str | None = None
    url: str | None = None
    certificate: str | None = None
    licence: str = "Apache-2.0"
    paper: str = ""
    notes: str = ""
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.file is None) == (self.url is None):
            raise ZooError(f"Zoo entry {self.name!r} must give exactly one of 'file' and 'url'.")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Registry:
    """Entries read from a manifest; ``folder`` is where their local ``file`` entries live."""

    def __init__(self, entries: list[ZooEntry], folder: Path) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self.folder = folder

    @classmethod
    def from_file(cls, path: str | Path) -> Registry:
        path = Path(path)
        if not path.is_file():
            return cls([], path.parent)
        try:
            raw = json.loads(path.read_text())
            return cls([ZooEntry(**entry) for entry in raw["entries"]], path.parent)
        except (ValueError, KeyError, TypeError) as error:  # bad JSON, no "entries", unknown or missing fields
            raise ZooError(
                f"The zoo manifest {path} is not a valid registry ({type(error).__name__}: {error}); "
                "fix it, or point $LIGHTNING_OCC_ZOO at another registry.json."
            ) from None

    def save(self, path: str | Path) -> None:
        entries = [self.entries[name].to_dict() for name in sorted(self.entries)]
        Path(path).write_text(json.dumps({"entries": entries}, indent=1, sort_keys=True) + "\n")

    def names(self, pattern: str | None = None) -> list[str]:
        names = sorted(self.entries)
        return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names

    def get(self, name: str) -> ZooEntry:
        if name in self.entries:
            return self.entries[name]
        close = difflib.get_close_matches(name, list(self.entries), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ZooError(f"No zoo entry named {name!r}.{hint} `lightning-occ zoo list` shows them all.")

    def add(self, entry: ZooEntry) -> None:
        self.entries[entry.name] = entry


def default_registry() -> Registry:
    """The entries shipped with the package, or the manifest named by ``$LIGHTNING_OCC_ZOO`` (a mirror or
    a private zoo; its ``file`` entries are relative to that manifest)."""
    custom = os.environ.get("LIGHTNING_OCC_ZOO")
    if custom and not Path(custom).is_file():
        raise ZooError(
            f"$LIGHTNING_OCC_ZOO names {custom}, which is not a file: point it at a registry.json, or unset "
            "it to use the zoo shipped with lightning-occ."
        )
    return Registry.from_file(custom or MANIFEST)
