"""What every command shares: registering it, checking the ID it names, and the client.

A handler takes the parsed arguments and an :class:`~.output.Out` and returns the
exit status; :mod:`.app` turns the exceptions it raises into exit codes.
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from ..errors import TogetherError
from .output import Out

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client

    #: What ``add_subparsers()`` returns: where a command group registers its commands.
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]  # pyright: ignore[reportPrivateUsage]  # argparse names no public type for it

PROG = "together-finetune"

#: A command's handler: ``(args, out) -> exit status``.
Handler = Callable[[argparse.Namespace, Out], int]


class UsageError(Exception):
    """A command-line usage problem found after parsing (exit status 2)."""


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--debug`` after the subcommand too."""
    # SUPPRESS keeps a subcommand from resetting what was given before it.
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="tracebacks and request logs",
    )


def add_command(
    subparsers: Subparsers,
    name: str,
    help: str,
    handler: Optional[Handler] = None,
    *,
    description: Optional[str] = None,
) -> argparse.ArgumentParser:
    """Add the command ``name`` run by ``handler`` (a group of subcommands has none)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description or help
    )
    add_output_options(parser)
    if handler is not None:
        parser.set_defaults(func=handler)
    return parser


def add_alias(subparsers: Subparsers, alias: str, parser: argparse.ArgumentParser) -> None:
    """Accept ``alias`` as another name of the command ``parser``, hidden from the help
    (the official CLI's name for it, so its scripts run unchanged)."""
    subparsers.choices[alias] = parser


def check_job_argument(value: str) -> None:
    """Check a ``JOB_ID`` argument; a ``JOB_ID:STEP`` is a usage error where no step is taken."""
    from ..fine_tunes import check_job_id

    if ":" in value:
        raise UsageError(f"{value}: a checkpoint step (JOB_ID:STEP) is accepted only by download")
    check_job_id(value)


def _file_id(value: str) -> None:
    from .._resource import check_file_id

    check_file_id(value)


def _checking_id(check: Callable[[str], None], handler: Handler) -> Handler:
    """``handler``, run only once ``args.id`` passed ``check`` (a ValueError exits 2)."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, out: Out) -> int:
        # Before the client is made: a malformed ID needs no API key and sends nothing.
        check(args.id)
        return handler(args, out)

    return run


def add_job_command(
    subparsers: Subparsers, name: str, help: str, handler: Handler
) -> argparse.ArgumentParser:
    """Add a command on one job: a ``JOB_ID`` argument, checked before ``handler`` runs."""
    parser = add_command(subparsers, name, help, _checking_id(check_job_argument, handler))
    parser.add_argument("id", metavar="JOB_ID", help="fine-tune job ID (ft-...)")
    return parser


def add_file_command(
    subparsers: Subparsers, name: str, help: str, handler: Handler
) -> argparse.ArgumentParser:
    """Add a command on one file: a ``FILE_ID`` argument, checked before ``handler`` runs."""
    parser = add_command(subparsers, name, help, _checking_id(_file_id, handler))
    parser.add_argument("id", metavar="FILE_ID", help="file ID (file-...)")
    return parser


def _api_key(args: argparse.Namespace) -> str:
    key = args.api_key if args.api_key is not None else os.environ.get("TOGETHER_API_KEY")
    if not key or not key.strip():
        raise UsageError("no API key: set TOGETHER_API_KEY or pass --api-key before the command")
    return str(key)


def client(args: argparse.Namespace) -> Client:
    """A client configured by the global options (``--api-key``, ``--base-url``, ...)."""
    from ..client import Client

    options: Dict[str, Any] = {"api_key": _api_key(args), "base_url": args.base_url}
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if getattr(args, "ca_bundle", None) is not None:
        options["verify"] = args.ca_bundle
    try:
        return Client(**options)
    except (TogetherError, ValueError) as exc:  # a bad --base-url or option: nothing was sent
        raise UsageError(str(exc)) from exc
