"""The docs' API tables against the real methods of ``client.fine_tunes`` and ``client.files``.

The tables are in ``docs/jobs.md`` and ``docs/data-files.md`` (they were in the README).

A row shows ``name(params)``: each parameter shown must exist with the kind shown
(positional, or keyword-only after ``*``) and, where a default is written out, that
default; ``name=`` only says there is a default. A parameter left out must be
``timeout`` or an ``extra_*`` pass-through (the docs say every request method takes
them) or, in a row with
``**options``, a keyword with a default. Every public method has a row.
"""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from support.paths import REPO_ROOT

from together_finetune import Client

UNSET = object()
#: Every request method takes them (the README says so once, beside ``timeout``).
PASSED_THROUGH = ("extra_headers", "extra_query", "extra_body")


PAGES = {
    "client.fine_tunes": REPO_ROOT / "docs" / "jobs.md",
    "client.files": REPO_ROOT / "docs" / "data-files.md",
}


def table_rows(heading: str) -> List[str]:
    """The first cell of each row of the first table after the heading ``### `heading```."""
    text = PAGES[heading].read_text(encoding="utf-8")
    start = text.index(f"### `{heading}`")
    rows: List[str] = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| `"):
            rows.append(line.split("|")[1].strip().strip("`"))
        elif rows:
            break  # the table ended
    return rows


def split_params(text: str) -> Iterator[str]:
    """Comma-separated parameters, commas inside brackets or quotes kept."""
    depth, quote, current = 0, "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            yield current.strip()
            current = ""
            continue
        current += char
    if current.strip():
        yield current.strip()


def parse_row(cell: str) -> Tuple[str, Dict[str, Tuple[bool, Any]], bool]:
    """``(name, {param: (keyword_only, default or UNSET or ...)}, has **options)``."""
    match = re.fullmatch(r"(\w+)\((.*)\)", cell)
    assert match, f"not a signature: {cell}"
    params: Dict[str, Tuple[bool, Any]] = {}
    keyword_only = options = False
    for token in split_params(match.group(2)):
        if token == "*":
            keyword_only = True
        elif token.startswith("**"):
            options = True
        elif "=" in token:
            name, value = token.split("=", 1)
            params[name] = (keyword_only, ast.literal_eval(value) if value else ...)
        else:
            params[token] = (keyword_only, UNSET)
    return match.group(1), params, options


def resources() -> Iterator[Tuple[str, type]]:
    with Client(api_key="readme-test") as client:
        yield "client.fine_tunes", type(client.fine_tunes)
        yield "client.files", type(client.files)


CASES = [
    pytest.param(heading, cls, row, id=f"{heading}.{row.split('(')[0]}")
    for heading, cls in resources()
    for row in table_rows(heading)
]


def test_both_tables_are_found() -> None:
    found = {heading: len(table_rows(heading)) for heading, _cls in resources()}
    assert found == {"client.fine_tunes": 21, "client.files": 6}


@pytest.mark.parametrize(("heading", "cls", "row"), CASES)
def test_a_row_matches_the_real_signature(heading: str, cls: type, row: str) -> None:
    name, shown, options = parse_row(row)
    method = getattr(cls, name, None)
    assert method is not None, f"{heading}.{name} does not exist"
    real = dict(list(inspect.signature(method).parameters.items())[1:])  # without self
    assert [p for p in real if p in shown] == list(shown), "order or unknown names"
    for param, (keyword_only, default) in shown.items():
        actual = real[param]
        assert (actual.kind is inspect.Parameter.KEYWORD_ONLY) == keyword_only, param
        if default is UNSET:
            assert actual.default is inspect.Parameter.empty, f"{param} has a default"
        else:
            assert actual.default is not inspect.Parameter.empty, f"{param} has no default"
            if default is not ...:
                assert actual.default == default, param
    for param, actual in real.items():
        if param in shown or param in ("timeout", *PASSED_THROUGH):
            continue
        assert options, f"{heading}.{name}: {param} is not shown"
        if actual.kind is inspect.Parameter.VAR_KEYWORD:
            continue  # shown as **options
        assert actual.kind is inspect.Parameter.KEYWORD_ONLY, param
        assert actual.default is not inspect.Parameter.empty, param


@pytest.mark.parametrize(("heading", "cls"), list(resources()))
def test_every_public_method_has_a_row(heading: str, cls: type) -> None:
    public = {
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == {parse_row(row)[0] for row in table_rows(heading)}
