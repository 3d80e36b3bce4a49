"""The client's traffic conforms to Together's official OpenAPI spec.

Every exchange of every fake in every test is checked by the ``spec_conformance`` plugin
(registered from ``conftest.py``). These tests drive every endpoint the client has, assert
that the checker saw and validated each exchange (so the check provably runs), that it does
report a non-conforming request (so it can fail), and that a fake a test builds itself is
checked too.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import support.conformance as sc

from together_finetune import Client
from together_finetune.models import (
    DPO,
    SFT,
    CosineLRScheduler,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
)
from together_finetune.testing import FakeTogether


@pytest.fixture
def checker() -> sc.SpecChecker:
    """The process-wide checker, with the spec required (skip, or fail under CI=true)."""
    sc.require_spec()
    return sc.checker()


def _seen(mark: int) -> set[tuple[str, str]]:
    """(method, template) of the exchanges validated in both directions since ``mark``."""
    return {
        (ex.method, ex.operation)
        for ex in sc.exchanges_since(mark)
        if ex.request_checked and ex.response_checked
    }


def test_waiver_table_is_documented() -> None:
    whats = [w.what for w in sc.WAIVERS]
    assert len(whats) == len(set(whats))
    for waiver in sc.WAIVERS:
        assert waiver.reason.strip()
        assert waiver.where in ("request", "response", "request|response")
        assert waiver.kind in (
            "schema",
            "undeclared-property",
            "query",
            "endpoint",
            "media-type",
            "status",
        )


def test_spec_location_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(sc.SPEC_ENV, raising=False)
    assert sc.spec_path() == sc.REPO_ROOT / "tests" / "spec" / "openapi.yaml"
    assert sc.spec_path().is_file()  # vendored: a fresh clone checks its traffic
    assert "MIT License" in (sc.spec_path().parent / "LICENSE").read_text(encoding="utf-8")
    monkeypatch.setenv(sc.SPEC_ENV, str(tmp_path / "nope.yaml"))
    assert sc.spec_path() == tmp_path / "nope.yaml"
    assert "nope.yaml" in str(sc.missing_reason())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        sc.require_spec()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not found"):
        sc.require_spec()


def test_every_endpoint_is_validated(
    checker: sc.SpecChecker, server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    mark = len(checker.exchanges)
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    lora = client.fine_tunes.create(
        training_file="file-1",
        model=model,
        training_type=LoRATraining(lora_r=16, lora_dropout=0.05, lora_trainable_modules="all"),
        training_method=SFT(train_on_inputs="auto"),
        lr_scheduler=LinearLRScheduler(min_lr_ratio=0.1),
        batch_size="max",
        n_epochs=2,
        n_checkpoints=2,
        learning_rate=1e-5,
        suffix="conf",
        wandb_api_key="wandb-secret",
        wandb_project_name="p",
    )
    full = client.fine_tunes.create(
        training_file="file-2",
        validation_file="file-3",
        model=model,
        n_evals=2,
        training_type=FullTraining(),
        training_method=DPO(dpo_beta=0.1, simpo_gamma=0.5),
        lr_scheduler=CosineLRScheduler(min_lr_ratio=0.0, num_cycles=1.0),
        batch_size=8,
        train_on_inputs=None,
    )
    client.fine_tunes.create(
        training_file="file-4", model=model, training_method=SFT(train_on_inputs=False)
    )
    client.fine_tunes.create(training_file="file-5", from_checkpoint=lora.id)
    client.fine_tunes.list()
    server.advance(lora.id, steps=10)
    assert client.fine_tunes.retrieve(lora.id).status == "completed"
    client.fine_tunes.list_events(lora.id)
    client.fine_tunes.list_checkpoints(lora.id)
    client.fine_tunes.list_metrics(lora.id)
    client.fine_tunes.list_metrics(
        lora.id,
        global_step_from=1,
        global_step_to=5,
        logged_at_from=datetime(2020, 1, 1, tzinfo=timezone.utc),
    )
    client.fine_tunes.cancel(full.id)
    client.fine_tunes.estimate_price(training_file="file-1", model=model, n_epochs=1)
    client.fine_tunes.estimate_price(
        training_file="file-1", model=model, training_type=FullTraining(), training_method=DPO()
    )
    client.fine_tunes.model_limits(model)
    client.fine_tunes.supported_models()
    client.fine_tunes.download(lora.id, output=tmp_path / "model.tar.zst")
    client.fine_tunes.delete(full.id)

    seen = _seen(mark)
    expected = {
        ("POST", "/fine-tunes"),
        ("GET", "/fine-tunes"),
        ("GET", "/fine-tunes/{id}"),
        ("DELETE", "/fine-tunes/{id}"),
        ("POST", "/fine-tunes/{id}/cancel"),
        ("GET", "/fine-tunes/{id}/events"),
        ("GET", "/fine-tunes/{id}/checkpoints"),
        ("GET", "/fine-tunes/{id}/metrics"),
        ("POST", "/fine-tunes/estimate-price"),
        ("GET", "/fine-tunes/models/limits"),
        ("GET", "/fine-tunes/models/supported"),
        ("GET", "/finetune/download"),
    }
    assert expected <= seen, f"not validated: {expected - seen}"
    # the check really looked: the documented departures were met and waived
    waived = {w for ex in sc.exchanges_since(mark) for w in ex.waived}
    assert "wandb_key instead of wandb_api_key" in waived
    assert "job id format" in waived
    assert "model optional when continuing from a checkpoint" in waived
    assert "metrics filters as query parameters" in waived


def test_terminal_statuses_and_event_casings_are_validated(
    checker: sc.SpecChecker, server: FakeTogether, client: Client
) -> None:
    mark = len(checker.exchanges)
    job = server.add_job(status="running")
    server.add_event(job["id"], type="job_start", level="info", message="lower case")
    server.add_event(job["id"], type="JOB_START", level="Info", message="upper case")
    server.fail_job(job["id"], status="user_error")
    assert client.fine_tunes.retrieve(job["id"]).status == "user_error"
    client.fine_tunes.list_events(job["id"])
    client.fine_tunes.list()
    assert {("GET", "/fine-tunes/{id}"), ("GET", "/fine-tunes/{id}/events")} <= _seen(mark)
    waived = {w for ex in sc.exchanges_since(mark) for w in ex.waived}
    assert "job status user_error" in waived


def test_a_non_conforming_request_is_reported(
    checker: sc.SpecChecker, server: FakeTogether
) -> None:
    # The lenient fake accepts a misspelt field and a string where the spec wants a number;
    # the checker must not.
    headers = {"Authorization": f"Bearer {server.api_key}"}
    body: dict[str, Any] = {
        "training_file": "file-1",
        "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
        "learning_rat": 0.1,
    }
    answer = requests.post(server.base_url + "/fine-tunes", json=body, headers=headers, timeout=5)
    answer.raise_for_status()
    answer = requests.get(
        server.base_url + "/fine-tunes/models/supported",
        params={"model_name": "x"},
        headers=headers,
        timeout=5,
    )
    answer.raise_for_status()
    violations = checker.take_violations()
    assert any("'learning_rat' is not in the spec" in v for v in violations), violations
    assert any("'model_name' is not declared" in v for v in violations), violations


def test_a_fake_the_test_builds_itself_is_checked(checker: sc.SpecChecker) -> None:
    # Not the ``server`` fixture: the plugin observes every FakeTogether, whoever builds it.
    mark = len(checker.exchanges)
    with FakeTogether() as fake:
        body = {"training_file": "file-1", "model": "m", "learning_rat": 0.1}
        answer = requests.post(
            fake.base_url + "/fine-tunes",
            json=body,
            headers={"Authorization": f"Bearer {fake.api_key}"},
            timeout=5,
        )
        assert answer.status_code == 200  # the lenient fake accepts the misspelt field
    assert ("POST", "/fine-tunes") in _seen(mark)
    violations = checker.take_violations()
    assert any("'learning_rat' is not in the spec" in v for v in violations), violations


def test_schema_violations_and_unknown_operations_are_reported(checker: sc.SpecChecker) -> None:
    from together_finetune.testing import RecordedRequest

    def exchange(method: str, path: str, body: Any, answer: Any, **query: str) -> None:
        request = RecordedRequest(
            method,
            path,
            dict(query),
            {"Authorization": "Bearer k", "Content-Type": "application/json"},
            sc.dump(body) if body is not None else b"",
        )
        checker(request, 200, {"Content-Type": "application/json"}, sc.dump(answer))

    exchange("POST", "/v1/fine-tunes", {"training_file": "f", "n_epochs": "2"}, {})
    exchange("GET", "/v1/fine-tunes/ft-1", None, {"id": "ft-1", "status": 3})
    exchange("GET", "/v1/fine-tunes/ft-1/nothing", None, {})
    exchange("GET", "/v1/fine-tunes/models/supported", None, {"models": "all"})
    violations = "\n".join(checker.take_violations())
    assert "request n_epochs: '2' is not of type 'integer'" in violations
    assert "request model: 'model' is a required property" in violations
    assert "response status" in violations
    assert "GET /v1/fine-tunes/ft-1/nothing -> 200: no such operation" in violations
    assert "response models: 'all' is not of type 'array'" in violations
    # A deliberately wrong path is not a request problem, but its error answer must still
    # have the API-wide ErrorData shape.
    error = sc.dump({"error": {"message": "Unknown path", "type": "invalid_request_error"}})
    checker(RecordedRequest("GET", "/v1/nowhere", {}, {}, b""), 404, {}, error)
    assert checker.take_violations() == []
    checker(RecordedRequest("GET", "/v1/nowhere", {}, {}, b""), 404, {}, b"{}")
    assert any("'error' is a required property" in v for v in checker.take_violations())
    # An undeclared error status on a real operation is checked against ErrorData too.
    checker(RecordedRequest("GET", "/v1/fine-tunes/ft-1", {}, {}, b""), 404, {}, b'{"x": 1}')
    assert any("'error' is a required property" in v for v in checker.take_violations())


def test_requests_this_library_sends_are_checked_whatever_the_answer(
    checker: sc.SpecChecker,
) -> None:
    from together_finetune.testing import RecordedRequest

    ours = {"Authorization": "Bearer k", "User-Agent": "together-finetune/0 python/3"}
    checker(
        RecordedRequest("GET", "/v1/fine-tunes/models/limits", {"model": "x"}, ours, b""),
        404,
        {"Content-Type": "application/json"},
        b'{"message": "no such model"}',
    )
    violations = "\n".join(checker.take_violations())
    assert "'model' is not declared" in violations
    assert "model_name" in violations
