"""Optional dependencies: imported when a feature needs them, with the extra to install named."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise an ``ImportError`` that names the extra.

    :raises ImportError: ``module`` is not installed; the message says
        ``pip install 'together-finetune[<extra>]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(
            f"{feature} needs {top}, which is not installed: "
            f"pip install 'together-finetune[{extra}]'",
            name=top,
        ) from exc
