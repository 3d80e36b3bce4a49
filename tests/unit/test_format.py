"""The shared formatting module: dollars, settings as phrases, status tones, epoch times.

Numbers, durations, local times and bars are pinned in tests/cli/test_cli_display.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from together_finetune._format import (
    dollars,
    epoch_time,
    job_progress,
    progress,
    setting,
    status_tone,
)
from together_finetune.models import (
    DPO,
    SFT,
    CosineLRScheduler,
    FileProcessingStatus,
    FineTune,
    FineTuneProgress,
    FineTuneStatus,
    FullTraining,
    LinearLRScheduler,
    LoRATraining,
    MultimodalParams,
    TrainingLimits,
    UnknownLRScheduler,
    UnknownTrainingType,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "-"),
        (0, "$0.00"),
        (3.75, "$3.75"),
        (1234.5, "$1,234.50"),
        (0.004, "<$0.01"),
        (0.005, "$0.01"),
        (-2.5, "-$2.50"),
        (float("inf"), "inf"),
    ],
)
def test_dollars(value: Any, shown: str) -> None:
    assert dollars(value) == shown


def test_the_total_price_reads_in_dollars() -> None:
    job = FineTune(id="ft-1", status=FineTuneStatus.COMPLETED, total_price=3_750_000_000)
    assert dollars(job.total_price_usd) == "$3.75"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (LoRATraining(lora_r=8), "LoRA r=8 \N{GREEK SMALL LETTER ALPHA}=16"),
        (
            LoRATraining(lora_r=16, lora_alpha=8, lora_dropout=0.05, lora_trainable_modules="all"),
            "LoRA r=16 \N{GREEK SMALL LETTER ALPHA}=8 dropout=0.05 on all",
        ),
        (LoRATraining(), "LoRA"),
        (FullTraining(), "Full"),
        (UnknownTrainingType(type="Qlora"), "Qlora"),
        (CosineLRScheduler(), "cosine, min 0.0"),
        (CosineLRScheduler(min_lr_ratio=0.1, num_cycles=2.0), "cosine, min 0.1, 2 cycles"),
        (LinearLRScheduler(min_lr_ratio=0.25), "linear, min 0.25"),
        (UnknownLRScheduler(lr_scheduler_type=""), "default"),
        (SFT(train_on_inputs=False), "SFT, train on inputs no"),
        (DPO(dpo_beta=0.1), "DPO, dpo_beta=0.1"),
        (MultimodalParams(train_vision=True), "train_vision=yes"),
        (FineTuneProgress(estimate_available=False, seconds_remaining=0.0), "no estimate"),
        (
            FineTuneProgress(estimate_available=True, seconds_remaining=200),
            "about 3 min to the next status",
        ),
        (TrainingLimits(), "TrainingLimits"),
    ],
)
def test_a_setting_reads_as_a_short_phrase(value: Any, shown: str) -> None:
    assert setting(value) == shown


def test_status_tones_cover_job_and_file_statuses() -> None:
    assert status_tone(FineTuneStatus.COMPLETED) == "green"
    assert status_tone("running") == "cyan"
    assert status_tone(FineTuneStatus.QUEUED) == "yellow"
    assert status_tone(FineTuneStatus.USER_ERROR) == "red"
    assert status_tone(FineTuneStatus.CANCEL_REQUESTED) == "magenta"
    assert status_tone(FileProcessingStatus.FAILED) == "red"
    assert status_tone(FileProcessingStatus.COMPLETED) == "green"
    assert status_tone("something_new") == ""


def test_epoch_time() -> None:
    assert epoch_time(0) == dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    assert epoch_time(None) is None
    assert epoch_time("soon") is None
    assert epoch_time(10**20) is None
    assert epoch_time(True) is None


def test_progress_in_parts_and_on_one_line() -> None:
    job = FineTune(
        id="ft-1",
        status=FineTuneStatus.RUNNING,
        steps_completed=5,
        total_steps=20,
        epochs_completed=0,
        n_epochs=2,
        progress=FineTuneProgress(estimate_available=True, seconds_remaining=90),
    )
    fraction, parts = progress(job)
    assert fraction == 0.25
    assert parts == ["step 5/20", "epoch 0/2", "about 1 min left"]
    assert job_progress(job, width=4) == "[█   ]  25%, step 5/20, epoch 0/2, about 1 min left"
    assert job_progress(FineTune(id="ft-2", status=FineTuneStatus.QUEUED)) == "-"
