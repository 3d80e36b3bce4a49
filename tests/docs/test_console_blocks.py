"""Every ```console session of README.md and docs/ that runs ``together-finetune`` is re-run.

Each session gets its own fake API (whose jobs finish at once, as in the python blocks)
and a working directory holding ``train.jsonl``. Each ``$ `` command (``\\`` continues
it) runs in bash, stdout and stderr together, piped; a session marked ``<!-- terminal -->``
runs its commands on a pseudo-terminal instead and answers its ``[y/N] y`` prompts. The
output must match what the page shows once IDs, times, sizes, digests and runs of spaces
are normalised. A line ``...`` stands for any number of lines. IDs the page shows are
carried forward: a later command that uses one gets the ID the fake really gave.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from support.docblocks import Block, all_blocks, fast_clock, prepare_directory
from support.terminal import PtyRun, console_script, plain_text

from together_finetune.testing import FakeTogether

PROGRAM = "together-finetune"
SESSIONS = [
    block
    for block in all_blocks("console")
    if any(line.startswith(f"$ {PROGRAM}") for line in block.text.splitlines())
]
RUNNABLE = [block for block in SESSIONS if not block.is_fragment]
ID = re.compile(r"\b(ft|file)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
NORMALISE = [
    (ID, r"\1-<id>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "<time>"),
    (re.compile(r"\((just now|\d+ \w+ ago|in \d+ \w+)\)"), "(<ago>)"),
    (re.compile(r"\b[0-9a-f]{8,64}(\.\.\.)?"), "<hex>"),
    (re.compile(r"\brv_[0-9a-f]+"), "rv_<hex>"),
    (re.compile(r"-[0-9a-f]{8}(?=-|\b)"), "-<hex>"),
    (re.compile(r"\b\d[\d,]* bytes\b"), "<n> bytes"),
    (re.compile(r"^(BYTES|SIZE)\s+\d[\d,]*", re.MULTILINE), r"\1 <n>"),
    (re.compile(r"fake-[0-9a-f]+"), "fake-<key>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"[ \t]+"), " "),
]


def commands(block: Block) -> List[Tuple[str, List[str]]]:
    """``(command, expected output lines)`` of each ``$ `` line of a session."""
    found: List[Tuple[str, List[str]]] = []
    lines = block.text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            assert not found, f"{block.where}: output before the first command"
            index += 1
            continue
        command = line[2:]
        while command.endswith("\\") and index + 1 < len(lines):
            index += 1
            command = command[:-1] + " " + lines[index].strip()
        index += 1
        expected: List[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            expected.append(lines[index])
            index += 1
        found.append((command, expected))
    return found


def normalise(text: str) -> str:
    for pattern, replacement in NORMALISE:
        text = pattern.sub(replacement, text)
    return text.rstrip()


def matches(expected: List[str], actual: List[str]) -> bool:
    """Line by line after normalising; an expected ``...`` line matches any lines."""
    if not expected:
        return not actual
    if expected[0].strip() == "...":
        return any(matches(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


class IdMap:
    """The IDs the page shows, paired with the ones the fake gave, in order of appearance."""

    def __init__(self) -> None:
        self.shown: Dict[str, str] = {}

    def learn(self, expected: str, actual: str) -> None:
        shown, real = _ids(expected), _ids(actual)
        for page_id, real_id in zip(shown, real):
            self.shown.setdefault(page_id, real_id)

    def apply(self, command: str) -> str:
        for page_id, real_id in self.shown.items():
            command = command.replace(page_id, real_id)
        return command


def _ids(text: str) -> List[str]:
    seen: List[str] = []
    for match in ID.finditer(text):
        if match.group(0) not in seen:
            seen.append(match.group(0))
    return seen


def script_directory(tmp_path: Path) -> Path:
    """A directory with a ``together-finetune`` that runs this checkout's CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / PROGRAM
    argv = " ".join(shlex.quote(part) for part in console_script())
    wrapper.write_text(f'#!/bin/sh\nexec {argv} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return bin_dir


def run_piped(command: str, env: Dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        ["bash", "-c", command],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout


def run_on_terminal(command: str, expected: List[str], env: Dict[str, str], cwd: Path) -> str:
    argv = shlex.split(command)
    assert argv[0] == PROGRAM, f"a terminal session runs {PROGRAM} only: {command}"
    old = Path.cwd()
    os.chdir(cwd)
    try:
        run = PtyRun(env, *argv[1:], columns=80, no_color=True)
        for line in expected:
            if line.rstrip().endswith("[y/N] y") or line.rstrip().endswith("[y/N] n"):
                run.expect("[y/N]")
                run.send(line.rstrip()[-1])
        run.finish()
    finally:
        os.chdir(old)
    return plain_text(run.output)


@pytest.mark.parametrize("block", RUNNABLE, ids=[block.where for block in RUNNABLE])
def test_a_console_session_gives_what_the_page_shows(block: Block, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    prepare_directory(work)
    with FakeTogether(clock=fast_clock, step_seconds=1.0) as fake:
        env = {key: value for key, value in os.environ.items() if not key.startswith("TOGETHER_")}
        env.update(
            TOGETHER_API_KEY=fake.api_key,
            TOGETHER_BASE_URL=fake.base_url,
            PATH=f"{script_directory(tmp_path)}{os.pathsep}{env.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            NO_COLOR="1",
            COLUMNS="100",
            MPLBACKEND="Agg",
        )
        ids = IdMap()
        for command, expected in commands(block):
            real = ids.apply(command)
            if block.on_terminal:
                output = run_on_terminal(real, expected, env, work)
            else:
                output = run_piped(real, env, work)
            ids.learn("\n".join(expected), output)
            want = [normalise(line) for line in expected]
            got = [normalise(line) for line in output.rstrip("\n").splitlines()]
            while want and not want[-1]:
                want.pop()
            assert matches(want, got), (
                f"{block.where}: `{command}` printed\n{output}\n"
                f"which does not match the page's\n" + "\n".join(expected)
            )


def test_console_sessions_are_found_and_counted(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(RUNNABLE) >= 2, "the documentation has lost its command-line sessions"
    fragments = [block for block in SESSIONS if block.is_fragment]
    assert all(block.fragment_reason for block in fragments)
    with capsys.disabled():
        print(
            f"\ndocs: {len(RUNNABLE)} together-finetune sessions re-run, "
            f"{len(fragments)} marked as fragments"
        )


def test_the_normalising_keeps_what_matters() -> None:
    """Counts, statuses and words still differ after normalising; IDs and times do not."""
    assert normalise("ID  ft-a77cc154-1fbf-40c4-bcd7-a171d3f0d856  running") == normalise(
        "ID ft-00000000-1111-2222-3333-444444444444 running"
    )
    assert normalise("20 examples, ok") != normalise("21 examples, ok")
    assert normalise("STATUS completed") != normalise("STATUS running")
    assert normalise("6,600 bytes downloaded") == normalise("12 bytes downloaded")
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
