"""Starting a job: ``create`` (and its ``--dry-run``) and ``estimate-price``.

Each create flag's dest is the name of a :class:`~together_finetune.models.FineTuneRequest`
field, a field of one of its structured values (``--lora-r``: ``LoRATraining.lora_r``,
``--dpo-beta``: ``DPO.dpo_beta``, ...) or a ``create()`` argument; the handler reads
the fields by those names, and tests/cli/test_cli_create_fields.py checks that every
field has its flag. The flags are spelt out here rather than derived from the
models because ``--help`` must not import attrs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Dict

from . import arguments
from .base import PROG, UsageError, add_command, client
from .output import Out, block, masked, plain, show_job, text

if TYPE_CHECKING:  # pragma: no cover
    from .base import Subparsers


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _given(args: argparse.Namespace, cls: type) -> Dict[str, Any]:
    """The flags given for the fields of the attrs class ``cls``, by field name."""
    import attrs

    # ``extra`` holds what the server sent beyond the known fields: it has no flag.
    values = {
        field.name: getattr(args, field.name)
        for field in attrs.fields(cls)
        if field.name != "extra"
    }
    return {name: value for name, value in values.items() if value is not None}


def _training_type(args: argparse.Namespace) -> Any:
    from ..models import FullTraining, LoRATraining

    lora = _given(args, LoRATraining)
    if args.full:
        if lora:
            raise UsageError(
                f"{', '.join(map(_flag, lora))}: only with LoRA training, not with --full"
            )
        return FullTraining()
    if args.lora or lora:
        return LoRATraining(**lora)
    return None


def _training_method(args: argparse.Namespace) -> Any:
    from ..models import DPO, SFT

    dpo = _given(args, DPO)
    if dpo and args.training_method != "dpo":
        raise UsageError(f"{', '.join(map(_flag, dpo))}: only with --training-method dpo")
    if args.training_method == "dpo":
        return DPO(**dpo)
    if args.training_method == "sft":
        return SFT() if args.train_on_inputs is None else SFT(args.train_on_inputs)
    return None


def _lr_scheduler(args: argparse.Namespace) -> Any:
    from ..models import CosineLRScheduler, LinearLRScheduler

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


def create_arguments(args: argparse.Namespace) -> Dict[str, Any]:
    """The ``create()`` arguments the flags give (``check_limits`` aside), and nothing else."""
    import attrs

    from ..models import FineTuneRequest, MultimodalParams

    # A field without a flag of its name is structured: built from its own flags below.
    fields = {f.name: getattr(args, f.name, None) for f in attrs.fields(FineTuneRequest)}
    fields["lr_scheduler"] = _lr_scheduler(args)
    fields["training_type"] = _training_type(args)
    fields["training_method"] = _training_method(args)
    if args.train_vision is not None:
        fields["multimodal_params"] = MultimodalParams(train_vision=args.train_vision)
    # --train-on-inputs alone is the library's shorthand for SFT(train_on_inputs=...);
    # with dpo it is passed on so that the library rejects it, naming the argument.
    if args.training_method in (None, "dpo"):
        fields["train_on_inputs"] = args.train_on_inputs
    return {key: value for key, value in fields.items() if value is not None}


def create(args: argparse.Namespace, out: Out) -> int:
    """``create``: start a job, or with ``--dry-run`` print the body it would send.

    A local ``--training-file``/``--validation-file`` is checked and uploaded first
    (:mod:`.prepare`); on a terminal the price is shown and confirmed.
    """
    from . import prepare

    fields = create_arguments(args)
    paths = prepare.local_paths(fields)
    if args.dry_run:
        from ..converter import encode
        from ..validation import build_create_request, needs_model_limits

        pending = prepare.with_pending_ids(fields, paths)
        request = build_create_request(**pending)
        prepare.check_local(paths, out)
        # The model's limits are read only when the body depends on them (or asked for).
        if args.check_limits or needs_model_limits(request):
            with client(args) as api:
                request = api.fine_tunes.build_request(**pending, check_limits=args.check_limits)
        out.json(prepare.shown_body(masked(encode(request)), paths))
        for line in prepare.describe_uploads(paths):
            out.note(line)
        out.note(f"{PROG}: dry run: POST /fine-tunes not sent")
        return 0
    if paths:
        from ..validation import build_create_request

        build_create_request(**prepare.with_pending_ids(fields, paths))  # bad flags: exit 2 first
        prepare.check_local(paths, out)
    with client(args) as api:
        prepare.upload_local(api, fields, paths, out)
        try:
            prepare.confirm_price(api, fields, args)
        except prepare.Declined as exc:
            out.note(f"{PROG} create: {exc}")
            return 1
        job = api.fine_tunes.create(**fields, check_limits=args.check_limits)
    show_job(job, out)
    return 0


def estimate_price(args: argparse.Namespace, out: Out) -> int:
    """``estimate-price``: what a job with these arguments would cost."""
    from ..models import DPO, SFT, FullTraining, LoRATraining

    training_type: Any = FullTraining() if args.full else (LoRATraining() if args.lora else None)
    method: Any = {"sft": SFT(), "dpo": DPO()}.get(args.training_method or "")
    with client(args) as api:
        estimate = api.fine_tunes.estimate_price(
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
        out.json(plain(estimate))
        return 0
    if not estimate.estimation_available:
        out.line(f"no estimate available: {text(estimate.unavailable_reason)}")
        return 0
    from . import prepare

    pairs = prepare.estimate_pairs(estimate)
    pairs.insert(1, ("ALLOWED TO PROCEED", text(estimate.allowed_to_proceed)))
    out.line(block(pairs))
    return 0


def _add_create(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "create", "start a fine-tuning job", create)
    # The second spelling of a flag is the official `together fine-tuning create`'s.
    p.add_argument(
        "--training-file",
        "-t",
        required=True,
        metavar="FILE_ID|PATH",
        help="a file ID (file-...), or a local file: checked, then uploaded",
    )
    p.add_argument("--model", "-M", help="base model name")
    p.add_argument(
        "--validation-file",
        "-v",
        metavar="FILE_ID|PATH",
        help="a file ID or a local file, as above",
    )
    p.add_argument("--n-epochs", "--ne", type=int)
    p.add_argument("--n-checkpoints", "-c", type=int)
    p.add_argument("--n-evals", type=int)
    p.add_argument("--batch-size", "-b", type=arguments.batch_size, metavar="N|max")
    p.add_argument("--learning-rate", "--lr", type=float)
    p.add_argument("--warmup-ratio", type=float)
    p.add_argument("--max-grad-norm", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--random-seed", type=int)
    p.add_argument("--suffix")
    p.add_argument("--packing", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--max-seq-length", type=int)
    p.add_argument("--gradient-accumulation-steps", type=int, help="0: the model's default")
    p.add_argument(
        "--early-stopping-enabled",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stop when the validation loss stops improving "
        "(needs --validation-file and --n-evals >= patience + warmup evals + 1)",
    )
    p.add_argument("--early-stopping-patience", type=int, help="default 2")
    p.add_argument("--early-stopping-min-delta", type=float, help="default 0")
    p.add_argument("--early-stopping-warmup-evals", type=int, help="default 1")
    # training_type
    kind = p.add_mutually_exclusive_group()
    kind.add_argument(
        "--lora",
        action="store_true",
        help="LoRA training (the API's default when neither is given)",
    )
    kind.add_argument("--full", action="store_true", help="full-parameter training")
    p.add_argument("--lora-r", type=int, help="adapter rank (default: the model's default rank)")
    p.add_argument("--lora-alpha", type=int, help="adapter scaling (default: 2 x rank)")
    p.add_argument("--lora-dropout", type=float)
    p.add_argument("--lora-trainable-modules", help='e.g. "all-linear"')
    # training_method
    p.add_argument("--training-method", "-m", choices=("sft", "dpo"))
    p.add_argument(
        "--train-on-inputs",
        type=arguments.train_on_inputs,
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
    # lr_scheduler
    p.add_argument("--lr-scheduler", "--lr-scheduler-type", choices=("linear", "cosine"))
    p.add_argument("--min-lr-ratio", type=float, help="default 0")
    p.add_argument(
        "--num-cycles", "--scheduler-num-cycles", type=float, help="cosine only (default 0.5)"
    )
    # multimodal_params
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
        "--extra-body",
        type=arguments.json_object,
        metavar="JSON",
        help="a JSON object merged last into the body: fields this version does not know "
        "yet (a key replaces the flag's field of the same name)",
    )
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
    p.add_argument(
        "--yes",
        "-y",
        "--confirm",
        action="store_true",
        help="no price estimate or question on a terminal (never asked otherwise)",
    )


def _add_estimate_price(subparsers: Subparsers) -> None:
    p = add_command(subparsers, "estimate-price", "estimate what a job would cost", estimate_price)
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


def register(subparsers: Subparsers) -> None:
    """Add ``create`` and ``estimate-price`` and their flags."""
    _add_create(subparsers)
    _add_estimate_price(subparsers)
