"""The ``together-finetune`` command line, against the fake API server.

In-process tests call ``main([...])`` and read the output with ``capsys``; a
representative subset also runs as a real subprocess (``python -m together_finetune``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.cli import cli_env, run, run_json, spawn

from together_finetune.testing import FakeTogether

MODEL = "meta-llama/Llama-3.2-3B-Instruct"


@pytest.fixture
def env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the CLI (in-process and subprocesses) at the fake server."""
    return cli_env(server, monkeypatch)


def create_posts(server: FakeTogether) -> list[Any]:
    return [r.json() for r in server.requests_to("POST", "/fine-tunes")]


# --------------------------------------------------------------------------- start-up and usage


def test_help_exits_0_without_importing_requests() -> None:
    code = (
        "import sys\n"
        "from together_finetune.cli import main\n"
        "assert main(['--help']) == 0\n"
        "assert main(['create', '--help']) == 0\n"
        "print(sorted(m for m in ('requests', 'attrs', 'cattrs', 'urllib3') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=20
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "download" in result.stdout
    assert "--train-on-inputs" in result.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("together-finetune ")


def test_unknown_command_and_missing_argument_are_usage_errors(
    capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "retrieve")[0] == 2
    assert run(capsys, "create", "--model", MODEL)[0] == 2  # no --training-file
    assert run(capsys, "create", "--training-file", "file-1", "--batch-size", "lots")[0] == 2
    code, _, err = run(capsys, "create", "--training-file", "file-1", "--train-on-inputs", "no")
    assert code == 2
    assert "--train-on-inputs" in err


def test_missing_api_key_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    code, _, err = run(capsys, "--base-url", server.base_url, "list")
    assert code == 2
    assert "TOGETHER_API_KEY" in err
    assert server.requests == []


def test_global_options_override_the_environment(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "wrong-key")
    monkeypatch.setenv("TOGETHER_BASE_URL", "http://127.0.0.1:9/v1")
    server.add_job(status="running")
    code, out, err = run(
        capsys, "--api-key", server.api_key, "--base-url", server.base_url, "--json", "list"
    )
    assert code == 0, err
    assert len(json.loads(out)) == 1


# --------------------------------------------------------------------------- create


def test_create_sends_exactly_the_given_fields(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = run_json(capsys, "create", "--training-file", "file-abc", "--model", MODEL)
    assert job["id"].startswith("ft-")
    assert job["status"] == "pending"
    assert create_posts(server) == [{"training_file": "file-abc", "model": MODEL}]


def test_create_train_on_inputs_false_sends_json_false(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, out, err = run(
        capsys,
        "create",
        "--training-file",
        "file-abc",
        "--model",
        MODEL,
        "--train-on-inputs",
        "false",
    )
    assert code == 0, err
    assert "STATUS" in out
    assert "pending" in out
    body = server.requests_to("POST", "/fine-tunes")[-1].json()
    assert body["training_method"] == {"method": "sft", "train_on_inputs": False}
    assert body["training_method"]["train_on_inputs"] is False


@pytest.mark.parametrize(("text", "wire"), [("TRUE", True), ("auto", "auto")])
def test_create_train_on_inputs_values(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    text: str,
    wire: Any,
) -> None:
    argv = ["create", "--training-file", "file-1", "--model", MODEL]
    run_json(capsys, *argv, "--training-method", "sft", "--train-on-inputs", text)
    assert create_posts(server)[-1]["training_method"] == {"method": "sft", "train_on_inputs": wire}


def test_create_every_flag(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = run_json(
        capsys,
        "create",
        "--training-file",
        "file-train",
        "--validation-file",
        "file-valid",
        "--model",
        MODEL,
        "--n-epochs",
        "3",
        "--n-checkpoints",
        "2",
        "--n-evals",
        "4",
        "--batch-size",
        "max",
        "--learning-rate",
        "0.0001",
        "--warmup-ratio",
        "0.1",
        "--max-grad-norm",
        "0.5",
        "--weight-decay",
        "0.01",
        "--random-seed",
        "7",
        "--suffix",
        "mine",
        "--no-packing",
        "--max-seq-length",
        "2048",
        "--lora",
        "--lora-r",
        "16",
        "--lora-alpha",
        "8",
        "--lora-dropout",
        "0.05",
        "--lora-trainable-modules",
        "all-linear",
        "--lr-scheduler",
        "cosine",
        "--min-lr-ratio",
        "0.1",
        "--num-cycles",
        "2",
        "--from-hf-model",
        "org/model",
        "--hf-model-revision",
        "main",
        "--hf-api-token",
        "hf_SECRET",
        "--hf-output-repo-name",
        "org/out",
        "--wandb-api-key",
        "WANDB_SECRET",
        "--wandb-base-url",
        "https://wandb.example",
        "--wandb-project-name",
        "proj",
        "--wandb-name",
        "run1",
        "--wandb-entity",
        "team",
    )
    assert job["id"].startswith("ft-")
    body = create_posts(server)[-1]
    assert body == {
        "training_file": "file-train",
        "model": MODEL,
        "validation_file": "file-valid",
        "n_epochs": 3,
        "n_checkpoints": 2,
        "n_evals": 4,
        "batch_size": "max",
        "learning_rate": 0.0001,
        "lr_scheduler": {
            "lr_scheduler_type": "cosine",
            "lr_scheduler_args": {"min_lr_ratio": 0.1, "num_cycles": 2.0},
        },
        "warmup_ratio": 0.1,
        "max_grad_norm": 0.5,
        "weight_decay": 0.01,
        "random_seed": 7,
        "suffix": "mine",
        "packing": False,
        "max_seq_length": 2048,
        "training_type": {
            "type": "Lora",
            "lora_r": 16,
            "lora_alpha": 8,
            "lora_dropout": 0.05,
            "lora_trainable_modules": "all-linear",
        },
        "from_hf_model": "org/model",
        "hf_model_revision": "main",
        "hf_api_token": "hf_SECRET",
        "hf_output_repo_name": "org/out",
        "wandb_key": "WANDB_SECRET",
        "wandb_base_url": "https://wandb.example",
        "wandb_project_name": "proj",
        "wandb_name": "run1",
        "wandb_entity": "team",
    }
    # The secrets are sent but never printed.
    out = capsys.readouterr()
    assert "SECRET" not in out.out + out.err


def test_create_full_dpo_linear_and_from_checkpoint(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    run_json(
        capsys,
        "create",
        "--training-file",
        "file-1",
        "--model",
        MODEL,
        "--full",
        "--batch-size",
        "16",
        "--packing",
        "--training-method",
        "dpo",
        "--dpo-beta",
        "0.2",
        "--rpo-alpha",
        "0.5",
        "--dpo-normalize-logratios-by-length",
        "--no-dpo-reference-free",
        "--lr-scheduler",
        "linear",
    )
    body = create_posts(server)[-1]
    assert body["training_type"] == {"type": "Full"}
    assert body["batch_size"] == 16
    assert body["packing"] is True
    assert body["training_method"] == {
        "method": "dpo",
        "dpo_beta": 0.2,
        "rpo_alpha": 0.5,
        "dpo_normalize_logratios_by_length": True,
        "dpo_reference_free": False,
    }
    assert body["lr_scheduler"]["lr_scheduler_type"] == "linear"

    parent = server.add_job(status="completed")["id"]
    run_json(capsys, "create", "--training-file", "file-2", "--from-checkpoint", parent)
    assert create_posts(server)[-1] == {"training_file": "file-2", "from_checkpoint": parent}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--dpo-beta", "0.1"], "--dpo-beta"),
        (["--training-method", "sft", "--simpo-gamma", "1"], "--simpo-gamma"),
        (["--dpo-reference-free"], "--dpo-reference-free"),
        (["--rpo-alpha", "1", "--dpo-normalize-logratios-by-length"], "--rpo-alpha"),
        (["--full", "--lora-r", "8"], "--lora-r"),
        (["--lora", "--full"], "--full"),
        (["--min-lr-ratio", "0.1"], "--min-lr-ratio"),
        (["--lr-scheduler", "linear", "--num-cycles", "1"], "--num-cycles"),
        (["--training-method", "dpo", "--train-on-inputs", "false"], "train_on_inputs"),
        (["--n-epochs", "0"], "n_epochs"),
        (["--warmup-ratio", "2"], "warmup_ratio"),
    ],
)
def test_create_rejected_arguments_exit_2_and_send_nothing(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    extra: list[str],
    named: str,
) -> None:
    code, out, err = run(capsys, "create", "--training-file", "file-1", "--model", MODEL, *extra)
    assert code == 2
    assert named in err
    assert "Traceback" not in err
    assert out == ""
    assert server.requests == []


def test_create_rejects_a_path_as_training_file(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, _, err = run(capsys, "create", "--training-file", "data.jsonl", "--model", MODEL)
    assert code == 2
    assert "file ID" in err
    assert server.requests == []


def test_create_dry_run_sends_nothing_and_masks_secrets(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, out, err = run(
        capsys,
        "--debug",
        "create",
        "--training-file",
        "file-1",
        "--model",
        MODEL,
        "--train-on-inputs",
        "false",
        "--wandb-api-key",
        "WANDB_SECRET",
        "--hf-api-token",
        "hf_SECRET",
        "--dry-run",
    )
    assert code == 0, err
    body = json.loads(out)
    assert body == {
        "training_file": "file-1",
        "model": MODEL,
        "training_method": {"method": "sft", "train_on_inputs": False},
        "hf_api_token": "***",
        "wandb_key": "***",
    }
    assert "SECRET" not in out + err
    assert server.api_key not in out + err
    assert server.requests == []


def test_create_dry_run_still_validates(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, _, err = run(capsys, "create", "--training-file", "file-1", "--dry-run")
    assert code == 2
    assert "model / from_checkpoint" in err
    assert server.requests == []


def test_create_check_limits(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    argv = ["create", "--training-file", "file-1", "--model", MODEL, "--check-limits"]
    code, _, err = run(capsys, *argv, "--batch-size", "100000")
    assert code == 2
    assert "batch_size" in err
    assert create_posts(server) == []
    assert len(server.requests_to("GET", "/fine-tunes/models/limits")) == 1
    run_json(capsys, *argv, "--batch-size", "16")
    assert len(create_posts(server)) == 1


def test_dry_run_with_check_limits_checks_and_still_sends_nothing(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    argv = ["create", "--training-file", "file-1", "--model", MODEL, "--check-limits", "--dry-run"]
    code, _, err = run(capsys, *argv, "--batch-size", "100000")
    assert code == 2
    assert "batch_size" in err
    code, out, _ = run(capsys, *argv, "--batch-size", "16")
    assert code == 0
    assert json.loads(out)["batch_size"] == 16
    assert create_posts(server) == []


def test_dry_run_masks_only_the_secret_fields(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, out, _ = run(
        capsys,
        "create",
        "--training-file",
        "file-1",
        "--model",
        MODEL,
        "--wandb-api-key",
        "WB",
        "--suffix",
        "WB-run",
        "--dry-run",
    )
    assert code == 0
    body = json.loads(out)
    assert body["wandb_key"] == "***"
    assert body["suffix"] == "WB-run"  # the body that would be sent, not a scrubbed copy


def test_wait_quiet_prints_only_the_job(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="completed")
    code, loud, _ = run(capsys, "wait", job["id"], "--poll-interval", "0.01")
    assert code == 0
    code, quiet, _ = run(capsys, "wait", job["id"], "--poll-interval", "0.01", "-q")
    assert code == 0
    event_lines = [line for line in loud.splitlines() if line not in quiet.splitlines()]
    assert event_lines  # the loud run printed the events
    assert all(line in loud.splitlines() for line in quiet.splitlines())


def test_create_api_error_exits_1(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    server.fail_next("POST", "/fine-tunes", 400)
    code, out, err = run(capsys, "create", "--training-file", "file-1", "--model", MODEL)
    assert code == 1
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "400" in err
    assert len(create_posts(server)) == 1


# --------------------------------------------------------------------------- jobs


def test_list_table_and_json(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, _, err = run(capsys, "list")
    assert code == 0
    assert "no fine-tuning jobs" in err
    first = server.add_job(status="running")
    second = server.add_job(status="completed", model="Qwen/Qwen2.5-7B-Instruct")
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "MODEL", "CREATED"]
    assert lines[0].index("STATUS") == lines[1].index(lines[1].split()[1])  # aligned
    assert {line.split()[0] for line in lines[1:]} == {first["id"], second["id"]}
    jobs = run_json(capsys, "list")
    assert {j["id"]: j["status"] for j in jobs} == {
        first["id"]: "running",
        second["id"]: "completed",
    }
    # --json also works after the subcommand
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    assert len(json.loads(out)) == 2


def test_retrieve_block_and_json(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="running")
    code, out, _ = run(capsys, "retrieve", job["id"])
    assert code == 0
    fields = dict(line.split(None, 1) for line in out.splitlines() if line.startswith(("ID", "ST")))
    assert fields["ID"].strip() == job["id"]
    assert fields["STATUS"].strip() == "running"
    for label in ("OUTPUT MODEL", "PROGRESS", "CREATED", "UPDATED", job["model_output_name"]):
        assert label in out
    data = run_json(capsys, "retrieve", job["id"])
    assert data["id"] == job["id"]
    assert data["status"] == "running"
    assert data["model"] == job["model"]
    assert data["created_at"].endswith("Z")


def test_retrieve_unknown_job_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, out, err = run(capsys, "retrieve", "ft-does-not-exist")
    assert code == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "404" in lines[0]
    assert "request id req-" in lines[0]
    assert "Traceback" not in err
    assert server.api_key not in err


def test_debug_shows_traceback_but_never_the_key(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, _, err = run(capsys, "--debug", "retrieve", "ft-does-not-exist")
    assert code == 1
    assert "Traceback" in err
    assert "404" in err
    assert server.api_key not in err


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_secrets_are_masked_wherever_they_would_show(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    debug: list[str],
) -> None:
    import logging

    from together_finetune import TogetherError

    def leaky(*args: Any, **kwargs: Any) -> Any:
        logging.getLogger("together_finetune").debug("key %s", server.api_key)
        raise TogetherError(f"boom {server.api_key} wb-secret-1 hf-secret-2")

    monkeypatch.setattr("together_finetune.fine_tunes.FineTunes.create", leaky)
    code, out, err = run(
        capsys,
        *debug,
        "create",
        "--training-file",
        "file-1",
        "--model",
        MODEL,
        "--wandb-api-key",
        "wb-secret-1",
        "--hf-api-token",
        "hf-secret-2",
    )
    assert code == 1
    for secret in (server.api_key, "wb-secret-1", "hf-secret-2"):
        assert secret not in out + err
    assert "boom ***" in err
    if debug:
        assert "key ***" in err  # the debug log line, masked


def test_argparse_errors_never_echo_a_secret(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, _, err = run(capsys, "list", "--api-key", "sk-typed-after-the-command")
    assert code == 2
    assert "unrecognized arguments" in err
    assert "sk-typed-after-the-command" not in err
    code, _, err = run(capsys, "create", "--training-file", "file-1", "--wandb-key=wb-typo")
    assert code == 2
    assert "wb-typo" not in err
    assert server.requests == []


def test_a_bad_base_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    for url in ("ftp://example.com/v1", "http://example.com/v1"):
        code, _, err = run(capsys, "--base-url", url, "list")
        assert code == 2, err
        assert "Traceback" not in err


JOB_COMMANDS = [
    "retrieve",
    "cancel",
    "delete",
    "events",
    "checkpoints",
    "metrics",
    "wait",
    "download",
]


@pytest.mark.parametrize("command", JOB_COMMANDS)
@pytest.mark.parametrize("bad_id", ["job-1", "ft-a/b", "../ft-1"])
def test_malformed_job_id_exits_2_and_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    command: str,
    bad_id: str,
) -> None:
    code, _, err = run(capsys, command, bad_id)
    assert code == 2
    assert "job ID" in err
    assert server.requests == []


@pytest.mark.parametrize(
    "argv",
    [[command, "job-1"] for command in JOB_COMMANDS]
    + [["files", "retrieve", "x"], ["files", "delete", "x"], ["files", "content", "x", "out"]],
)
def test_a_malformed_id_is_refused_before_the_api_key_is_needed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert "ID" in err
    assert "TOGETHER_API_KEY" not in err


def test_cancel(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="running")
    code, out, _ = run(capsys, "cancel", job["id"])
    assert code == 0
    assert job["id"] in out
    assert len(server.requests_to("POST", f"/fine-tunes/{job['id']}/cancel")) == 1
    data = run_json(capsys, "cancel", job["id"])
    assert data["id"] == job["id"]
    assert data["status"] in ("cancel_requested", "cancelled")


def test_delete(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    first = server.add_job(status="completed")
    second = server.add_job(status="completed")
    code, out, _ = run(capsys, "delete", first["id"])
    assert code == 0
    assert out.strip()
    assert isinstance(run_json(capsys, "delete", second["id"]), dict)
    assert len(server.requests_to("DELETE", f"/fine-tunes/{first['id']}")) == 1
    assert run(capsys, "retrieve", first["id"])[0] == 1


def test_events_table_json_and_follow(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="pending")
    server.add_event(job["id"], type="WARNING", message="careful", level="warning")
    code, out, _ = run(capsys, "events", job["id"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["CREATED", "LEVEL", "TYPE", "MESSAGE"]
    assert "careful" in lines[-1]
    events = run_json(capsys, "events", job["id"])
    assert events[-1]["message"] == "careful"
    assert events[-1]["type"] == "warning"

    server.advance(job["id"], steps=10)  # terminal: --follow prints everything and stops
    code, out, _ = run(capsys, "events", job["id"], "--follow", "--poll-interval", "0.01")
    assert code == 0
    assert "careful" in out
    assert "job_complete" in out
    code, out, _ = run(capsys, "--json", "events", job["id"], "-f", "--poll-interval", "0.01")
    assert code == 0
    parsed = [json.loads(line) for line in out.splitlines()]
    assert parsed[-1]["type"] == "job_complete"
    assert sum(1 for e in parsed if e.get("message") == "careful") == 1


def test_checkpoints(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="completed")
    code, out, _ = run(capsys, "checkpoints", job["id"])
    assert code == 0
    lines = out.splitlines()
    # The API names each checkpoint in the model registry: the table shows the name.
    assert lines[0].split() == ["STEP", "TYPE", "CREATED", "PATH", "REGISTRY", "NAME"]
    assert len(lines) == 1 + len(server.checkpoints[job["id"]])
    named = [c.get("object_name") or "-" for c in server.checkpoints[job["id"]]]
    assert any(name != "-" for name in named)
    assert [line.split()[-1] for line in lines[1:]] == named
    data = run_json(capsys, "checkpoints", job["id"])
    assert [c["step"] for c in data] == [c["step"] for c in server.checkpoints[job["id"]]]
    pending = server.add_job(status="pending")
    code, out, err = run(capsys, "checkpoints", pending["id"])
    assert code == 0
    assert "no checkpoints" in err


def test_metrics(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="completed")
    code, out, _ = run(capsys, "metrics", job["id"])
    assert code == 0
    assert "train/loss" in out.splitlines()[0]
    rows = run_json(capsys, "metrics", job["id"], "--step-from", "3", "--step-to", "5")
    assert [row["train/global_step"] for row in rows] == [3, 4, 5]
    query = server.requests_to("GET", f"/fine-tunes/{job['id']}/metrics")[-1]
    assert query.query["global_step_from"] == "3"
    rows = run_json(
        capsys, "metrics", job["id"], "--since", "2000-01-01T00:00:00Z", "--until", "2999-01-01"
    )
    assert rows
    query = server.requests_to("GET", f"/fine-tunes/{job['id']}/metrics")[-1].query
    assert query["logged_at_from"] == "2000-01-01T00:00:00Z"
    assert query["logged_at_to"].startswith("2999-01-01T00:00:00")
    assert run(capsys, "metrics", job["id"], "--since", "yesterday")[0] == 2


def test_metrics_json_stays_valid_json_with_a_nan(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="completed")
    nan_rows = b'{"metrics": [{"train/loss": NaN, "train/global_step": 1}]}'
    server.fail_next("GET", f"/fine-tunes/{job['id']}/metrics", 200, body=nan_rows)
    code, out, _ = run(capsys, "--json", "metrics", job["id"])
    assert code == 0
    assert "NaN" not in out
    assert json.loads(out) == [{"train/loss": None, "train/global_step": 1}]


def test_wait_exit_codes(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    done = server.add_job(status="completed")
    code, out, _ = run(capsys, "wait", done["id"], "--poll-interval", "0.01")
    assert code == 0
    assert "completed" in out
    data = run_json(capsys, "wait", done["id"], "--poll-interval", "0.01")
    assert data["status"] == "completed"

    failed = server.add_job(status="running")
    server.fail_job(failed["id"], message="out of memory")
    code, out, err = run(capsys, "wait", failed["id"], "--poll-interval", "0.01")
    assert code == 1
    assert "out of memory" in out  # the events are printed
    assert "error" in err

    cancelled = server.add_job(status="cancelled")
    assert run(capsys, "--json", "wait", cancelled["id"], "--poll-interval", "0.01")[0] == 1


def test_wait_follows_a_job_to_completion(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = server.add_job(status="running")
    polls = []

    def advancing_sleep(seconds: float) -> None:  # each poll moves the job one step
        polls.append(seconds)
        server.advance(job["id"])

    from together_finetune import client as client_module

    real_client = client_module.Client
    monkeypatch.setattr(
        client_module, "Client", lambda **kw: real_client(sleep=advancing_sleep, **kw)
    )
    code, out, _ = run(capsys, "wait", job["id"], "--poll-interval", "0.5")
    assert code == 0, out
    assert polls
    assert set(polls) == {0.5}
    assert "job_complete" in out
    assert "STATUS" in out
    assert "completed" in out


def test_wait_timeout_exits_1(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    job = server.add_job(status="pending")
    code, _, err = run(
        capsys, "wait", job["id"], "--poll-interval", "0.01", "--timeout", "0.05", "-q"
    )
    assert code == 1
    assert "pending" in err
    assert len(err.strip().splitlines()) == 1


def test_download_and_resume_after_a_cut(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    job = server.add_job(status="completed")
    server.set_download(job["id"], size=300_000)
    server.cut_download(after_bytes=100_000, times=1)
    target = tmp_path / "model.tar.zst"
    data = run_json(capsys, "download", job["id"], "--output", str(target))
    assert Path(data["path"]) == target
    content = target.read_bytes()
    assert len(content) == 300_000 == data["size"]
    assert hashlib.sha256(content).hexdigest() == data["sha256"]
    downloads = server.requests_to("GET", "/finetune/download")
    assert len(downloads) >= 2
    assert downloads[0].header("Range") == "bytes=0-"  # from the start, asking for ranges
    assert downloads[1].header("Range") == "bytes=100000-"
    # An existing file is not replaced without --overwrite (a download error, exit 1).
    code, _, err = run(capsys, "download", job["id"], "--output", str(target))
    assert code == 1
    assert "already exists" in err
    code, out, _ = run(capsys, "download", job["id"], "-o", str(target), "--overwrite")
    assert code == 0
    assert str(target) in out


def test_download_checkpoint_step_and_extract(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    job = server.add_job(status="completed")
    data = run_json(capsys, "download", job["id"], "-o", f"{tmp_path}/", "--extract")
    extracted = Path(data["path"])
    assert extracted.is_dir()
    assert any(extracted.rglob("*"))
    step = server.checkpoints[job["id"]][0]["step"]
    data = run_json(
        capsys, "download", job["id"], "--step", str(step), "--checkpoint", "adapter", "-o",
        str(tmp_path / "step.tar.zst"),
    )  # fmt: skip
    assert data["checkpoint_step"] == step
    query = server.requests_to("GET", "/finetune/download")[-1].query
    assert query["checkpoint_step"] == str(step)
    assert query["checkpoint"] == "adapter"


def test_download_connections_fetch_the_file_in_ranged_pieces(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    job = server.add_job(status="completed")
    server.set_download(job["id"], size=1_000_000)
    target = tmp_path / "model.tar.zst"
    data = run_json(capsys, "download", job["id"], "-o", str(target), "--connections", "3")
    assert data["size"] == 1_000_000
    assert hashlib.sha256(target.read_bytes()).hexdigest() == data["sha256"]
    ranges = {r.header("Range") for r in server.requests_to("GET", "/finetune/download")}
    assert len(ranges) > 2  # the probe, then pieces from several offsets


@pytest.mark.parametrize("command", ["download", "download-tokenized-dataset"])
@pytest.mark.parametrize("bad", ["0", "33", "two"])
def test_bad_connections_exit_2_and_send_nothing(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    command: str,
    bad: str,
) -> None:
    code, _, err = run(capsys, command, "ft-1", "-o", str(tmp_path / "x"), "--connections", bad)
    assert code == 2
    assert "connections" in err
    assert server.requests == []
    assert list(tmp_path.iterdir()) == []


def test_download_of_a_running_job_exits_1(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    job = server.add_job(status="running")
    code, _, err = run(capsys, "download", job["id"], "-o", str(tmp_path / "x.tar.zst"))
    assert code == 1
    assert "400" in err
    assert not list(tmp_path.iterdir())


def test_download_progress_falls_back_without_tqdm(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    job = server.add_job(status="completed")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tqdm" else real_find_spec(name, *a),
    )
    code, _, err = run(capsys, "download", job["id"], "-o", str(tmp_path / "m.tar.zst"))
    assert code == 0, err
    assert (tmp_path / "m.tar.zst").exists()


# --------------------------------------------------------------------------- models and prices


def test_models_limits_and_estimate_price(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0
    assert out.splitlines()[0].strip() == "MODEL"
    assert MODEL in out
    assert MODEL in run_json(capsys, "models")

    code, out, _ = run(capsys, "limits", MODEL)
    assert code == 0
    assert "lora_training.max_batch_size" in out
    limits = run_json(capsys, "limits", MODEL)
    assert limits["model_name"] == MODEL
    assert run(capsys, "limits", "no/such-model")[0] == 1

    argv = ["estimate-price", "--training-file", "file-1", "--model", MODEL]
    code, out, _ = run(capsys, *argv, "--n-epochs", "2", "--full", "--training-method", "sft")
    assert code == 0
    assert "ESTIMATED PRICE" in out
    body = server.requests_to("POST", "/fine-tunes/estimate-price")[-1].json()
    assert body["n_epochs"] == 2
    assert body["training_type"] == {"type": "Full"}
    assert body["training_method"]["method"] == "sft"
    estimate = run_json(capsys, *argv)
    assert estimate["estimation_available"] is True
    assert estimate["estimated_total_price"] > 0


def test_keyboard_interrupt_exits_130(
    capsys: pytest.CaptureFixture[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("together_finetune.fine_tunes.FineTunes.list", interrupted)
    code, _, err = run(capsys, "list")
    assert code == 130
    assert "Traceback" not in err


def test_network_error_exits_1(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    url = server.base_url
    server.stop()
    code, _, err = run(capsys, "--max-retries", "0", "--base-url", url, "list")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


# --------------------------------------------------------------------------- subprocesses


def test_subprocess_create_list_retrieve(server: FakeTogether, env: dict[str, str]) -> None:
    result = spawn(
        env,
        "--json",
        "create",
        "--training-file",
        "file-1",
        "--model",
        MODEL,
        "--train-on-inputs",
        "false",
    )
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)
    assert server.requests_to("POST", "/fine-tunes")[-1].json()["training_method"] == {
        "method": "sft",
        "train_on_inputs": False,
    }
    result = spawn(env, "list", "--json")
    assert result.returncode == 0, result.stderr
    assert [j["id"] for j in json.loads(result.stdout)] == [job["id"]]
    result = spawn(env, "retrieve", job["id"])
    assert result.returncode == 0, result.stderr
    assert job["id"] in result.stdout
    assert "pending" in result.stdout


def test_subprocess_dry_run_sends_nothing(server: FakeTogether, env: dict[str, str]) -> None:
    no_key = {k: v for k, v in env.items() if k != "TOGETHER_API_KEY"}
    argv = ["create", "--training-file", "file-1", "--model", MODEL, "--dry-run"]
    result = spawn(no_key, *argv, "--wandb-api-key", "WANDB_SECRET")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["wandb_key"] == "***"
    assert "WANDB_SECRET" not in result.stdout + result.stderr
    assert server.requests == []


def test_subprocess_wait_and_download(
    server: FakeTogether, env: dict[str, str], tmp_path: Path
) -> None:
    job = server.add_job(status="running")
    server.advance(job["id"], steps=5)
    result = spawn(env, "wait", job["id"], "--poll-interval", "0.01")
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout
    failed = server.add_job(status="running")
    server.fail_job(failed["id"])
    assert spawn(env, "wait", failed["id"], "--poll-interval", "0.01", "-q").returncode == 1

    server.cut_download(after_bytes=1000, times=1)
    result = spawn(env, "--json", "download", job["id"], "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    path = Path(data["path"])
    assert path.parent == tmp_path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == data["sha256"]
    assert server.requests_to("GET", "/finetune/download")[-1].header("Range") == "bytes=1000-"


def test_subprocess_api_error_and_usage_error(server: FakeTogether, env: dict[str, str]) -> None:
    result = spawn(env, "retrieve", "ft-unknown")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "404" in lines[0]
    assert "request id" in lines[0]
    assert server.api_key not in result.stderr

    result = spawn(env, "retrieve", "not-a-job")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    result = spawn(env, "create", "--training-file", "file-1", "--model", MODEL, "--dpo-beta", "1")
    assert result.returncode == 2
    assert "--dpo-beta" in result.stderr
    assert server.requests_to("POST", "/fine-tunes") == []


def test_console_script(server: FakeTogether, env: dict[str, str]) -> None:
    beside = Path(sys.executable).with_name("together-finetune")
    script = str(beside) if beside.exists() else shutil.which("together-finetune")
    if script is None:
        pytest.skip("the together-finetune console script is not installed (pip install -e .)")
    job = server.add_job(status="completed")
    result = subprocess.run(
        [script, "--json", "retrieve", job["id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "completed"
    result = subprocess.run(
        [script, "retrieve", "ft-unknown"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1


def test_subprocess_serve_fake(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOGETHER_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "together_finetune", "serve-fake", "--port", "0"],
        env=clean,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        second = proc.stdout.readline().strip()
        assert first.startswith("TOGETHER_BASE_URL=http://127.0.0.1:")
        assert second.startswith("TOGETHER_API_KEY=")
        env = dict(clean, TOGETHER_BASE_URL=first.split("=", 1)[1])
        env["TOGETHER_API_KEY"] = second.split("=", 1)[1]
        result = spawn(env, "--json", "models")
        assert result.returncode == 0, result.stderr
        assert MODEL in json.loads(result.stdout)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


def _console_script() -> list[str]:
    beside = Path(sys.executable).with_name("together-finetune")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("together-finetune")
    return [found] if found else [sys.executable, "-m", "together_finetune"]


@pytest.mark.parametrize(
    "command",
    [
        "create",
        "list",
        "retrieve",
        "cancel",
        "events",
        "checkpoints",
        "metrics",
        "wait",
        "download",
        "delete",
        "estimate-price",
        "limits",
        "models",
        "files upload",
        "files list",
        "files retrieve",
        "files content",
        "files delete",
        "files check",
    ],
)
def test_every_command_through_the_installed_script(
    server: FakeTogether, env: dict[str, str], tmp_path: Path, command: str
) -> None:
    done = server.add_job(status="completed")["id"]
    running = server.add_job(status="running")["id"]
    data = tmp_path / "train.jsonl"
    data.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        )
        + "\n"
    )
    stored = server.files.add_file(b'{"text": "x"}\n', "stored.jsonl")["id"]
    argv = {
        "create": ["create", "--training-file", "file-1", "--model", MODEL],
        "list": ["list"],
        "retrieve": ["retrieve", done],
        "cancel": ["cancel", running],
        "events": ["events", done],
        "checkpoints": ["checkpoints", done],
        "metrics": ["metrics", done],
        "wait": ["wait", done],
        "download": ["download", done, "--output", str(tmp_path / "model.tar.zst")],
        "delete": ["delete", done],
        "estimate-price": ["estimate-price", "--training-file", "file-1", "--model", MODEL],
        "limits": ["limits", MODEL],
        "models": ["models"],
        "files upload": ["files", "upload", str(data)],
        "files list": ["files", "list"],
        "files retrieve": ["files", "retrieve", stored],
        "files content": ["files", "content", stored, str(tmp_path / "copy.jsonl")],
        "files delete": ["files", "delete", stored],
        "files check": ["files", "check", str(data)],
    }[command]
    result = subprocess.run(
        [*_console_script(), "--json", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    parsed = json.loads(result.stdout)  # every command answers JSON under --json
    assert parsed is not None


def test_an_error_without_a_request_id_says_so(
    capsys: pytest.CaptureFixture[str], server: FakeTogether, env: dict[str, str]
) -> None:
    server.fail_next("GET", "/fine-tunes", 400, headers={"x-request-id": ""})
    code, _, err = run(capsys, "list")
    assert code == 1
    assert "(no request id)" in err


def test_a_closed_pipe_ends_quietly(
    capsys: pytest.CaptureFixture[str],
    server: FakeTogether,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from together_finetune.cli import output

    def reader_went_away(self: Any, text: str) -> None:
        raise BrokenPipeError

    server.add_job()
    monkeypatch.setattr(output.Out, "line", reader_went_away)
    code, _, err = run(capsys, "list")
    assert code == 1
    assert "Traceback" not in err
