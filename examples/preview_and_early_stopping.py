"""Preview a training file's tokens, train with early stopping, fetch the tokenized data.

The script shows how the sample file will be tokenized, starts a job with early
stopping (it needs a validation file and enough evaluations), follows it, and
downloads the tokenized data set the job trained on.

Runs against the real API when ``TOGETHER_API_KEY`` is set, and against the
library's built-in fake API otherwise::

    python examples/preview_and_early_stopping.py
    TOGETHER_API_KEY=... python examples/preview_and_early_stopping.py --model ...
"""

from __future__ import annotations

import argparse
import contextlib
import os
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
        fake.file_processing_seconds = step_seconds  # checks a file as fast as a job steps
        yield client


def main(argv: Optional[list[str]] = None) -> int:
    """Run the example; the flags pick the model and, on the fake, its speed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--output", type=Path, help="directory for the data set (default: temp)")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--step-seconds", type=float, default=1.0, help="fake API speed")
    args = parser.parse_args(argv)

    with api(args.step_seconds) as client:
        # Upload, and wait until the server has checked the file.
        uploaded = client.files.upload(SAMPLE_DATA)
        training = client.files.wait_until_processed(uploaded.id, poll_interval=args.poll_interval)
        print(f"uploaded {SAMPLE_DATA.name} as {training.id} ({training.processing_status})")

        # What the model will see: the first row's tokens, the untrained ones in brackets.
        preview = client.fine_tunes.preview(model=args.model, training_file=training.id, top_k=2)
        print(f"preview: {preview.dataset_format} format, {len(preview.rows)} rows")
        for row in preview.rows[:1]:
            marked = [
                token if trains else f"[{token}]"
                for token, trains in zip(row.tokens[:16], row.trained_mask())
            ]
            print("  " + " ".join(repr(token)[1:-1] for token in marked))
            print(f"  {row.num_trained_tokens} of {row.num_tokens} tokens train")

        # The same file validates here; early stopping needs n_evals >= 2 + 1 + 1.
        job = client.fine_tunes.create(
            training_file=training.id,
            validation_file=training.id,
            model=args.model,
            training_type=LoRATraining(),  # the model's default rank
            n_evals=6,
            early_stopping_enabled=True,
            early_stopping_patience=2,
        )
        print(f"created {job.id}")

        def show(event: FineTuneEvent) -> None:
            print(f"  {event.type}: {event.message}")

        job = client.fine_tunes.wait(job.id, poll_interval=args.poll_interval, on_event=show)
        print(f"{job.id} finished: {job.status}")
        if job.early_stopped:
            print(
                f"early stopping halted it; best eval loss {job.early_stopping_best_metric} "
                f"at step {job.early_stopping_best_step}"
            )
        if job.model_object_name:
            print(f"registry: {job.model_object_name}")
        if job.status != "completed":
            return 1

        output = args.output or Path(tempfile.mkdtemp(prefix="together-tokenized-"))
        result = client.fine_tunes.download_tokenized_dataset(job.id, output=output)
        print(f"tokenized data set: {result.path.name}, {result.size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
