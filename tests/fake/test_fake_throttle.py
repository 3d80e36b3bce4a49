"""The fake's per-connection bandwidth cap (``throttle``): downloads and storage PUTs.

Real time is measured here, so the sizes stay small: each transfer takes about 0.2 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from together_finetune.testing import FakeTogether

RATE = 1_000_000  # bytes per second per connection
SIZE = 200_000  # 0.2 s at RATE


@pytest.fixture
def capped() -> Iterator[FakeTogether]:
    with FakeTogether(throttle=RATE) as fake:
        yield fake


def _get(fake: FakeTogether, job: str, headers: dict[str, str]) -> bytes:
    answer = requests.get(
        f"{fake.base_url}/finetune/download",
        params={"ft_id": job},
        headers={"Authorization": f"Bearer {fake.api_key}", **headers},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.content


def test_throttle_caps_each_connection_not_the_server(capped: FakeTogether) -> None:
    job = capped.add_job(status="completed")["id"]
    capped.set_download(job, size=2 * SIZE)
    _get(capped, job, {"Range": "bytes=0-0"})  # warm up: the first exchange loads the spec
    halves: dict[int, bytes] = {}

    def fetch(index: int) -> None:
        start = index * SIZE
        halves[index] = _get(capped, job, {"Range": f"bytes={start}-{start + SIZE - 1}"})

    started = time.monotonic()
    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    elapsed = time.monotonic() - started
    assert [len(halves[0]), len(halves[1])] == [SIZE, SIZE]
    # Each connection carried SIZE bytes at RATE: not faster, and side by side, not one
    # after the other (which would take twice as long).
    assert SIZE / RATE * 0.95 <= elapsed < 2 * SIZE / RATE * 0.95


def test_throttle_holds_a_storage_put_and_can_be_lifted(capped: FakeTogether) -> None:
    started = time.monotonic()
    answer = requests.put(capped.storage.url + "/bucket/x", data=b"x" * SIZE, timeout=10)
    assert answer.status_code == 200
    assert time.monotonic() - started >= SIZE / RATE * 0.95
    capped.throttle = None
    job = capped.add_job(status="completed")["id"]
    # Ten times the size: capped, it would take 10 * SIZE / RATE; lifted, far less, even
    # on a loaded machine.
    capped.set_download(job, size=10 * SIZE)
    started = time.monotonic()
    assert len(_get(capped, job, {})) == 10 * SIZE
    assert time.monotonic() - started < 5 * SIZE / RATE


@pytest.mark.parametrize("value", [0, -5, 1.5, "fast"])
def test_throttle_must_be_a_positive_integer(capped: FakeTogether, value: object) -> None:
    with pytest.raises(ValueError, match="throttle must be"):
        capped.throttle = value  # type: ignore[assignment]
