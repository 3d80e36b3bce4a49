"""The entry point: the parser assembled from the command groups, dispatch and exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, List, NoReturn, Optional, Sequence

from .._version import __version__
from ..errors import APIStatusError, TogetherError
from . import create, files, jobs, misc, preview
from .base import PROG, UsageError
from .output import Out, scrub
from .wording import cli_wording

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with secrets typed on the command line masked in its error messages."""

    secrets: List[str] = []

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {scrub(message, self.secrets)}\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the global options, then each command group's commands."""
    parser = _Parser(
        prog=PROG,
        description="Fine-tune models with Together AI from the command line.",
        epilog="Environment: TOGETHER_API_KEY, TOGETHER_BASE_URL, HTTPS_PROXY, NO_PROXY, "
        "REQUESTS_CA_BUNDLE, SSL_CERT_FILE. "
        "Exit status: 0 ok, 1 API/network error, failed job (wait) or bad dataset "
        "(files check), "
        "2 usage error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--api-key", help="API key (default: $TOGETHER_API_KEY); never printed")
    parser.add_argument(
        "--base-url", help="API base URL (default: $TOGETHER_BASE_URL or the public API)"
    )
    parser.add_argument(
        "--max-retries", type=int, help="retries after a failed attempt (default 2)"
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="PATH",
        help="trust the certificate authorities in this PEM file or directory (a private "
        "CA; default: $REQUESTS_CA_BUNDLE, $SSL_CERT_FILE, ... or the built-in store)",
    )
    # Also accepted after the subcommand (see base.add_output_options).
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--debug", action="store_true", help="tracebacks and request logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for group in (create, jobs, preview, misc, files):
        group.register(subparsers)
    return parser


def _error_line(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    if isinstance(exc, APIStatusError) and not exc.request_id:
        message += " (no request id)"
    return message


def _debug_logging(secrets: Sequence[Optional[str]]) -> Callable[[], None]:
    """Send the library's debug log to the current stderr; returns the undo function."""
    import logging

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(scrub(self.format(record), secrets) + "\n")
            except Exception:  # pragma: no cover - logging must never break the command
                self.handleError(record)

    logger = logging.getLogger("together_finetune")
    handler = Handler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    return restore


def _secrets_in(argv: Sequence[str]) -> List[str]:
    """Values of secret-looking options as typed, before parsing (for argparse's errors)."""
    found = [os.environ.get("TOGETHER_API_KEY") or ""]
    for index, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if flag.startswith("--") and any(w in flag for w in ("key", "token", "secret", "pass")):
            if eq:
                found.append(value)
            elif index + 1 < len(argv):
                found.append(argv[index + 1])
    return [secret for secret in found if secret]


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    _Parser.secrets = _secrets_in(words)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version, or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    secrets = [args.api_key, os.environ.get("TOGETHER_API_KEY")]
    for name in ("hf_api_token", "wandb_api_key"):
        secrets.append(getattr(args, name, None))
    out = Out(args.json)
    restore_logging = _debug_logging(secrets) if args.debug else None
    try:
        code: int = args.func(args, out)
        return code
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. `together-finetune list | head -1`: the reader went away
        import contextlib

        with contextlib.suppress(OSError, ValueError):  # stdout may have no descriptor
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UsageError, ValueError, TogetherError, OSError) as exc:
        if args.debug:
            import traceback

            sys.stderr.write(scrub(traceback.format_exc(), secrets))
        if isinstance(exc, (UsageError, ValueError)):
            name = " ".join(filter(None, (args.command, getattr(args, "files_command", None))))
            message = cli_wording(scrub(str(exc), secrets))
            sys.stderr.write(f"{PROG} {name}: error: {message}\n")
            return 2
        sys.stderr.write(f"{PROG}: error: {cli_wording(scrub(_error_line(exc), secrets))}\n")
        return 1
    finally:
        if restore_logging is not None:
            restore_logging()
