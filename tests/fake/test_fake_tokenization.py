"""The fake's newer-than-spec tokenization endpoints, through plain ``requests``.

``POST /fine-tunes/preview`` and ``GET /fine-tunes/{id}/download-tokenized-dataset`` (shapes
of the TypeScript SDK), over real sockets.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import zstandard

from together_finetune.testing import FakeTogether, build_tokenized_archive
from together_finetune.testing._fake.tokenizer import token_id

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
CHAT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there!"},
        {"role": "assistant", "content": "Hello, friend."},
    ]
}
ROW_KEYS = {
    "input_ids",
    "labels",
    "num_tokens",
    "num_trained_tokens",
    "tokens",
    "trained_spans",
    "truncated",
}


def jsonl(*samples: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(s).encode() + b"\n" for s in samples)


@pytest.fixture
def fake() -> Iterator[FakeTogether]:
    with FakeTogether() as server:
        yield server


@pytest.fixture
def http(fake: FakeTogether) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {fake.api_key}"
        yield session


def preview(fake: FakeTogether, http: requests.Session, **body: Any) -> requests.Response:
    return http.post(fake.base_url + "/fine-tunes/preview", json={"model": MODEL, **body})


def chat_file(fake: FakeTogether, *samples: dict[str, Any]) -> str:
    file_id: str = fake.files.add_file(jsonl(*(samples or (CHAT,))))["id"]
    return file_id


def refused(response: requests.Response, param: str) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    message: str = error["message"]
    return message


# ---------------------------------------------------------------- preview


def test_preview_answers_the_shape_of_the_wire_reference(
    fake: FakeTogether, http: requests.Session
) -> None:
    response = preview(fake, http, training_file=chat_file(fake))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"dataset_format", "max_seq_length", "model", "train_on_inputs", "rows"}
    assert (body["dataset_format"], body["max_seq_length"], body["model"]) == (
        "conversation",
        8192,
        MODEL,
    )
    assert body["train_on_inputs"] is False
    (row,) = body["rows"]
    assert set(row) == ROW_KEYS
    assert row["num_tokens"] == len(row["tokens"]) == len(row["input_ids"]) == len(row["labels"])
    assert row["input_ids"] == [token_id(t) for t in row["tokens"]]
    assert row["truncated"] is False


def test_preview_masks_system_and_user_turns(fake: FakeTogether, http: requests.Session) -> None:
    row = preview(fake, http, training_file=chat_file(fake)).json()["rows"][0]
    trained = [t for t, label in zip(row["tokens"], row["labels"]) if label != -100]
    assert trained == ["<|assistant|>", "Hello", ",", "friend", ".", "<|end|>"]
    assert row["num_trained_tokens"] == len(trained)
    start = row["tokens"].index("<|assistant|>")
    assert row["trained_spans"] == [[start, start + 6]]  # half-open
    assert all(row["labels"][i] == row["input_ids"][i] for i in range(start, start + 6))


def test_preview_trains_on_inputs_when_asked(fake: FakeTogether, http: requests.Session) -> None:
    body = preview(fake, http, training_file=chat_file(fake), train_on_inputs=True).json()
    row = body["rows"][0]
    assert body["train_on_inputs"] is True
    assert row["labels"][0] == -100  # <s> never trains
    assert row["num_trained_tokens"] == row["num_tokens"] - 1
    assert row["trained_spans"] == [[1, row["num_tokens"]]]


def test_preview_masks_a_message_of_weight_zero(fake: FakeTogether, http: requests.Session) -> None:
    sample = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "no", "weight": 0},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "yes", "weight": 1},
        ]
    }
    row = preview(fake, http, training_file=chat_file(fake, sample)).json()["rows"][0]
    assert [t for t, label in zip(row["tokens"], row["labels"]) if label != -100] == [
        "<|assistant|>",
        "yes",
        "<|end|>",
    ]


def test_preview_of_an_instruction_file_masks_the_prompt(
    fake: FakeTogether, http: requests.Session
) -> None:
    file_id = chat_file(fake, {"prompt": "Two plus two?", "completion": "Four"})
    body = preview(fake, http, training_file=file_id).json()
    assert body["dataset_format"] == "instruction"
    row = body["rows"][0]
    assert row["tokens"] == ["<s>", "Two", "plus", "two", "?", "Four", "</s>"]
    assert row["trained_spans"] == [[5, 7]]


def test_preview_of_general_text_trains_everything_but_the_start(
    fake: FakeTogether, http: requests.Session
) -> None:
    body = preview(fake, http, training_file=chat_file(fake, {"text": "x y"})).json()
    assert body["dataset_format"] == "general"
    assert body["rows"][0]["trained_spans"] == [[1, 4]]


def test_preview_top_k_limits_the_rows(fake: FakeTogether, http: requests.Session) -> None:
    file_id = chat_file(fake, *({"text": f"sample {n}"} for n in range(9)))
    assert len(preview(fake, http, training_file=file_id).json()["rows"]) == 5
    rows = preview(fake, http, training_file=file_id, top_k=2).json()["rows"]
    assert [r["tokens"][2] for r in rows] == ["0", "1"]


def test_preview_is_deterministic(fake: FakeTogether, http: requests.Session) -> None:
    file_id = chat_file(fake)
    first = preview(fake, http, training_file=file_id).json()
    assert preview(fake, http, training_file=file_id).json() == first


def test_preview_rows_truncate_at_the_max_seq_length_knob(
    fake: FakeTogether, http: requests.Session
) -> None:
    fake.preview_max_seq_length = 4
    body = preview(fake, http, training_file=chat_file(fake)).json()
    row = body["rows"][0]
    assert body["max_seq_length"] == 4
    assert (row["num_tokens"], row["truncated"], row["trained_spans"]) == (4, True, [])


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        ({"model": None}, "model", "model is required"),
        ({"model": "nope/model"}, "model", "not supported"),
        ({"training_file": None}, "training_file", "training_file is required"),
        ({"training_file": "file-unknown"}, "training_file", "does not exist"),
        ({"top_k": 0}, "top_k", "positive integer"),
        ({"train_on_inputs": "auto"}, "train_on_inputs", "boolean"),
        ({"training_method": "dpo"}, "training_method", "'sft'"),
    ],
)
def test_preview_refuses_bad_requests_with_error_data(
    fake: FakeTogether,
    http: requests.Session,
    change: dict[str, Any],
    param: str,
    message: str,
) -> None:
    body = {"model": MODEL, "training_file": chat_file(fake), **change}
    response = http.post(
        fake.base_url + "/fine-tunes/preview",
        json={k: v for k, v in body.items() if v is not None},
    )
    assert message in refused(response, param)


def test_preview_refuses_a_file_that_failed_validation(
    fake: FakeTogether, http: requests.Session
) -> None:
    file_id = fake.files.add_file(b"not json\n")["id"]
    response = preview(fake, http, training_file=file_id)
    assert "failed validation" in refused(response, "training_file")


def test_preview_refuses_a_preference_file(fake: FakeTogether, http: requests.Session) -> None:
    answer = [{"role": "assistant", "content": "x"}]
    sample = {"input": CHAT, "preferred_output": answer, "non_preferred_output": answer}
    response = preview(fake, http, training_file=chat_file(fake, sample))
    assert "not SFT datasets" in refused(response, "training_file")


def test_preview_refuses_a_parquet_file(fake: FakeTogether, http: requests.Session) -> None:
    file_id = fake.files.add_file(b"PAR1" + b"\0" * 8 + b"PAR1", "t.parquet")["id"]
    assert "JSONL" in refused(preview(fake, http, training_file=file_id), "training_file")


# ---------------------------------------------------------------- tokenized dataset


def tokenized(fake: FakeTogether, http: requests.Session, job_id: str) -> requests.Response:
    return http.get(f"{fake.base_url}/fine-tunes/{job_id}/download-tokenized-dataset")


def test_a_running_job_records_its_tokenized_dataset(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="queued")
    fake.advance(job["id"])
    body = http.get(f"{fake.base_url}/fine-tunes/{job['id']}").json()
    assert body["tokenized_dataset_path"].startswith("s3://")
    assert body["tokenized_dataset_uploaded_at"].endswith("Z")
    (event,) = [e for e in body["events"] if e["type"] == "TOKENIZED_DATASET_UPLOAD_COMPLETE"]
    assert event["tokenized_dataset_path"] == body["tokenized_dataset_path"]


def test_tokenized_dataset_answers_a_presigned_storage_url(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="completed")
    body = tokenized(fake, http, job["id"]).json()
    assert set(body) == {"content_type", "expires_at", "filename", "size", "url"}
    assert body["filename"] == f"{job['id']}-tokenized.tar.zst"
    assert body["content_type"] == "application/zstd"
    assert body["url"].startswith(fake.storage.url + "/tokenized/")
    data = requests.get(body["url"], timeout=5).content  # no Authorization needed
    assert len(data) == body["size"]
    assert fake.storage.requests[-1].header("Authorization") is None


def test_tokenized_archive_holds_the_tokenized_training_file(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job(status="completed", training_file=chat_file(fake))
    data = requests.get(tokenized(fake, http, job["id"]).json()["url"], timeout=5).content
    tar_bytes = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        member = tar.extractfile("train.jsonl")
        assert member is not None
        (row,) = [json.loads(line) for line in member.read().splitlines()]
    expected = preview(fake, http, training_file=job["training_file"]).json()["rows"][0]
    assert row == {"input_ids": expected["input_ids"], "labels": expected["labels"]}


def test_tokenized_archive_honours_range(fake: FakeTogether, http: requests.Session) -> None:
    job = fake.add_job(status="completed")
    url = tokenized(fake, http, job["id"]).json()["url"]
    whole = build_tokenized_archive(job["id"])
    response = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=5)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(whole)}"
    assert response.content == whole[10:20]


def test_tokenized_dataset_of_a_job_not_yet_running_is_404(
    fake: FakeTogether, http: requests.Session
) -> None:
    response = tokenized(fake, http, fake.add_job(status="queued")["id"])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert tokenized(fake, http, "ft-nope").status_code == 404


def test_set_tokenized_dataset_serves_a_body_and_filename(
    fake: FakeTogether, http: requests.Session
) -> None:
    job = fake.add_job()
    fake.set_tokenized_dataset(job["id"], size=70_000, filename="../odd name.tar.zst")
    body = tokenized(fake, http, job["id"]).json()
    assert (body["size"], body["filename"]) == (70_000, "../odd name.tar.zst")
    assert len(requests.get(body["url"], timeout=5).content) == 70_000


def test_preview_reads_parts_reasoning_and_tool_calls(
    fake: FakeTogether, http: requests.Session
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    sample = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            },
            {"role": "assistant", "content": "", "reasoning": "Hmm", "tool_calls": [call]},
        ]
    }
    tokens = preview(fake, http, training_file=chat_file(fake, sample)).json()["rows"][0]["tokens"]
    assert tokens[:7] == ["<s>", "<|user|>", "Look", "<", "image", ">", "<|end|>"]
    assert tokens[7:9] == ["<|assistant|>", "Hmm"]
    assert "lookup" in tokens


def test_knob_settings_read_back(fake: FakeTogether) -> None:
    assert (fake.legacy_levels, fake.add_unknown_fields) == (False, False)
    assert (fake.file_processing_seconds, fake.preview_max_seq_length) == (1.0, None)
    fake.legacy_levels = fake.add_unknown_fields = True
    fake.file_processing_seconds, fake.preview_max_seq_length = 0.0, 16
    assert (fake.legacy_levels, fake.add_unknown_fields) == (True, True)
    assert (fake.file_processing_seconds, fake.preview_max_seq_length) == (0.0, 16)
