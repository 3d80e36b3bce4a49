"""Generated fast structure functions for the converter's answer classes.

cattrs' generated function calls one hook per field, gathers the values in a
dict and calls the class with ``**kwargs``, whose frozen ``__init__`` stores
each one through ``object.__setattr__``. For a 10,000-job listing that is about
700,000 hook calls and as many slow stores. The function generated here, once
per class, reads each key of the JSON object once, accepts a value of the exact
JSON type of its field inline (``str``, ``int``, ``float``, ``bool``, and
``None`` where the field is optional; an integer for a float field; a value of a
union of those and string literals) and, on Python 3.11+, parses a timestamp
string with ``datetime.fromisoformat`` itself. An enum field's string is looked
up in a table of what its hook answers for each known spelling (every value as
it is, in lower and in upper case, and ``""``). It calls the converter's hook
only for the rest (other enum values, nested objects, tagged unions, coercions
and misfits).
It stores the values as plain attribute stores on a writable twin of the class
(a subclass with no slots of its own and ``object``'s ``__setattr__``), then
makes the object an instance of the class itself: the result is the same
frozen object that ``cls(...)`` gives.

It gives the object that cattrs' function would for every body that cattrs'
function accepts (the converter's tests compare the two), and raises where
cattrs' function would; the converter then runs cattrs' detailed function to
name the field that did not fit.
"""

from __future__ import annotations

import enum
import typing
from datetime import datetime, timezone
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    List,
    Literal,
    Mapping,
    NamedTuple,
    Optional,
    Tuple,
    Union,
)

import attrs
import cattrs

from ._timestamps import ISO_PARSER, parse_datetime

__all__ = ["Guard", "make_structure_fn", "structure_hook"]

StructureFn = Callable[[Any, Any], Any]

#: The field types whose JSON value is accepted inline when its class is exactly this.
_EXACT = (str, int, float, bool)

#: Set by attrs on a class with ``cache_hash=True``; its ``__init__`` resets it.
_HASH_CACHE_SLOT = "_attrs_cached_hash"


class _Missing:
    """What a key the JSON object lacks reads as, where the field's default is not ``None``."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


class Guard(NamedTuple):
    """What a guarded structure function does beside its own work (see :func:`make_structure_fn`).

    :ivar plain: whether a ``dict``'s keys are all handled here (no unknown key).
    :ivar other: structures any other value.
    :ivar detailed: structures a ``dict`` the fast code failed on, or explains why not.
    """

    plain: Callable[[Any], bool]
    other: StructureFn
    detailed: StructureFn


def make_structure_fn(
    cls: type,
    conv: cattrs.Converter,
    *,
    renames: Mapping[str, str],
    omit: Collection[str] = (),
    guard: Optional[Guard] = None,
) -> Optional[StructureFn]:
    """Generate ``structure(data, cls)`` for the attrs class ``cls``; ``None`` if it cannot.

    ``data`` must be a ``dict``. The function raises on any value that neither
    its inline check nor its field's hook accepts (a ``KeyError`` for a missing
    required key), leaving the explanation to cattrs' detailed function.

    :param renames: the JSON key of a field, where it is not the field's name.
    :param omit: fields not read from the JSON object: they get their default.
    :param guard: makes the function take any value: a ``dict`` whose keys
        ``guard.plain`` accepts is structured here (and on any failure by
        ``guard.detailed``, which explains it); anything else goes to ``guard.other``.
        One call per object instead of a wrapper's two.
    :returns: ``None`` when ``cls`` is not a slotted attrs class whose ``__init__``
        only stores its arguments (validators, converters, ``__attrs_post_init__``).
    """
    attrs.resolve_types(cls)
    fields = attrs.fields(cls)
    if not _eligible(cls, fields):
        return None
    names: Dict[str, Any] = {
        "__new": object.__new__,
        "__cls": cls,
        "__missing": _MISSING,
        "__fromiso": ISO_PARSER,
        "__ValueError": ValueError,
        "__utc": timezone.utc,
    }
    names.update({f"__{exact.__name__}": exact for exact in _EXACT})
    twin = _writable_twin(cls, fields)
    if twin is not None:
        names["__twin"] = twin
        lines = ["def structure(d, _=None):", "    o = __new(__twin)"]
    else:  # stores through the slots' descriptors, as attrs' __init__ does
        lines = ["def structure(d, _=None):", "    o = __new(__cls)"]
    # Field by field, in order: a factory that takes ``self`` sees the fields before it.
    for index, field in enumerate(fields):
        key = renames.get(field.name, field.name)
        lines += _field_lines(index, field, key, conv, names, omitted=field.name in omit)
        if twin is not None:
            lines.append(f"    o.{field.name} = v{index}")
        else:
            names[f"__set{index}"] = _slot(cls, field.name).__set__
            lines.append(f"    __set{index}(o, v{index})")
    if twin is not None:
        lines.append("    o.__class__ = __cls")
    lines.append("    return o")
    if guard is not None:
        names.update(__dict=dict, __plain=guard.plain, __other=guard.other)
        names["__detailed"] = guard.detailed
        lines = [
            "def structure(d, _=None):",
            "    if d.__class__ is not __dict or not __plain(d):",
            "        return __other(d, _)",
            "    try:",
            *("    " + line for line in lines[1:]),
            "    except Exception:  # the detailed function raises it again, naming the field",
            "        return __detailed(d, __cls)",
        ]
    code = compile("\n".join(lines), f"<together_finetune structure {cls.__qualname__}>", "exec")
    exec(code, names)  # noqa: S102 - our own source, generated from the class's fields
    function: StructureFn = names["structure"]
    return function


def _field_lines(
    index: int,
    field: attrs.Attribute[Any],
    key: str,
    conv: cattrs.Converter,
    names: Dict[str, Any],
    *,
    omitted: bool,
) -> List[str]:
    """The source that leaves field ``index``'s structured value in ``v<index>``."""
    v = f"v{index}"
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        names[f"__factory{index}"] = default.factory
        make_default = f"__factory{index}({'o' if default.takes_self else ''})"
    elif default is attrs.NOTHING:
        names["__required"] = _required
        make_default = f"__required({key!r})"
    else:
        names[f"__default{index}"] = default
        make_default = f"__default{index}"
    if omitted:
        return [f"    {v} = {make_default}"]

    optional_of = _split_optional(field.type)
    # ``None`` never reaches the hook of an Optional field, so it is the inner type's hook.
    hook_type = field.type if optional_of is None else optional_of
    hook = names[f"__hook{index}"] = structure_hook(conv, hook_type)
    names[f"__type{index}"] = hook_type
    convert = [f"{v} = __hook{index}({v}, __type{index})"]
    if hook_type is datetime and hook is parse_datetime and ISO_PARSER is not None:
        # A timestamp string goes straight to the parser, as parse_datetime would send
        # it first (without the hook's call and checks); anything else to the hook.
        convert = [
            f"if {v}.__class__ is __str:",
            "    try:",
            f"        {v} = __fromiso({v})",
            "    except __ValueError:",
            f"        {v} = __hook{index}({v}, __type{index})",
            "    else:",
            f"        if {v}.tzinfo is None:",
            f"            {v} = {v}.replace(tzinfo=__utc)",
            "else:",
            f"    {convert[0]}",
        ]
    if hook_type is float:
        # An integral number, as JSON writes 0.0: what the float hook makes of it.
        convert = [
            f"if {v}.__class__ is __int:",
            f"    {v} = float({v})",
            "else:",
            f"    {convert[0]}",
        ]
    table = _enum_table(hook, hook_type)
    if table:
        # A spelling the hook knows, looked up in a table of its own answers.
        names[f"__table{index}"] = table
        convert = [
            f"if {v}.__class__ is __str and {v} in __table{index}:",
            f"    {v} = __table{index}[{v}]",
            "else:",
            f"    {convert[0]}",
        ]
    needs_hook = _needs_hook(v, hook_type, names, index)
    if optional_of is not None:
        check: Optional[str] = f"{v} is not None" + (f" and {needs_hook}" if needs_hook else "")
    else:
        check = needs_hook
    if default is None and optional_of is not None:
        # A lacking key and a JSON null are the same here: the hook of an Optional
        # gives None for None, as does the default.
        if check is None:
            return [f"    {v} = d.get({key!r})", *_indent(convert, 1)]
        return [f"    {v} = d.get({key!r})", f"    if {check}:", *_indent(convert, 2)]
    lines = [
        f"    {v} = d.get({key!r}, __missing)",
        f"    if {v} is __missing:",
        f"        {v} = {make_default}",
    ]
    if check is None:
        return [*lines, "    else:", *_indent(convert, 2)]
    return [*lines, f"    elif {check}:", *_indent(convert, 2)]


def _needs_hook(v: str, tp: Any, names: Dict[str, Any], index: int) -> Optional[str]:
    """The test of a value its hook would not return as it is (``None``: any value).

    The hook returns as it is a value of an exact JSON type (``str``, ``int``,
    ``float``, ``bool``), and for a union of those and string literals (such as
    ``Union[int, Literal["max"]]``) a value of one of its exact types or one of its
    literals.
    """
    if tp in _EXACT:
        return f"{v}.__class__ is not __{tp.__name__}"
    if typing.get_origin(tp) is not Union:
        return None
    exact: List[str] = []
    literals: List[str] = []
    for arg in typing.get_args(tp):
        if arg in _EXACT:
            exact.append(f"{v}.__class__ is not __{arg.__name__}")
        elif typing.get_origin(arg) is Literal and all(
            type(value) is str for value in typing.get_args(arg)
        ):
            literals.extend(typing.get_args(arg))
        else:
            return None
    if literals:
        names[f"__literals{index}"] = frozenset(literals)
        exact.append(f"not ({v}.__class__ is __str and {v} in __literals{index})")
    return " and ".join(exact)


def _enum_table(hook: StructureFn, tp: Any) -> Dict[str, Any]:
    """What ``hook`` makes of each spelling of the enum ``tp``'s values (empty: not an enum).

    The spellings are each value as it is, in lower and in upper case, and ``""``;
    only the answers that are one of the enum's members or ``None`` are kept (an
    unknown value's pseudo-member is made afresh by the hook each time). The hook
    is only ever called with a string here, so the table holds nothing it would
    not answer itself.
    """
    if not (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return {}
    members: List[Any] = list(tp)
    spellings = {""}
    for member in members:
        if isinstance(member.value, str):
            spellings.update((member.value, member.value.lower(), member.value.upper()))
    table: Dict[str, Any] = {}
    for spelling in sorted(spellings):
        try:
            answer = hook(spelling, tp)
        except Exception:  # noqa: S112 - a spelling the hook refuses stays with the hook
            continue
        if answer is None or any(answer is member for member in members):
            table[spelling] = answer
    return table


def _indent(lines: List[str], levels: int) -> List[str]:
    return ["    " * levels + line for line in lines]


def structure_hook(conv: cattrs.Converter, tp: Any) -> StructureFn:
    """The converter's structure hook for ``tp`` (``get_structure_hook`` is cattrs 24.1+)."""
    get: Any = getattr(conv, "get_structure_hook", None)
    if get is None:
        get = conv._structure_func.dispatch  # pyright: ignore[reportPrivateUsage] - cattrs 23.2
    hook: StructureFn = get(tp)
    return hook


def _required(key: str) -> Any:
    raise KeyError(key)


def _split_optional(tp: Any) -> Any:
    """``X`` for ``Optional[X]`` (a union for a longer one), else ``None``."""
    if typing.get_origin(tp) is not Union:
        return None
    args: Tuple[Any, ...] = typing.get_args(tp)
    rest = tuple(arg for arg in args if arg is not type(None))
    if len(rest) == len(args):
        return None
    return rest[0] if len(rest) == 1 else Union[rest]


def _slot(cls: type, name: str) -> Any:
    """The slot descriptor of attribute ``name``, or ``None`` where it is not a slot."""
    for klass in cls.__mro__:
        descriptor = vars(klass).get(name)
        if descriptor is not None:
            return descriptor if type(descriptor).__name__ == "member_descriptor" else None
    return None


def _eligible(cls: type, fields: Collection[attrs.Attribute[Any]]) -> bool:
    """Whether storing the values gives what ``cls(...)`` would: its ``__init__`` does
    nothing but store its arguments, into slots."""
    if any(hasattr(cls, hook) for hook in ("__attrs_pre_init__", "__attrs_post_init__")):
        return False
    if _slot(cls, _HASH_CACHE_SLOT) is not None:
        return False
    return all(
        field.init
        and field.validator is None
        and field.converter is None
        and _slot(cls, field.name) is not None
        for field in fields
    )


def _writable_twin(cls: type, fields: Collection[attrs.Attribute[Any]]) -> Optional[type]:
    """A subclass of ``cls`` with its layout and plain attribute stores, or ``None``.

    An object made as the twin and filled by plain stores (which the interpreter
    runs without a call) can then be given ``cls`` as its class: same layout, no
    slots of its own. ``None`` where this interpreter refuses that swap.
    """
    twin = type(
        f"_Writable{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": __name__,
        },
    )
    try:
        probe: Any = object.__new__(twin)
        for field in fields:
            setattr(probe, field.name, None)
        probe.__class__ = cls
    except TypeError:
        return None
    return twin if type(probe) is cls else None
