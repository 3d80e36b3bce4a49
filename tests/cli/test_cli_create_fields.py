"""The create fields are named in three places that must agree: the request model
(``FineTuneRequest`` and its structured values), ``FineTunes.create()``'s parameters
and the command line's ``create`` flags. A field added in one place and forgotten in
another fails here, and so does a dry run that shows something other than what
``create`` sends."""

from __future__ import annotations

import argparse
import inspect
import json
import typing
from typing import Any, Dict, List, Set

import attrs
import pytest
from support.cli import cli_env, run

from together_finetune.cli import arguments
from together_finetune.cli.app import build_parser
from together_finetune.cli.create import create_arguments
from together_finetune.fine_tunes import FineTunes
from together_finetune.models import DPO, SFT, FineTuneRequest
from together_finetune.testing import FakeTogether
from together_finetune.validation import DPO_OPTIONS

#: create() parameters that steer the call rather than fill the request.
CALL_OPTIONS = {"self", "check_limits", "timeout", "extra_headers", "extra_query"}
#: create() parameters folded into ``training_method``.
SHORTHANDS = {"train_on_inputs", *DPO_OPTIONS}
#: create flags that choose a structured value's kind or steer the command.
CHOOSERS = {"help", "json", "debug", "dry_run", "check_limits", "lora", "full", "yes"}
#: A value for each argument type the create flags use.
SAMPLE = {
    int: "3",
    float: "0.5",
    arguments.batch_size: "8",
    arguments.train_on_inputs: "auto",
    arguments.json_object: '{"new_field": 1}',
}


def create_parameters() -> List[str]:
    return [
        name for name in inspect.signature(FineTunes.create).parameters if name not in CALL_OPTIONS
    ]


def request_fields() -> List[str]:
    return [field.name for field in attrs.fields(FineTuneRequest)]


def settable(cls: type) -> List[str]:
    """The fields of a structured value a caller sets (``extra`` is what the server sent)."""
    return [field.name for field in attrs.fields(cls) if field.name != "extra"]


def structured(field: str) -> List[type]:
    """The request classes the CLI can build for a field (none for a plain value)."""
    hint = typing.get_type_hints(FineTuneRequest)[field]
    return [
        cls
        for cls in typing.get_args(hint) or (hint,)
        if attrs.has(cls) and not cls.__name__.startswith("Unknown")
    ]


def create_options() -> List[argparse.Action]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(commands.choices["create"]._actions)


def create_flags() -> Set[str]:
    return {action.dest for action in create_options()}


def test_create_takes_every_request_field_and_the_shorthands() -> None:
    parameters = create_parameters()
    assert set(parameters) == set(request_fields()) | SHORTHANDS
    # Same order as the model, so the signature and the body read alike.
    assert [name for name in parameters if name in request_fields()] == request_fields()


def test_the_shorthands_are_the_fields_of_the_training_methods() -> None:
    assert set(DPO_OPTIONS) == set(settable(DPO))
    assert settable(SFT) == ["train_on_inputs"]


def test_every_request_field_has_its_create_flags() -> None:
    flags = create_flags()
    missing = []
    for field in request_fields():
        classes = structured(field)
        needed = [name for cls in classes for name in settable(cls)] if classes else [field]
        missing += [f"{field}: --{name.replace('_', '-')}" for name in needed if name not in flags]
    assert missing == []


def test_every_create_flag_feeds_the_request() -> None:
    known = set(create_parameters())
    for field in request_fields():
        known |= {name for cls in structured(field) for name in settable(cls)}
    assert create_flags() - CHOOSERS - known == set()


def test_every_flag_given_reaches_create() -> None:
    """Each flag given once lands in create()'s arguments, none dropped on the way."""
    argv: List[str] = []
    for action in create_options():
        if action.dest in CHOOSERS:
            continue
        option = action.option_strings[0]
        if action.nargs == 0:  # a switch, such as --packing
            argv.append(option)
        elif action.choices is not None:  # the kind that takes every option: dpo, cosine
            argv += [option, list(action.choices)[-1]]
        else:
            argv += [option, SAMPLE.get(action.type, "file-1")]
    given = create_arguments(build_parser().parse_args(["create", *argv]))
    assert set(request_fields()) | {"train_on_inputs"} <= set(given)
    empty = [
        f"{name}.{field}"
        for name, value in given.items()
        if attrs.has(type(value))
        for field, inner in attrs.asdict(value, recurse=False).items()
        if inner is None
    ]
    assert empty == []


FLAGS = [
    "--training-file",
    "file-1",
    "--validation-file",
    "file-2",
    "--model",
    "meta-llama/Llama-3.2-3B-Instruct",
    "--n-evals",
    "2",
    "--batch-size",
    "max",
    "--lora-r",
    "16",
    "--training-method",
    "dpo",
    "--dpo-beta",
    "0.2",
    "--no-dpo-reference-free",
    "--lr-scheduler",
    "cosine",
    "--num-cycles",
    "1.5",
    "--no-train-vision",
    "--suffix",
    "tied",
]


def test_dry_run_prints_the_body_create_sends(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    code, out, err = run(capsys, "create", *FLAGS, "--dry-run")
    assert code == 0, err
    shown: Dict[str, Any] = json.loads(out)
    assert server.requests == []
    code, _, err = run(capsys, "create", *FLAGS)
    assert code == 0, err
    (sent,) = server.requests_to("POST", "/fine-tunes")
    assert sent.json() == shown


@pytest.mark.usefixtures("spec_nonconforming")  # an undeclared field, on purpose
def test_extra_body_is_merged_last_and_the_dry_run_shows_it(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    extra = ["--extra-body", '{"suffix": "replaced", "new_api_field": {"on": true}}']
    code, out, err = run(capsys, "create", *FLAGS, *extra, "--dry-run")
    assert code == 0, err
    shown: Dict[str, Any] = json.loads(out)
    assert shown["suffix"] == "replaced"
    assert shown["new_api_field"] == {"on": True}
    assert "extra_body" not in shown
    assert server.requests == []
    code, _, err = run(capsys, "create", *FLAGS, *extra)
    assert code == 0, err
    (sent,) = server.requests_to("POST", "/fine-tunes")
    assert sent.json() == shown


@pytest.mark.parametrize(
    ("value", "message"),
    [("{not json", "must be a JSON object"), ("[1, 2]", "got a list"), ('"x"', "got a str")],
)
def test_extra_body_must_be_a_json_object(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    message: str,
) -> None:
    cli_env(server, monkeypatch)
    code, _, err = run(capsys, "create", *FLAGS, "--extra-body", value)
    assert code == 2
    assert "--extra-body" in err
    assert message in err
    assert server.requests == []
