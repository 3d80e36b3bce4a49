"""The code blocks of the documentation: README.md and every page under docs/.

Files are found by glob, so a page added later is covered without touching the tests.
A fenced block is marked by the line just before its fence:

- ``<!-- fragment: REASON -->``: the block cannot run alone (it shows one line of a
  larger program, a web app, ...). It is not run, but counted, and the reason is required;
- ``<!-- terminal -->`` (console blocks): the session ran on a terminal, so it is re-run
  on a pseudo-terminal and its ``[y/N] y`` prompts are answered.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from support.paths import EXAMPLES, REPO_ROOT

FRAGMENT = re.compile(r"<!--\s*fragment:(?P<reason>.*?)-->")
MARKER = re.compile(r"<!--\s*(?P<word>[a-z]+)\b")
ALIASES = {"py": "python", "python3": "python", "shell-session": "console"}
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text and its marker."""

    path: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str
    marker: Optional[str]  # the comment line just before the fence, if any

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    @property
    def fragment_reason(self) -> Optional[str]:
        """The stated reason when the block is marked as a fragment (may be empty)."""
        if self.marker is None:
            return None
        match = FRAGMENT.search(self.marker)
        return match.group("reason").strip() if match else None

    @property
    def is_fragment(self) -> bool:
        return self.fragment_reason is not None

    @property
    def on_terminal(self) -> bool:
        return (
            self.marker is not None and re.search(r"<!--\s*terminal\s*-->", self.marker) is not None
        )


def documentation_files() -> List[Path]:
    """README.md and every Markdown page of docs/ (the built site excluded)."""
    pages = sorted(
        path
        for path in (REPO_ROOT / "docs").rglob("*.md")
        if "_build" not in path.relative_to(REPO_ROOT / "docs").parts
    )
    return [REPO_ROOT / "README.md", *pages]


def blocks(path: Path) -> List[Block]:
    """Every fenced block of ``path``, in order."""
    found: List[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index].strip())
        if match is None:
            index += 1
            continue
        fence, info = match.group("fence"), match.group("info").strip()
        start = index
        index += 1
        body: List[str] = []
        while index < len(lines) and lines[index].strip() != fence:
            body.append(lines[index])
            index += 1
        index += 1
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = lines[before].strip() if before >= 0 else ""
        words = info.split()
        if words[:1] in (["{code-block}"], ["{code}"], ["{sourcecode}"]):
            words = words[1:]  # a MyST directive: its argument is the language
        language = ALIASES.get(words[0], words[0]) if words else ""
        found.append(
            Block(
                path=path,
                line=start + 1,
                language=language,
                text="\n".join(body) + "\n",
                marker=marker if marker.startswith("<!--") else None,
            )
        )
    return found


def all_blocks(language: str) -> List[Block]:
    """The blocks of one language in every documentation file."""
    return [
        block
        for path in documentation_files()
        for block in blocks(path)
        if block.language == language
    ]


def fast_clock() -> float:
    """A clock a million times faster than the real one: the fake's jobs finish at once."""
    return time.monotonic() * 1_000_000


def prepare_directory(directory: Path) -> None:
    """What the examples of the docs expect to find in their working directory."""
    sample = EXAMPLES / "data" / "sample.jsonl"
    shutil.copy(sample, directory / "train.jsonl")
    shutil.copy(sample, directory / "validation.jsonl")
