"""The ``lightning-occ zoo`` verbs: ``list [PATTERN]``, ``info NAME``, ``readme``."""

from __future__ import annotations

import argparse
import json
import sys

from lightning_occ.zoo.errors import ZooError
from lightning_occ.zoo.readme import render_readme, render_table
from lightning_occ.zoo.registry import Registry, default_registry

__all__ = ["main"]


def main(argv: list[str] | None = None, registry: Registry | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lightning-occ zoo", description="The lightning-occ model zoo.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="a table of the entries")
    listing.add_argument("pattern", nargs="?", help="shell-style filter, e.g. 'clad-*'")
    verbs.add_parser("info", help="everything recorded about one entry (JSON)").add_argument("name")
    verbs.add_parser("readme", help="print zoo/README.md")
    args = parser.parse_args(argv)
    registry = registry or default_registry()
    try:
        if args.verb == "list":
            kept = Registry([registry.get(n) for n in registry.names(args.pattern)], registry.folder)
            print(render_table(kept))
        elif args.verb == "info":
            print(json.dumps(registry.get(args.name.removeprefix("zoo:")).to_dict(), indent=2))
        else:
            sys.stdout.write(render_readme(registry))
    except ZooError as error:
        sys.exit(f"lightning-occ zoo: error: {error}")
