"""Every public method refuses an argument of the wrong type before anything is sent.

For each method of ``client.fine_tunes`` and ``client.files`` and each of its
parameters, the parameter gets an object no parameter accepts while the others keep
working values. The call must raise ``ValueError`` or ``TypeError``, send nothing (to
the API or to storage) and write nothing.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from support.data import write_jsonl

from together_finetune import Client, FineTuneRequest, RetryPolicy
from together_finetune.files import Files
from together_finetune.fine_tunes import FineTunes
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


class Unusable:
    """An object no parameter accepts: not a string, number, flag, path or callable."""

    def __repr__(self) -> str:
        return "<unusable>"


NAMESPACES = {"fine_tunes": FineTunes, "files": Files}


def public_methods(cls: type) -> list[str]:
    return [name for name, _ in inspect.getmembers(cls, inspect.isfunction) if name[0] != "_"]


def working_values(server: FakeTogether, tmp_path: Path) -> dict[str, Any]:
    """A value that works for each required parameter, by name."""
    job = server.add_job(status="completed")
    stored = server.files.add_file(b'{"text": "a"}\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()
    data = write_jsonl(tmp_path / "data" / "train.jsonl", 3)
    return {
        "job id": job["id"],
        "file id": stored["id"],
        "training_file": stored["id"],
        "model": MODEL,
        "path": data,
        "output": tmp_path / "out" / "file.bin",
        "request": FineTuneRequest(training_file=stored["id"], model=MODEL),
    }


def cases() -> list[tuple[str, str]]:
    """(method, parameter) pairs, read from the real signatures."""
    return [
        (f"{namespace}.{name}", parameter.name)
        for namespace, cls in NAMESPACES.items()
        for name in public_methods(cls)
        for parameter in list(inspect.signature(getattr(cls, name)).parameters.values())[1:]
        if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    ]


CASES = cases()


def test_every_method_and_parameter_is_covered() -> None:
    names = {name for name, _ in CASES}
    assert {"fine_tunes.create", "fine_tunes.download", "files.upload", "files.content"} <= names
    assert len(CASES) > 100


@pytest.mark.parametrize(("method_name", "bad"), CASES, ids=[f"{m}-{p}" for m, p in CASES])
def test_an_unusable_argument_is_refused_before_anything_is_sent(
    server: FakeTogether, client: Client, tmp_path: Path, method_name: str, bad: str
) -> None:
    values = working_values(server, tmp_path)
    namespace, name = method_name.split(".")
    method = getattr(getattr(client, namespace), name)
    kwargs: dict[str, Any] = {}
    signature = inspect.signature(method)
    for parameter in signature.parameters.values():
        if parameter.name == bad:
            kwargs[bad] = Unusable()
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            parameter.VAR_KEYWORD,
            parameter.VAR_POSITIONAL,
        ):
            key = parameter.name
            if key == "id":
                key = "file id" if method_name.startswith("files.") else "job id"
            kwargs[parameter.name] = values[key]
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        kwargs.setdefault("training_file", values["training_file"])  # build_request(**arguments)
        kwargs.setdefault("model", MODEL)
    before = list(tmp_path.rglob("*"))

    def call() -> None:
        result = method(**kwargs)
        if inspect.isgenerator(result):  # follow_events checks its arguments at once
            next(result)

    with pytest.raises((ValueError, TypeError)):
        call()
    assert server.requests == []
    assert server.storage.requests == []
    assert list(tmp_path.rglob("*")) == before


def test_a_string_is_not_a_flag(server: FakeTogether, client: Client, tmp_path: Path) -> None:
    stored = server.files.add_file(b'{"text": "new"}\n')
    kept = tmp_path / "kept.jsonl"
    kept.write_text("mine\n")
    with pytest.raises(ValueError, match=r"^overwrite must be True or False, got 'false'$"):
        client.files.content(stored["id"], kept, overwrite="false")  # type: ignore[arg-type]
    assert kept.read_text() == "mine\n"
    with pytest.raises(ValueError, match=r"^on_event must be a callable or None, got 'print'$"):
        client.fine_tunes.wait(server.add_job()["id"], on_event="print")  # type: ignore[arg-type]
    assert server.requests == []


CLIENT_OPTIONS = [name for name in inspect.signature(Client).parameters if name not in ("self",)]


@pytest.mark.parametrize("option", CLIENT_OPTIONS)
def test_a_client_option_of_the_wrong_type_is_refused_at_once(option: str) -> None:
    options: dict[str, Any] = {"api_key": "key-for-tests", "base_url": "http://127.0.0.1:9/v1"}
    options[option] = Unusable()
    with pytest.raises(ValueError, match=f"^{option} must be "):
        Client(**options)


def test_a_client_option_error_never_shows_a_secret() -> None:
    with pytest.raises(ValueError, match=r"^api_key must be a string, got bytes$") as caught:
        Client(api_key=b"sk-very-secret")  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)
    with pytest.raises(ValueError, match="got") as caught:
        Client(api_key="k", default_headers={"X-Token": b"tok-very-secret"})  # type: ignore[dict-item]
    assert "X-Token" in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_retries", "3"),
        ("max_retries", -1),
        ("max_retries", True),
        ("download_resume_attempts", 2.5),
        ("initial_delay", "0.5"),
        ("max_delay", float("nan")),
        ("jitter", 1.5),
        ("max_retry_after", -1),
    ],
)
def test_a_retry_policy_of_the_wrong_type_or_range_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be "):
        RetryPolicy(**{field: value})
