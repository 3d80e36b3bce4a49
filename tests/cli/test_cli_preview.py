"""The command line's issue-12 surface: ``preview`` rendering, ``create``'s new flags,
``retrieve``'s early stopping and registry names, and ``--json`` keeping unknown keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import cli_env, run, run_json

from together_finetune.cli.preview import SHOWN_TOKENS, render_preview
from together_finetune.models import TokenizationPreview, TokenizationPreviewRow
from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"

ROW = TokenizationPreviewRow(
    tokens=["<u>", "hi", "\n", "<a>", "yo"],
    input_ids=[1, 2, 3, 4, 5],
    labels=[-100, -100, -100, 4, 5],
    trained_spans=[[3, 5]],
    num_tokens=5,
    num_trained_tokens=2,
    truncated=False,
)
PREVIEW = TokenizationPreview(
    model=MODEL, dataset_format="conversation", max_seq_length=8, train_on_inputs=False, rows=[ROW]
)


def test_preview_brackets_the_tokens_that_do_not_train_without_a_terminal() -> None:
    shown = render_preview(PREVIEW, styled=False)
    assert "[<u>] [hi] [\\n] <a> yo" in shown
    assert "trained spans: 3-5" in shown
    assert "row 1: 5 tokens, 2 trained" in shown
    assert "\x1b[" not in shown


def test_preview_dims_them_on_a_terminal() -> None:
    shown = render_preview(PREVIEW, styled=True)
    assert "\x1b[2m<u>\x1b[0m" in shown
    assert "[<u>]" not in shown


def test_preview_shows_only_the_first_tokens_of_a_long_row() -> None:
    long = TokenizationPreviewRow(
        tokens=[f"t{i}" for i in range(SHOWN_TOKENS + 8)], labels=[1] * (SHOWN_TOKENS + 8)
    )
    shown = render_preview(TokenizationPreview(rows=[long]), styled=False)
    assert f"t{SHOWN_TOKENS - 1} ... (+8 tokens)" in shown
    assert f"t{SHOWN_TOKENS} " not in shown


def test_retrieve_shows_early_stopping_registry_names_and_price(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    job = server.add_job(
        status="completed",
        early_stopped=True,
        early_stopping_best_metric=0.25,
        early_stopping_best_step=30,
        model_object_name="proj/model",
        model_object_revision_id="rv_1",
        adapter_object_name="proj/model-adapter",
        total_price=2_500_000_000,
    )
    code, out, err = run(capsys, "retrieve", job["id"])
    assert code == 0, err
    assert "stopped early; best eval loss 0.25 at step 30" in out
    assert "proj/model (rv_1)" in out
    assert "proj/model-adapter" in out
    assert "$2.50" in out


def test_retrieve_without_those_fields_shows_no_extra_block(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    job = server.add_job(status="running")
    server.jobs[job["id"]].pop("total_price", None)
    code, out, _ = run(capsys, "retrieve", job["id"])
    assert code == 0
    assert "EARLY STOPPING" not in out
    assert "REGISTRY" not in out


def test_retrieve_hides_a_price_of_zero(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    job = server.add_job(status="running", total_price=0)  # not billed yet
    code, out, _ = run(capsys, "retrieve", job["id"])
    assert code == 0
    assert "PRICE" not in out


def test_json_output_keeps_the_keys_nobody_knows_yet(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    job = server.add_job(status="running", brand_new={"x": [1, 2]})
    shown = run_json(capsys, "retrieve", job["id"])
    assert shown["brand_new"] == {"x": [1, 2]}
    assert "extra" not in shown


def test_create_dry_run_fills_in_the_model_default_rank(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    code, out, err = run(
        capsys, "create", "--training-file", "file-1", "--model", MODEL, "--lora", "--dry-run"
    )
    assert code == 0, err
    body = json.loads(out)
    rank = body["training_type"]["lora_r"]
    assert body["training_type"]["lora_alpha"] == 2 * rank
    assert server.requests_to("POST", "/fine-tunes") == []
    assert len(server.requests_to("GET", "/fine-tunes/models/limits")) == 1


def test_create_refuses_early_stopping_without_enough_evaluations(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli_env(server, monkeypatch)
    code, _, err = run(
        capsys,
        "create",
        "--training-file",
        "file-1",
        "--validation-file",
        "file-2",
        "--model",
        MODEL,
        "--n-evals",
        "2",
        "--early-stopping-enabled",
        "--early-stopping-patience",
        "3",
    )
    assert code != 0
    assert "early_stopping_patience (3)" in err
    assert server.requests == []


@pytest.mark.parametrize("bad", ["0", "x"])
def test_metrics_resolution_must_be_a_positive_whole_number(
    capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    code, _, err = run(capsys, "metrics", "ft-1", "--resolution", bad)
    assert code == 2
    assert "--resolution" in err


def processed_file(server: FakeTogether, tmp_path: Path) -> str:
    path = tmp_path / "train.jsonl"
    chat = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}
    path.write_text(json.dumps(chat) + "\n")
    file_id: str = server.files.add_file(path.read_bytes())["id"]
    return file_id


def test_the_preview_command_prints_rows_and_json(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cli_env(server, monkeypatch)
    file_id = processed_file(server, tmp_path)
    argv = ["preview", "--model", MODEL, "--training-file", file_id, "--top-k", "1"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert "row 1:" in out
    assert "trained spans:" in out
    assert "[" in out  # the user turn does not train
    shown = run_json(capsys, *argv, "--train-on-inputs")
    assert shown["train_on_inputs"] is True
    assert {"tokens", "labels", "trained_spans"} <= set(shown["rows"][0])


def test_download_tokenized_dataset_command(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    cli_env(server, monkeypatch)
    job = server.add_job(status="completed")
    server.set_tokenized_dataset(job["id"], data=b"tokens" * 100, filename="t.tar.zst")
    code, out, err = run(capsys, "download-tokenized-dataset", job["id"], "-o", str(tmp_path))
    assert code == 0, err
    assert f"downloaded {tmp_path / 't.tar.zst'} (600 bytes" in out
    code, _, err = run(capsys, "download-tokenized-dataset", job["id"], "-o", str(tmp_path))
    assert code == 1
    assert "already exists" in err
    shown = run_json(
        capsys, "download-tokenized-dataset", job["id"], "-o", str(tmp_path), "--overwrite"
    )
    assert shown["size"] == 600
    assert shown["path"] == str(tmp_path / "t.tar.zst")
