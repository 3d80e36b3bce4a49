"""The Django example (``examples/django_app``) against the fake, through Django's test client.

Django is configured once per process, so the project is loaded once here, against one
fake for the whole module, exactly as a server process would load it: the settings read
the environment and the app's one client is created at import.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from support.paths import EXAMPLES

from together_finetune import Client
from together_finetune.testing import FakeTogether

DJANGO_APP = EXAMPLES / "django_app"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTogether]:
    with FakeTogether() as fake:
        yield fake


@pytest.fixture(scope="module")
def site(fake: FakeTogether) -> Iterator[Any]:
    """The example project, loaded and set up; yields its ``jobs.together`` module."""
    import django

    patch = pytest.MonkeyPatch()
    patch.setenv("TOGETHER_API_KEY", fake.api_key)
    patch.setenv("TOGETHER_BASE_URL", fake.base_url)
    patch.setenv("DJANGO_SETTINGS_MODULE", "finetune_site.settings")
    patch.syspath_prepend(str(DJANGO_APP))
    try:
        django.setup()
        from jobs import together

        yield together
        together.client.close()
    finally:
        patch.undo()


@pytest.fixture
def browser(site: Any) -> Any:
    from django.test import Client as DjangoClient

    return DjangoClient()


def status(*args: str) -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("finetune_status", *args, stdout=out)
    return out.getvalue()


def test_the_settings_read_the_environment(site: Any, fake: FakeTogether) -> None:
    from django.conf import settings

    read = (settings.TOGETHER_API_KEY, settings.TOGETHER_BASE_URL)
    assert read == (fake.api_key, fake.base_url)


def test_one_client_per_process_made_at_import(site: Any, fake: FakeTogether, browser: Any) -> None:
    from jobs import views

    assert isinstance(site.client, Client)
    assert views.client is site.client
    assert site.client.base_url == fake.base_url
    job_id = fake.add_job()["id"]
    before = len(fake.requests)
    for _ in range(5):
        assert browser.get("/jobs/").status_code == 200
    status(job_id)
    # Every request, the command's too, went over the one client's kept-alive connection.
    assert len({r.client_port for r in fake.requests[before:]}) == 1


def test_the_view_returns_the_jobs_as_json(site: Any, fake: FakeTogether, browser: Any) -> None:
    fake.add_job(status="running", model="m-small")
    fake.add_job(status="completed")
    answer = browser.get("/jobs/")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    jobs = answer.json()["jobs"]
    assert {job["id"] for job in jobs} == set(fake.jobs)
    shown = {job["id"]: job for job in jobs}
    for job_id, wire in fake.jobs.items():
        assert shown[job_id]["status"] == wire["status"]
        assert shown[job_id]["model"] == wire["model"]
        assert shown[job_id]["done"] is (wire["status"] == "completed")
    assert fake.requests[-1].header("Authorization") == f"Bearer {fake.api_key}"


def test_the_view_answers_502_when_the_api_fails(
    site: Any, fake: FakeTogether, browser: Any
) -> None:
    fake.fail_next("GET", "/fine-tunes", 403)
    answer = browser.get("/jobs/")
    assert answer.status_code == 502
    assert "403" in answer.json()["error"]
    assert fake.api_key not in answer.content.decode()


def test_the_view_takes_only_get(site: Any, browser: Any) -> None:
    assert browser.post("/jobs/").status_code == 405


def test_finetune_status_prints_a_running_job(site: Any, fake: FakeTogether) -> None:
    job = fake.add_job(status="running")
    out = status(job["id"])
    assert out.startswith(f"{job['id']}  running")
    assert f"/{job['total_steps']}" in out
    assert "model:" not in out


def test_finetune_status_prints_the_model_of_a_completed_job(site: Any, fake: FakeTogether) -> None:
    job = fake.add_job(status="completed")
    out = status(job["id"])
    assert out.splitlines() == [
        f"{job['id']}  completed  step {job['total_steps']}/{job['total_steps']}",
        f"model: {job['model_output_name']}",
    ]


def test_finetune_status_of_an_unknown_job_is_a_command_error(site: Any) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no job ft-00000000-0000-0000-0000-000000000000"):
        status("ft-00000000-0000-0000-0000-000000000000")
    with pytest.raises(CommandError, match="must start with 'ft-'"):
        status("not-a-job")
