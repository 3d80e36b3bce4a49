"""The client end to end against the fake API: each method, the body create sends,
decoding of the live API's quirks, errors, IDs and configuration."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

import pytest

import together_finetune
from together_finetune import (
    DPO,
    SFT,
    APIResponseValidationError,
    AuthenticationError,
    BadRequestError,
    Client,
    CosineLRScheduler,
    FineTune,
    FineTuneStatus,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    NotFoundError,
    TogetherError,
)
from together_finetune import errors as errors_module
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def created_body(server: FakeTogether) -> dict[str, Any]:
    body = server.requests_to("POST", "/fine-tunes")[-1].json()
    assert isinstance(body, dict)
    return body


# -- the six endpoints -------------------------------------------------------------------


def test_create_returns_the_new_job(client: Client, server: FakeTogether) -> None:
    job = client.fine_tunes.create(training_file="file-abc", model=MODEL)
    assert isinstance(job, FineTune)
    assert job.id.startswith("ft-")
    assert job.status == FineTuneStatus.PENDING
    assert job.model == MODEL
    assert job.id in server.jobs


def test_list_returns_every_job(client: Client, server: FakeTogether) -> None:
    ids = {client.fine_tunes.create(training_file="file-a", model=MODEL).id for _ in range(3)}
    assert {job.id for job in client.fine_tunes.list()} == ids


def test_list_of_no_jobs_is_empty(client: Client) -> None:
    assert client.fine_tunes.list() == []


def test_retrieve_follows_the_lifecycle(client: Client, server: FakeTogether) -> None:
    job = client.fine_tunes.create(training_file="file-a", model=MODEL)
    seen = []
    for _ in range(5):
        server.advance(job.id)
        seen.append(client.fine_tunes.retrieve(job.id).status.value)
    assert seen == ["queued", "running", "compressing", "uploading", "completed"]
    final = client.fine_tunes.retrieve(job.id)
    assert final.is_terminal
    assert isinstance(final.created_at, datetime)
    assert final.created_at.tzinfo is not None


def test_cancel_moves_the_job_to_cancelled(client: Client, server: FakeTogether) -> None:
    job = client.fine_tunes.create(training_file="file-a", model=MODEL)
    assert client.fine_tunes.cancel(job.id).status == "cancel_requested"
    server.advance(job.id)
    assert client.fine_tunes.retrieve(job.id).status == FineTuneStatus.CANCELLED


def test_cancel_of_a_finished_job_is_a_bad_request(client: Client, server: FakeTogether) -> None:
    job = server.add_job(status="completed")
    with pytest.raises(BadRequestError) as info:
        client.fine_tunes.cancel(job["id"])
    assert info.value.status_code == 400


def test_list_events_decodes_the_event_log(client: Client, server: FakeTogether) -> None:
    job = client.fine_tunes.create(training_file="file-a", model=MODEL)
    server.advance(job.id, steps=5)
    events = client.fine_tunes.list_events(job.id)
    assert events[0].type == "job_pending"
    assert events[-1].type == "job_complete"
    assert all(event.message for event in events)


def test_download_writes_the_complete_archive(
    client: Client, server: FakeTogether, tmp_path: Any
) -> None:
    job = client.fine_tunes.create(training_file="file-a", model=MODEL)
    server.advance(job.id, steps=5)
    result = client.fine_tunes.download(job.id, output=tmp_path)
    assert result.path.parent == tmp_path
    assert result.path.name.endswith("-merged.tar.zst")
    assert result.size == result.path.stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == [result.path.name]
    query = server.requests_to("GET", "/finetune/download")[-1].query
    assert query["ft_id"] == job.id
    assert query["checkpoint"] == "merged"


def test_download_name_from_the_server_cannot_escape_the_directory(
    client: Client, server: FakeTogether, tmp_path: Any
) -> None:
    job = server.add_job(status="completed", model_output_name="../../etc/evil name")
    result = client.fine_tunes.download(job["id"], output=tmp_path)
    assert result.path.parent == tmp_path
    assert ".." not in result.path.name
    assert " " not in result.path.name
    assert list(tmp_path.iterdir()) == [result.path]


# -- the create body -----------------------------------------------------------------------


def test_create_sends_only_what_was_given(client: Client, server: FakeTogether) -> None:
    client.fine_tunes.create(training_file="file-a", model=MODEL)
    assert created_body(server) == {"training_file": "file-a", "model": MODEL}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"training_type": LoRATraining(lora_r=16, lora_dropout=0.1)},
            {
                "training_type": {
                    "type": "Lora",
                    "lora_r": 16,
                    "lora_alpha": 32,
                    "lora_dropout": 0.1,
                }
            },
        ),
        ({"training_type": FullTraining()}, {"training_type": {"type": "Full"}}),
        (
            {"training_method": SFT(train_on_inputs=False)},
            {"training_method": {"method": "sft", "train_on_inputs": False}},
        ),
        (
            {"training_method": DPO(dpo_beta=0.2, simpo_gamma=0.5)},
            {
                "training_method": {
                    "method": "dpo",
                    "dpo_beta": 0.2,
                    "simpo_gamma": 0.5,
                    "dpo_normalize_logratios_by_length": True,
                    "dpo_reference_free": True,
                }
            },
        ),
        (
            {"lr_scheduler": LinearLRScheduler(min_lr_ratio=0.1)},
            {
                "lr_scheduler": {
                    "lr_scheduler_type": "linear",
                    "lr_scheduler_args": {"min_lr_ratio": 0.1},
                }
            },
        ),
        (
            {"lr_scheduler": CosineLRScheduler(min_lr_ratio=0.0, num_cycles=2.0)},
            {
                "lr_scheduler": {
                    "lr_scheduler_type": "cosine",
                    "lr_scheduler_args": {"min_lr_ratio": 0.0, "num_cycles": 2.0},
                }
            },
        ),
        ({"batch_size": "max"}, {"batch_size": "max"}),
        ({"batch_size": 16, "n_epochs": 3}, {"batch_size": 16, "n_epochs": 3}),
        (
            {"train_on_inputs": "auto"},
            {"training_method": {"method": "sft", "train_on_inputs": "auto"}},
        ),
        ({"wandb_api_key": "wb-secret"}, {"wandb_key": "wb-secret"}),
    ],
)
def test_create_sends_the_exact_wire_shape(
    client: Client, server: FakeTogether, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    client.fine_tunes.create(training_file="file-a", model=MODEL, **kwargs)
    assert created_body(server) == {"training_file": "file-a", "model": MODEL, **expected}


def test_create_from_a_checkpoint_may_omit_the_model(client: Client, server: FakeTogether) -> None:
    client.fine_tunes.create(training_file="file-a", from_checkpoint="ft-parent:10")
    assert created_body(server) == {"training_file": "file-a", "from_checkpoint": "ft-parent:10"}


def test_secret_fields_stay_out_of_reprs(client: Client) -> None:
    from together_finetune.models import FineTuneRequest

    request = FineTuneRequest(training_file="file-a", wandb_api_key="wb-x1", hf_api_token="hf-x2")
    assert "wb-x1" not in repr(request)
    assert "hf-x2" not in repr(request)


def test_a_path_as_training_file_is_refused_with_advice(
    client: Client, server: FakeTogether, tmp_path: Any
) -> None:
    with pytest.raises(ValueError, match="upload"):
        client.fine_tunes.create(training_file=tmp_path / "data.jsonl", model=MODEL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="upload"):
        client.fine_tunes.create(training_file="data.jsonl", model=MODEL)
    assert server.requests == []


# -- decoding the live API's quirks ----------------------------------------------------------


def test_decoding_tolerates_the_live_api_quirks(client: Client, server: FakeTogether) -> None:
    job = server.add_job(
        status="user_error",
        training_type=None,
        lr_scheduler={"lr_scheduler_type": "", "lr_scheduler_args": None},
        TrainingFileNumLines=1234,
        TrainingFileSize=5678,
        brand_new_field={"nested": [1, 2]},
        batch_size="max",
    )
    for modern in ("trainingfile_numlines", "trainingfile_size"):  # old jobs lack these
        server.jobs[job["id"]].pop(modern, None)
    server.add_event(job["id"], type="JOB_USER_ERROR", level="Error", message="bad data")
    server.add_event(job["id"], type="job_pending", level="", message="lower case")
    server.add_event(job["id"], type="SOMETHING_NEW", level=None, message="future")
    fetched = client.fine_tunes.retrieve(job["id"])
    assert fetched.status == "user_error"
    assert fetched.status.is_terminal
    assert fetched.training_type is None
    assert fetched.lr_scheduler is not None
    assert fetched.lr_scheduler.lr_scheduler_type == ""  # type: ignore[union-attr]
    assert (fetched.trainingfile_numlines, fetched.trainingfile_size) == (1234, 5678)
    events = client.fine_tunes.list_events(job["id"])[-3:]
    assert [e.type for e in events] == ["job_user_error", "job_pending", "SOMETHING_NEW"]
    assert [e.level for e in events] == ["error", None, None]


def test_an_unknown_status_is_kept_and_compares_to_its_string(
    client: Client, server: FakeTogether
) -> None:
    job = server.add_job(status="paused_for_maintenance")
    fetched = client.fine_tunes.retrieve(job["id"])
    assert fetched.status == "paused_for_maintenance"
    assert not fetched.is_terminal


def test_structured_fields_decode_to_the_classes_create_takes(
    client: Client, server: FakeTogether
) -> None:
    job = server.add_job(
        training_type={"type": "Full"},
        training_method={"method": "dpo", "dpo_beta": 0.3},
        lr_scheduler={"lr_scheduler_type": "linear", "lr_scheduler_args": {"min_lr_ratio": 0.2}},
    )
    fetched = client.fine_tunes.retrieve(job["id"])
    assert fetched.training_type == FullTraining()
    assert fetched.training_method == DPO(dpo_beta=0.3)
    assert fetched.lr_scheduler == LinearLRScheduler(min_lr_ratio=0.2)


@pytest.mark.usefixtures("spec_nonconforming")
def test_a_body_of_the_wrong_shape_names_the_field(client: Client, server: FakeTogether) -> None:
    job = server.add_job(n_epochs="three")
    with pytest.raises(APIResponseValidationError, match=r"\$\.n_epochs"):
        client.fine_tunes.retrieve(job["id"])


def test_a_job_without_an_id_is_a_validation_error(client: Client, server: FakeTogether) -> None:
    server.fail_next("GET", "/fine-tunes", 200, body={"data": [{"status": "running"}]})
    with pytest.raises(
        APIResponseValidationError, match=r"required field missing @ \$\[0\]\.id|\$.*id"
    ):
        client.fine_tunes.list()


def test_timestamps_decode_timezone_aware() -> None:
    from together_finetune.converter import parse_datetime

    assert parse_datetime("2023-05-17T17:35:45.123Z") == datetime(
        2023, 5, 17, 17, 35, 45, 123000, tzinfo=timezone.utc
    )
    assert parse_datetime("2023-05-17T17:35:45").tzinfo == timezone.utc
    assert parse_datetime(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)


# -- errors -----------------------------------------------------------------------------------


def test_unknown_job_is_not_found_with_request_id(client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.fine_tunes.retrieve("ft-does-not-exist")
    error = info.value
    assert error.status_code == 404
    assert error.request_id
    assert error.request_id in str(error)
    assert "ft-does-not-exist" in error.message
    assert isinstance(error.body, dict)


def test_wrong_key_is_an_authentication_error(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    client = make_client(api_key="wrong-key-123")
    with pytest.raises(AuthenticationError) as info:
        client.fine_tunes.list()
    assert info.value.attempts == 1
    assert "wrong-key-123" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "error_name"),
    [
        (400, "BadRequestError"),
        (401, "AuthenticationError"),
        (403, "PermissionDeniedError"),
        (404, "NotFoundError"),
        (409, "ConflictError"),
        (422, "UnprocessableEntityError"),
        (429, "RateLimitError"),
        (500, "InternalServerError"),
        (502, "InternalServerError"),
        (418, "APIStatusError"),
    ],
)
def test_each_status_maps_to_its_error_class(
    make_client: Callable[..., Client], server: FakeTogether, status: int, error_name: str
) -> None:
    client = make_client(max_retries=0)
    server.fail_next("GET", "/fine-tunes", status)
    error_cls = getattr(errors_module, error_name)
    with pytest.raises(error_cls) as info:
        client.fine_tunes.list()
    assert type(info.value) is error_cls
    assert info.value.status_code == status
    assert info.value.request_id


def test_error_message_from_a_bare_message_body(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    server.fail_next("GET", "/fine-tunes", 404, body={"message": "model not found"})
    with pytest.raises(NotFoundError, match="model not found"):
        make_client().fine_tunes.list()


def test_error_message_from_an_html_page(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1> nginx</body></html>"
    server.fail_next("GET", "/fine-tunes", 400, body=page)
    with pytest.raises(BadRequestError) as info:
        make_client().fine_tunes.list()
    assert "502 Bad Gateway" in str(info.value)
    assert info.value.body == page


def test_errors_are_importable_from_both_places() -> None:
    for name in errors_module.__all__:
        assert getattr(together_finetune, name) is getattr(errors_module, name)
        assert issubclass(getattr(errors_module, name), errors_module.TogetherError)


# -- IDs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    ["", "  ", "ft-a b", "ft-a/b", "ft-a?x=1", "ft-a#frag", "job-123", "ft-", " ft-1", None],
)
def test_a_bad_job_id_is_refused_before_any_request(
    client: Client, server: FakeTogether, bad_id: Any
) -> None:
    for call in (
        client.fine_tunes.retrieve,
        client.fine_tunes.cancel,
        client.fine_tunes.list_events,
        client.fine_tunes.download,
    ):
        with pytest.raises(ValueError, match="ID"):
            call(bad_id)
    assert server.requests == []


# -- configuration -----------------------------------------------------------------------------


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(TogetherError, match="TOGETHER_API_KEY"):
        Client()


def test_key_and_base_url_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, server: FakeTogether
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.url)  # no path: /v1 is appended
    with Client() as client:
        assert client.base_url == server.base_url
        assert client.fine_tunes.list() == []


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    assert Client(api_key="k").base_url == "https://api.together.ai/v1"
    assert Client(api_key="k", base_url="https://api.together.xyz").base_url.endswith("xyz/v1")


def test_the_key_never_appears_in_a_repr(server: FakeTogether) -> None:
    client = Client(api_key="sk-very-secret-1", base_url=server.base_url)
    assert "sk-very-secret-1" not in repr(client)
    assert "sk-very-secret-1" not in repr(client._transport)
    assert "sk-very-secret-1" not in repr(vars(client))


def test_requests_carry_bearer_auth_and_user_agent(client: Client, server: FakeTogether) -> None:
    client.fine_tunes.list()
    request = server.requests[-1]
    assert request.header("Authorization") == f"Bearer {server.api_key}"
    agent = request.header("User-Agent") or ""
    assert agent.startswith(f"together-finetune/{together_finetune.__version__} python/")
    assert "requests/" in agent


def test_default_headers_are_added(
    make_client: Callable[..., Client], server: FakeTogether
) -> None:
    make_client(default_headers={"X-Team": "research"}).fine_tunes.list()
    assert server.requests[-1].header("X-Team") == "research"


def test_context_manager_closes_and_client_can_be_reused(server: FakeTogether) -> None:
    with Client(api_key=server.api_key, base_url=server.base_url) as client:
        client.fine_tunes.list()
    assert client.fine_tunes.list() == []  # a new session is opened on demand


def test_ids_in_paths_are_percent_encoded(client: Client, server: FakeTogether) -> None:
    with pytest.raises(NotFoundError) as info:
        client.fine_tunes.retrieve("ft-ü:1")
    assert "ft-ü:1" in info.value.message  # arrived as one path segment, decoded by the server
    assert server.requests[-1].path == "/v1/fine-tunes/ft-ü:1"


def test_json_body_is_compact_json(client: Client, server: FakeTogether) -> None:
    client.fine_tunes.create(training_file="file-a", model=MODEL)
    raw = server.requests_to("POST", "/fine-tunes")[-1]
    assert json.loads(raw.body) == created_body(server)
    assert raw.header("Content-Type") == "application/json"
