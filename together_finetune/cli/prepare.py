"""Before ``create`` sends anything: local data files uploaded, the price shown and agreed.

``--training-file`` and ``--validation-file`` take a file ID or a local path. A path is
checked (as ``files upload`` checks it), uploaded (an identical file the API already
holds is reused) and replaced by its ID. On a terminal the price estimate is shown
and a person confirms; ``--yes`` or no terminal means no question.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from .._format import dollars, number
from .base import PROG, UsageError
from .output import Out, block, text
from .terminal import confirm, interactive

if TYPE_CHECKING:  # pragma: no cover
    from ..client import Client
    from ..models import PriceEstimate

#: The create arguments that may name a local file, with their flags.
DATA_FLAGS = (("training_file", "--training-file"), ("validation_file", "--validation-file"))
#: Stands in for a file ID not known yet, so the other arguments can be checked first.
_PENDING_ID = "file-pending-upload"


class Declined(Exception):
    """The person at the terminal said no, or the estimate says the job may not start."""


def local_paths(fields: Dict[str, Any]) -> Dict[str, str]:
    """The data arguments that name local files, by argument name (checked to exist).

    A value is a path when it exists on disk, or does not start with ``file-`` and
    looks like one (a directory part or a suffix).
    """
    found: Dict[str, str] = {}
    for name, flag in DATA_FLAGS:
        value = fields.get(name)
        if not isinstance(value, str):
            continue
        pathish = not value.startswith("file-") and (
            os.sep in value or "/" in value or os.path.splitext(value)[1] != ""
        )
        if os.path.isfile(value):
            found[name] = value
        elif os.path.exists(value):
            raise UsageError(f"{flag} {value}: not a file")
        elif pathish:
            raise UsageError(f"{flag} {value}: no such file (give a path or a file ID)")
    return found


def with_pending_ids(fields: Dict[str, Any], paths: Dict[str, str]) -> Dict[str, Any]:
    """``fields`` with each local path replaced by a placeholder ID (for checking only)."""
    return {key: (_PENDING_ID if key in paths else value) for key, value in fields.items()}


def shown_body(body: Dict[str, Any], paths: Dict[str, str]) -> Dict[str, Any]:
    """A dry run's body: what stands for a file to upload says so."""
    return {
        key: (f"<file ID of {paths[key]}, once uploaded>" if key in paths else value)
        for key, value in body.items()
    }


def check_local(paths: Dict[str, str], out: Out) -> None:
    """Run the dataset check on each path: refuse (exit 2, nothing sent) or note warnings."""
    from ..dataset import check_dataset
    from .files import dataset_refusal, warning_lines

    for path in paths.values():
        report = check_dataset(path)
        if not report.ok:
            raise UsageError(dataset_refusal(path, report))
        for line in warning_lines(report, 20):
            out.note(line)


def describe_uploads(paths: Dict[str, str]) -> List[str]:
    """One line per file a dry run would upload."""
    return [
        f"{PROG}: dry run: would upload {path} ({number(os.path.getsize(path))} bytes) "
        f"and use its ID as {name}"
        for name, path in paths.items()
    ]


def upload_local(api: Client, fields: Dict[str, Any], paths: Dict[str, str], out: Out) -> None:
    """Upload each local file (reusing a stored identical one); put its ID in ``fields``."""
    for name, path in paths.items():
        stored = api.files.upload(path, check=False, if_exists="return")
        fields[name] = stored.id
        out.note(f"{path}: using {stored.id}")


def estimate_pairs(estimate: PriceEstimate) -> List[Tuple[str, str]]:
    """A price estimate as key/value pairs: dollars, token counts grouped."""
    price = estimate.estimated_total_price
    limit = estimate.user_limit
    return [
        ("ESTIMATED PRICE", dollars(price)),
        ("USER LIMIT", dollars(limit)),
        ("TRAIN TOKENS", number(_whole(estimate.estimated_train_token_count))),
        ("EVAL TOKENS", number(_whole(estimate.estimated_eval_token_count))),
    ]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def confirm_price(api: Client, fields: Dict[str, Any], args: argparse.Namespace) -> None:
    """On a terminal (without ``--yes``): show the estimate and ask; :class:`Declined` if not.

    An estimate that says the job may not proceed stops it even before the question.
    """
    if args.yes or not interactive():
        return
    import sys

    from ..errors import TogetherError

    keys = (
        "model",
        "validation_file",
        "n_epochs",
        "n_evals",
        "training_type",
        "training_method",
        "from_checkpoint",
    )
    try:
        estimate = api.fine_tunes.estimate_price(
            training_file=fields["training_file"], **{k: fields.get(k) for k in keys}
        )
    except TogetherError as exc:  # the estimate is advice: its failure does not stop the job
        sys.stderr.write(f"no price estimate: {exc}\n")
    else:
        if not estimate.estimation_available:
            sys.stderr.write(f"no price estimate: {text(estimate.unavailable_reason)}\n")
        else:
            sys.stderr.write(block(estimate_pairs(estimate)) + "\n")
            if estimate.allowed_to_proceed is False:
                shown = dict(estimate_pairs(estimate))
                raise Declined(
                    "the price estimate says this job may not proceed (estimated "
                    f"{shown['ESTIMATED PRICE']}, your limit {shown['USER LIMIT']}); "
                    "nothing was created"
                )
    if not confirm("start this fine-tuning job?", assume_yes=False):
        raise Declined("not started: nothing was created")
