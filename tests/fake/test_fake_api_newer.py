"""The fake's jobs as the live API sends them today (newer than the spec), via ``requests``.

Early stopping, registry names and ids, nanodollar prices, progress, legacy event levels,
fields no client knows yet, and the metrics ``resolution``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import support.conformance as sc

from together_finetune.testing import FakeTogether, RecordedRequest
from together_finetune.testing.server import EARLY_STOP_STEP, TOTAL_STEPS

CREATE = {"training_file": "file-abc", "model": "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"}
EARLY = {**CREATE, "validation_file": "file-val", "n_evals": 4, "early_stopping_enabled": True}


@pytest.fixture
def fake() -> Iterator[FakeTogether]:
    with FakeTogether() as server:
        yield server


@pytest.fixture
def http(fake: FakeTogether) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {fake.api_key}"
        yield session


def create(fake: FakeTogether, http: requests.Session, **fields: Any) -> requests.Response:
    return http.post(fake.base_url + "/fine-tunes", json=fields)


def finished(fake: FakeTogether, http: requests.Session, **fields: Any) -> dict[str, Any]:
    response = create(fake, http, **fields)
    assert response.status_code == 200, response.text
    fake.advance(response.json()["id"], steps=5)
    job: dict[str, Any] = http.get(f"{fake.base_url}/fine-tunes/{response.json()['id']}").json()
    return job


def get(fake: FakeTogether, http: requests.Session, path: str, **params: Any) -> Any:
    response = http.get(fake.base_url + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- create


def test_create_stores_the_newer_fields(fake: FakeTogether, http: requests.Session) -> None:
    job = create(
        fake,
        http,
        **EARLY,
        gradient_accumulation_steps=4,
        early_stopping_min_delta=0.01,
        multimodal_params={"train_vision": True},
    ).json()
    stored = fake.jobs[job["id"]]
    assert stored["gradient_accumulation_steps"] == 4
    assert stored["multimodal_params"] == {"train_vision": True}
    assert (stored["early_stopping_enabled"], stored["early_stopping_min_delta"]) == (True, 0.01)
    # The server's defaults fill what the request left out.
    assert (stored["early_stopping_patience"], stored["early_stopping_warmup_evals"]) == (2, 1)
    assert stored["early_stopped"] is False


@pytest.mark.parametrize(
    ("fields", "param", "message"),
    [
        ({"validation_file": None}, "validation_file", "requires a validation_file"),
        ({"n_evals": 3}, "n_evals", "= 4, got 3"),
        ({"early_stopping_patience": 3}, "n_evals", "= 5, got 4"),
        ({"early_stopping_warmup_evals": 0, "n_evals": 2}, "n_evals", "= 3, got 2"),
        ({"early_stopping_patience": 0}, "early_stopping_patience", ">= 1"),
        ({"early_stopping_min_delta": -1}, "early_stopping_min_delta", ">= 0"),
        ({"early_stopping_warmup_evals": -1}, "early_stopping_warmup_evals", ">= 0"),
        ({"early_stopping_enabled": "yes"}, "early_stopping_enabled", "a boolean"),
        ({"gradient_accumulation_steps": "4"}, "gradient_accumulation_steps", "integer"),
        ({"multimodal_params": {"train_vision": "y"}}, "multimodal_params", "train_vision"),
    ],
)
def test_create_enforces_the_early_stopping_rules(
    fake: FakeTogether,
    http: requests.Session,
    fields: dict[str, Any],
    param: str,
    message: str,
) -> None:
    body = {k: v for k, v in {**EARLY, **fields}.items() if v is not None}
    response = create(fake, http, **body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert message in error["message"]
    assert fake.jobs == {}


def test_early_stopping_disabled_needs_no_validation_file(
    fake: FakeTogether, http: requests.Session
) -> None:
    assert create(fake, http, **CREATE, early_stopping_enabled=False).status_code == 200


# ---------------------------------------------------------------- early stopping


def test_early_stopping_job_halts_and_says_so(fake: FakeTogether, http: requests.Session) -> None:
    job = finished(fake, http, **EARLY)
    assert job["status"] == "completed"
    assert job["steps_completed"] == EARLY_STOP_STEP < TOTAL_STEPS
    # Evaluations every 5 steps: 3 by step 15; patience 2 makes step 5 the best.
    assert (job["early_stopped"], job["early_stopping_best_step"]) == (True, 5)
    assert isinstance(job["early_stopping_best_metric"], float)
    (event,) = [e for e in job["events"] if e["type"] == "EARLY_STOPPED"]
    assert event["step"] == EARLY_STOP_STEP
    assert event["early_stopping_best_step"] == 5
    assert event["early_stopping_best_metric_value"] == job["early_stopping_best_metric"]


def test_early_stopped_job_ships_its_best_step(fake: FakeTogether, http: requests.Session) -> None:
    job = finished(fake, http, **EARLY)
    checkpoints = get(fake, http, f"/fine-tunes/{job['id']}/checkpoints")["data"]
    assert [c["step"] for c in checkpoints if c["checkpoint_type"].startswith("Final")] == [5, 5]
    rows = get(fake, http, f"/fine-tunes/{job['id']}/metrics")["metrics"]
    steps = [m["train/global_step"] for m in rows]
    assert max(steps) == EARLY_STOP_STEP


def test_early_stop_at_sets_the_halt_step(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http, **EARLY).json()["id"]
    fake.early_stop_at(job_id, 4)  # before the first evaluation (step 5)
    fake.advance(job_id, steps=5)
    job = get(fake, http, f"/fine-tunes/{job_id}")
    assert (job["early_stopped"], job["steps_completed"]) == (True, 4)
    # No evaluation ran: no metric, and the step is the halt step.
    assert (job["early_stopping_best_step"], job["early_stopping_best_metric"]) == (4, None)


def test_early_stop_at_none_runs_to_the_end(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http, **EARLY).json()["id"]
    fake.early_stop_at(job_id, None)
    fake.advance(job_id, steps=5)
    job = get(fake, http, f"/fine-tunes/{job_id}")
    assert (job["early_stopped"], job["steps_completed"]) == (False, TOTAL_STEPS)
    assert "EARLY_STOPPED" not in [e["type"] for e in job["events"]]


def test_a_job_without_early_stopping_never_halts(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE)
    assert (job["early_stopped"], job["steps_completed"]) == (False, TOTAL_STEPS)


def test_early_stop_at_checks_the_step(fake: FakeTogether) -> None:
    with pytest.raises(ValueError, match="step must be from 1 to 20"):
        fake.early_stop_at("ft-x", 0)


# ---------------------------------------------------------------- registry, price, progress


def test_completed_lora_job_has_model_and_adapter_registry_entries(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE, suffix="mine")
    name = job["model_output_name"].split("/")[-1]
    assert job["model_object_name"] == f"fake-project/{name}"
    assert job["adapter_object_name"] == f"fake-project/{name}-adapter"
    assert job["model_object_id"].startswith("ml_")
    assert job["adapter_object_id"].startswith("ml_")
    assert job["model_object_revision_id"].startswith("rv_")
    assert job["adapter_object_revision_id"].startswith("rv_")


def test_completed_full_job_has_no_adapter_entry(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE, training_type={"type": "Full"})
    assert job["model_object_id"].startswith("ml_")
    assert "adapter_object_id" not in job


def test_final_checkpoints_name_their_selector_and_registry_entry(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE)
    data = get(fake, http, f"/fine-tunes/{job['id']}/checkpoints")["data"]
    assert [c["checkpoint"] for c in data] == ["adapter", "model", "adapter"]
    for final in data[1:]:
        kind = final["checkpoint"]
        assert final["object_id"] == job[f"{kind}_object_id"]
        assert final["object_name"] == job[f"{kind}_object_name"]
        assert final["object_revision_id"] == job[f"{kind}_object_revision_id"]


def test_checkpoint_selector_model_downloads(fake: FakeTogether, http: requests.Session) -> None:
    job = finished(fake, http, **CREATE)
    params = {"ft_id": job["id"], "checkpoint": "model"}
    response = http.get(fake.base_url + "/finetune/download", params=params)
    assert response.status_code == 200
    assert response.content


def test_total_price_is_an_integer_in_nanodollars(
    fake: FakeTogether, http: requests.Session
) -> None:
    price = finished(fake, http, **CREATE)["total_price"]
    assert isinstance(price, int)
    assert price == 3_750_000_000  # 3.75 dollars


def test_running_job_has_a_progress_estimate(fake: FakeTogether, http: requests.Session) -> None:
    job_id = create(fake, http, **CREATE).json()["id"]
    fake.advance(job_id, steps=2)
    progress = get(fake, http, f"/fine-tunes/{job_id}")["progress"]
    assert progress == {"estimate_available": True, "seconds_remaining": 300}


# ---------------------------------------------------------------- knobs


def test_legacy_levels_knob(fake: FakeTogether, http: requests.Session) -> None:
    fake.legacy_levels = True
    job_id = create(fake, http, **CREATE).json()["id"]
    fake.fail_job(job_id, "boom")
    levels = [e["level"] for e in get(fake, http, f"/fine-tunes/{job_id}/events")["data"]]
    assert levels == ["legacy_info", "legacy_ierror"]


def test_unknown_fields_knob_reaches_every_object(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE)
    fake.files.add_file(b'{"text": "x"}\n')
    fake.add_unknown_fields = True
    value = {"since": "2027-01", "values": [1, 2.5, None], "ok": True}
    full = get(fake, http, f"/fine-tunes/{job['id']}")
    served = [
        full,
        full["events"][0],
        get(fake, http, "/fine-tunes")["data"][0],
        get(fake, http, f"/fine-tunes/{job['id']}/events")["data"][0],
        get(fake, http, f"/fine-tunes/{job['id']}/checkpoints")["data"][0],
        get(fake, http, "/files")["data"][0],
    ]
    assert all(obj["future_field"] == value for obj in served)
    assert "future_field" not in fake.jobs[job["id"]]  # served, not stored


def test_unknown_fields_are_off_by_default(fake: FakeTogether, http: requests.Session) -> None:
    job = finished(fake, http, **CREATE)
    assert "future_field" not in job
    assert all("future_field" not in e for e in job["events"])


# ---------------------------------------------------------------- metrics


def test_metrics_resolution_samples_uniformly(fake: FakeTogether, http: requests.Session) -> None:
    job = finished(fake, http, **CREATE)
    rows = get(fake, http, f"/fine-tunes/{job['id']}/metrics", resolution=5)["metrics"]
    assert [r["train/global_step"] for r in rows] == [1, 6, 11, 15, 20]


def test_metrics_resolution_of_one_is_the_latest(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE)
    rows = get(fake, http, f"/fine-tunes/{job['id']}/metrics", resolution=1)["metrics"]
    assert [r["train/global_step"] for r in rows] == [20]


def test_metrics_resolution_above_the_count_gives_all(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = finished(fake, http, **CREATE)
    path = f"/fine-tunes/{job['id']}/metrics"
    assert len(get(fake, http, path, resolution=500)["metrics"]) == TOTAL_STEPS


@pytest.mark.parametrize("value", ["0", "x"])
def test_metrics_resolution_must_be_positive(
    fake: FakeTogether, http: requests.Session, value: str
) -> None:
    job_id = create(fake, http, **CREATE).json()["id"]
    response = http.get(f"{fake.base_url}/fine-tunes/{job_id}/metrics?resolution={value}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "resolution"


def test_jobs_with_evaluations_log_eval_loss(fake: FakeTogether, http: requests.Session) -> None:
    job = finished(fake, http, **CREATE, validation_file="file-v", n_evals=4)
    rows = get(fake, http, f"/fine-tunes/{job['id']}/metrics")["metrics"]
    assert [r["train/global_step"] for r in rows if "eval/loss" in r] == [5, 10, 15, 20]


# ---------------------------------------------------------------- the spec check's extras


def test_extra_schemas_catch_a_malformed_preview_answer() -> None:
    sc.require_spec()
    checker = sc.SpecChecker()
    request = RecordedRequest("POST", "/v1/fine-tunes/preview", {}, {}, b"{}")
    body = {"dataset_format": "chat", "max_seq_length": 8, "model": "m", "rows": []}
    checker.check(request, 200, {"Content-Type": "application/json"}, sc.dump(body))
    problems = checker.take_violations()
    assert any("'chat' is not one of" in p for p in problems)
    assert any("'train_on_inputs' is a required property" in p for p in problems)


def test_extra_schemas_catch_a_malformed_tokenized_answer() -> None:
    sc.require_spec()
    checker = sc.SpecChecker()
    path = "/v1/fine-tunes/ft-1/download-tokenized-dataset"
    request = RecordedRequest("GET", path, {}, {}, b"")
    body = {"content_type": "x", "expires_at": "soon", "filename": "f", "size": "1", "url": "u"}
    checker.check(request, 200, {"Content-Type": "application/json"}, sc.dump(body))
    assert any("'1' is not of type 'integer'" in p for p in checker.take_violations())


def test_whoami_answers_a_project_api_key_identity(
    fake: FakeTogether, http: requests.Session
) -> None:
    # The official CLI asks who the caller is (outside /v1) before every command.
    answer = http.get(fake.url + "/v3/whoami")
    assert answer.status_code == 200
    body = answer.json()
    assert body["type"] == "project_api_key"
    assert set(body) == {"type", "api_key", "organization", "project"}
    assert body["api_key"]["id"]
    assert {"id", "name"} <= set(body["organization"])
    assert {"id", "name", "slug"} <= set(body["project"])
    assert requests.get(fake.url + "/v3/whoami", timeout=5).status_code == 401
    assert http.get(fake.url + "/v3/other").status_code == 404
