"""Sphinx configuration for the together-finetune documentation.

Build it as CI does: ``sphinx-build -W --keep-going -n -b html docs docs/_build/html``
(warnings are errors; nitpicky: every cross-reference must resolve).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from together_finetune import __version__  # noqa: E402

project = "together-finetune"
author = "The together-finetune authors"
copyright = "the together-finetune authors"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"together-finetune {release}"

# -- API reference ---------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": True}
autodoc_inherit_docstrings = True
python_use_unqualified_type_names = True
add_module_names = False

# Nitpicky mode checks every reference. The docs are built offline, with no intersphinx
# inventories, so names outside this package (the standard library, requests, attrs,
# tenacity, pandas, matplotlib, werkzeug) cannot resolve: they are listed here and
# nothing else is. A broken reference to a name of this package still fails the build.
_EXTERNAL = (
    r"(typing|typing_extensions|collections|collections\.abc|pathlib|datetime|enum|os|io|"
    r"types|threading|socket|socketserver|ssl|http|http\.server|tarfile|logging|argparse|"
    r"requests|urllib3|attr|attrs|cattrs|cattr|tenacity|pandas|matplotlib|werkzeug|"
    r"pytest|_pytest|tqdm|zstandard)(\..+)?"
)
_BUILTINS = (
    r"(None|int|float|str|bytes|bool|object|dict|list|tuple|set|frozenset|type|"
    r"BaseException|Exception|ValueError|TypeError|TimeoutError|OSError|KeyError|"
    r"RuntimeError|AttributeError|NotImplementedError|Ellipsis|NoReturn|Any|Optional|"
    r"Union|Callable|Iterator|Iterable|Generator|Mapping|MutableMapping|Sequence|Dict|"
    r"List|Tuple|Set|FrozenSet|Type|Literal|TypeVar|Path|PathLike|datetime|timedelta|"
    r"Enum|IntEnum|Self|T|JSON|Axes|DataFrame|Figure)"
)
nitpick_ignore_regex = [
    (r"py:.*", _EXTERNAL),
    (r"py:.*", _BUILTINS),
]

# Internal names that public signatures and docstrings mention (a resource's transport,
# its private base classes, the converter module): they are not part of the API, so they
# are shown as text, not links.
nitpick_ignore_regex += [
    (r"py:.*", r"together_finetune\.(converter|transport\.Transport)(\..+)?"),
    (r"py:.*", r"together_finetune\.(\w+\.)*_\w+(\..+)?"),
    (r"py:.*", r"together_finetune\.(\w+\.)*T"),
]

# Private type aliases that signatures show by name. Their parameters' docstrings say
# what they take: ``ResponseHook`` is ``Callable[[ResponseInfo], None]`` (``on_response=``)
# and ``LoggedAt`` is ``Union[datetime, str]`` (``logged_at_from=``, ``logged_at_to=``).
nitpick_ignore = [("py:class", "ResponseHook"), ("py:class", "LoggedAt")]


def _resolve_short_names(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve ``:class:`FineTune``` written in another module's docstring.

    A docstring names this package's objects by their short name, or by the module that
    defines them (``together_finetune.files.Files``), while the reference documents each
    public name once, where users import it from. When exactly one documented object of
    this package ends with the name (or with its last parts), link to it. Anything still
    unresolved is a broken reference and fails the nitpicky build.
    """
    import re

    from sphinx.util.nodes import make_refnode

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or re.fullmatch(_BUILTINS, target):
        return None
    domain = env.get_domain("py")
    objtypes = set(domain.objtypes_for_role(node["reftype"]) or ())
    parts = target.split(".")
    for start in range(len(parts)):
        suffix = ".".join(parts[start:])
        matches = [
            (name, entry)
            for name, entry in domain.objects.items()
            if name.startswith("together_finetune.")
            and (name == suffix or name.endswith("." + suffix))
            and (not objtypes or entry.objtype in objtypes)
            and not entry.aliased  # autodoc's ``:canonical:`` second name of the same object
        ]
        if len(matches) == 1:
            name, entry = matches[0]
            return make_refnode(
                app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, name
            )
        if matches:
            return None
    return None


def _public_bases(app, name, obj, options, bases):  # type: ignore[no-untyped-def]
    """Show a class's private base classes as the public bases they stand for.

    A base from this package that no public module exports (``_OpenStrEnum``,
    ``Resource``) is replaced by its own bases; ``WireObject`` stays, being public.
    """
    import importlib

    exported = set()
    for module in ("together_finetune", "together_finetune.models", "together_finetune.errors"):
        exported.update(importlib.import_module(module).__all__)
    index = 0
    while index < len(bases):
        base = bases[index]
        ours = base.__module__.startswith("together_finetune")
        if ours and base.__name__ not in exported:
            bases[index : index + 1] = [b for b in base.__bases__ if b is not object]
            continue
        index += 1
    if not bases:
        bases.append(object)


def _skip_builtin_docs(app, what, name, obj, skip, options):  # type: ignore[no-untyped-def]
    """Skip members whose only docstring is inherited from a builtin type (dict.pop...)."""
    doc = getattr(obj, "__doc__", None)
    for builtin in (dict, list, str, int, object):
        inherited = getattr(builtin, name, None)
        if inherited is not None and doc is not None and doc == inherited.__doc__:
            return True
    return None


def _attrs_defaults(app, obj, bound_method):  # type: ignore[no-untyped-def]
    """Show an attrs class's real defaults (``None``), not its generated code's text.

    ``autodoc_preserve_defaults`` writes defaults as the source spells them, which keeps
    ``timeout=DEFAULT_TIMEOUT`` readable but turns attrs' generated ``__init__`` into
    ``attr_dict['model'].default``. This runs after it and undoes that for attrs only.
    """
    code = getattr(obj, "__code__", None)
    if code is not None and code.co_filename.startswith("<attrs generated"):
        obj.__dict__.pop("__signature__", None)


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("autodoc-before-process-signature", _attrs_defaults, priority=900)
    app.connect("missing-reference", _resolve_short_names)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-skip-member", _skip_builtin_docs)
