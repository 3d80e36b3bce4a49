"""Helpers shared by the command-line tests: run ``main`` in-process or as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from together_finetune.cli import main
from together_finetune.testing import FakeTogether


def cli_env(server: FakeTogether, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the CLI (in-process and subprocesses) at the fake server; the env for children."""
    monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
    monkeypatch.delenv("TOGETHER_LOG", raising=False)
    values = dict(os.environ)
    values.pop("COLUMNS", None)
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in this process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    """``main(["--json", *argv])``, which must succeed; its output parsed."""
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0, err
    return json.loads(out)


def spawn(env: dict[str, str], *argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """``python -m together_finetune *argv`` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "together_finetune", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
