"""Passing through what this version does not know: ``extra_headers``, ``extra_query``
and ``extra_body`` on every method that sends a request, merged last into each request
to the API (never into one to storage), checked before anything is sent.

The extras are undeclared in the spec on purpose, so these tests opt out of the
spec check."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
from support.data import write_jsonl

from together_finetune import Client, LoRATraining
from together_finetune.converter import encode
from together_finetune.errors import APIStatusError, NotFoundError
from together_finetune.files import Files
from together_finetune.fine_tunes import FineTunes
from together_finetune.testing import FakeTogether, RecordedRequest

pytestmark = pytest.mark.usefixtures("spec_nonconforming")

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
HEADERS = {"X-Preview-Feature": "on"}
QUERY = {"probe": "yes"}
EXTRAS: Dict[str, Any] = {"extra_headers": HEADERS, "extra_query": QUERY}

#: The public methods whose request has a JSON body: they take ``extra_body`` too.
JSON_BODY = {
    "FineTunes.create",
    "FineTunes.create_from_request",
    "FineTunes.estimate_price",
    "FineTunes.preview",
}


def public_methods() -> List[str]:
    return [
        f"{cls.__name__}.{name}"
        for cls in (FineTunes, Files)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    ]


def test_every_public_method_takes_the_extras() -> None:
    # Every public method of the namespaces sends at least one request.
    missing = []
    for qualified in public_methods():
        cls_name, name = qualified.split(".")
        cls = FineTunes if cls_name == "FineTunes" else Files
        parameters = inspect.signature(getattr(cls, name)).parameters
        wanted = ["extra_headers", "extra_query"]
        if qualified in JSON_BODY:
            wanted.append("extra_body")
        missing += [f"{qualified}({p}=)" for p in wanted if p not in parameters]
        if qualified not in JSON_BODY and "extra_body" in parameters:
            missing.append(f"{qualified}: extra_body without a JSON body")
    assert missing == []


def api_requests(server: FakeTogether) -> List[RecordedRequest]:
    return [r for r in server.requests if r.server == "api"]


def assert_extras_on_every_api_request(server: FakeTogether) -> None:
    sent = api_requests(server)
    assert sent
    for request in sent:
        assert request.header("X-Preview-Feature") == "on", request.path
        assert request.query.get("probe") == "yes", request.path
        assert request.header("Authorization") == f"Bearer {server.api_key}"
    for request in server.storage.requests:  # presigned URLs: nothing of the caller's
        assert request.header("X-Preview-Feature") is None
        assert "probe" not in request.query


#: The calls that also reach storage (a presigned URL).
TO_STORAGE = {"files.upload", "fine_tunes.download_tokenized_dataset"}


def uploaded(client: Client, tmp_path: Path) -> str:
    found = client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    return client.files.wait_until_processed(found.id, poll_interval=0.5).id


Call = Callable[[Client, FakeTogether, Path], Any]


def job(server: FakeTogether) -> str:
    return str(server.add_job(status="completed")["id"])


CALLS: Dict[str, Call] = {
    "fine_tunes.list": lambda c, s, t: c.fine_tunes.list(**EXTRAS),
    "fine_tunes.retrieve": lambda c, s, t: c.fine_tunes.retrieve(job(s), **EXTRAS),
    "fine_tunes.cancel": lambda c, s, t: c.fine_tunes.cancel(
        str(s.add_job(status="running")["id"]), **EXTRAS
    ),
    "fine_tunes.delete": lambda c, s, t: c.fine_tunes.delete(job(s), **EXTRAS),
    "fine_tunes.list_events": lambda c, s, t: c.fine_tunes.list_events(job(s), **EXTRAS),
    "fine_tunes.list_checkpoints": lambda c, s, t: c.fine_tunes.list_checkpoints(job(s), **EXTRAS),
    "fine_tunes.list_metrics": lambda c, s, t: c.fine_tunes.list_metrics(job(s), **EXTRAS),
    "fine_tunes.model_limits": lambda c, s, t: c.fine_tunes.model_limits(MODEL, **EXTRAS),
    "fine_tunes.supported_models": lambda c, s, t: c.fine_tunes.supported_models(**EXTRAS),
    "fine_tunes.wait": lambda c, s, t: c.fine_tunes.wait(job(s), **EXTRAS),
    "fine_tunes.follow_events": lambda c, s, t: list(c.fine_tunes.follow_events(job(s), **EXTRAS)),
    "fine_tunes.download": lambda c, s, t: c.fine_tunes.download(job(s), output=t, **EXTRAS),
    "fine_tunes.tokenized_dataset_link": lambda c, s, t: c.fine_tunes.tokenized_dataset_link(
        job(s), **EXTRAS
    ),
    "fine_tunes.download_tokenized_dataset": (
        lambda c, s, t: c.fine_tunes.download_tokenized_dataset(job(s), output=t, **EXTRAS)
    ),
    "fine_tunes.build_request": lambda c, s, t: c.fine_tunes.build_request(
        training_file="file-1", model=MODEL, training_type=LoRATraining(), **EXTRAS
    ),
    "fine_tunes.estimate_price": lambda c, s, t: c.fine_tunes.estimate_price(
        training_file="file-1", model=MODEL, training_type=LoRATraining(), **EXTRAS
    ),
    "fine_tunes.create": lambda c, s, t: c.fine_tunes.create(
        training_file="file-1", model=MODEL, training_type=LoRATraining(), **EXTRAS
    ),
    "files.upload": lambda c, s, t: c.files.upload(write_jsonl(t / "a.jsonl"), **EXTRAS),
    "files.list": lambda c, s, t: c.files.list(**EXTRAS),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_extras_go_with_every_request_to_the_api(
    name: str, client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    CALLS[name](client, server, tmp_path)
    assert_extras_on_every_api_request(server)
    assert bool(server.storage.requests) == (name in TO_STORAGE)


def test_the_file_methods_send_the_extras(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    file_id = uploaded(client, tmp_path)
    server.requests.clear()
    client.files.retrieve(file_id, **EXTRAS)
    client.files.wait_until_processed(file_id, **EXTRAS)
    client.files.content(file_id, tmp_path / "copy.jsonl", **EXTRAS)
    client.files.delete(file_id, **EXTRAS)
    assert_extras_on_every_api_request(server)
    assert len(api_requests(server)) == 4


def test_the_preview_sends_the_extras_and_merges_the_body(
    client: Client, server: FakeTogether, tmp_path: Path
) -> None:
    file_id = uploaded(client, tmp_path)
    server.requests.clear()
    client.fine_tunes.preview(
        model=MODEL, training_file=file_id, extra_body={"top_k": 1, "new_field": True}, **EXTRAS
    )
    assert_extras_on_every_api_request(server)
    (sent,) = server.requests_to("POST", "/fine-tunes/preview")
    assert sent.json() == {
        "model": MODEL,
        "training_file": file_id,
        "top_k": 1,
        "new_field": True,
    }


def test_metrics_frame_and_plot_pass_the_extras_on(client: Client, server: FakeTogether) -> None:
    pytest.importorskip("pandas")
    client.fine_tunes.metrics_frame(job(server), **EXTRAS)
    assert_extras_on_every_api_request(server)


def test_an_extra_body_key_replaces_the_field_and_build_request_shows_it(
    client: Client, server: FakeTogether
) -> None:
    arguments: Dict[str, Any] = {
        "training_file": "file-1",
        "model": MODEL,
        "n_epochs": 1,
        "extra_body": {"n_epochs": 3, "brand_new": {"nested": [1, 2]}},
    }
    request = client.fine_tunes.build_request(**arguments)
    shown = encode(request)
    assert shown["n_epochs"] == 3
    assert shown["brand_new"] == {"nested": [1, 2]}
    assert "extra_body" not in shown
    client.fine_tunes.create(**arguments)
    (sent,) = server.requests_to("POST", "/fine-tunes")
    assert sent.json() == shown


def test_create_from_request_merges_its_extra_body_last(
    client: Client, server: FakeTogether
) -> None:
    request = client.fine_tunes.build_request(
        training_file="file-1", model=MODEL, extra_body={"suffix": "a", "one": 1}
    )
    client.fine_tunes.create_from_request(request, extra_body={"suffix": "b", "two": 2})
    (sent,) = server.requests_to("POST", "/fine-tunes")
    body = sent.json()
    assert (body["suffix"], body["one"], body["two"]) == ("b", 1, 2)


def test_the_estimate_merges_the_extra_body(client: Client, server: FakeTogether) -> None:
    client.fine_tunes.estimate_price(
        training_file="file-1", model=MODEL, n_epochs=1, extra_body={"n_epochs": 4}
    )
    (sent,) = server.requests_to("POST", "/fine-tunes/estimate-price")
    assert sent.json()["n_epochs"] == 4


def test_extras_do_not_stick_to_the_client(client: Client, server: FakeTogether) -> None:
    client.fine_tunes.list(**EXTRAS)
    client.fine_tunes.list()
    first, second = server.requests_to("GET", "/fine-tunes")
    assert first.header("X-Preview-Feature") == "on"
    assert second.header("X-Preview-Feature") is None
    assert "probe" not in second.query


def test_an_extra_query_key_replaces_the_parameter(client: Client, server: FakeTogether) -> None:
    with pytest.raises(NotFoundError, match="other/model"):
        client.fine_tunes.model_limits(MODEL, extra_query={"model_name": "other/model"})
    (sent,) = server.requests_to("GET", "/fine-tunes/models/limits")
    assert sent.query["model_name"] == "other/model"


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "AUTHORIZATION", " Authorization"]
)
def test_extra_headers_cannot_set_authorization(
    client: Client, server: FakeTogether, name: str
) -> None:
    with pytest.raises(ValueError, match="cannot set Authorization") as info:
        client.fine_tunes.list(extra_headers={name: "Bearer stolen-key"})
    assert "stolen-key" not in str(info.value)
    with pytest.raises(ValueError, match="cannot set Authorization"):
        client.fine_tunes.create(
            training_file="file-1", model=MODEL, extra_headers={name: "Bearer x"}
        )
    assert server.requests == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extra_headers": ["X-A"]}, "extra_headers must be a mapping"),
        ({"extra_headers": {"X-A": 1}}, "extra_headers must map header names to strings"),
        ({"extra_query": "a=1"}, "extra_query must be a mapping"),
        ({"extra_query": {1: "a"}}, "extra_query must have non-empty string keys"),
        ({"extra_body": [1]}, "extra_body must be a mapping"),
        ({"extra_body": {"": 1}}, "extra_body must have non-empty string keys"),
    ],
)
def test_malformed_extras_send_nothing(
    client: Client, server: FakeTogether, options: Dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        client.fine_tunes.create(training_file="file-1", model=MODEL, **options)
    assert server.requests == []


def test_a_create_with_extras_is_still_not_retried_once_it_may_have_acted(
    client: Client, server: FakeTogether
) -> None:
    server.fail_next("POST", "/fine-tunes", 500)
    with pytest.raises(APIStatusError, match="may have been created"):
        client.fine_tunes.create(
            training_file="file-1", model=MODEL, extra_body={"new": 1}, **EXTRAS
        )
    (sent,) = server.requests_to("POST", "/fine-tunes")
    assert sent.json()["new"] == 1


def test_a_create_with_extras_is_retried_whole_where_the_server_did_not_act(
    client: Client, server: FakeTogether
) -> None:
    server.fail_next("POST", "/fine-tunes", 503)
    client.fine_tunes.create(training_file="file-1", model=MODEL, extra_body={"new": 1}, **EXTRAS)
    first, second = server.requests_to("POST", "/fine-tunes")
    assert first.body == second.body
    assert json.loads(second.body)["new"] == 1
    assert second.header("X-Preview-Feature") == "on"


def test_the_request_repr_names_the_extra_fields_only(client: Client) -> None:
    request = client.fine_tunes.build_request(
        training_file="file-1", model=MODEL, extra_body={"secret_token": "s3cr3t"}
    )
    assert "secret_token" in repr(request)
    assert "s3cr3t" not in repr(request)
