"""Every ```python block of README.md and docs/ runs, against the fake API.

The blocks of one page run in order, in one namespace, like the cells of a notebook: a
page sets up ``client`` once and later blocks use it. Each page gets its own fake (its
jobs run to the end at once: the fake's clock runs a million times faster than the real
one, so ``wait`` never sleeps), a working directory holding ``train.jsonl`` and
``validation.jsonl``, and ``TOGETHER_API_KEY``/``TOGETHER_BASE_URL`` pointing at the fake.
A ``>>>`` session block runs its statements. A block marked
``<!-- fragment: REASON -->`` is not run; it is counted, and needs a reason.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support.docblocks import (
    Block,
    all_blocks,
    documentation_files,
    fast_clock,
    prepare_directory,
)
from support.paths import REPO_ROOT

from together_finetune.testing import FakeTogether

BLOCKS = all_blocks("python")
PAGES = sorted({block.path for block in BLOCKS if not block.is_fragment})  # runnable ones


def source(block: Block) -> str:
    """The code of a block; a ``>>>`` session gives its statements (output lines dropped)."""
    text = block.text
    if not text.lstrip().startswith(">>>"):
        return textwrap.dedent(text)
    kept = [
        line[4:]
        for line in text.splitlines()
        if line.startswith((">>> ", "... ")) or line in (">>>", "...")
    ]
    return "\n".join(kept) + "\n"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO_ROOT)) for p in PAGES])
def test_the_python_blocks_of_a_page_run(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runnable = [block for block in BLOCKS if block.path == page and not block.is_fragment]
    prepare_directory(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("TOGETHER_LOG", raising=False)
    with FakeTogether(clock=fast_clock, step_seconds=1.0) as fake:
        monkeypatch.setenv("TOGETHER_API_KEY", fake.api_key)
        monkeypatch.setenv("TOGETHER_BASE_URL", fake.base_url)
        namespace: Dict[str, Any] = {"__name__": "__docs__"}
        for block in runnable:
            code = compile(source(block), f"{block.where} (python block)", "exec")
            try:
                exec(code, namespace)  # noqa: S102 - the docs' own examples
            except Exception as error:
                pytest.fail(f"the python block at {block.where} raised {error!r}")
        client = namespace.get("client")
        if client is not None and hasattr(client, "close"):
            client.close()


def test_every_block_is_python_that_parses() -> None:
    for block in BLOCKS:
        try:
            ast.parse(source(block))
        except SyntaxError as error:
            if not block.is_fragment:
                pytest.fail(f"{block.where}: {error}")


def test_fragments_are_marked_with_a_reason_and_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fragments = [block for block in BLOCKS if block.is_fragment]
    no_reason = [block.where for block in fragments if not block.fragment_reason]
    assert not no_reason, f"fragment markers without a reason: {no_reason}"
    runnable = len(BLOCKS) - len(fragments)
    assert runnable >= 10, "the documentation has lost its runnable examples"
    assert len(fragments) < runnable, "most blocks are fragments: make them runnable"
    lines: List[str] = [f"{block.where}: {block.fragment_reason}" for block in fragments]
    with capsys.disabled():
        print(f"\ndocs: {runnable} python blocks run, {len(fragments)} fragments not run:")
        for line in lines:
            print(f"  {line}")


def test_a_marker_sits_on_a_code_block() -> None:
    """A fragment marker must come right before a fenced block, or it marks nothing."""
    for path in documentation_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if "<!-- fragment" not in line:
                continue
            following = next((later for later in lines[number:] if later.strip()), "")
            assert following.startswith("```"), f"{path.name}:{number}: marker before no block"
