"""Argument types: text from the command line turned into the values the library takes.

Each raises :class:`argparse.ArgumentTypeError`, so argparse names the option and
exits with status 2 before anything is sent.
"""

from __future__ import annotations

import argparse
from typing import Any


def batch_size(text: str) -> Any:
    """An integer, or ``max``."""
    if text.strip().lower() == "max":
        return "max"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'max', got {text!r}") from None


def train_on_inputs(text: str) -> Any:
    """``true``, ``false`` or ``auto`` (any case)."""
    value = {"true": True, "false": False, "auto": "auto"}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"must be true, false or auto, got {text!r}")
    return value


def timestamp(text: str) -> Any:
    """An ISO-8601 timestamp, parsed as the converter parses the API's timestamps."""
    from ..converter import parse_datetime

    try:
        return parse_datetime(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be an ISO-8601 timestamp, got {text!r}") from None


def json_object(text: str) -> Any:
    """A JSON object, such as ``{"new_field": 1}`` (a dict)."""
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a JSON object: {exc}") from None
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise argparse.ArgumentTypeError(f"must be a JSON object ({{...}}), got a {kind}") from None
    return value


def positive_float(text: str) -> float:
    """A number above zero (seconds, for instance)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number above zero (a count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def add_connections(parser: argparse.ArgumentParser) -> None:
    """The ``--connections N`` flag of the download commands."""
    parser.add_argument(
        "--connections",
        type=positive_int,
        metavar="N",
        help="ranged connections at once, 1 to 32 (default: 4 for files of 64 MiB or more "
        "when the server serves ranges, else 1)",
    )
