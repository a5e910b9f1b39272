"""Fetching zoo weights: local files or remote URLs, always checked against their sha256."""

from __future__ import annotations

import hashlib
import sys
import urllib.error
import urllib.request
from pathlib import Path

import torch

from lightning_occ.utils.atomic import atomic_path
from lightning_occ.zoo.errors import ZooError
from lightning_occ.zoo.registry import Registry, ZooEntry

__all__ = ["cache_dir", "sha256_of", "weights_path"]

CHUNK = 1 << 20


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """``<torch hub dir>/lightning_occ`` (``$TORCH_HOME/hub`` by default)."""
    return Path(torch.hub.get_dir()) / "lightning_occ"


def _check(path: Path, entry: ZooEntry) -> Path:
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise ZooError(
            f"Refusing to load zoo entry {entry.name!r}: {path} has sha256 {actual}, the registry "
            f"records {entry.sha256}. The file is corrupt or was changed; restore it (or delete a "
            "cached download so it is fetched again)."
        )
    return path


def _download(entry: ZooEntry, target: Path, timeout: float) -> None:
    """Stream ``entry.url`` into a temporary file beside ``target``; it becomes ``target`` only once its
    hash matches, so an interrupted or corrupt download never leaves a file under the final name."""
    digest = hashlib.sha256()
    with atomic_path(target) as temporary:  # removed, never renamed, when an error is raised below
        try:
            with temporary.open("wb") as handle, urllib.request.urlopen(str(entry.url), timeout=timeout) as response:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    digest.update(chunk)
                    handle.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise ZooError(
                f"Could not download zoo entry {entry.name!r} from {entry.url}: {reason}. Check the network "
                f"(or proxy), or place the file by hand at {target} (sha256 {entry.sha256})."
            ) from None
        if digest.hexdigest() != entry.sha256:
            raise ZooError(
                f"Refusing zoo entry {entry.name!r}: the file downloaded from {entry.url} has sha256 "
                f"{digest.hexdigest()}, the registry records {entry.sha256}. Nothing was kept."
            )


def weights_path(entry: ZooEntry, registry: Registry, timeout: float = 60.0) -> Path:
    """The verified local path of an entry's weights, downloading (and caching) remote ones first."""
    if entry.file is not None:
        path = registry.folder / entry.file
        if not path.is_file():
            raise ZooError(
                f"Zoo entry {entry.name!r} names {path}, which does not exist: reinstall lightning-occ "
                "or re-run its recipe (zoo/build.py)."
            )
        return _check(path, entry)
    target = cache_dir() / f"{entry.sha256[:16]}-{Path(str(entry.url)).name}"
    if target.is_file():
        try:
            return _check(target, entry)
        except ZooError:
            print(
                f"lightning-occ: the cached download {target} does not match its recorded sha256; removed it and "
                "fetching it again.",
                file=sys.stderr,
            )
            target.unlink()
    _download(entry, target, timeout)
    return _check(target, entry)
