"""Fail when a public name has no entry in the built API reference.

Usage: python .ci/docs_cover.py BUILD_DIR. Every name in ``__all__`` of
``together_finetune``, ``together_finetune.models``, ``together_finetune.errors`` and
``together_finetune.testing`` must be documented (a Python object of the reference's
``objects.inv`` whose name ends with it).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from sphinx.util.inventory import InventoryFile

MODULES = (
    "together_finetune",
    "together_finetune.models",
    "together_finetune.errors",
    "together_finetune.testing",
)


def main(build: str) -> int:
    with open(Path(build) / "objects.inv", "rb") as stream:
        inventory = InventoryFile.load(stream, "", lambda base, uri: uri)
    documented = (
        {
            name
            for kind, entries in inventory.data.items()
            if kind.startswith("py:")
            for name in entries
        }
        if hasattr(inventory, "data")
        else {
            name
            for kind, entries in inventory.items()
            if kind.startswith("py:")
            for name in entries
        }
    )
    short = {name.rsplit(".", 1)[-1] for name in documented}
    missing = []
    total = 0
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            total += 1
            if name not in short:
                missing.append(f"{module_name}.{name}")
    for name in missing:
        print(f"not in the API reference: {name}", file=sys.stderr)
    print(f"API reference: {total - len(missing)} of {total} public names documented")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
