"""Quickstart: create a fine-tuning job, follow it, and download the result.

Runs against the real API when ``TOGETHER_API_KEY`` is set, and against the
library's built-in fake API otherwise (so it works on a fresh machine with no
account)::

    python examples/quickstart.py
    TOGETHER_API_KEY=... python examples/quickstart.py --training-file file-... --model ...
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from together_finetune import Client, FineTuneEvent, LoRATraining

DEFAULT_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
SAMPLE_DATA = Path(__file__).with_name("data") / "sample.jsonl"


@contextlib.contextmanager
def api(step_seconds: float) -> Iterator[Client]:
    """A client for the real API if a key is set, else for a fake one started here."""
    if os.environ.get("TOGETHER_API_KEY"):
        with Client() as client:
            yield client
        return
    from together_finetune.testing import FakeTogether

    print("TOGETHER_API_KEY is not set: using the built-in fake API")
    with (
        FakeTogether(step_seconds=step_seconds) as fake,
        Client(api_key=fake.api_key, base_url=fake.base_url) as client,
    ):
        yield client


def training_file_id(client: Client, given: Optional[str]) -> str:
    """The ID to train on: the one given, or the sample data set, checked and uploaded now."""
    if given:
        return given
    uploaded = client.files.upload(SAMPLE_DATA)
    print(f"uploaded {SAMPLE_DATA.name} as {uploaded.id}")
    return uploaded.id


def main(argv: Optional[list[str]] = None) -> int:
    """Run the quickstart; the flags pick the data, model, output and, on the fake, its speed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-file", help="an uploaded file ID (default: upload the sample)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--output", type=Path, help="directory for the model (default: a temp dir)")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--step-seconds", type=float, default=1.0, help="fake API speed")
    args = parser.parse_args(argv)

    with api(args.step_seconds) as client:
        job = client.fine_tunes.create(
            training_file=training_file_id(client, args.training_file),
            model=args.model,
            training_type=LoRATraining(lora_r=8),
            n_epochs=1,
        )
        print(f"created {job.id} ({job.status.value})")

        def show(event: FineTuneEvent) -> None:
            print(f"  {event.created_at:%H:%M:%S}  {event.message}")

        job = client.fine_tunes.wait(job.id, poll_interval=args.poll_interval, on_event=show)
        print(f"{job.id} finished: {job.status.value}")
        if job.status != "completed":
            return 1

        output = args.output or Path(tempfile.mkdtemp(prefix="together-quickstart-"))
        result = client.fine_tunes.download(job.id, output=output)
        print(f"downloaded {result.size} bytes to {result.path}")
        print(f"sha256 {result.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
