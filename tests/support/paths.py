"""Where the repository's files are, for tests that read them."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS = REPO_ROOT / "tests"
DATASETS = TESTS / "data" / "datasets"
#: Real files of the purposes other than fine-tuning (evaluation, batch).
PURPOSE_FILES = TESTS / "data" / "purposes"
EXAMPLES = REPO_ROOT / "examples"
README = REPO_ROOT / "README.md"
