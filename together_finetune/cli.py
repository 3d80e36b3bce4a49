"""The ``together-finetune`` command-line tool (also ``python -m together_finetune``).

Configuration comes from ``TOGETHER_API_KEY`` and ``TOGETHER_BASE_URL``, overridable
with ``--api-key`` / ``--base-url`` before the subcommand. Exit codes: 0 success,
1 an API or network error (or ``wait`` on a job that failed or was cancelled, or
``files check`` on a bad dataset), 2 a usage error or a rejected argument, such as a
file refused by the dataset check before upload (nothing was sent), 130 interrupted.

Only the standard library is imported at start-up; each command imports the parts
of the library it needs, so ``together-finetune --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    NoReturn,
    Optional,
    Sequence,
)

from ._version import __version__
from .errors import APIStatusError, TogetherError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .dataset import DatasetReport
    from .files import FileObject
    from .models import FineTune, FineTuneEvent

__all__ = ["main"]

PROG = "together-finetune"
_SECRET_FIELDS = ("wandb_key", "wandb_api_key", "hf_api_token")
_MASK = "***"
_DPO_FLAGS = (
    ("dpo_beta", "--dpo-beta"),
    ("rpo_alpha", "--rpo-alpha"),
    ("dpo_normalize_logratios_by_length", "--dpo-normalize-logratios-by-length"),
    ("dpo_reference_free", "--dpo-reference-free"),
    ("simpo_gamma", "--simpo-gamma"),
)
_LORA_FLAGS = (
    ("lora_r", "--lora-r"),
    ("lora_alpha", "--lora-alpha"),
    ("lora_dropout", "--lora-dropout"),
    ("lora_trainable_modules", "--lora-trainable-modules"),
)


class UsageError(Exception):
    """A command-line usage problem found after parsing (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with secrets typed on the command line masked in its error messages."""

    secrets: List[str] = []

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        text = _scrub(message, self.secrets)
        self.exit(2, f"{self.prog}: error: {text}\n")


# --------------------------------------------------------------------------- argument types


def _batch_size(text: str) -> Any:
    if text.strip().lower() == "max":
        return "max"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer or 'max', got {text!r}") from None


def _train_on_inputs(text: str) -> Any:
    value = {"true": True, "false": False, "auto": "auto"}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"must be true, false or auto, got {text!r}")
    return value


def _timestamp(text: str) -> Any:
    from .converter import parse_datetime

    try:
        return parse_datetime(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be an ISO-8601 timestamp, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


# --------------------------------------------------------------------------- output helpers


class _Out:
    """Where a command writes: stdout for results, stderr for diagnostics."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode

    @staticmethod
    def line(text: str = "") -> None:
        sys.stdout.write(text + "\n")

    @staticmethod
    def flush() -> None:
        sys.stdout.flush()

    def json(self, data: Any) -> None:
        # NaN and infinity are not JSON: jq and strict parsers reject them; print null.
        self.line(json.dumps(_finite(data), indent=2, ensure_ascii=False, allow_nan=False))

    @staticmethod
    def note(text: str) -> None:
        sys.stderr.write(text + "\n")


def _finite(data: Any) -> Any:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_finite(value) for value in data]
    return data


def _plain(obj: Any) -> Any:
    """A model (or list of them) as JSON-ready data with wire keys; ``None`` fields dropped."""
    from .converter import converter

    return _drop_none(converter.unstructure(obj))


def _drop_none(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _drop_none(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_drop_none(v) for v in data]
    return data


def _when(value: Any) -> str:
    if value is None:
        return "-"
    return str(value.isoformat().replace("+00:00", "Z"))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    all_rows = [list(headers)] + [list(row) for row in rows]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(headers))]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _block(pairs: Sequence[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in pairs)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in pairs)


def _flatten(data: Dict[str, Any], prefix: str = "") -> List[tuple[str, str]]:
    pairs: List[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            pairs.extend(_flatten(value, name + "."))
        elif isinstance(value, list):
            pairs.append((name, ", ".join(_text(v) for v in value) or "-"))
        else:
            pairs.append((name, _text(value)))
    return pairs


def _job_block(job: FineTune) -> str:
    progress = []
    if job.steps_completed is not None or job.total_steps is not None:
        progress.append(f"step {_text(job.steps_completed)}/{_text(job.total_steps)}")
    if job.epochs_completed is not None:
        progress.append(f"epochs completed {job.epochs_completed}")
    if job.progress is not None and job.progress.estimate_available and not job.is_terminal:
        seconds = job.progress.seconds_remaining
        if seconds is not None:
            progress.append(f"about {int(seconds)}s to the next status")
    pairs = [
        ("ID", job.id),
        ("STATUS", job.status.value),
        ("MODEL", _text(job.model)),
        ("OUTPUT MODEL", _text(job.model_output_name)),
        ("PROGRESS", ", ".join(progress) or "-"),
        ("CREATED", _when(job.created_at)),
        ("UPDATED", _when(job.updated_at)),
    ]
    if job.training_file is not None:
        pairs.insert(4, ("TRAINING FILE", job.training_file))
    if job.wandb_url:
        pairs.append(("WANDB", job.wandb_url))
    return _block(pairs)


def _jobs_table(jobs: Sequence[FineTune]) -> str:
    return _table(
        ("ID", "STATUS", "MODEL", "CREATED"),
        ((j.id, j.status.value, _text(j.model), _when(j.created_at)) for j in jobs),
    )


def _event_row(event: FineTuneEvent) -> List[str]:
    return [
        _when(event.created_at),
        event.level.value if event.level is not None else "-",
        event.type.value if event.type is not None else "-",
        " ".join((event.message or "").split()) or "-",
    ]


_EVENT_HEADERS = ("CREATED", "LEVEL", "TYPE", "MESSAGE")
_FILE_HEADERS = ("ID", "FILENAME", "BYTES", "PURPOSE", "TYPE", "CREATED")
#: Problems listed when an upload is refused by the dataset check (``files check`` lists all).
_UPLOAD_PROBLEMS_SHOWN = 20


def _epoch(value: Any) -> str:
    """Epoch seconds (how file objects carry ``created_at``) as ISO-8601 UTC."""
    if value is None:
        return "-"
    import datetime as dt

    try:
        return _when(dt.datetime.fromtimestamp(value, dt.timezone.utc))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


def _file_row(f: FileObject) -> List[str]:
    return [
        f.id,
        _text(f.filename),
        _text(f.bytes),
        _text(f.purpose),
        _text(f.file_type),
        _epoch(f.created_at),
    ]


def _file_block(f: FileObject) -> str:
    pairs = list(zip(_FILE_HEADERS, _file_row(f)))
    pairs += [("PROCESSED", _text(f.processed)), ("STATUS", _text(f.processing_status))]
    return _block(pairs)


def _report_data(report: DatasetReport) -> Dict[str, Any]:
    return {
        "path": report.path,
        "ok": report.ok,
        "format": report.format,
        "num_examples": report.num_examples,
        "problems": [{"line": p.line, "message": p.message} for p in report.problems],
    }


# --------------------------------------------------------------------------- the client


def _api_key(args: argparse.Namespace) -> str:
    key = args.api_key if args.api_key is not None else os.environ.get("TOGETHER_API_KEY")
    if not key or not key.strip():
        raise UsageError("no API key: set TOGETHER_API_KEY or pass --api-key before the command")
    return str(key)


def _client(args: argparse.Namespace) -> Client:
    from .client import Client

    options: Dict[str, Any] = {"api_key": _api_key(args), "base_url": args.base_url}
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    try:
        return Client(**options)
    except (TogetherError, ValueError) as exc:  # a bad --base-url or option: nothing was sent
        raise UsageError(str(exc)) from exc


# --------------------------------------------------------------------------- commands


def _cmd_list(args: argparse.Namespace, out: _Out) -> int:
    with _client(args) as client:
        jobs = client.fine_tunes.list()
    if out.json_mode:
        out.json(_plain(jobs))
    elif jobs:
        out.line(_jobs_table(jobs))
    else:
        out.note("no fine-tuning jobs")
    return 0


def _show_job(job: FineTune, out: _Out) -> None:
    if out.json_mode:
        out.json(_plain(job))
    else:
        out.line(_job_block(job))


def _cmd_retrieve(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    with _client(args) as client:
        job = client.fine_tunes.retrieve(args.id)
    _show_job(job, out)
    return 0


def _cmd_cancel(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    with _client(args) as client:
        job = client.fine_tunes.cancel(args.id)
    _show_job(job, out)
    return 0


def _cmd_delete(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    with _client(args) as client:
        result = client.fine_tunes.delete(args.id)
    if out.json_mode:
        out.json(_plain(result))
    else:
        out.line(result.message or f"deleted {args.id}")
    return 0


def _cmd_events(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    with _client(args) as client:
        if args.follow:
            for event in client.fine_tunes.follow_events(args.id, poll_interval=args.poll_interval):
                if out.json_mode:
                    out.line(json.dumps(_plain(event), ensure_ascii=False))
                else:
                    out.line("  ".join(_event_row(event)))
                out.flush()
            return 0
        events = client.fine_tunes.list_events(args.id)
    if out.json_mode:
        out.json(_plain(events))
    elif events:
        out.line(_table(_EVENT_HEADERS, (_event_row(e) for e in events)))
    else:
        out.note(f"no events for {args.id}")
    return 0


def _cmd_checkpoints(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    with _client(args) as client:
        checkpoints = client.fine_tunes.list_checkpoints(args.id)
    if out.json_mode:
        out.json(_plain(checkpoints))
    elif checkpoints:
        out.line(
            _table(
                ("STEP", "TYPE", "CREATED", "PATH"),
                (
                    (_text(c.step), _text(c.checkpoint_type), _when(c.created_at), _text(c.path))
                    for c in checkpoints
                ),
            )
        )
    else:
        out.note(f"no checkpoints for {args.id}")
    return 0


def _cmd_metrics(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    with _client(args) as client:
        rows = client.fine_tunes.list_metrics(
            args.id,
            global_step_from=args.step_from,
            global_step_to=args.step_to,
            logged_at_from=args.since,
            logged_at_to=args.until,
        )
    if out.json_mode:
        out.json(rows)
    elif rows:
        columns: List[str] = []
        for row in rows:
            columns.extend(key for key in row if key not in columns)
        out.line(_table(columns, ([_text(row.get(c)) for c in columns] for row in rows)))
    else:
        out.note(f"no metrics for {args.id}")
    return 0


def _cmd_wait(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)

    def on_event(event: FineTuneEvent) -> None:
        out.line("  ".join(_event_row(event)))
        out.flush()

    show_events = not out.json_mode and not args.quiet
    with _client(args) as client:
        job = client.fine_tunes.wait(
            args.id,
            poll_interval=args.poll_interval,
            timeout=args.timeout,
            on_event=on_event if show_events else None,
        )
    _show_job(job, out)
    if job.status.is_failure:
        out.note(f"{PROG}: job {job.id} ended as {job.status.value}")
        return 1
    return 0


def _cmd_download(args: argparse.Namespace, out: _Out) -> int:
    from .fine_tunes import check_job_id

    check_job_id(args.id)
    progress = False
    if not args.no_progress and not out.json_mode and sys.stderr.isatty():
        import importlib.util

        progress = importlib.util.find_spec("tqdm") is not None
    with _client(args) as client:
        result = client.fine_tunes.download(
            args.id,
            checkpoint=args.checkpoint,
            checkpoint_step=args.step,
            output=args.output,
            overwrite=args.overwrite,
            extract=args.extract,
            progress=progress,
        )
    if out.json_mode:
        out.json(
            {
                "id": result.id,
                "path": str(result.path),
                "size": result.size,
                "sha256": result.sha256,
                "checkpoint": result.checkpoint,
                "checkpoint_step": result.checkpoint_step,
            }
        )
    else:
        out.line(f"downloaded {result.path} ({result.size} bytes, sha256 {result.sha256})")
    return 0


def _training_type(args: argparse.Namespace) -> Any:
    from .models import FullTraining, LoRATraining

    lora = {name: getattr(args, name) for name, _ in _LORA_FLAGS if getattr(args, name) is not None}
    if args.full:
        if lora:
            flags = ", ".join(flag for name, flag in _LORA_FLAGS if name in lora)
            raise UsageError(f"{flags}: only with LoRA training, not with --full")
        return FullTraining()
    if args.lora or lora:
        return LoRATraining(**lora)
    return None


def _training_method(args: argparse.Namespace) -> Any:
    from .models import DPO, SFT

    dpo = {name: getattr(args, name) for name, _ in _DPO_FLAGS if getattr(args, name) is not None}
    if dpo and args.training_method != "dpo":
        flags = ", ".join(flag for name, flag in _DPO_FLAGS if name in dpo)
        raise UsageError(f"{flags}: only with --training-method dpo")
    if args.training_method == "dpo":
        return DPO(**dpo)
    if args.training_method == "sft":
        return SFT() if args.train_on_inputs is None else SFT(args.train_on_inputs)
    return None


def _lr_scheduler(args: argparse.Namespace) -> Any:
    from .models import CosineLRScheduler, LinearLRScheduler

    options: Dict[str, Any] = {}
    if args.min_lr_ratio is not None:
        options["min_lr_ratio"] = args.min_lr_ratio
    if args.lr_scheduler is None:
        if args.min_lr_ratio is not None:
            raise UsageError("--min-lr-ratio: only with --lr-scheduler linear|cosine")
        if args.num_cycles is not None:
            raise UsageError("--num-cycles: only with --lr-scheduler cosine")
        return None
    if args.lr_scheduler == "cosine":
        if args.num_cycles is not None:
            options["num_cycles"] = args.num_cycles
        return CosineLRScheduler(**options)
    if args.num_cycles is not None:
        raise UsageError("--num-cycles: only with --lr-scheduler cosine")
    return LinearLRScheduler(**options)


_PLAIN_CREATE_FIELDS = (
    "training_file",
    "model",
    "validation_file",
    "n_epochs",
    "n_checkpoints",
    "n_evals",
    "batch_size",
    "learning_rate",
    "warmup_ratio",
    "max_grad_norm",
    "weight_decay",
    "random_seed",
    "suffix",
    "packing",
    "max_seq_length",
    "from_checkpoint",
    "from_hf_model",
    "hf_model_revision",
    "hf_api_token",
    "hf_output_repo_name",
    "wandb_api_key",
    "wandb_base_url",
    "wandb_project_name",
    "wandb_name",
    "wandb_entity",
)


def _create_fields(args: argparse.Namespace) -> Dict[str, Any]:
    """The FineTuneRequest arguments the user gave, and nothing else."""
    from .models import MultimodalParams

    fields = {name: getattr(args, name) for name in _PLAIN_CREATE_FIELDS}
    fields["lr_scheduler"] = _lr_scheduler(args)
    fields["training_type"] = _training_type(args)
    fields["training_method"] = _training_method(args)
    if args.train_vision is not None:
        fields["multimodal_params"] = MultimodalParams(train_vision=args.train_vision)
    return {key: value for key, value in fields.items() if value is not None}


def _masked(body: Any) -> Any:
    """The request body with its secret fields masked, every other value as it is sent."""
    if isinstance(body, dict):
        return {
            key: (_MASK if key in _SECRET_FIELDS and value is not None else _masked(value))
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_masked(v) for v in body]
    return body


def _cmd_create(args: argparse.Namespace, out: _Out) -> int:
    fields = _create_fields(args)
    # --train-on-inputs alone is the library's shorthand for SFT(train_on_inputs=...).
    train_on_inputs = args.train_on_inputs if args.training_method is None else None
    if args.training_method == "dpo":
        train_on_inputs = args.train_on_inputs  # the library rejects it, naming the argument
    if args.dry_run:
        from ._resource import check_file_id
        from .converter import encode
        from .models import FineTuneRequest
        from .validation import check_against_limits, validate_create_request

        fields["training_file"] = check_file_id(fields["training_file"], "training_file")
        if "validation_file" in fields:
            fields["validation_file"] = check_file_id(fields["validation_file"], "validation_file")
        request = validate_create_request(
            FineTuneRequest(**fields), train_on_inputs=train_on_inputs
        )
        if args.check_limits and request.model is not None:
            with _client(args) as client:
                limits = client.fine_tunes.model_limits(request.model)
            problems = check_against_limits(request, limits)
            if problems:
                raise ValueError(
                    f"fine-tune arguments exceed the limits of {request.model}:\n  - "
                    + "\n  - ".join(problems)
                )
        out.json(_masked(encode(request)))
        out.note(f"{PROG}: dry run: POST /fine-tunes not sent")
        return 0
    with _client(args) as client:
        job = client.fine_tunes.create(
            **fields, train_on_inputs=train_on_inputs, check_limits=args.check_limits
        )
    if out.json_mode:
        out.json(_plain(job))
    else:
        out.line(_job_block(job))
    return 0


def _cmd_estimate_price(args: argparse.Namespace, out: _Out) -> int:
    from .models import DPO, SFT, FullTraining, LoRATraining

    training_type: Any = FullTraining() if args.full else (LoRATraining() if args.lora else None)
    method: Any = {"sft": SFT(), "dpo": DPO()}.get(args.training_method or "")
    with _client(args) as client:
        estimate = client.fine_tunes.estimate_price(
            training_file=args.training_file,
            model=args.model,
            validation_file=args.validation_file,
            n_epochs=args.n_epochs,
            n_evals=args.n_evals,
            training_type=training_type,
            training_method=method,
            from_checkpoint=args.from_checkpoint,
        )
    if out.json_mode:
        out.json(_plain(estimate))
        return 0
    if not estimate.estimation_available:
        out.line(f"no estimate available: {_text(estimate.unavailable_reason)}")
        return 0
    price = estimate.estimated_total_price
    out.line(
        _block(
            [
                ("ESTIMATED PRICE", "-" if price is None else f"${price:.2f}"),
                ("ALLOWED TO PROCEED", _text(estimate.allowed_to_proceed)),
                ("USER LIMIT", _text(estimate.user_limit)),
                ("TRAIN TOKENS", _text(estimate.estimated_train_token_count)),
                ("EVAL TOKENS", _text(estimate.estimated_eval_token_count)),
            ]
        )
    )
    return 0


def _cmd_limits(args: argparse.Namespace, out: _Out) -> int:
    with _client(args) as client:
        limits = client.fine_tunes.model_limits(args.model)
    data = _plain(limits)
    if out.json_mode:
        out.json(data)
    else:
        out.line(_block(_flatten(data)))
    return 0


def _cmd_models(args: argparse.Namespace, out: _Out) -> int:
    with _client(args) as client:
        names = client.fine_tunes.supported_models()
    if out.json_mode:
        out.json(names)
    else:
        out.line(_table(("MODEL",), ([name] for name in names)))
    return 0


def _show_file(f: FileObject, out: _Out) -> None:
    if out.json_mode:
        out.json(_plain(f))
    else:
        out.line(_file_block(f))


def _upload_progress(name: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on stderr, drawn at the first byte sent (not if the check refuses the file).

    Returns ``(callback, close)``; the callback may be called from several threads
    (multipart uploads) and with a smaller count after a retried part.
    """
    import threading

    lock = threading.Lock()
    bars: List[Any] = []

    def update(done: int, total: int) -> None:
        with lock:
            if not bars:
                from tqdm.auto import tqdm

                bars.append(
                    tqdm(
                        total=total,
                        unit="B",
                        unit_scale=True,
                        unit_divisor=1024,
                        desc=name[:40],
                        leave=True,
                    )
                )
            bars[0].update(done - bars[0].n)

    def close() -> None:
        with lock:
            for bar in bars:
                bar.close()

    return update, close


def _dataset_refusal(path: str, report: DatasetReport) -> str:
    count = len(report.problems)
    lines = [
        f"{path} failed the dataset check ({count} problem{'s' if count != 1 else ''}); "
        "nothing was sent"
    ]
    lines += [f"  {problem}" for problem in report.problems[:_UPLOAD_PROBLEMS_SHOWN]]
    if count > _UPLOAD_PROBLEMS_SHOWN:
        lines.append(
            f"  ... and {count - _UPLOAD_PROBLEMS_SHOWN} more "
            f"(`{PROG} files check {path}` lists them all)"
        )
    return "\n".join(lines)


def _cmd_files_upload(args: argparse.Namespace, out: _Out) -> int:
    from .dataset import DatasetError

    callback: Optional[Callable[[int, int], None]] = None
    close: Optional[Callable[[], None]] = None
    if not args.no_progress and not out.json_mode and sys.stderr.isatty():
        import importlib.util

        if importlib.util.find_spec("tqdm") is not None:
            callback, close = _upload_progress(os.path.basename(args.path))
    try:
        with _client(args) as client:
            uploaded = client.files.upload(
                args.path,
                purpose=args.purpose,
                file_type=args.file_type,
                check=not args.no_check,
                if_exists=args.if_exists,
                progress=callback,
            )
    except DatasetError as exc:  # a rejected argument: exit 2, nothing was sent
        raise UsageError(_dataset_refusal(args.path, exc.report)) from None
    finally:
        if close is not None:
            close()
    _show_file(uploaded, out)
    return 0


def _cmd_files_list(args: argparse.Namespace, out: _Out) -> int:
    with _client(args) as client:
        files = client.files.list()
    if out.json_mode:
        out.json(_plain(files))
    elif files:
        out.line(_table(_FILE_HEADERS, (_file_row(f) for f in files)))
    else:
        out.note("no files")
    return 0


def _cmd_files_retrieve(args: argparse.Namespace, out: _Out) -> int:
    from ._resource import check_file_id

    check_file_id(args.id)
    with _client(args) as client:
        f = client.files.retrieve(args.id)
    _show_file(f, out)
    return 0


def _cmd_files_delete(args: argparse.Namespace, out: _Out) -> int:
    from ._resource import check_file_id

    check_file_id(args.id)
    with _client(args) as client:
        result = client.files.delete(args.id)
    if out.json_mode:
        out.json(_plain(result))
    else:
        out.line(f"deleted {result.id}" if result.deleted else f"{result.id} was not deleted")
    return 0


def _cmd_files_content(args: argparse.Namespace, out: _Out) -> int:
    from ._resource import check_file_id

    check_file_id(args.id)
    with _client(args) as client:
        path = client.files.content(args.id, args.output, overwrite=args.overwrite)
    size = path.stat().st_size
    if out.json_mode:
        out.json({"id": args.id, "path": str(path), "bytes": size})
    else:
        out.line(f"wrote {path} ({size} bytes)")
    return 0


def _cmd_files_check(args: argparse.Namespace, out: _Out) -> int:
    from .dataset import check_dataset

    report = check_dataset(args.path, purpose=args.purpose)
    if out.json_mode:
        out.json(_report_data(report))
    elif report.ok:
        examples = "" if report.num_examples is None else f", {report.num_examples} examples"
        out.line(f"{report.path}: {report.format} format{examples}, ok")
    else:
        for problem in report.problems:
            out.line(str(problem))
    if not report.ok:
        count = len(report.problems)
        out.note(f"{PROG} files check: {report.path}: {count} problem{'s' if count != 1 else ''}")
        return 1
    return 0


def _cmd_serve_fake(args: argparse.Namespace, out: _Out) -> int:
    try:
        from .testing.__main__ import serve
    except ImportError as exc:
        raise UsageError(
            f"serve-fake needs the testing extra: pip install 'together-finetune[testing]' ({exc})"
        ) from None
    argv = ["--port", str(args.port), "--host", args.host]
    if args.step_seconds is not None:
        argv += ["--step-seconds", str(args.step_seconds)]
    return serve(argv)


# --------------------------------------------------------------------------- the parser


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Fine-tune models with Together AI from the command line.",
        epilog="Environment: TOGETHER_API_KEY, TOGETHER_BASE_URL. "
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
    # Accepted before and after the subcommand; SUPPRESS keeps a subparser from resetting them.
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument("--debug", action="store_true", help="tracebacks and request logs")
    common = _Parser(add_help=False)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="tracebacks and request logs",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(
        name: str, func: Callable[[argparse.Namespace, _Out], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    def job_command(
        name: str, func: Callable[[argparse.Namespace, _Out], int], help: str
    ) -> argparse.ArgumentParser:
        p = command(name, func, help)
        p.add_argument("id", metavar="JOB_ID", help="fine-tune job ID (ft-...)")
        return p

    # create
    p = command("create", _cmd_create, "start a fine-tuning job")
    p.add_argument("--training-file", required=True, help="training file ID (file-...)")
    p.add_argument("--model", help="base model name")
    p.add_argument("--validation-file", help="validation file ID (file-...)")
    p.add_argument("--n-epochs", type=int)
    p.add_argument("--n-checkpoints", type=int)
    p.add_argument("--n-evals", type=int)
    p.add_argument("--batch-size", type=_batch_size, metavar="N|max")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--warmup-ratio", type=float)
    p.add_argument("--max-grad-norm", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--random-seed", type=int)
    p.add_argument("--suffix")
    p.add_argument("--packing", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--max-seq-length", type=int)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument(
        "--lora",
        action="store_true",
        help="LoRA training (the API's default when neither is given)",
    )
    kind.add_argument("--full", action="store_true", help="full-parameter training")
    p.add_argument("--lora-r", type=int, help="adapter rank (default with --lora: 8)")
    p.add_argument("--lora-alpha", type=int, help="adapter scaling (default: 2 x rank)")
    p.add_argument("--lora-dropout", type=float)
    p.add_argument("--lora-trainable-modules", help='e.g. "all-linear"')
    p.add_argument("--training-method", choices=("sft", "dpo"))
    p.add_argument(
        "--train-on-inputs",
        type=_train_on_inputs,
        metavar="true|false|auto",
        help="SFT only",
    )
    p.add_argument("--dpo-beta", type=float)
    p.add_argument("--rpo-alpha", type=float)
    p.add_argument(
        "--dpo-normalize-logratios-by-length", action=argparse.BooleanOptionalAction, default=None
    )
    p.add_argument("--dpo-reference-free", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--simpo-gamma", type=float)
    p.add_argument("--lr-scheduler", choices=("linear", "cosine"))
    p.add_argument("--min-lr-ratio", type=float, help="default 0")
    p.add_argument("--num-cycles", type=float, help="cosine only (default 0.5)")
    p.add_argument("--train-vision", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--from-checkpoint", help="JOB_ID[:STEP] or OUTPUT_MODEL_NAME[:STEP]")
    p.add_argument("--from-hf-model")
    p.add_argument("--hf-model-revision")
    p.add_argument("--hf-api-token", help="never printed")
    p.add_argument("--hf-output-repo-name")
    p.add_argument("--wandb-api-key", help="sent as wandb_key; never printed")
    p.add_argument("--wandb-base-url")
    p.add_argument("--wandb-project-name")
    p.add_argument("--wandb-name")
    p.add_argument("--wandb-entity")
    p.add_argument(
        "--check-limits",
        action="store_true",
        help="fetch the model's limits and check the arguments before sending",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the JSON body that would be sent (secrets masked) and send nothing",
    )

    command("list", _cmd_list, "list fine-tuning jobs")
    job_command("retrieve", _cmd_retrieve, "show one job")
    job_command("cancel", _cmd_cancel, "cancel a job")
    job_command("delete", _cmd_delete, "delete a job and its outputs")

    p = job_command("events", _cmd_events, "show a job's events")
    p.add_argument("--follow", "-f", action="store_true", help="print new events until the end")
    p.add_argument("--poll-interval", type=_positive_float, default=5.0, metavar="SECONDS")

    job_command("checkpoints", _cmd_checkpoints, "list a job's checkpoints")

    p = job_command("metrics", _cmd_metrics, "show a job's training metrics")
    p.add_argument("--step-from", type=int, help="first global step (inclusive)")
    p.add_argument("--step-to", type=int, help="last global step (inclusive)")
    p.add_argument("--since", type=_timestamp, help="logged at or after (ISO-8601)")
    p.add_argument("--until", type=_timestamp, help="logged at or before (ISO-8601)")

    p = job_command("wait", _cmd_wait, "wait for a job to finish (exit 1 if it failed)")
    p.add_argument("--poll-interval", type=_positive_float, default=5.0, metavar="SECONDS")
    p.add_argument("--timeout", type=_positive_float, metavar="SECONDS", help="give up after")
    p.add_argument("--quiet", "-q", action="store_true", help="do not print events")

    p = job_command("download", _cmd_download, "download a job's model or a checkpoint")
    p.add_argument("--output", "-o", help="file path or existing directory (default: .)")
    p.add_argument("--checkpoint", choices=("merged", "adapter", "model_output_path"))
    p.add_argument("--step", type=int, help="an intermediate checkpoint's step")
    p.add_argument("--extract", action="store_true", help="unpack the archive beside it")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = command("estimate-price", _cmd_estimate_price, "estimate what a job would cost")
    p.add_argument("--training-file", required=True)
    p.add_argument("--model")
    p.add_argument("--validation-file")
    p.add_argument("--n-epochs", type=int)
    p.add_argument("--n-evals", type=int)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--lora", action="store_true")
    kind.add_argument("--full", action="store_true")
    p.add_argument("--training-method", choices=("sft", "dpo"))
    p.add_argument("--from-checkpoint")

    p = command("limits", _cmd_limits, "show what a base model allows")
    p.add_argument("model", metavar="MODEL")
    command("models", _cmd_models, "list the models that can be fine-tuned")

    p = command("serve-fake", _cmd_serve_fake, "run the built-in fake API server")
    p.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--step-seconds", type=_positive_float, help="seconds per job status step")

    files = sub.add_parser(
        "files",
        parents=[common],
        help="upload, check and manage data files",
        description="Upload, check and manage data files.",
    )
    files_sub = files.add_subparsers(dest="files_command", metavar="SUBCOMMAND")
    files_sub.required = True

    def files_command(
        name: str, func: Callable[[argparse.Namespace, _Out], int], help: str
    ) -> argparse.ArgumentParser:
        p = files_sub.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    def file_id_command(
        name: str, func: Callable[[argparse.Namespace, _Out], int], help: str
    ) -> argparse.ArgumentParser:
        p = files_command(name, func, help)
        p.add_argument("id", metavar="FILE_ID", help="file ID (file-...)")
        return p

    purpose_help = "what the file is for (default: fine-tune)"
    p = files_command("upload", _cmd_files_upload, "check a data file locally, then upload it")
    p.add_argument("path", metavar="PATH", help="a .jsonl, .parquet or .csv file")
    p.add_argument("--purpose", default="fine-tune", help=purpose_help)
    p.add_argument(
        "--file-type", choices=("jsonl", "parquet", "csv"), help="default: from the extension"
    )
    p.add_argument("--no-check", action="store_true", help="skip the local dataset check")
    p.add_argument(
        "--if-exists",
        choices=("return", "error"),
        default="return",
        help="when an identical file is already stored: print it (default) or fail",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    files_command("list", _cmd_files_list, "list the stored files")
    file_id_command("retrieve", _cmd_files_retrieve, "show one file")
    file_id_command("delete", _cmd_files_delete, "delete a file")
    p = file_id_command("content", _cmd_files_content, "download a file's content")
    p.add_argument("output", metavar="OUTPUT", help="the path to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p = files_command(
        "check",
        _cmd_files_check,
        "check a data file locally and send nothing (exit 1 if it has problems)",
    )
    p.add_argument("path", metavar="PATH", help="a .jsonl, .parquet or .csv file")
    p.add_argument("--purpose", default="fine-tune", help=purpose_help)
    return parser


# --------------------------------------------------------------------------- entry point


def _scrub(text: str, secrets: Sequence[Optional[str]]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, _MASK)
    return text


def _error_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, APIStatusError) and not exc.request_id:
        text += " (no request id)"
    return text


def _debug_logging(secrets: Sequence[Optional[str]]) -> Callable[[], None]:
    """Send the library's debug log to the current stderr; returns the undo function."""
    import logging

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(_scrub(self.format(record), secrets) + "\n")
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
    parser = _build_parser()
    _Parser.secrets = _secrets_in(words)
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help, --version, or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    secrets = [args.api_key, os.environ.get("TOGETHER_API_KEY")]
    for name in ("hf_api_token", "wandb_api_key"):
        secrets.append(getattr(args, name, None))
    out = _Out(args.json)
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

            sys.stderr.write(_scrub(traceback.format_exc(), secrets))
        if isinstance(exc, (UsageError, ValueError)):
            name = " ".join(filter(None, (args.command, getattr(args, "files_command", None))))
            sys.stderr.write(f"{PROG} {name}: error: {_scrub(str(exc), secrets)}\n")
            return 2
        sys.stderr.write(f"{PROG}: error: {_scrub(_error_line(exc), secrets)}\n")
        return 1
    finally:
        if restore_logging is not None:
            restore_logging()
