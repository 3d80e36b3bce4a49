"""The package's layout: one place per concern, old import paths kept, engines below resources."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import List

import attrs
import pytest

import together_finetune

PACKAGE = Path(together_finetune.__file__).parent
# Other rooms with rules of their own: the CLI sits on top, the fake server shares no code.
OUTSIDE = ("together_finetune.cli", "together_finetune.testing")


def library_modules() -> List[ModuleType]:
    names = [
        info.name
        for info in pkgutil.walk_packages([str(PACKAGE)], prefix="together_finetune.")
        if not info.name.startswith(OUTSIDE)
    ]
    return [importlib.import_module(name) for name in ["together_finetune", *names]]


def defined_classes(module: ModuleType) -> List[type]:
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value) and value.__module__ == module.__name__
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("files.UploadError", "errors.UploadError"),
        ("dataset.DatasetError", "errors.DatasetError"),
        ("files.FileObject", "models.FileObject"),
        ("files.FileDeleteResult", "models.FileDeleteResult"),
        ("dataset.DatasetProblem", "models.DatasetProblem"),
        ("dataset.DatasetReport", "models.DatasetReport"),
        ("fine_tunes.check_job_id", "_resource.check_job_id"),
        ("fine_tunes.JOB_ID_PREFIX", "_resource.JOB_ID_PREFIX"),
        ("files.check_file_id", "_resource.check_file_id"),
        ("download.extract_archive", "_transfer.archive.extract_archive"),
        ("download.CHUNK_SIZE", "_transfer.pump.CHUNK_SIZE"),
        ("download.download_to_file", "_transfer.fetch.download_to_file"),
        ("files.MULTIPART_THRESHOLD", "_transfer.upload.MULTIPART_THRESHOLD"),
        ("transport.redact_urls", "_redact.redact_urls"),
    ],
)
def test_a_moved_name_is_still_importable_from_its_old_module(old: str, new: str) -> None:
    def resolve(dotted: str) -> object:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(f"together_finetune.{module}"), name)

    assert resolve(old) is resolve(new)


def test_every_public_exception_is_defined_in_errors() -> None:
    elsewhere = [
        f"{cls.__module__}.{cls.__name__}"
        for module in library_modules()
        for cls in defined_classes(module)
        if issubclass(cls, BaseException)
        and not cls.__name__.startswith("_")
        and module.__name__ != "together_finetune.errors"
    ]
    assert elsewhere == []


def test_every_attrs_class_is_defined_in_the_models_package() -> None:
    elsewhere = {
        f"{cls.__module__}.{cls.__name__}"
        for module in library_modules()
        for cls in defined_classes(module)
        if attrs.has(cls) and module.__name__.rpartition(".")[0] != "together_finetune.models"
    }
    # The transport's settings, with their backoff arithmetic, stay beside the transport.
    assert elsewhere == {"together_finetune.transport.RetryPolicy"}


def test_only_the_converter_registers_cattrs_hooks() -> None:
    registering = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "register_structure_hook" in path.read_text()
        or "register_unstructure_hook" in path.read_text()
    )
    assert registering == ["converter.py"]


def test_engines_import_no_resource() -> None:
    # An engine takes a transport and plain data; the resources call it, never the reverse.
    allowed = {"errors", "models", "transport", "_checks", "_redact", "_retry", "_transfer"}
    allowed.add("_network")  # the transport layer's proxies and trust
    imported = set()
    for path in (PACKAGE / "_transfer").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                top = (node.module or "").split(".")[0]
                imported.add(top if node.level == 2 else "_transfer")
    assert imported <= allowed, imported - allowed


def test_the_argument_checks_import_nothing_of_the_package() -> None:
    # Every layer may use _checks (the engines and the client too) because it stands on
    # nothing: no relative import, so no cycle and nothing more loaded at import time.
    tree = ast.parse((PACKAGE / "_checks.py").read_text())
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert relative == []
