# pyright: strict
"""The public API as the README uses it, with the type each main call returns pinned.

Two jobs in one file: pytest runs it against the fake (so the calls are real), and mypy
and pyright both check it in CI (``.ci/run``). ``assert_type`` does nothing at run time;
to a type checker it is an error when the inferred type differs, so a wrong return
annotation in the package fails the type checks here. The ``# pyright: strict`` line
above turns every strict rule back on for this file: an ``Unknown`` type leaking out of
the public API fails too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Generator, List, Optional

from typing_extensions import assert_type

from together_finetune import (
    Checkpoint,
    Client,
    DatasetReport,
    DeleteResult,
    DownloadResult,
    FileDeleteResult,
    FileObject,
    FineTune,
    FineTuneEvent,
    FineTuneRequest,
    FineTuneStatus,
    Listing,
    LoRATraining,
    ModelLimits,
    PriceEstimate,
    RetryPolicy,
    TogetherError,
    check_dataset,
)
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def _training_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"question {n}"},
                {"role": "assistant", "content": f"answer {n}"},
            ]
        }
        for n in range(3)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_main_calls_return_what_they_say(fake_together: FakeTogether, tmp_path: Path) -> None:
    data = _training_file(tmp_path)
    report = check_dataset(data)
    assert_type(report, DatasetReport)
    assert report.ok

    policy = RetryPolicy(max_retries=1)
    with Client(
        api_key=fake_together.api_key, base_url=fake_together.base_url, retry=policy
    ) as client:
        uploaded = client.files.upload(data)
        assert_type(uploaded, FileObject)
        assert_type(client.files.list(), Listing[FileObject])
        assert_type(client.files.retrieve(uploaded.id), FileObject)

        request = client.fine_tunes.build_request(training_file=uploaded.id, model=MODEL)
        assert_type(request, FineTuneRequest)
        estimate = client.fine_tunes.estimate_price(training_file=uploaded.id, model=MODEL)
        assert_type(estimate, PriceEstimate)
        assert_type(client.fine_tunes.model_limits(MODEL), ModelLimits)
        assert_type(client.fine_tunes.supported_models(), List[str])

        job = client.fine_tunes.create(
            training_file=uploaded.id, model=MODEL, training_type=LoRATraining(lora_r=8)
        )
        assert_type(job, FineTune)
        assert_type(job.id, str)
        assert_type(job.status, FineTuneStatus)
        assert_type(client.fine_tunes.list(), Listing[FineTune])
        assert_type(client.fine_tunes.retrieve(job.id), FineTune)

        fake_together.advance(job.id, steps=10)
        done = client.fine_tunes.wait(job.id, poll_interval=0.01)
        assert_type(done, FineTune)
        assert done.status == "completed"
        events = client.fine_tunes.list_events(job.id)
        assert_type(events, Listing[FineTuneEvent])
        follow = client.fine_tunes.follow_events(job.id)
        assert_type(follow, Generator[FineTuneEvent, None, None])
        assert [e.message for e in follow] == [e.message for e in events]
        assert_type(client.fine_tunes.list_checkpoints(job.id), Listing[Checkpoint])
        assert_type(client.fine_tunes.list_metrics(job.id), List[Dict[str, float]])

        result = client.fine_tunes.download(job.id, output=tmp_path / "model.tar.zst")
        assert_type(result, DownloadResult)
        assert_type(result.path, Path)
        assert_type(result.sha256, str)
        assert_type(result.archive, Optional[Path])
        assert result.path.is_file()

        copy = client.files.content(uploaded.id, tmp_path / "copy.jsonl")
        assert_type(copy, Path)
        assert_type(client.fine_tunes.delete(job.id), DeleteResult)
        assert_type(client.files.delete(uploaded.id), FileDeleteResult)

        try:
            client.fine_tunes.retrieve("ft-00000000-0000-0000-0000-000000000000")
        except TogetherError as error:
            assert_type(error, TogetherError)
        else:  # pragma: no cover - the fake knows no such job
            raise AssertionError("retrieve of an unknown job did not raise")
