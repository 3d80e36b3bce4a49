"""The remaining commands: ``models``, ``limits`` and ``serve-fake``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from . import arguments
from .base import UsageError, add_alias, add_command, client
from .output import Out, block, flatten, plain, table

if TYPE_CHECKING:  # pragma: no cover
    from .base import Subparsers


def limits(args: argparse.Namespace, out: Out) -> int:
    """``limits MODEL`` (or ``limits -M MODEL``): what a base model allows."""
    model = args.model if args.model is not None else args.model_flag
    if model is None or (args.model is not None and args.model_flag is not None):
        raise UsageError("give the model once: limits MODEL or limits -M MODEL")
    with client(args) as api:
        found = api.fine_tunes.model_limits(model)
    data = plain(found)
    if out.json_mode:
        out.json(data)
    else:
        out.line(block(flatten(data)))
    return 0


def models(args: argparse.Namespace, out: Out) -> int:
    """``models``: the models that can be fine-tuned."""
    with client(args) as api:
        names = api.fine_tunes.supported_models()
    if out.json_mode:
        out.json(names)
    else:
        out.line(table(("MODEL",), ([name] for name in names)))
    return 0


def serve_fake(args: argparse.Namespace, out: Out) -> int:
    """``serve-fake``: run the fake API server of the testing extra."""
    try:
        from ..testing.__main__ import serve
    except ImportError as exc:
        raise UsageError(
            f"serve-fake needs the testing extra: pip install 'together-finetune[testing]' ({exc})"
        ) from None
    argv = ["--port", str(args.port), "--host", args.host]
    if args.step_seconds is not None:
        argv += ["--step-seconds", str(args.step_seconds)]
    return serve(argv)


def register(subparsers: Subparsers) -> None:
    """Add ``limits``, ``models`` and ``serve-fake`` and their flags."""
    p = add_command(subparsers, "limits", "show what a base model allows", limits)
    p.add_argument("model", metavar="MODEL", nargs="?")
    p.add_argument("--model", "-M", dest="model_flag", metavar="MODEL", help="the model, as a flag")
    add_alias(subparsers, "model-limits", p)
    add_command(subparsers, "models", "list the models that can be fine-tuned", models)

    p = add_command(subparsers, "serve-fake", "run the built-in fake API server", serve_fake)
    p.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--step-seconds", type=arguments.positive_float, help="seconds per job status step"
    )
