"""The fake validates uploaded fine-tuning files on its clock, like the live API.

Upload through the live flow (``POST /files``, ``PUT`` to storage, preprocess) with plain
``requests``; the file is ``PENDING`` until ``file_processing_seconds`` of the fake's
clock have passed, then ``COMPLETED`` or ``INVALID_FORMAT`` with its ``validation_report``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from together_finetune.testing import FakeTogether, ManualClock

FLAGS = (
    "dataset_has_message_weights",
    "dataset_has_parallel_tool_calls",
    "dataset_has_reasoning",
    "dataset_has_sample_weights",
    "dataset_has_tools",
    "dataset_is_multimodal",
)
CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}


def jsonl(*samples: Any) -> bytes:
    return b"".join(json.dumps(s).encode() + b"\n" for s in samples)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeTogether]:
    with FakeTogether(clock=clock) as server:
        yield server


@pytest.fixture
def http(fake: FakeTogether) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {fake.api_key}"
        yield session


def upload(
    fake: FakeTogether,
    http: requests.Session,
    content: bytes,
    *,
    name: str = "train.jsonl",
    purpose: str = "fine-tune",
) -> dict[str, Any]:
    fields = {
        "purpose": purpose,
        "file_name": name,
        "file_type": name.rsplit(".", 1)[-1],
        "checksum": hashlib.sha256(content).hexdigest(),
    }
    registered = http.post(fake.base_url + "/files", data=fields, allow_redirects=False)
    assert registered.status_code == 302, registered.text
    assert requests.put(registered.headers["Location"], data=content, timeout=5).status_code == 200
    file_id = registered.headers["X-Together-File-Id"]
    answer = http.post(f"{fake.base_url}/files/{file_id}/preprocess")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def retrieve(fake: FakeTogether, http: requests.Session, file_id: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"{fake.base_url}/files/{file_id}").json()
    return body


def processed(
    fake: FakeTogether, http: requests.Session, clock: ManualClock, content: bytes, **kw: Any
) -> dict[str, Any]:
    file_id = upload(fake, http, content, **kw)["id"]
    clock.advance(fake.file_processing_seconds)
    return retrieve(fake, http, file_id)


def test_preprocess_answers_pending(fake: FakeTogether, http: requests.Session) -> None:
    body = upload(fake, http, jsonl(CHAT))
    assert (body["processing_status"], body["Processed"]) == ("PENDING", False)
    assert "validation_report" not in body


def test_file_stays_pending_until_the_processing_time_passes(
    fake: FakeTogether, http: requests.Session, clock: ManualClock
) -> None:
    file_id = upload(fake, http, jsonl(CHAT))["id"]
    clock.advance(fake.file_processing_seconds - 0.01)
    assert retrieve(fake, http, file_id)["processing_status"] == "PENDING"
    clock.advance(0.01)
    body = retrieve(fake, http, file_id)
    assert (body["processing_status"], body["Processed"]) == ("COMPLETED", True)


def test_completed_file_has_its_validation_report(
    fake: FakeTogether, http: requests.Session, clock: ManualClock
) -> None:
    body = processed(fake, http, clock, jsonl(CHAT, CHAT) + b"\n")
    assert body["validation_report"] == {
        "valid": True,
        "file_id": body["id"],
        "nlines": 2,
        "dataset_format": "CONVERSATION",
        **dict.fromkeys(FLAGS, False),
    }


def test_processing_seconds_zero_validates_at_once(
    fake: FakeTogether, http: requests.Session
) -> None:
    fake.file_processing_seconds = 0
    body = upload(fake, http, jsonl({"prompt": "a", "completion": "b"}))
    assert body["processing_status"] == "COMPLETED"
    assert body["validation_report"]["dataset_format"] == "INSTRUCTION"


def test_a_purpose_without_validation_is_completed_at_once(
    fake: FakeTogether, http: requests.Session
) -> None:
    body = upload(fake, http, b"q,a\n1,2\n", name="e.csv", purpose="eval")
    assert (body["processing_status"], body["Processed"]) == ("COMPLETED", True)
    assert "validation_report" not in body


TOOL_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("sample", "flag"),
    [
        ({**CHAT, "tools": [{"type": "function", "function": {"name": "f"}}]}, "dataset_has_tools"),
        (
            {
                "messages": [
                    {"role": "user", "content": "both"},
                    {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL, TOOL_CALL]},
                    {"role": "tool", "content": "1", "tool_call_id": "c1"},
                    {"role": "tool", "content": "2", "tool_call_id": "c1"},
                ]
            },
            "dataset_has_parallel_tool_calls dataset_has_tools",
        ),
        (
            {"messages": [{"role": "assistant", "content": "x", "reasoning": "because"}]},
            "dataset_has_reasoning",
        ),
        (
            {"messages": [{"role": "assistant", "content": "x", "weight": 0}]},
            "dataset_has_message_weights",
        ),
        ({**CHAT, "weight": 0.5}, "dataset_has_sample_weights"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this?"},
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,"}},
                        ],
                    },
                    {"role": "assistant", "content": "a cat"},
                ]
            },
            "dataset_is_multimodal",
        ),
    ],
)
def test_report_flags_are_computed_from_the_content(
    fake: FakeTogether,
    http: requests.Session,
    clock: ManualClock,
    sample: dict[str, Any],
    flag: str,
) -> None:
    report = processed(fake, http, clock, jsonl(sample, {**CHAT, "metadata": {"k": 1}}))[
        "validation_report"
    ]
    assert report["valid"] is True
    assert [name for name in FLAGS if report[name]] == flag.split()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\xff\xfe" + jsonl(CHAT), "not UTF-8"),
        (jsonl(CHAT) + b"[1, 2]\n", "Line 2 is not a JSON object"),
        (b"{not json\n", "Line 1 is not a JSON object"),
        (jsonl({"question": "x"}), "Line 1 has none of the keys"),
        (jsonl(CHAT, {"text": "x"}), "Line 2 is general but the file is conversation"),
        (jsonl({"messages": "hi"}), "'messages' has the wrong type"),
        (b"\n\n", "no samples"),
    ],
)
def test_a_file_the_server_refuses_is_invalid_format(
    fake: FakeTogether, http: requests.Session, clock: ManualClock, content: bytes, error: str
) -> None:
    body = processed(fake, http, clock, content)
    assert (body["processing_status"], body["Processed"]) == ("INVALID_FORMAT", True)
    report = body["validation_report"]
    assert (report["valid"], report["error_type"], report["file_id"]) == (
        False,
        "INVALID_FORMAT",
        body["id"],
    )
    assert error in report["error"]


def test_parquet_files_are_checked_for_their_magic(
    fake: FakeTogether, http: requests.Session, clock: ManualClock
) -> None:
    good = processed(fake, http, clock, b"PAR1" + b"\1" * 16 + b"PAR1", name="t.parquet")
    bad = processed(fake, http, clock, b"PAR1 nope", name="u.parquet")
    assert (good["processing_status"], bad["processing_status"]) == (
        "COMPLETED",
        "INVALID_FORMAT",
    )


def test_csv_is_invalid_for_fine_tuning(
    fake: FakeTogether, http: requests.Session, clock: ManualClock
) -> None:
    body = processed(fake, http, clock, b"q,a\n1,2\n", name="t.csv")
    assert "CSV" in body["validation_report"]["error"]


def test_multipart_complete_answers_pending_too(
    fake: FakeTogether, http: requests.Session, clock: ManualClock
) -> None:
    content = jsonl(CHAT)
    started = http.post(
        fake.base_url + "/files/multipart/initiate",
        json={
            "file_name": "big.jsonl",
            "file_size": len(content),
            "num_parts": 1,
            "purpose": "fine-tune",
            "file_type": "jsonl",
            "checksum": hashlib.sha256(content).hexdigest(),
        },
    ).json()
    (part,) = started["parts"]
    put = requests.put(part["URL"], data=content, headers=part["Headers"], timeout=5)
    parts = [{"part_number": 1, "etag": put.headers["ETag"].strip('"')}]
    done = http.post(
        fake.base_url + "/files/multipart/complete",
        json={"upload_id": started["upload_id"], "file_id": started["file_id"], "parts": parts},
    ).json()
    assert done["file"]["processing_status"] == "PENDING"
    clock.advance(fake.file_processing_seconds)
    assert retrieve(fake, http, started["file_id"])["processing_status"] == "COMPLETED"


def test_add_file_stores_a_validated_file(fake: FakeTogether) -> None:
    record = fake.files.add_file(jsonl(CHAT))
    assert record["processing_status"] == "COMPLETED"
    assert record["validation_report"]["valid"] is True


def test_add_unknown_fields_reaches_a_retrieved_file(
    fake: FakeTogether, http: requests.Session
) -> None:
    record = fake.files.add_file(jsonl(CHAT))
    fake.add_unknown_fields = True
    assert retrieve(fake, http, record["id"])["future_field"]["since"] == "2027-01"
