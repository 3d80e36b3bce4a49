"""The runnable examples of docs/networks.md and the README's "Networks and backends" run.

Each ```python block not marked ``<!-- fragment: ... -->`` runs alone, in a fresh
namespace, with ``TOGETHER_API_KEY`` and ``TOGETHER_BASE_URL`` pointing at the fake.
"""

from __future__ import annotations

import re
from typing import List

import pytest
from support.paths import README, REPO_ROOT

from together_finetune.testing import FakeTogether

BLOCK = re.compile(r"(<!-- fragment:[^>]*-->\n)?```python\n(.*?)```", re.DOTALL)


def runnable_blocks(text: str) -> List[str]:
    return [code for fragment, code in BLOCK.findall(text) if not fragment]


def networks_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Networks and backends")
    end = text.index("\n## ", start + 1)
    return text[start:end]


BLOCKS = [
    *(
        ("docs/networks.md", code)
        for code in runnable_blocks(
            (REPO_ROOT / "docs" / "networks.md").read_text(encoding="utf-8")
        )
    ),
    *(("README.md", code) for code in runnable_blocks(networks_section())),
]


def test_there_are_examples_to_run() -> None:
    assert len([1 for where, _ in BLOCKS if where == "README.md"]) >= 2
    assert len([1 for where, _ in BLOCKS if where != "README.md"]) >= 2


@pytest.mark.parametrize(
    ("where", "code"), BLOCKS, ids=[f"{w}-{n}" for n, (w, _) in enumerate(BLOCKS)]
)
def test_example_runs(
    where: str,
    code: str,
    server: FakeTogether,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", server.api_key)
    monkeypatch.setenv("TOGETHER_BASE_URL", server.base_url)
    exec(compile(code, where, "exec"), {"__name__": "__example__"})  # noqa: S102
    assert server.requests or "Client(" in code
