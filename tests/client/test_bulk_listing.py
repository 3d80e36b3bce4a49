"""A long listing: parsed and decoded with the cyclic collector paused, nothing lost."""

from __future__ import annotations

import gc
from typing import Any, Callable, Iterator, List, Tuple

import pytest
import requests

from together_finetune import Client
from together_finetune._body import BULK_BODY
from together_finetune.testing import FakeTogether
from together_finetune.transport import parse_json

JOBS = 600  # about 1.3 MB of JSON: past the bulk size


@pytest.fixture
def eager_collector() -> Iterator[None]:
    """A collection every few allocations, so that an unpaused parse certainly runs some."""
    threshold = gc.get_threshold()
    gc.set_threshold(10)
    yield
    gc.set_threshold(*threshold)


def collections() -> int:
    return sum(generation["collections"] for generation in gc.get_stats())


def fetch(server: FakeTogether, path: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    response = requests.get(server.base_url + path, headers=headers, timeout=10)
    response.raise_for_status()
    return response


@pytest.mark.usefixtures("eager_collector")
def test_a_large_body_is_parsed_with_the_collector_paused(server: FakeTogether) -> None:
    ids = [server.add_job(status="completed", suffix=f"bulk-{i}")["id"] for i in range(JOBS)]
    big = fetch(server, "/fine-tunes")
    small = fetch(server, f"/fine-tunes/{ids[0]}/events")
    assert len(big.content) >= BULK_BODY > len(small.content)

    before = collections()
    assert len(parse_json(big)["data"]) == JOBS
    # Unpaused, the parse would run about 200 collections here; one may run on entry.
    assert collections() - before <= 1
    assert gc.isenabled()

    before = collections()
    kept = [parse_json(small) for _ in range(200)]  # small bodies: parsed as always
    assert collections() - before > 1
    assert len(kept) == 200


def test_a_long_listing_decodes_every_job(server: FakeTogether, client: Client) -> None:
    ids = {server.add_job(status="completed", suffix=f"bulk-{i}")["id"] for i in range(JOBS)}
    jobs = client.fine_tunes.list()
    assert {job.id for job in jobs} == ids
    assert all(job.created_at is not None and job.created_at.tzinfo for job in jobs)
    assert gc.isenabled()


def test_a_long_body_stays_paused_from_parse_to_decode(
    server: FakeTogether, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No collection between parsing and decoding: it would scan the whole body for nothing."""
    from together_finetune import _resource, files

    seen: List[Tuple[str, bool]] = []

    def watching(real: Callable[..., Any]) -> Callable[..., Any]:
        def decode(data: Any, cls: Any, **options: Any) -> Any:
            seen.append((str(cls), gc.isenabled()))
            return real(data, cls, **options)

        return decode

    monkeypatch.setattr(_resource, "decode", watching(_resource.decode))
    monkeypatch.setattr(files, "decode", watching(files.decode))
    ids = [server.add_job(status="completed", suffix=f"bulk-{i}")["id"] for i in range(JOBS)]
    assert len(client.fine_tunes.list()) == JOBS
    client.fine_tunes.retrieve(ids[0])  # a small body: the collector runs as always
    assert len(client.files.list()) == 0
    assert [enabled for _, enabled in seen] == [False, True, True]
    assert gc.isenabled()


def tracked_in(generation: int, value: object) -> bool:
    return any(o is value for o in gc.get_objects(generation=generation))


def test_a_long_listing_goes_to_the_oldest_generation(server: FakeTogether, client: Client) -> None:
    """No young collection scans the new jobs for nothing once the pause ends."""
    for i in range(JOBS):
        server.add_job(status="completed", suffix=f"bulk-{i}")
    jobs = client.fine_tunes.list()
    assert len(jobs) == JOBS
    for job in (jobs[0], jobs[-1], jobs[-1].training_type):
        assert not tracked_in(0, job)
        assert not tracked_in(1, job)
        assert tracked_in(2, job)
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()

    one = client.fine_tunes.retrieve(jobs[0].id)  # a small body: left young
    assert tracked_in(0, one)


def test_objects_the_program_froze_stay_frozen(server: FakeTogether, client: Client) -> None:
    for i in range(JOBS):
        server.add_job(status="completed", suffix=f"bulk-{i}")
    mine = [[i] for i in range(10)]
    gc.freeze()
    try:
        assert len(client.fine_tunes.list()) == JOBS
        assert gc.get_freeze_count() > 0  # unfrozen, they would all be in generation 2
        assert not tracked_in(2, mine)
    finally:
        gc.unfreeze()


def test_a_long_listing_frees_each_item_once_decoded(
    server: FakeTogether, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parsed list is emptied as it is read (its items freed while still cached)."""
    from together_finetune import _resource

    bodies: List[Any] = []

    def keeping(data: Any, cls: Any, **options: Any) -> Any:
        bodies.append(data)
        return real(data, cls, **options)

    real = _resource.decode
    monkeypatch.setattr(_resource, "decode", keeping)
    for i in range(5):
        server.add_job(status="completed", suffix=f"bulk-{i}")
    assert sorted(str(job.suffix) for job in client.fine_tunes.list()) == [
        f"bulk-{i}" for i in range(5)
    ]
    assert bodies[0] == [None] * 5
