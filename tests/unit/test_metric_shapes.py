"""Metric rows merged by step, and the figure file written from them (no network)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from together_finetune._metrics import by_step, loss_names, metric_names, metrics_frame
from together_finetune._plot import save_plot

ROWS = [
    {"train/loss": 1.0, "train/learning_rate": 1e-5, "train/global_step": 1},
    {"train/loss": 0.8, "train/global_step": 2.0},
    {"eval/loss": 0.9, "eval/global_step": 2},
    {"no step here": 1.0},
    {"train/loss": 0.5, "train/global_step": float("nan")},
    {"loss": 0.7, "step": 3},
]


def test_rows_of_one_step_merge_and_rows_without_a_step_are_skipped() -> None:
    assert by_step(ROWS) == {
        1: {"train/loss": 1.0, "train/learning_rate": 1e-5},
        2: {"train/loss": 0.8, "eval/loss": 0.9},
        3: {"loss": 0.7},
    }


def test_steps_come_out_in_order_and_names_in_first_seen_order() -> None:
    steps = by_step(list(reversed(ROWS)))
    assert list(steps) == [1, 2, 3]
    assert metric_names(steps) == ["train/loss", "train/learning_rate", "eval/loss", "loss"]


@pytest.mark.parametrize(
    ("names", "losses"),
    [
        (["train/loss", "eval/loss", "train/learning_rate"], ["train/loss", "eval/loss"]),
        (["loss", "eval_loss", "lossy", "train/loss_scale"], ["loss", "eval_loss"]),
        ([], []),
    ],
)
def test_loss_names(names: list[str], losses: list[str]) -> None:
    assert loss_names(names) == losses


def test_the_frame_is_indexed_by_step_with_a_column_per_metric() -> None:
    frame = metrics_frame(ROWS)
    assert frame.index.name == "step"
    assert list(frame.index) == [1, 2, 3]
    assert str(frame.index.dtype) == "int64"
    assert list(frame.columns) == ["train/loss", "train/learning_rate", "eval/loss", "loss"]
    assert frame.loc[2, "eval/loss"] == 0.9
    assert math.isnan(frame.loc[3, "train/loss"])
    assert all(str(dtype) == "float64" for dtype in frame.dtypes)


def test_no_rows_make_an_empty_frame() -> None:
    frame = metrics_frame([])
    assert frame.empty
    assert frame.index.name == "step"


# -- the figure file ------------------------------------------------------------------------

ONE_ROW = [{"train/loss": 1.0, "train/global_step": 1}]


def test_save_plot_refuses_a_suffix_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"must end in \.png or \.svg, got '.*loss\.jpg'"):
        save_plot(ONE_ROW, tmp_path / "loss.jpg")
    assert list(tmp_path.iterdir()) == []


def test_save_plot_leaves_no_partial_file_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(self: Figure, fname: str, **kwargs: object) -> None:
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_plot(ONE_ROW, tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []
