"""MkDocs hooks: fill the generated blocks of every page from data, and draw the generated figures."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))

import generate  # noqa: E402  (docs/generate.py: the same tables the README is checked against)


def on_pre_build(config: Any, **kwargs: Any) -> None:
    figures = DOCS / "assets" / "generated"
    figures.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        generate.RESULTS / "compare_digits_cur" / "certified_auroc.png", figures / "certified_auroc_compare.png"
    )


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return generate.fill(markdown)
