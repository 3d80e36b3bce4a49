"""The fake's files endpoints refuse malformed uploads the way the live API does.

Raw ``requests`` against :class:`FakeTogether` (the ``server`` fixture): every refusal is a
400/404 ``ErrorData`` naming the offending parameter, and nothing is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from together_finetune.testing import FakeTogether
from together_finetune.testing.files_api import FilesAPI, register_files_api

CONTENT = b'{"prompt": "q", "completion": "a"}\n' * 20
CHECKSUM = hashlib.sha256(CONTENT).hexdigest()
META = {
    "purpose": "fine-tune",
    "file_name": "train.jsonl",
    "file_type": "jsonl",
    "checksum": CHECKSUM,
}


@pytest.fixture
def http(server: FakeTogether) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {server.api_key}"
        yield session


def refused(response: requests.Response, status: int, param: str | None) -> str:
    """Assert an ErrorData refusal naming ``param``; return its message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error.get("param") == param
    return str(error["message"])


def initiate(
    server: FakeTogether, http: requests.Session, content: bytes = CONTENT, num_parts: int = 2
) -> dict[str, Any]:
    response = http.post(
        server.base_url + "/files/multipart/initiate",
        json={
            **META,
            "checksum": hashlib.sha256(content).hexdigest(),
            "file_size": len(content),
            "num_parts": num_parts,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def part_url(part: dict[str, Any]) -> str:
    return str(part.get("URL") or part.get("UploadURL"))


def put_parts(started: dict[str, Any], chunks: list[bytes]) -> list[dict[str, Any]]:
    """PUT each chunk to its presigned URL; return the ``parts`` list for complete."""
    parts = []
    for number, (part, chunk) in enumerate(zip(started["parts"], chunks), start=1):
        response = requests.put(part_url(part), data=chunk, timeout=5)
        assert response.status_code == 200
        parts.append({"part_number": number, "etag": response.headers["ETag"].strip('"')})
    return parts


def complete(
    server: FakeTogether, http: requests.Session, started: dict[str, Any], parts: Any
) -> requests.Response:
    return http.post(
        server.base_url + "/files/multipart/complete",
        json={"upload_id": started["upload_id"], "file_id": started["file_id"], "parts": parts},
    )


# -- form and JSON bodies -----------------------------------------------------------------


def test_post_files_upload_is_refused_in_favour_of_the_live_flow(
    server: FakeTogether, http: requests.Session
) -> None:
    message = refused(http.post(server.base_url + "/files/upload", data=META), 400, None)
    assert "POST /v1/files with form fields" in message


def test_post_files_with_the_file_itself_is_refused(
    server: FakeTogether, http: requests.Session
) -> None:
    response = http.post(
        server.base_url + "/files", data=META, files={"file": ("train.jsonl", CONTENT)}
    )
    refused(response, 400, "file")
    assert server.files.files == {}


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        ({"purpose": ""}, "purpose", "purpose is required"),
        ({"file_name": None}, "file_name", "file_name is required"),
        ({"purpose": "pretraining"}, "purpose", "unknown purpose 'pretraining'"),
        ({"file_type": "xml"}, "file_type", "unknown file_type 'xml'"),
        ({"checksum": "ABC"}, "checksum", "sha256 hex digest"),
    ],
)
def test_registration_fields_are_checked(
    server: FakeTogether,
    http: requests.Session,
    change: dict[str, Any],
    param: str,
    message: str,
) -> None:
    fields = {k: v for k, v in {**META, **change}.items() if v is not None}
    response = http.post(server.base_url + "/files", data=fields, allow_redirects=False)
    assert message in refused(response, 400, param)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b"", "JSON object")],
)
def test_multipart_bodies_must_be_json_objects(
    server: FakeTogether, http: requests.Session, body: bytes, message: str
) -> None:
    response = http.post(
        server.base_url + "/files/multipart/initiate",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert message in refused(response, 400, None)


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"file_size": 0}, "file_size"),
        ({"file_size": True}, "file_size"),
        ({"file_size": "12"}, "file_size"),
        ({"num_parts": 0}, "num_parts"),
        ({"num_parts": 251}, "num_parts"),
        ({"num_parts": 2.0}, "num_parts"),
    ],
)
def test_initiate_checks_size_and_part_count(
    server: FakeTogether, http: requests.Session, change: dict[str, Any], param: str
) -> None:
    body = {**META, "file_size": len(CONTENT), "num_parts": 2, **change}
    response = http.post(server.base_url + "/files/multipart/initiate", json=body)
    refused(response, 400, param)


# -- preprocess ---------------------------------------------------------------------------


def register(server: FakeTogether, http: requests.Session, **change: str) -> tuple[str, str]:
    """POST /files; return the file ID and the storage URL it redirected to."""
    response = http.post(server.base_url + "/files", data={**META, **change}, allow_redirects=False)
    assert response.status_code == 302
    return response.headers["X-Together-File-Id"], response.headers["Location"]


def test_preprocess_of_an_unknown_file_is_404(server: FakeTogether, http: requests.Session) -> None:
    response = http.post(server.base_url + "/files/file-nothing/preprocess")
    assert "file-nothing" in refused(response, 404, "id")


def test_preprocess_before_the_bytes_are_stored_is_refused(
    server: FakeTogether, http: requests.Session
) -> None:
    file_id, _ = register(server, http)
    response = http.post(server.base_url + f"/files/{file_id}/preprocess")
    assert "not uploaded" in refused(response, 400, "file_id")
    assert file_id not in server.files.files


def test_preprocess_refuses_bytes_that_do_not_match_the_checksum(
    server: FakeTogether, http: requests.Session
) -> None:
    file_id, location = register(server, http)
    assert requests.put(location, data=CONTENT + b"tampered", timeout=5).status_code == 200
    response = http.post(server.base_url + f"/files/{file_id}/preprocess")
    assert "checksum" in refused(response, 400, "checksum")
    assert file_id not in server.files.files


def test_preprocess_twice_answers_the_stored_file(
    server: FakeTogether, http: requests.Session
) -> None:
    file_id, location = register(server, http)
    assert requests.put(location, data=CONTENT, timeout=5).status_code == 200
    first = http.post(server.base_url + f"/files/{file_id}/preprocess")
    again = http.post(server.base_url + f"/files/{file_id}/preprocess")
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.json()["bytes"] == len(CONTENT)
    assert list(server.files.files) == [file_id]


# -- multipart complete -------------------------------------------------------------------


def test_complete_assembles_the_parts(server: FakeTogether, http: requests.Session) -> None:
    started = initiate(server, http)
    parts = put_parts(started, [CONTENT[:300], CONTENT[300:]])
    response = complete(server, http, started, parts)
    assert response.status_code == 200, response.text
    assert server.files.contents[started["file_id"]] == CONTENT


def test_complete_with_an_unknown_upload_or_file_id(
    server: FakeTogether, http: requests.Session
) -> None:
    started = initiate(server, http)
    parts = put_parts(started, [CONTENT[:300], CONTENT[300:]])
    refused(
        complete(server, http, {**started, "upload_id": "upload-nope"}, parts), 400, "upload_id"
    )
    refused(complete(server, http, {**started, "file_id": "file-other"}, parts), 400, "upload_id")
    # the upload is still open: the right IDs complete it
    assert complete(server, http, started, parts).status_code == 200


def test_complete_needs_every_part_in_order(server: FakeTogether, http: requests.Session) -> None:
    started = initiate(server, http)
    parts = put_parts(started, [CONTENT[:300], CONTENT[300:]])
    assert "every part" in refused(complete(server, http, started, parts[:1]), 400, "parts")
    assert "every part" in refused(complete(server, http, started, None), 400, "parts")
    assert "sorted" in refused(complete(server, http, started, parts[::-1]), 400, "parts")
    assert "sorted" in refused(complete(server, http, started, [parts[0], "x"]), 400, "parts")
    assert server.files.files == {}


def test_complete_refuses_a_missing_part_and_a_wrong_etag(
    server: FakeTogether, http: requests.Session
) -> None:
    started = initiate(server, http)
    (first,) = put_parts(started, [CONTENT[:300]])  # part 2 never uploaded
    missing = complete(server, http, started, [first, {"part_number": 2, "etag": "x"}])
    assert "part 2 was not uploaded" in refused(missing, 400, "parts")

    parts = put_parts(started, [CONTENT[:300], CONTENT[300:]])
    parts[1]["etag"] = "0" * 32
    assert "part 2 has the wrong etag" in refused(
        complete(server, http, started, parts), 400, "parts"
    )


def test_complete_refuses_parts_that_do_not_add_up(
    server: FakeTogether, http: requests.Session
) -> None:
    started = initiate(server, http)
    parts = put_parts(started, [CONTENT[:300], CONTENT[300:-1]])  # one byte short
    assert "file_size" in refused(complete(server, http, started, parts), 400, "file_size")

    parts = put_parts(started, [CONTENT[:300], CONTENT[300:-1] + b"!"])  # right size, other bytes
    assert "checksum" in refused(complete(server, http, started, parts), 400, "checksum")
    assert server.files.files == {}


def test_abort_forgets_the_upload(server: FakeTogether, http: requests.Session) -> None:
    started = initiate(server, http)
    parts = put_parts(started, [CONTENT[:300], CONTENT[300:]])
    response = http.post(
        server.base_url + "/files/multipart/abort", json={"upload_id": started["upload_id"]}
    )
    assert response.status_code == 200
    assert server.files.aborted == [started["upload_id"]]
    refused(complete(server, http, started, parts), 400, "upload_id")


def test_register_files_api_returns_the_files_api_the_fake_composes(
    server: FakeTogether,
) -> None:
    api = server.files
    assert isinstance(api, FilesAPI)
    assert register_files_api(server) is api
    with pytest.raises(TypeError, match="object has no files API"):
        register_files_api(object())
