"""``docs/backends.md``: its runnable blocks run against the fake; its fragments compile."""

from __future__ import annotations

import ast
import re

import pytest
from support.paths import REPO_ROOT

from together_finetune.testing import FakeTogether

PAGE = REPO_ROOT / "docs" / "backends.md"
FRAGMENT = "<!-- fragment:"


def python_blocks() -> list[tuple[str, bool]]:
    """Each ```python block of the page, and whether a fragment marker precedes it."""
    text = PAGE.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"(?m)^```python\n(.*?)^```$", text, re.DOTALL):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append((match.group(1), before.startswith(FRAGMENT)))
    return found


def test_the_runnable_blocks_run_on_the_fake(
    server: FakeTogether, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
    jobs = {server.add_job(status=s)["id"]: s for s in ("running", "completed", "queued")}
    runnable = [code for code, fragment in python_blocks() if not fragment]
    assert runnable
    for code in runnable:
        exec(compile(code, str(PAGE), "exec"), {"__name__": "backends_page"})  # noqa: S102
    assert ast.literal_eval(capsys.readouterr().out.strip()) == jobs


def test_every_fragment_compiles() -> None:
    fragments = [code for code, fragment in python_blocks() if fragment]
    assert len(fragments) == 3
    for code in fragments:
        compile(code, str(PAGE), "exec")
