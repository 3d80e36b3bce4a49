"""``wait`` and ``follow_events`` against a fake whose jobs move on a manual clock.

No test sleeps for real: the client's ``sleep`` advances the same clock that moves
the fake's jobs one status every five seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from together_finetune import (
    Client,
    FineTune,
    FineTuneEvent,
    FineTuneEventType,
    FineTuneFailedError,
    FineTuneStatus,
    NotFoundError,
    TogetherError,
    WaitTimeoutError,
)
from together_finetune.testing import FakeTogether, ManualClock

STEP = 5.0  # seconds per status step of the fake
UNKNOWN = "ft-00000000-0000-0000-0000-000000000000"


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeTogether]:
    with FakeTogether(clock=clock, step_seconds=STEP) as server:
        yield server


@pytest.fixture
def ft_client(fake: FakeTogether, clock: ManualClock) -> Iterator[Client]:
    with Client(
        api_key=fake.api_key,
        base_url=fake.base_url,
        timeout=(2.0, 5.0),
        sleep=clock.sleep,
        clock=clock,
    ) as client:
        yield client


def _types(events: list[FineTuneEvent]) -> list[str]:
    return [e.type.value.upper() if e.type is not None else "" for e in events]


def _polls(fake: FakeTogether, job_id: str) -> int:
    return len(fake.requests_to("GET", f"/fine-tunes/{job_id}"))


def test_wait_returns_the_completed_job(
    fake: FakeTogether, ft_client: Client, clock: ManualClock
) -> None:
    job_id = fake.add_job()["id"]
    start = clock()
    job = ft_client.fine_tunes.wait(job_id, poll_interval=STEP)
    assert isinstance(job, FineTune)
    assert job.status == FineTuneStatus.COMPLETED
    assert job.is_terminal
    assert job.model_output_path
    # pending -> queued -> running -> compressing -> uploading -> completed
    assert clock() - start == pytest.approx(5 * STEP)
    assert _polls(fake, job_id) == 6
    # without on_event, no event requests are made
    assert fake.requests_to("GET", f"/fine-tunes/{job_id}/events") == []


def test_wait_on_a_terminal_job_returns_at_once(
    fake: FakeTogether, ft_client: Client, clock: ManualClock
) -> None:
    job_id = fake.add_job(status="completed")["id"]
    start = clock()
    assert ft_client.fine_tunes.wait(job_id).status == "completed"
    assert clock() == start
    assert _polls(fake, job_id) == 1


def test_on_event_sees_each_event_exactly_once(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job()["id"]
    seen: list[FineTuneEvent] = []
    job = ft_client.fine_tunes.wait(job_id, poll_interval=1.0, on_event=seen.append)
    assert job.status == "completed"
    everything = ft_client.fine_tunes.list_events(job_id)
    assert seen == everything  # all of them, in order, none twice
    assert _types(seen)[-1] == "JOB_COMPLETE"  # the final transition's events included
    assert _types(seen).count("JOB_COMPLETE") == 1
    assert _polls(fake, job_id) == 26  # polled every second; events fetched each time
    assert len(fake.requests_to("GET", f"/fine-tunes/{job_id}/events")) == 26 + 1  # + ours


def test_identical_events_are_each_reported(
    fake: FakeTogether, ft_client: Client, clock: ManualClock
) -> None:
    # Two events with the same content are two entries of the log: both are reported.
    job_id = fake.add_job(status="running")["id"]
    for _ in range(2):
        fake.add_event(
            job_id, type="WARNING", message="GPU slow", created_at="2026-01-01T00:00:00.000Z"
        )
    seen: list[FineTuneEvent] = []
    ft_client.fine_tunes.wait(job_id, on_event=seen.append)
    assert [e.message for e in seen].count("GPU slow") == 2
    assert seen == ft_client.fine_tunes.list_events(job_id)


def test_transient_503_does_not_end_the_wait(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job()["id"]
    fake.fail_next("GET", "/fine-tunes/*", 503)
    seen: list[FineTuneEvent] = []
    job = ft_client.fine_tunes.wait(job_id, on_event=seen.append)
    assert job.status == "completed"
    assert seen == ft_client.fine_tunes.list_events(job_id)
    # the 503'd poll was retried by the transport: one request more than the polls
    assert _polls(fake, job_id) == 6 + 1


def test_a_persistent_error_ends_the_wait(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job()["id"]
    fake.fail_next("GET", "/fine-tunes/*", 503, times=10)
    with pytest.raises(TogetherError):
        ft_client.fine_tunes.wait(job_id)


def test_wait_for_an_unknown_job(ft_client: Client) -> None:
    with pytest.raises(NotFoundError):
        ft_client.fine_tunes.wait(UNKNOWN)


def test_failed_job_is_returned_without_raise_on_failure(
    fake: FakeTogether, ft_client: Client
) -> None:
    job_id = fake.add_job()["id"]

    def fail_when_training(event: FineTuneEvent) -> None:
        if event.type == FineTuneEventType.TRAINING_START:
            fake.fail_job(job_id, "CUDA out of memory")

    job = ft_client.fine_tunes.wait(job_id, on_event=fail_when_training)
    assert job.status == FineTuneStatus.ERROR
    assert job.status.is_failure


def test_failed_job_raises_with_the_last_error_message(
    fake: FakeTogether, ft_client: Client
) -> None:
    job_id = fake.add_job()["id"]
    seen: list[FineTuneEvent] = []

    def fail_when_training(event: FineTuneEvent) -> None:
        seen.append(event)
        if event.type == FineTuneEventType.TRAINING_START:
            fake.fail_job(job_id, "CUDA out of memory")

    with pytest.raises(FineTuneFailedError) as info:
        ft_client.fine_tunes.wait(job_id, on_event=fail_when_training, raise_on_failure=True)
    assert str(info.value) == "CUDA out of memory"
    assert info.value.job.id == job_id
    assert info.value.job.status == "error"
    assert _types(seen)[-1] == "JOB_ERROR"  # on_event saw the failure before the raise


@pytest.mark.parametrize("status", ["error", "user_error"])
def test_raise_on_failure_without_on_event(
    fake: FakeTogether, ft_client: Client, status: str
) -> None:
    job_id = fake.add_job(status="running")["id"]
    fake.add_event(job_id, type="JOB_ERROR", message="first problem", level="error")
    fake.fail_job(job_id, "bad data on line 7", status=status)
    fake.add_event(job_id, type="REFUND", message="refunded", level="info")
    with pytest.raises(FineTuneFailedError) as info:
        ft_client.fine_tunes.wait(job_id, raise_on_failure=True)
    assert str(info.value) == "bad data on line 7"
    assert info.value.job.status == status


def test_cancelled_job_raises_naming_the_status(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job(status="running")["id"]
    ft_client.fine_tunes.cancel(job_id)
    with pytest.raises(FineTuneFailedError, match="cancelled") as info:
        ft_client.fine_tunes.wait(job_id, raise_on_failure=True)
    assert info.value.job.status == FineTuneStatus.CANCELLED


def test_completed_job_does_not_raise(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job(status="uploading")["id"]
    assert ft_client.fine_tunes.wait(job_id, raise_on_failure=True).status == "completed"


def test_timeout_raises_with_the_last_job_seen(
    fake: FakeTogether, ft_client: Client, clock: ManualClock
) -> None:
    job_id = fake.add_job()["id"]
    start = clock()
    with pytest.raises(WaitTimeoutError) as info:
        ft_client.fine_tunes.wait(job_id, poll_interval=STEP, timeout=12)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, TogetherError)
    assert clock() - start == pytest.approx(12)  # never sleeps past the deadline
    assert info.value.job is not None
    assert info.value.job.id == job_id
    assert info.value.job.status == "running"  # as seen by the last poll, at 12 s
    assert _polls(fake, job_id) == 4  # at 0, 5, 10 and 12 s


def test_timeout_zero_polls_once(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job()["id"]
    with pytest.raises(WaitTimeoutError) as info:
        ft_client.fine_tunes.wait(job_id, timeout=0)
    assert info.value.job is not None
    assert info.value.job.status == "pending"
    assert _polls(fake, job_id) == 1


@pytest.mark.parametrize("kwargs", [{"poll_interval": 0}, {"poll_interval": -1.0}, {"timeout": -1}])
def test_wait_rejects_bad_arguments(
    fake: FakeTogether, ft_client: Client, kwargs: dict[str, float]
) -> None:
    with pytest.raises(ValueError, match=f"^{next(iter(kwargs))} must be"):
        ft_client.fine_tunes.wait("ft-1", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="job ID must start with 'ft-'"):
        ft_client.fine_tunes.wait("not-a-job")
    assert fake.requests == []


def test_follow_events_yields_each_event_once_until_terminal(
    fake: FakeTogether, ft_client: Client, clock: ManualClock
) -> None:
    job_id = fake.add_job()["id"]
    start = clock()
    events = list(ft_client.fine_tunes.follow_events(job_id, poll_interval=2.0))
    assert clock() - start == pytest.approx(26.0)  # 13 pauses of 2 s, the last past 25 s
    assert events == ft_client.fine_tunes.list_events(job_id)
    types = _types(events)
    assert types[0] == "JOB_PENDING"
    assert types[-1] == "JOB_COMPLETE"
    assert len(set(map(id, events))) == len(events)


def test_follow_events_is_lazy_and_can_stop_early(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job()["id"]
    stream = ft_client.fine_tunes.follow_events(job_id)
    assert fake.requests == []  # nothing sent before the first next()
    first = next(stream)
    assert first.type == FineTuneEventType.JOB_PENDING
    stream.close()


def test_follow_events_checks_arguments_at_once(fake: FakeTogether, ft_client: Client) -> None:
    with pytest.raises(ValueError, match="job ID must start with 'ft-'"):
        ft_client.fine_tunes.follow_events("file-1")
    with pytest.raises(ValueError, match="poll_interval must be a positive number"):
        ft_client.fine_tunes.follow_events("ft-1", poll_interval=0)
    assert fake.requests == []


def test_follow_events_of_a_failed_job(fake: FakeTogether, ft_client: Client) -> None:
    job_id = fake.add_job(status="running")["id"]
    fake.fail_job(job_id, "boom")
    events = list(ft_client.fine_tunes.follow_events(job_id))
    assert _types(events)[-1] == "JOB_ERROR"


@pytest.mark.parametrize("status", list(FineTuneStatus))
def test_job_and_status_agree_on_terminal(status: FineTuneStatus) -> None:
    job = FineTune(id="ft-1", status=status)
    terminal = status.value in {"completed", "error", "user_error", "cancelled"}
    assert status.is_terminal is terminal
    assert job.is_terminal is terminal
    assert status.is_failure is (terminal and status.value != "completed")


def test_unknown_status_is_not_terminal() -> None:
    status = FineTuneStatus("paused_for_maintenance")
    assert not status.is_terminal
    assert not FineTune(id="ft-1", status=status).is_terminal
    assert FineTuneStatus("COMPLETED").is_terminal
