"""Tests of the fake Together API itself, through plain ``requests`` over real HTTP."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import zstandard
from support.paths import REPO_ROOT

from together_finetune.testing import (
    FakeTogether,
    ManualClock,
    build_model_archive,
    hostile_archive,
    observe_exchanges,
    synthetic_bytes,
)

ROOT = REPO_ROOT
CREATE = {"training_file": "file-abc", "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"}


@pytest.fixture
def fake() -> Iterator[FakeTogether]:
    with FakeTogether() as server:
        yield server


@pytest.fixture
def http(fake: FakeTogether) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {fake.api_key}"
        yield session


def create(fake: FakeTogether, http: requests.Session, **fields: Any) -> dict[str, Any]:
    response = http.post(fake.base_url + "/fine-tunes", json={**CREATE, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def download(
    fake: FakeTogether, http: requests.Session, job_id: str, **headers: str
) -> requests.Response:
    return http.get(
        fake.base_url + "/finetune/download",
        params={"ft_id": job_id, "checkpoint": "merged"},
        headers=headers,
    )


def drain(response: requests.Response, into: bytearray) -> None:
    # 1000-byte chunks: a cut at a multiple of 1000 leaves no partial chunk unseen.
    for chunk in response.iter_content(1000):
        into += chunk


# ---------------------------------------------------------------- auth, ids, errors


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic xyz"])
def test_missing_or_wrong_key_is_401_error_data(
    fake: FakeTogether, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(fake.base_url + "/fine-tunes", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "Invalid API key provided",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_every_response_has_a_unique_request_id(fake: FakeTogether, http: requests.Session) -> None:
    ids = {http.get(fake.base_url + "/fine-tunes").headers["x-request-id"] for _ in range(3)}
    ids.add(requests.get(fake.base_url + "/fine-tunes", timeout=5).headers["x-request-id"])
    assert len(ids) == 4
    assert all(i.startswith("req-") for i in ids)


def test_unknown_job_is_404_error_data(fake: FakeTogether, http: requests.Session) -> None:
    response = http.get(fake.base_url + "/fine-tunes/ft-nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Fine-tune job not found: ft-nope",
            "type": "invalid_request_error",
            "param": "id",
            "code": "not_found",
        }
    }


def test_unknown_route_is_404_and_wrong_method_is_405(
    fake: FakeTogether, http: requests.Session
) -> None:
    unknown = http.get(fake.base_url + "/nothing-here")
    assert unknown.status_code == 404
    assert "message" in unknown.json()["error"]
    wrong = http.put(fake.base_url + "/fine-tunes")
    assert wrong.status_code == 405
    assert "error" in wrong.json()


# ---------------------------------------------------------------- create / list / retrieve


# Sends a field the spec does not declare, to show the fake keeps it like the live API.
@pytest.mark.usefixtures("spec_nonconforming")
def test_create_stores_a_full_job_and_answers_truncated(
    fake: FakeTogether, http: requests.Session
) -> None:
    created = create(fake, http, suffix="mine", wandb_key="secret", early_stopping_patience=2)
    assert created["id"].startswith("ft-")
    assert created["status"] == "pending"
    assert created["events"] == []
    assert created["created_at"].endswith("Z")
    assert isinstance(created["batch_size"], int)  # truncated object: integer only
    assert created["model_output_name"].endswith("-mine")
    assert created["training_type"] == {
        "type": "Lora",
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "lora_trainable_modules": "all-linear",
    }
    assert created["training_method"] == {"method": "sft", "train_on_inputs": "auto"}
    assert "wandb_key" not in created
    full = http.get(fake.base_url + "/fine-tunes/" + created["id"]).json()
    assert full["batch_size"] == "max"
    assert full["early_stopping_patience"] == 2
    assert [e["type"] for e in full["events"]] == ["JOB_PENDING"]
    assert full["events"][0]["message"] == "Fine tune request created"
    assert fake.jobs[created["id"]]["status"] == "pending"


def test_create_accepts_from_checkpoint_without_model(
    fake: FakeTogether, http: requests.Session
) -> None:
    response = http.post(
        fake.base_url + "/fine-tunes",
        json={"training_file": "file-1", "from_checkpoint": "ft-old:10", "validation_file": ""},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "training_file"),
        ({"training_file": "abc", "model": "m"}, "training_file"),
        ({"training_file": "file-1"}, "model"),
        ({**CREATE, "n_epochs": "3"}, "n_epochs"),
        ({**CREATE, "batch_size": "big"}, "batch_size"),
        ({**CREATE, "learning_rate": True}, "learning_rate"),
    ],
)
def test_create_validation_errors_name_the_param(
    fake: FakeTogether, http: requests.Session, body: dict[str, Any], param: str
) -> None:
    response = http.post(fake.base_url + "/fine-tunes", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert fake.jobs == {}


def test_create_with_non_object_body_is_400(fake: FakeTogether, http: requests.Session) -> None:
    assert http.post(fake.base_url + "/fine-tunes", json=[1, 2]).status_code == 400
    assert http.post(fake.base_url + "/fine-tunes", data=b"{nope").status_code == 400


def test_list_is_newest_first_and_truncated(fake: FakeTogether, http: requests.Session) -> None:
    first = create(fake, http)
    second = create(fake, http)
    data = http.get(fake.base_url + "/fine-tunes").json()["data"]
    assert [j["id"] for j in data] == [second["id"], first["id"]]
    assert all(j["events"] == [] for j in data)


def test_add_job_accepts_raw_wire_quirks(fake: FakeTogether, http: requests.Session) -> None:
    job = fake.add_job(
        status="user_error",
        TrainingFileNumLines=12,
        lr_scheduler={"lr_scheduler_type": "", "lr_scheduler_args": None},
    )
    body = http.get(fake.base_url + "/fine-tunes/" + job["id"]).json()
    assert body["status"] == "user_error"
    assert body["TrainingFileNumLines"] == 12
    assert body["lr_scheduler"] == {"lr_scheduler_type": "", "lr_scheduler_args": None}
    event = fake.add_event(job["id"], type="job_error", level="Error", message="bad data")
    events = http.get(fake.base_url + f"/fine-tunes/{job['id']}/events").json()["data"]
    assert events[-1] == event
    assert events[-1]["object"] == "fine-tune-event"


def test_add_job_with_completed_status_has_checkpoints(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="completed", training_type={"type": "Full"})
    checkpoints = http.get(fake.base_url + f"/fine-tunes/{job['id']}/checkpoints").json()["data"]
    assert [c["checkpoint_type"] for c in checkpoints] == ["Intermediate", "Final"]


def test_delete_removes_the_job(fake: FakeTogether, http: requests.Session) -> None:
    job = create(fake, http)
    response = http.delete(fake.base_url + "/fine-tunes/" + job["id"])
    assert response.status_code == 200
    assert "message" in response.json()
    assert http.get(fake.base_url + "/fine-tunes/" + job["id"]).status_code == 404


# ---------------------------------------------------------------- lifecycle


def test_advance_walks_the_lifecycle_with_events_and_checkpoints(
    fake: FakeTogether, http: requests.Session
) -> None:
    job_id = create(fake, http)["id"]
    seen = []
    for _ in range(5):
        fake.advance(job_id)
        seen.append(http.get(fake.base_url + "/fine-tunes/" + job_id).json()["status"])
    assert seen == ["queued", "running", "compressing", "uploading", "completed"]
    full = http.get(fake.base_url + "/fine-tunes/" + job_id).json()
    types = [e["type"] for e in full["events"]]
    for expected in ("JOB_PENDING", "JOB_START", "CHECKPOINT_SAVE", "JOB_COMPLETE"):
        assert expected in types
    assert full["model_output_path"]
    checkpoints = http.get(fake.base_url + f"/fine-tunes/{job_id}/checkpoints").json()["data"]
    assert [(c["step"], c["checkpoint_type"]) for c in checkpoints] == [
        (10, "Intermediate"),
        (20, "Final Merged"),
        (20, "Final Adapter"),
    ]
    fake.advance(job_id)
    assert fake.jobs[job_id]["status"] == "completed"


def test_step_seconds_moves_jobs_on_the_injected_clock() -> None:
    clock = ManualClock()
    with FakeTogether(step_seconds=10, clock=clock) as fake, requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {fake.api_key}"
        job_id = create(fake, http)["id"]
        clock.sleep(9.9)
        assert http.get(fake.base_url + "/fine-tunes/" + job_id).json()["status"] == "pending"
        clock.advance(0.1)
        assert http.get(fake.base_url + "/fine-tunes/" + job_id).json()["status"] == "queued"
        clock.advance(25)
        assert fake.jobs[job_id]["status"] == "compressing"
        clock.advance(1000)
        assert fake.jobs[job_id]["status"] == "completed"


def test_cancel_then_advance_is_cancelled(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http)["id"]
    response = http.post(fake.base_url + f"/fine-tunes/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancel_requested"
    fake.advance(job_id)
    events = http.get(fake.base_url + f"/fine-tunes/{job_id}/events").json()["data"]
    assert [e["type"] for e in events][-2:] == ["CANCEL_REQUESTED", "JOB_STOPPED"]
    assert fake.jobs[job_id]["status"] == "cancelled"
    again = http.post(fake.base_url + f"/fine-tunes/{job_id}/cancel")
    assert again.status_code == 400
    assert "error" in again.json()


def test_fail_job_ends_with_a_job_error_event(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http)["id"]
    fake.fail_job(job_id, "Out of memory", status="user_error")
    full = http.get(fake.base_url + "/fine-tunes/" + job_id).json()
    assert full["status"] == "user_error"
    assert full["events"][-1]["type"] == "JOB_ERROR"
    assert full["events"][-1]["message"] == "Out of memory"


# ---------------------------------------------------------------- other endpoints


def test_estimate_price_available_and_unavailable(
    fake: FakeTogether, http: requests.Session
) -> None:
    url = fake.base_url + "/fine-tunes/estimate-price"
    price = http.post(url, json={"training_file": "file-1", "n_epochs": 2}).json()
    assert price["allowed_to_proceed"] is True
    assert price["estimated_total_price"] > 0
    for key in ("user_limit", "estimated_train_token_count", "estimated_eval_token_count"):
        assert key in price
    unavailable = http.post(url, json={"training_file": "file-unvalidated-1"}).json()
    assert unavailable == {
        "estimation_available": False,
        "unavailable_reason": "train_file_not_validated",
    }
    assert http.post(url, json={}).status_code == 400


def test_supported_models_and_limits(fake: FakeTogether, http: requests.Session) -> None:
    models = http.get(fake.base_url + "/fine-tunes/models/supported").json()["models"]
    assert "Qwen/Qwen2.5-7B-Instruct" in models
    limits_url = fake.base_url + "/fine-tunes/models/limits"
    limits = http.get(limits_url, params={"model_name": models[0]}).json()
    assert limits["model_name"] == models[0]
    assert limits["lora_training"]["max_rank"] > 0
    # The official SDK sizes its LoRA default from default_rank, which the spec lacks.
    assert 0 < limits["lora_training"]["default_rank"] <= limits["lora_training"]["max_rank"]
    assert limits["supports_full_training"] is True
    assert "full_training" in limits
    big = http.get(
        limits_url, params={"model_name": "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference"}
    ).json()
    assert "full_training" not in big
    missing = http.get(limits_url, params={"model_name": "no/such-model"})
    assert missing.status_code == 404
    assert set(missing.json()) == {"message"}


def test_metrics_filters_by_step_query_and_body(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http)["id"]
    url = fake.base_url + f"/fine-tunes/{job_id}/metrics"
    assert http.get(url).json() == {"metrics": []}
    fake.advance(job_id, steps=5)
    rows = http.get(url).json()["metrics"]
    steps = [r["train/global_step"] for r in rows]
    assert steps == list(range(1, 21))
    assert {"train/loss", "train/learning_rate"} <= set(rows[0])
    query = http.get(url, params={"global_step_from": 5, "global_step_to": 7}).json()
    assert [r["train/global_step"] for r in query["metrics"]] == [5, 6, 7]
    body = http.get(url, json={"global_step_from": 19}).json()
    assert [r["train/global_step"] for r in body["metrics"]] == [19, 20]
    future = http.get(url, params={"logged_at_from": "2999-01-01T00:00:00Z"}).json()
    assert future == {"metrics": []}
    past = http.get(url, params={"logged_at_from": "2000-01-01T00:00:00Z"}).json()
    assert len(past["metrics"]) == 20
    assert http.get(url, params={"global_step_from": "x"}).status_code == 400


# ---------------------------------------------------------------- faults


def test_fail_next_answers_instead_of_handling(fake: FakeTogether, http: requests.Session) -> None:
    fake.fail_next("POST", "/fine-tunes", 503, headers={"Retry-After": "0"})
    response = http.post(fake.base_url + "/fine-tunes", json=CREATE)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "0"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert fake.jobs == {}
    assert create(fake, http)["status"] == "pending"  # only the next one failed
    assert len(fake.requests_to("POST", "/fine-tunes")) == 2


def test_fail_next_after_handling_stores_the_job_once(
    fake: FakeTogether, http: requests.Session
) -> None:
    fake.fail_next("POST", "/fine-tunes", 500, after_handling=True, body="<html>oops</html>")
    response = http.post(fake.base_url + "/fine-tunes", json=CREATE)
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text == "<html>oops</html>"
    assert len(fake.jobs) == 1


def test_fail_next_glob_and_times(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http)["id"]
    fake.fail_next("GET", "/fine-tunes/*", 429, times=2)
    statuses = [http.get(fake.base_url + "/fine-tunes/" + job_id).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    assert http.get(fake.base_url + "/fine-tunes").status_code == 200


@pytest.mark.parametrize("after_handling", [False, True])
def test_drop_next_closes_the_connection(
    fake: FakeTogether, http: requests.Session, after_handling: bool
) -> None:
    fake.drop_next("POST", "/fine-tunes", after_handling=after_handling)
    with pytest.raises(requests.ConnectionError):
        http.post(fake.base_url + "/fine-tunes", json=CREATE)
    assert len(fake.jobs) == (1 if after_handling else 0)
    assert http.get(fake.base_url + "/fine-tunes").status_code == 200


def test_delay_next_triggers_a_read_timeout(fake: FakeTogether, http: requests.Session) -> None:
    fake.delay_next("GET", "/fine-tunes", 0.3)
    with pytest.raises(requests.ReadTimeout):
        http.get(fake.base_url + "/fine-tunes", timeout=0.1)
    started = time.monotonic()
    assert http.get(fake.base_url + "/fine-tunes", timeout=2).status_code == 200
    assert time.monotonic() - started < 0.3


def test_faults_print_nothing(
    fake: FakeTogether, http: requests.Session, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.drop_next("GET", "/fine-tunes")
    fake.cut_download(10)
    job = fake.add_job(status="completed")
    with pytest.raises(requests.ConnectionError):
        http.get(fake.base_url + "/fine-tunes")
    with pytest.raises(requests.RequestException):
        download(fake, http, job["id"])
    time.sleep(0.05)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


# ---------------------------------------------------------------- downloads


def test_default_download_is_a_real_tar_zst(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http)["id"]
    assert download(fake, http, job_id).status_code == 400  # not completed yet
    fake.advance(job_id, steps=5)
    response = download(fake, http, job_id)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert int(response.headers["Content-Length"]) == len(response.content)
    assert response.headers["ETag"].startswith('"')
    assert "Last-Modified" in response.headers
    tar_bytes = zstandard.ZstdDecompressor().decompress(response.content)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert "model.safetensors" in tar.getnames()
    assert download(fake, http, job_id).content == response.content
    assert fake.download_bytes_sent == 2 * len(response.content)


def test_download_parameter_errors(fake: FakeTogether, http: requests.Session) -> None:
    url = fake.base_url + "/finetune/download"
    missing = http.get(url)
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "ft_id"
    assert http.get(url, params={"ft_id": "ft-nope"}).status_code == 404


def test_range_if_range_and_unsatisfiable(fake: FakeTogether, http: requests.Session) -> None:
    job = fake.add_job(status="running")
    data = bytes(range(256)) * 40
    fake.set_download(job["id"], data=data)
    probe = download(fake, http, job["id"], Range="bytes=0-1")
    assert probe.status_code == 206
    assert probe.headers["Content-Range"] == f"bytes 0-1/{len(data)}"
    assert probe.content == data[:2]
    etag = probe.headers["ETag"]
    resumed = download(fake, http, job["id"], Range="bytes=1000-", **{"If-Range": etag})
    assert resumed.status_code == 206
    assert resumed.content == data[1000:]
    fake.change_download_etag()
    stale = download(fake, http, job["id"], Range="bytes=1000-", **{"If-Range": etag})
    assert stale.status_code == 200
    assert stale.content == data
    assert stale.headers["ETag"] != etag
    beyond = download(fake, http, job["id"], Range=f"bytes={len(data)}-")
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"


def test_download_ignores_range_and_checksum_header(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="completed")
    fake.set_download(job["id"], data=b"0123456789")
    fake.download_ignores_range = True
    fake.download_checksum_header = True
    response = download(fake, http, job["id"], Range="bytes=5-")
    assert response.status_code == 200
    assert response.content == b"0123456789"
    assert len(response.headers["x-checksum-sha256"]) == 64


def test_cut_download_sends_a_short_body(fake: FakeTogether, http: requests.Session) -> None:
    job = fake.add_job(status="completed")
    fake.set_download(job["id"], size=300_000)
    fake.cut_download(100_000)
    received = bytearray()
    response = http.get(
        fake.base_url + "/finetune/download", params={"ft_id": job["id"]}, stream=True
    )
    assert response.headers["Content-Length"] == "300000"
    with pytest.raises(requests.RequestException):
        drain(response, received)
    assert bytes(received) == synthetic_bytes(0, 100_000)
    assert fake.download_bytes_sent == 100_000
    assert download(fake, http, job["id"]).content == synthetic_bytes(0, 300_000)


def test_wrong_length_is_announced(fake: FakeTogether, http: requests.Session) -> None:
    job = fake.add_job(status="completed")
    fake.set_download(job["id"], data=b"x" * 100)
    fake.download_wrong_length = 50
    response = download(fake, http, job["id"])
    assert response.headers["Content-Length"] == "50"
    assert len(response.content) == 50


def test_synthetic_download_is_deterministic_and_seekable(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="completed")
    size = 3 * 1024 * 1024 + 17
    fake.set_download(job["id"], size=size, step=10)
    url = fake.base_url + "/finetune/download"
    params = {"ft_id": job["id"], "checkpoint_step": "10"}
    head = http.get(url, params=params, headers={"Range": "bytes=0-1"})
    assert head.headers["Content-Range"] == f"bytes 0-1/{size}"
    tail = http.get(url, params=params, headers={"Range": f"bytes={size - 1_048_600}-"})
    assert tail.status_code == 206
    assert tail.content == synthetic_bytes(size - 1_048_600, 1_048_600)
    assert tail.content[-17:] != synthetic_bytes(0, 17)  # blocks differ
    other = http.get(url, params={"ft_id": job["id"], "checkpoint": "merged"})
    assert len(other.content) != size  # the set download is only for step 10


def test_redirect_to_storage_without_authorization(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="completed")
    fake.set_download(job["id"], data=b"model-bytes")
    fake.download_redirect = True
    first = download(fake, http, job["id"])
    assert first.status_code == 200
    assert first.content == b"model-bytes"
    assert first.history[0].status_code == 302
    assert len(fake.storage.requests) == 1
    assert fake.storage.requests[0].header("authorization") is None
    assert fake.storage.requests[0].server == "storage"
    resumed = http.get(first.url, headers={"Range": "bytes=6-"})
    assert (resumed.status_code, resumed.content) == (206, b"bytes")


def test_storage_accepts_put(fake: FakeTogether) -> None:
    response = requests.put(fake.storage.url + "/uploads/file-1", data=b"abc", timeout=5)
    assert response.status_code == 200
    assert response.headers["ETag"]
    assert fake.storage.objects["/uploads/file-1"] == b"abc"


def test_storage_accepts_a_chunked_put_on_a_kept_alive_connection(fake: FakeTogether) -> None:
    with requests.Session() as session:
        url = fake.storage.url + "/uploads/file-2"
        chunked = session.put(url, data=iter([b"ab", b"", b"cdef"]), timeout=5)
        assert chunked.request.headers["Transfer-Encoding"] == "chunked"
        assert chunked.status_code == 200
        assert "close" not in chunked.headers.get("Connection", "")
        assert session.get(url, timeout=5).content == b"abcdef"
    assert fake.storage.objects["/uploads/file-2"] == b"abcdef"


# ---------------------------------------------------------------- server plumbing


def test_keep_alive_reuses_one_connection(fake: FakeTogether, http: requests.Session) -> None:
    responses = [http.get(fake.base_url + "/fine-tunes") for _ in range(3)]
    assert all("close" not in r.headers.get("Connection", "") for r in responses)
    sockets = {id(r.raw._connection) for r in responses if r.raw._connection is not None}
    assert len(sockets) <= 1


def test_sixteen_concurrent_clients(fake: FakeTogether) -> None:
    errors: list[BaseException] = []

    def client() -> None:
        try:
            with requests.Session() as session:
                session.headers["Authorization"] = f"Bearer {fake.api_key}"
                for _ in range(5):
                    session.post(fake.base_url + "/fine-tunes", json=CREATE).raise_for_status()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert len(fake.jobs) == 80
    assert len(fake.requests_to("POST", "/fine-tunes")) == 80


def test_on_exchange_sees_every_answer() -> None:
    seen: list[tuple[str, int, bytes]] = []

    def record(request: Any, status: int, headers: dict[str, str], body: bytes) -> None:
        seen.append((request.path, status, body))
        assert headers["x-request-id"].startswith("req-")

    with FakeTogether(on_exchange=record) as fake:
        job = fake.add_job(status="completed")
        auth = {"Authorization": f"Bearer {fake.api_key}"}
        requests.get(fake.base_url + "/fine-tunes", headers=auth, timeout=5)
        requests.get(
            fake.base_url + "/finetune/download",
            params={"ft_id": job["id"]},
            headers=auth,
            timeout=5,
        )
        assert fake.exchange_errors == []
    assert [(p, s) for p, s, _ in seen] == [
        ("/v1/fine-tunes", 200),
        ("/v1/finetune/download", 200),
    ]
    assert seen[0][2].startswith(b'{"data"')
    assert seen[1][2] == b""


def test_recorded_request_helpers(fake: FakeTogether, http: requests.Session) -> None:
    create(fake, http)
    recorded = fake.requests_to("POST", "/fine-tunes")[0]
    assert recorded.json() == CREATE
    assert recorded.header("AUTHORIZATION") == f"Bearer {fake.api_key}"
    http.get(fake.base_url + "/fine-tunes/models/limits", params={"model_name": "a"})
    assert fake.requests[-1].query == {"model_name": "a"}


def test_manual_clock() -> None:
    clock = ManualClock(start=5.0)
    clock.sleep(2.5)
    clock.advance(1)
    assert clock() == 8.5
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance(-1)


def test_archives_are_deterministic() -> None:
    assert build_model_archive("ft-1") == build_model_archive("ft-1")
    assert build_model_archive("ft-1") != build_model_archive("ft-2")
    gz = build_model_archive("ft-1", compression="gzip")
    with tarfile.open(fileobj=io.BytesIO(gz)) as tar:
        assert sorted(tar.getnames()) == [
            "adapter_config.json",
            "config.json",
            "model.safetensors",
        ]
    expected = {
        "dotdot": "../evil.txt",
        "absolute": "/tmp/evil.txt",
        "symlink": "link",
        "device": "dev/null",
    }
    for kind, member in expected.items():
        tar_bytes = zstandard.ZstdDecompressor().decompress(hostile_archive(kind))
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            assert member in tar.getnames()


def test_observe_exchanges_reaches_every_fake_built_while_registered() -> None:
    seen: list[tuple[str, int]] = []

    def observer(request: Any, status: int, headers: dict[str, str], body: bytes) -> None:
        seen.append((request.path, status))
        raise RuntimeError("observer bug")

    def list_jobs(fake: FakeTogether) -> int:
        auth = {"Authorization": f"Bearer {fake.api_key}"}
        return requests.get(fake.base_url + "/fine-tunes", headers=auth, timeout=5).status_code

    unregister = observe_exchanges(observer)
    try:
        with FakeTogether() as fake:
            assert list_jobs(fake) == 200  # the observer's exception never reaches the client
    finally:
        unregister()
    assert seen == [("/v1/fine-tunes", 200)]
    assert [str(error) for error in fake.exchange_errors] == ["observer bug"]
    with FakeTogether() as later:
        assert list_jobs(later) == 200
    assert seen == [("/v1/fine-tunes", 200)]  # built after unregistering: not observed
    unregister()  # a second call is harmless


def test_pytest_plugin_yields_a_started_fake_and_stops_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import requests

        urls = []

        def test_uses_the_fixture(fake_together):
            auth = {"Authorization": "Bearer " + fake_together.api_key}
            answer = requests.get(fake_together.base_url + "/fine-tunes", headers=auth, timeout=5)
            assert answer.json() == {"data": []}
            urls.append(fake_together.base_url)

        def test_the_fake_was_stopped():
            with pytest.raises(requests.ConnectionError):
                requests.get(urls[0] + "/fine-tunes", timeout=2)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_standalone_server_prints_url_and_key() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "together_finetune.testing", "--port", "0", "--api-key", "k-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        timer = threading.Timer(5, process.kill)
        timer.start()
        try:
            lines = [process.stdout.readline().strip(), process.stdout.readline().strip()]
        finally:
            timer.cancel()
        assert lines[0].startswith("TOGETHER_BASE_URL=http://127.0.0.1:")
        assert lines[1] == "TOGETHER_API_KEY=k-1"
        base_url = lines[0].split("=", 1)[1]
        response = requests.get(
            base_url + "/fine-tunes", headers={"Authorization": "Bearer k-1"}, timeout=5
        )
        assert response.json() == {"data": []}
    finally:
        process.terminate()
        _, err = process.communicate(timeout=5)
    assert process.returncode == 0
    assert "Traceback" not in err


def test_standalone_server_over_tls_prints_the_ca_to_trust() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "together_finetune.testing", "--tls", "--api-key", "k-1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    try:
        assert process.stdout is not None
        timer = threading.Timer(10, process.kill)
        timer.start()
        try:
            lines = [process.stdout.readline().strip() for _ in range(3)]
        finally:
            timer.cancel()
        assert lines[0].startswith("TOGETHER_BASE_URL=https://127.0.0.1:")
        assert lines[2].startswith("REQUESTS_CA_BUNDLE=")
        base_url, bundle = lines[0].split("=", 1)[1], lines[2].split("=", 1)[1]
        response = requests.get(
            base_url + "/fine-tunes",
            headers={"Authorization": "Bearer k-1"},
            timeout=5,
            verify=bundle,
        )
        assert response.json() == {"data": []}
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base_url + "/fine-tunes", timeout=5, verify=True)
    finally:
        process.terminate()
        _, err = process.communicate(timeout=5)
    assert process.returncode == 0
    assert "Traceback" not in err
