"""What the list methods return against the fake: Listings that render, and short job reprs."""

from __future__ import annotations

from pathlib import Path

from support.data import write_jsonl

from together_finetune import Client, Listing
from together_finetune.testing import FakeTogether

HOSTILE = "<img src=x onerror=alert(1)>"


def test_every_list_method_returns_a_listing(
    server: FakeTogether, client: Client, tmp_path: Path
) -> None:
    job = server.add_job(status="completed")
    client.files.upload(write_jsonl(tmp_path / "train.jsonl"))
    results = {
        "fine_tunes.list": client.fine_tunes.list(),
        "list_events": client.fine_tunes.list_events(job["id"]),
        "list_checkpoints": client.fine_tunes.list_checkpoints(job["id"]),
        "files.list": client.files.list(),
    }
    for name, result in results.items():
        assert type(result) is Listing, name
        assert result, name
        assert "<table" in result._repr_html_(), name


def test_a_retrieved_job_has_a_short_repr_and_escaped_html(
    server: FakeTogether, client: Client
) -> None:
    created = server.add_job(status="completed", suffix=HOSTILE, model_output_name=HOSTILE)
    job = client.fine_tunes.retrieve(created["id"])
    assert len(repr(job)) < 300
    assert repr(job).startswith(f"FineTune(id='{job.id}', status='completed', model=")
    markup = job._repr_html_()  # type: ignore[attr-defined]
    assert HOSTILE not in markup
    assert "&lt;img src=x onerror=alert(1)&gt;" in markup
    events = client.fine_tunes.list_events(job.id)
    assert all(len(repr(event)) < 300 for event in events)
