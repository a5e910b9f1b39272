"""Where a method comes from: the paper and the licence, kept on the detector class (as timm does)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MethodCard"]


@dataclass(frozen=True)
class MethodCard:
    """Paper and licence metadata of a detector class (``Detector.card``), shown by the zoo and the docs.

    Attributes:
        paper: the reference, e.g. ``"Bethune et al., ..., ICML 2023"``; empty for a classical baseline.
        url: a link to the paper.
        license: the licence of this implementation (the library's).
    """

    paper: str = ""
    url: str = ""
    license: str = "Apache-2.0"
