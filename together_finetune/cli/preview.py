"""What a job's data looks like to the model: ``preview`` (how a training file is
tokenized, which tokens train) and ``download-tokenized-dataset``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, List

from . import arguments
from .base import add_command, add_job_command, client
from .output import Out, plain, show_download, text, wants_progress_bar

if TYPE_CHECKING:  # pragma: no cover
    from ..models import TokenizationPreview, TokenizationPreviewRow
    from .base import Subparsers

#: Tokens shown per row.
SHOWN_TOKENS = 32
_DIM, _RESET = "\x1b[2m", "\x1b[0m"


def _token_text(row: TokenizationPreviewRow, styled: bool) -> str:
    """The row's first tokens, those that do not train dimmed (or ``[bracketed]``)."""
    mask = row.trained_mask()
    shown: List[str] = []
    for index, token in enumerate(row.tokens[:SHOWN_TOKENS]):
        shown_token = repr(token)[1:-1]  # newlines and tabs stay visible on one line
        trains = mask[index] if index < len(mask) else True
        if trains:
            shown.append(shown_token)
        elif styled:
            shown.append(f"{_DIM}{shown_token}{_RESET}")
        else:
            shown.append(f"[{shown_token}]")
    more = len(row.tokens) - SHOWN_TOKENS
    return " ".join(shown) + (f" ... (+{more} tokens)" if more > 0 else "")


def render_preview(preview: TokenizationPreview, *, styled: bool) -> str:
    """The preview for people: a header, then per row its counts, trained spans and tokens."""
    legend = "dimmed" if styled else "[bracketed]"
    lines = [
        f"model {text(preview.model)}, format {text(preview.dataset_format)}, "
        f"max_seq_length {text(preview.max_seq_length)}, "
        f"train_on_inputs {text(preview.train_on_inputs)}",
        f"tokens that do not train are {legend}; the first {SHOWN_TOKENS} of each row shown",
    ]
    for number, row in enumerate(preview.rows, 1):
        spans = ", ".join(f"{span[0]}-{span[1]}" for span in row.trained_spans if len(span) == 2)
        truncated = ", truncated" if row.truncated else ""
        lines += [
            "",
            f"row {number}: {text(row.num_tokens)} tokens, "
            f"{text(row.num_trained_tokens)} trained{truncated}",
            f"  trained spans: {spans or '-'}",
            f"  {_token_text(row, styled)}",
        ]
    if not preview.rows:
        lines.append("no rows")
    return "\n".join(lines)


def preview(args: argparse.Namespace, out: Out) -> int:
    """``preview``: how the training file will be tokenized."""
    with client(args) as api:
        answer = api.fine_tunes.preview(
            model=args.model,
            training_file=args.training_file,
            top_k=args.top_k,
            train_on_inputs=args.train_on_inputs,
            training_method=args.training_method,
        )
    if out.json_mode:
        out.json(plain(answer))
    else:
        out.line(render_preview(answer, styled=sys.stdout.isatty()))
    return 0


def download_tokenized_dataset(args: argparse.Namespace, out: Out) -> int:
    """``download-tokenized-dataset JOB_ID``: the archive of the tokenized training data."""
    progress = wants_progress_bar(args.no_progress, out)
    with client(args) as api:
        result = api.fine_tunes.download_tokenized_dataset(
            args.id,
            output=args.output,
            overwrite=args.overwrite,
            progress=progress,
            connections=args.connections,
        )
    show_download(result, out)
    return 0


def register(subparsers: Subparsers) -> None:
    """Add ``preview`` and ``download-tokenized-dataset`` and their flags."""
    p = add_command(subparsers, "preview", "show how a training file will be tokenized", preview)
    p.add_argument("--model", required=True, help="base model name")
    p.add_argument("--training-file", required=True, help="training file ID (file-...)")
    p.add_argument("--top-k", type=arguments.positive_int, help="rows to sample")
    p.add_argument(
        "--train-on-inputs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also train on the inputs (default: the server masks them)",
    )
    p.add_argument(
        "--training-method",
        choices=("sft",),
        help="the method to preview (only sft; sent when given)",
    )
    p = add_job_command(
        subparsers,
        "download-tokenized-dataset",
        "download the tokenized training data of a job",
        download_tokenized_dataset,
    )
    p.add_argument("--output", "-o", help="file path or existing directory (default: .)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    arguments.add_connections(p)
