"""Every call ends: each route the client uses, under the same fault forever.

The README's guarantee: with a finite ``RetryPolicy`` every method returns or raises within
a bound computable from the policy. Here each route gets one fault armed for (practically)
ever; the call must end with a typed error, the number of requests must stay within the
bound, and nothing incomplete may sit at a download's target. The client's ``sleep``
advances a manual clock, so nothing sleeps for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytest
from support.data import write_jsonl

from together_finetune import Client, RetryPolicy
from together_finetune.errors import APIStatusError, DownloadError, TogetherError, UploadError
from together_finetune.testing import FakeTogether

POLICY = RetryPolicy(max_retries=2, download_resume_attempts=3)
#: An API request: the first attempt and ``max_retries`` more, never more.
API_BOUND = POLICY.max_retries + 1
#: A download with no progress past its first answer: one attempt that got bytes, then
#: ``download_resume_attempts + 1`` without progress (see _retry.py for the general bound).
DOWNLOAD_BOUND = 1 + POLICY.download_resume_attempts + 1
FOREVER = 10_000
MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
DOWNLOAD = "/finetune/download"
DATA = bytes(range(256)) * 400


class Route(NamedTuple):
    method: str
    path: str  # the fault pattern, relative to /v1
    call: Callable[[Client, dict[str, Any]], Any]


def _job(server: FakeTogether) -> str:
    return str(server.add_job(status="completed")["id"])


ROUTES = {
    "list jobs": Route("GET", "/fine-tunes", lambda c, ids: c.fine_tunes.list()),
    "retrieve job": Route("GET", "/fine-tunes/*", lambda c, ids: c.fine_tunes.retrieve(ids["job"])),
    "cancel job": Route(
        "POST", "/fine-tunes/*/cancel", lambda c, ids: c.fine_tunes.cancel(ids["job"])
    ),
    "delete job": Route("DELETE", "/fine-tunes/*", lambda c, ids: c.fine_tunes.delete(ids["job"])),
    "events": Route(
        "GET", "/fine-tunes/*/events", lambda c, ids: c.fine_tunes.list_events(ids["job"])
    ),
    "checkpoints": Route(
        "GET", "/fine-tunes/*/checkpoints", lambda c, ids: c.fine_tunes.list_checkpoints(ids["job"])
    ),
    "metrics": Route(
        "GET", "/fine-tunes/*/metrics", lambda c, ids: c.fine_tunes.list_metrics(ids["job"])
    ),
    "model limits": Route(
        "GET", "/fine-tunes/models/limits", lambda c, ids: c.fine_tunes.model_limits(MODEL)
    ),
    "supported models": Route(
        "GET", "/fine-tunes/models/supported", lambda c, ids: c.fine_tunes.supported_models()
    ),
    "list files": Route("GET", "/files", lambda c, ids: c.files.list()),
    "retrieve file": Route("GET", "/files/*", lambda c, ids: c.files.retrieve(ids["file"])),
    "delete file": Route("DELETE", "/files/*", lambda c, ids: c.files.delete(ids["file"])),
}
DOWNLOADS = {
    "model download": lambda c, ids, out: c.fine_tunes.download(
        ids["job"], checkpoint="merged", output=out, progress=ids.get("progress")
    ),
    "file content": lambda c, ids, out: c.files.content(ids["file"], out),
    "redirected model download": lambda c, ids, out: c.fine_tunes.download(
        ids["job"], checkpoint="merged", output=out, progress=ids.get("progress")
    ),
    "parallel model download": lambda c, ids, out: c.fine_tunes.download(
        ids["job"], checkpoint="merged", output=out, progress=ids.get("progress"), connections=4
    ),
}
#: Pieces of DATA with four connections (the smallest piece is 64 KiB); each piece has a
#: budget of its own, and the whole download restarts within the download's budget.
PIECES = 2


def test_the_parallel_cases_fetch_pieces() -> None:
    from together_finetune._transfer.segments import plan_pieces

    assert len(plan_pieces(len(DATA), 4)) == PIECES


STATUSES = [400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504]


@pytest.fixture
def ids(server: FakeTogether) -> dict[str, Any]:
    job = _job(server)
    server.set_download(job, data=DATA, etag='"v1"')
    record = server.files.add_file(DATA, "x.jsonl")
    return {"job": job, "file": record["id"]}


@pytest.fixture
def bounded(make_client: Callable[..., Client]) -> Client:
    return make_client(retry=POLICY)


def _sent(server: FakeTogether, route: Route) -> int:
    import re

    pattern = re.compile(
        "".join("[^/]*" if p == "*" else re.escape(p) for p in re.split(r"(\*)", route.path))
        + r"\Z"
    )
    return sum(
        1
        for r in server.requests
        if r.method == route.method and pattern.match(r.path.removeprefix("/v1"))
    )


# -- API requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_api_route_under_a_status_forever_ends(
    server: FakeTogether, bounded: Client, ids: dict[str, Any], name: str, status: int
) -> None:
    route = ROUTES[name]
    server.fail_next(route.method, route.path, status, times=FOREVER)
    with pytest.raises(APIStatusError) as caught:
        route.call(bounded, ids)
    assert caught.value.status_code == status
    assert 1 <= _sent(server, route) <= API_BOUND


@pytest.mark.parametrize("after_handling", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("name", sorted(ROUTES))
def test_api_route_whose_connection_always_drops_ends(
    server: FakeTogether, bounded: Client, ids: dict[str, Any], name: str, after_handling: bool
) -> None:
    route = ROUTES[name]
    server.drop_next(route.method, route.path, times=FOREVER, after_handling=after_handling)
    with pytest.raises(TogetherError):
        route.call(bounded, ids)
    assert 1 <= _sent(server, route) <= API_BOUND


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_api_route_in_a_redirect_loop_ends(
    server: FakeTogether, bounded: Client, ids: dict[str, Any], name: str
) -> None:
    route = ROUTES[name]
    loop = {"Location": server.base_url + "/fine-tunes/models/supported"}
    server.fail_next("GET", "/fine-tunes/models/supported", 302, headers=loop, times=FOREVER)
    server.fail_next(route.method, route.path, 302, headers=loop, times=FOREVER)
    with pytest.raises(TogetherError, match="redirect"):
        route.call(bounded, ids)
    # requests gives up after 30 redirects; a redirect loop is never retried.
    assert len(server.requests) <= 31


def test_create_that_always_fails_is_sent_once(server: FakeTogether, bounded: Client) -> None:
    server.fail_next("POST", "/fine-tunes", 500, times=FOREVER)
    with pytest.raises(APIStatusError):
        bounded.fine_tunes.create(training_file="file-abc", model=MODEL)
    assert len(server.requests_to("POST", "/fine-tunes")) == 1  # it may have been stored


# -- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "503", "drop"])
def test_storage_put_that_always_fails_ends(
    server: FakeTogether, bounded: Client, tmp_path: Path, fault: str
) -> None:
    if fault == "drop":
        server.storage.drop_next("PUT", times=FOREVER)
    else:
        server.storage.fail_next("PUT", int(fault), times=FOREVER)
    with pytest.raises((UploadError, TogetherError)):
        bounded.files.upload(write_jsonl(tmp_path / "t.jsonl"))
    puts = [r for r in server.storage.requests if r.method == "PUT"]
    assert 1 <= len(puts) <= API_BOUND


# -- downloads -------------------------------------------------------------------------------


def _download_ends(
    server: FakeTogether, client: Client, ids: dict[str, Any], name: str, tmp_path: Path
) -> BaseException:
    target = tmp_path / "out.bin"
    server.download_redirect = name.startswith("redirected")
    with pytest.raises(TogetherError) as caught:
        DOWNLOADS[name](client, ids, target)
    assert not target.exists()  # nothing incomplete at the target
    gets = [
        r
        for r in [*server.requests, *server.storage.requests]
        if r.method == "GET" and not r.path.startswith("/v1/fine-tunes")
    ]
    # A redirect costs one more request per attempt (the API is asked again only when
    # the storage URL stops working, which these faults never do... but drops do).
    per_attempt = 2 if name.startswith("redirected") else 1
    if name.startswith("parallel"):  # a probe, then every piece within its own budget
        per_attempt = 1 + PIECES * DOWNLOAD_BOUND
    assert 1 <= len(gets) <= DOWNLOAD_BOUND * per_attempt
    return caught.value


@pytest.mark.parametrize("status", [*STATUSES, 416])
@pytest.mark.parametrize("name", sorted(DOWNLOADS))
def test_download_under_a_status_forever_ends(
    server: FakeTogether,
    bounded: Client,
    ids: dict[str, Any],
    name: str,
    status: int,
    tmp_path: Path,
) -> None:
    for path in (DOWNLOAD, "/files/*/content"):
        server.fail_next("GET", path, status, times=FOREVER)
    error = _download_ends(server, bounded, ids, name, tmp_path)
    assert isinstance(error, APIStatusError)
    assert error.status_code == status


@pytest.mark.parametrize("when", ["before", "after", "mid-body"])
@pytest.mark.parametrize("name", sorted(DOWNLOADS))
def test_download_whose_connection_always_drops_ends(
    server: FakeTogether,
    bounded: Client,
    ids: dict[str, Any],
    name: str,
    when: str,
    tmp_path: Path,
) -> None:
    if when == "mid-body":
        server.download_ignores_range = True  # every resume restarts, and is cut again
        server.cut_download(5000, times=FOREVER)
    else:
        for path in (DOWNLOAD, "/files/*/content"):
            server.drop_next("GET", path, times=FOREVER, after_handling=when == "after")
    error = _download_ends(server, bounded, ids, name, tmp_path)
    assert isinstance(error, DownloadError)


@pytest.mark.parametrize(
    "lie",
    ["long content-length", "short body, same etag", "new etag on every cut", "bad content-range"],
)
@pytest.mark.parametrize("name", sorted(DOWNLOADS))
def test_download_from_a_lying_server_ends(
    server: FakeTogether,
    bounded: Client,
    ids: dict[str, Any],
    name: str,
    lie: str,
    tmp_path: Path,
) -> None:
    if lie == "long content-length":
        server.download_wrong_length = len(DATA) + 1000
    elif lie == "short body, same etag":
        server.download_ignores_range = True
        server.cut_download(len(DATA) - 10, times=FOREVER)
    elif lie == "new etag on every cut":
        server.set_download(ids["job"], data=DATA)  # an ETag that follows the changes
        server.cut_download(7000, times=FOREVER)
        # The file changes whenever bytes arrive, so every resume gets it whole again: each
        # answer of the API changes the ETag (storage's answers: the progress callback).
        ids["progress"] = lambda done, total: server.change_download_etag()
        server.on_exchange = lambda request, status, headers, body: (
            server.change_download_etag() if status in (200, 206) else None
        )
    else:
        for path in (DOWNLOAD, "/files/*/content"):
            server.fail_next(
                "GET",
                path,
                206,
                headers={"Content-Range": f"bytes 0-9/{len(DATA)}", "ETag": '"v1"'},
                body=b"x" * 10,
                times=FOREVER,
            )
    error = _download_ends(server, bounded, ids, name, tmp_path)
    assert isinstance(error, DownloadError)
    assert "stopped at" in str(error) or "server announced" in str(error)


@pytest.mark.parametrize("name", sorted(DOWNLOADS))
def test_download_in_a_redirect_loop_ends(
    server: FakeTogether, bounded: Client, ids: dict[str, Any], name: str, tmp_path: Path
) -> None:
    for path in (DOWNLOAD, "/files/*/content"):
        server.fail_next("GET", path, 302, headers={"Location": "/v1" + DOWNLOAD}, times=FOREVER)
    with pytest.raises(DownloadError, match="redirects"):
        DOWNLOADS[name](bounded, ids, tmp_path / "out.bin")
    assert len(server.requests) <= 11
    assert not (tmp_path / "out.bin").exists()
