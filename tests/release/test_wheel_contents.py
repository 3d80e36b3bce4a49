"""What the built distributions hold: the wheel users install, and the sdist it comes from.

``.ci/run`` builds both once and names them in ``TOGETHER_FINETUNE_DIST`` (a directory);
without it, the test builds them itself into a temporary directory (``python -m build``,
which makes the sdist and then the wheel from the sdist, as a release does).
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Iterator, List

import pytest
from support.paths import REPO_ROOT

from together_finetune import __version__

DIST_ENV = "TOGETHER_FINETUNE_DIST"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    given = os.environ.get(DIST_ENV)
    if given:
        yield Path(given)
        return
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield out


def only(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist}, found {found}"
    return found[0]


def wheel_names(dist: Path) -> List[str]:
    with zipfile.ZipFile(only(dist, f"together_finetune-{__version__}-*.whl")) as wheel:
        return wheel.namelist()


def test_the_wheel_holds_the_package_its_types_and_the_licence(dist: Path) -> None:
    names = wheel_names(dist)
    assert "together_finetune/__init__.py" in names
    assert "together_finetune/py.typed" in names
    assert "together_finetune/testing/__init__.py" in names
    assert "together_finetune/testing/pytest_plugin.py" in names
    assert any(name.startswith("together_finetune/testing/_fake/") for name in names)
    assert f"together_finetune-{__version__}.dist-info/licenses/LICENSE" in names


def test_the_wheel_holds_nothing_but_the_package(dist: Path) -> None:
    for name in wheel_names(dist):
        top = name.split("/")[0]
        assert top in ("together_finetune", f"together_finetune-{__version__}.dist-info"), name
        for unwanted in ("tests/", "bench/", "docs/", "examples/", "__pycache__", ".pyc"):
            assert unwanted not in name, name


def test_the_wheel_metadata_is_complete(dist: Path) -> None:
    with zipfile.ZipFile(only(dist, "*.whl")) as wheel:
        text = wheel.read(f"together_finetune-{__version__}.dist-info/METADATA").decode()
    metadata = email.message_from_string(text)
    assert metadata["Name"] == "together-finetune"
    assert metadata["Version"] == __version__
    assert metadata["License"] == "Apache-2.0"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Requires-Python"] == ">=3.9"
    classifiers = metadata.get_all("Classifier") or []
    for minor in range(9, 15):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "License :: OSI Approved :: Apache Software License" in classifiers
    assert "Typing :: Typed" in classifiers
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL") or []} >= {
        "Documentation",
        "Source",
        "Changelog",
    }
    assert metadata["Keywords"]
    runtime = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert sorted(r.split(">")[0] for r in runtime) == ["attrs", "cattrs", "requests", "tenacity"]


def test_the_sdist_holds_the_licence_and_what_the_wheel_is_built_from(dist: Path) -> None:
    with tarfile.open(only(dist, f"together_finetune-{__version__}.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in (
        "LICENSE",
        "README.md",
        "setup.cfg",
        "pyproject.toml",
        "together_finetune/py.typed",
    ):
        assert needed in names, needed
    assert not any(name.startswith((".venv", ".git/")) for name in names)


def test_the_licence_is_the_apache_text() -> None:
    text = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
