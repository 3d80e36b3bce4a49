"""What the fake's server-side file validation reads from an uploaded dataset.

It follows the rules of the live API as the official SDK 3.1.1's validation report
describes them: a JSONL file fails only for
what certainly fails on the server (not UTF-8, a line that is not a JSON object, a line
with none of the format keys, a known key of the wrong type, no sample, mixed formats);
everything else is accepted and reported as a ``dataset_has_*`` flag of the
``validation_report``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from together_finetune.testing._fake.errors import JSON

__all__ = ["Dataset", "read_dataset", "validation_report"]

#: the format keys of each dataset format, in the order formats are detected
_FORMATS = (
    ("preference", ("input", "preferred_output", "non_preferred_output")),
    ("conversation", ("messages",)),
    ("instruction", ("prompt", "completion")),
    ("general", ("text",)),
)
_KEY_TYPES: dict[str, tuple[type, ...]] = {
    "messages": (list,),
    "tools": (list,),
    "prompt": (str,),
    "completion": (str,),
    "text": (str,),
    "input": (dict,),
    "preferred_output": (list,),
    "non_preferred_output": (list,),
}


@dataclass
class Dataset:
    """A dataset file as the server reads it: its samples, format, flags, or its error."""

    #: the parsed samples (one JSON object per non-blank line)
    samples: list[JSON] = field(default_factory=list)
    #: ``general``, ``instruction``, ``conversation`` or ``preference`` (``None``: unknown)
    format: str | None = None
    #: the ``dataset_has_*`` / ``dataset_is_multimodal`` flags of the validation report
    flags: dict[str, bool] = field(default_factory=dict)
    #: why the server refuses the file (``None``: it does not)
    error: str | None = None


def _format_of(sample: JSON) -> str | None:
    for name, keys in _FORMATS:
        if keys[0] in sample:
            return name
    return None


def _messages_of(sample: JSON) -> list[Any]:
    found: list[Any] = []
    for key in ("messages", "preferred_output", "non_preferred_output"):
        value = sample.get(key)
        if isinstance(value, list):
            found += value
    nested = sample.get("input")
    if isinstance(nested, dict) and isinstance(nested.get("messages"), list):
        found += nested["messages"]
    return [m for m in found if isinstance(m, dict)]


def _flag(flags: dict[str, bool], sample: JSON) -> None:
    messages = _messages_of(sample)
    calls = [m.get("tool_calls") for m in messages if isinstance(m.get("tool_calls"), list)]
    flags["dataset_has_tools"] |= "tools" in sample or bool(calls)
    flags["dataset_has_tools"] |= any(m.get("role") == "tool" for m in messages)
    flags["dataset_has_parallel_tool_calls"] |= any(len(c) > 1 for c in calls)
    flags["dataset_has_reasoning"] |= any(
        m.get("role") == "assistant" and "reasoning" in m for m in messages
    )
    flags["dataset_has_message_weights"] |= any("weight" in m for m in messages)
    flags["dataset_has_sample_weights"] |= "weight" in sample
    flags["dataset_is_multimodal"] |= any(
        isinstance(m.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "image_url" for p in m["content"])
        for m in messages
    )


def read_dataset(content: bytes) -> Dataset:
    """Read a JSONL dataset the way the server's validation does."""
    dataset = Dataset(
        flags=dict.fromkeys(
            (
                "dataset_has_message_weights",
                "dataset_has_parallel_tool_calls",
                "dataset_has_reasoning",
                "dataset_has_sample_weights",
                "dataset_has_tools",
                "dataset_is_multimodal",
            ),
            False,
        )
    )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        dataset.error = f"The file is not UTF-8 (byte {error.start})"
        return dataset
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            sample = json.loads(line)
        except ValueError:
            sample = None
        if not isinstance(sample, dict):
            dataset.error = f"Line {number} is not a JSON object"
            return dataset
        kind = _format_of(sample)
        if kind is None:
            dataset.error = f"Line {number} has none of the keys of a dataset format"
            return dataset
        if dataset.format not in (None, kind):
            dataset.error = f"Line {number} is {kind} but the file is {dataset.format}"
            return dataset
        for key, types in _KEY_TYPES.items():
            if key in sample and not isinstance(sample[key], types):
                dataset.error = f"Line {number}: '{key}' has the wrong type"
                return dataset
        dataset.format = kind
        dataset.samples.append(sample)
        _flag(dataset.flags, sample)
    if not dataset.samples:
        dataset.error = "The file has no samples"
    return dataset


def validation_report(file_id: str, content: bytes, file_type: str) -> JSON:
    """The ``validation_report`` of a fine-tuning file (``valid`` tells the status)."""
    nlines = sum(1 for line in content.splitlines() if line.strip())
    if file_type == "parquet":
        ok = content.startswith(b"PAR1") and content.endswith(b"PAR1") and len(content) >= 8
        report: JSON = {"valid": ok, "file_id": file_id, "nlines": 0}
        if not ok:
            report.update(error="The file is not a Parquet file", error_type="INVALID_FORMAT")
        return report
    if file_type == "csv":
        return {
            "valid": False,
            "file_id": file_id,
            "nlines": nlines,
            "error": "CSV files cannot be used for fine-tuning",
            "error_type": "INVALID_FORMAT",
        }
    dataset = read_dataset(content)
    report = {"valid": dataset.error is None, "file_id": file_id, "nlines": nlines}
    if dataset.format is not None:
        report["dataset_format"] = dataset.format.upper()
    if dataset.error is not None:
        report.update(error=dataset.error, error_type="INVALID_FORMAT")
    else:
        report.update(dataset.flags)
    return report
