"""The one place that knows how JSON maps to the models.

``decode`` structures a response body into a model class (raising
:class:`~together_finetune.errors.APIResponseValidationError` with the path of
the field that did not fit), ``encode`` turns a request model into the exact
wire shape (tagged unions, renamed fields, no ``null`` for omitted ones).

Every class of the API's answers (a :class:`~together_finetune.models.WireObject`)
is structured by one generated function per class that also keeps the keys it
does not know in the object's ``extra``; unstructuring puts them back.
"""

from __future__ import annotations

import collections.abc
import typing
from datetime import datetime
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    Literal,
    Mapping,
    Optional,
    TypeVar,
    Union,
)

import attrs
import cattrs
from cattrs.gen import (
    make_dict_structure_fn,
    make_dict_unstructure_fn,
    make_mapping_structure_fn,
    override,
)

from ._consuming import consumable_list, structure_consuming
from ._gc import gc_paused
from ._structure_gen import Guard, make_structure_fn
from ._timestamps import parse_datetime
from .errors import APIResponseValidationError
from .models import (
    DPO,
    SFT,
    CosineLRScheduler,
    FileObject,
    FileProcessingStatus,
    FineTune,
    FineTuneEventLevel,
    FineTuneEventType,
    FineTuneRequest,
    FineTuneStatus,
    FullTraining,
    LinearLRScheduler,
    Listing,
    LoRATraining,
    LRScheduler,
    PriceEstimateRequest,
    ReadOnlyDict,
    TrainingMethod,
    TrainingType,
    UnknownLRScheduler,
    UnknownTrainingMethod,
    UnknownTrainingType,
    WireObject,
)

__all__ = ["converter", "decode", "encode", "parse_datetime"]

T = TypeVar("T")


def _fail(value: Any, expected: str) -> Any:
    raise TypeError(f"expected {expected}, got {type(value).__name__} {value!r:.60}")


def _optional(hook: Callable[[Any, Any], T]) -> Callable[[Any, Any], Optional[T]]:
    def structure(value: Any, cls: Any) -> Optional[T]:
        return None if value is None else hook(value, cls)

    return structure


def _structure_str(value: Any, _: Any) -> str:
    return value if isinstance(value, str) else _fail(value, "a string")


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return _fail(value, "an integer")  # type: ignore[no-any-return]


def _structure_float(value: Any, _: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return _fail(value, "a number")  # type: ignore[no-any-return]


def _structure_optional_str(value: Any, _: Any) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    return _fail(value, "a string")  # type: ignore[no-any-return]


def _structure_optional_int(value: Any, _: Any) -> Optional[int]:
    if value is None or type(value) is int:
        return value
    return _structure_int(value, int)


def _structure_optional_bool(value: Any, _: Any) -> Optional[bool]:
    if value is None or type(value) is bool:
        return value
    return _structure_bool(value, bool)


def _structure_optional_float(value: Any, _: Any) -> Optional[float]:
    if value is None or type(value) is float:
        return value
    return _structure_float(value, float)


def _structure_bool(value: Any, _: Any) -> bool:
    return value if isinstance(value, bool) else _fail(value, "a boolean")


def _enum_hook(cls: Any) -> Callable[[Any, Any], Any]:
    # A known value, as sent or in lower case, in a dict lookup: Enum.__call__ and the
    # enum's _missing_ (which finds the same member) cost ten times more.
    members = cls._value2member_map_.get

    def structure(value: Any, _: Any) -> Any:
        if value.__class__ is not str:
            if not isinstance(value, str):
                return _fail(value, "a string")
            return cls(value)
        return members(value) or members(value.lower()) or cls(value)

    return structure


_level_member = _enum_hook(FineTuneEventLevel)


def _structure_level(value: Any, _: Any) -> Optional[FineTuneEventLevel]:
    if value is None or value == "":
        return None
    return _level_member(value, FineTuneEventLevel)  # type: ignore[no-any-return]


def _structure_batch_size(value: Any, _: Any) -> Union[int, str]:
    if value == "max":
        return "max"
    return _structure_int(value, int)


def _structure_train_on_inputs(value: Any, _: Any) -> Union[bool, str]:
    if value == "auto":
        return "auto"
    return _structure_bool(value, bool)


def _require_mapping(value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict):
        _fail(value, "an object")
    return value  # type: ignore[no-any-return]


def _build() -> cattrs.Converter:
    conv = cattrs.Converter()
    for primitive, strict, optional in (
        (str, _structure_str, _structure_optional_str),
        (int, _structure_int, _structure_optional_int),
        (float, _structure_float, _structure_optional_float),
        (bool, _structure_bool, _structure_optional_bool),
        (datetime, parse_datetime, _optional(parse_datetime)),
    ):
        conv.register_structure_hook(primitive, strict)
        # Most fields are optional: one call each instead of cattrs' wrapper plus the hook.
        conv.register_structure_hook(Optional[primitive], optional)
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat().replace("+00:00", "Z"))
    conv.register_structure_hook(FineTuneStatus, _enum_hook(FineTuneStatus))
    conv.register_structure_hook(FineTuneEventType, _enum_hook(FineTuneEventType))
    conv.register_structure_hook(FileProcessingStatus, _enum_hook(FileProcessingStatus))
    conv.register_structure_hook(FineTuneEventLevel, _structure_level)
    conv.register_structure_hook(Optional[FineTuneEventLevel], _structure_level)
    # cattrs' mapping hook would call .items() on whatever came: check for an object first.
    conv.register_structure_hook_factory(_is_dict_type, lambda cls: _mapping_hook(cls, conv))
    _register_union(conv, Union[int, Literal["max"]], _structure_batch_size)
    _register_union(conv, Union[bool, Literal["auto"]], _structure_train_on_inputs)

    # Every answer class: its generated fields, the rest kept in ``extra``.
    conv.register_structure_hook_factory(
        _is_wire_class, lambda cls: _wire_structure_fn(cls, conv, **_SPECIAL.get(cls, {}))
    )
    conv.register_structure_hook_factory(
        _is_optional_wire_class,
        lambda cls: _wire_structure_fn(
            typing.get_args(cls)[0],
            conv,
            optional=True,
            **_SPECIAL.get(typing.get_args(cls)[0], {}),
        ),
    )
    conv.register_unstructure_hook_factory(
        _is_wire_class, lambda cls: _wire_unstructure_fn(cls, conv)
    )

    # Tagged unions: the tag field picks the class; unknown tags are kept.
    lora = _wire_structure_fn(LoRATraining, conv, aliases=("type",))
    full = _wire_structure_fn(FullTraining, conv, aliases=("type",))
    sft = _wire_structure_fn(SFT, conv, aliases=("method",))
    dpo = _wire_structure_fn(DPO, conv, aliases=("method",))
    linear = _wire_structure_fn(LinearLRScheduler, conv)
    cosine = _wire_structure_fn(CosineLRScheduler, conv)

    # The tags as sent, looked up in one dict; other spellings in lower case after.
    training_types: Dict[str, Any] = {"lora": (lora, LoRATraining), "full": (full, FullTraining)}
    training_types[""] = training_types["full"]  # legacy jobs send "" for full training
    training_types.update({"Lora": training_types["lora"], "Full": training_types["full"]})
    methods: Dict[str, Any] = {"sft": (sft, SFT), "dpo": (dpo, DPO)}

    def structure_training_type(value: Any, _: Any) -> TrainingType:
        data = value if value.__class__ is dict else _require_mapping(value)
        tag = data.get("type")
        if not isinstance(tag, str):
            return _fail(tag, "a string training type")  # type: ignore[no-any-return]
        known = training_types.get(tag) or training_types.get(tag.lower())
        if known is not None:
            return known[0](data, known[1])  # type: ignore[no-any-return]
        return UnknownTrainingType(type=tag, raw=data, extra=_unknown(data, ("type",)))

    def structure_training_method(value: Any, _: Any) -> TrainingMethod:
        data = value if value.__class__ is dict else _require_mapping(value)
        tag = data.get("method")
        if not isinstance(tag, str):
            return _fail(tag, "a string training method")  # type: ignore[no-any-return]
        known = methods.get(tag) or methods.get(tag.lower())
        if known is not None:
            return known[0](data, known[1])  # type: ignore[no-any-return]
        return UnknownTrainingMethod(method=tag, raw=data, extra=_unknown(data, ("method",)))

    schedulers: Dict[str, Any] = {
        "linear": (linear, LinearLRScheduler),
        "cosine": (cosine, CosineLRScheduler),
    }

    def structure_lr_scheduler(value: Any, _: Any) -> LRScheduler:
        data = value if value.__class__ is dict else _require_mapping(value)
        tag = data.get("lr_scheduler_type")
        if not isinstance(tag, str):
            return _fail(tag, "a string lr_scheduler_type")  # type: ignore[no-any-return]
        known = schedulers.get(tag)
        if known is not None:
            args = data.get("lr_scheduler_args") or {}
            args = args if args.__class__ is dict else _require_mapping(args)
            scheduler: LRScheduler = known[0](args, known[1])
            if _SCHEDULER_KEYS.issuperset(data):
                return scheduler
            # The class's fields live in the arguments; keys beside them are kept too.
            return _with_extra(scheduler, {**_unknown(data, _SCHEDULER_KEYS), **scheduler.extra})
        outer = _unknown(data, _SCHEDULER_KEYS)
        raw_args = data.get("lr_scheduler_args")
        return UnknownLRScheduler(
            lr_scheduler_type=tag,
            lr_scheduler_args=raw_args if isinstance(raw_args, dict) else None,
            extra=outer,
        )

    _register_union(conv, TrainingType, structure_training_type)
    _register_union(conv, TrainingMethod, structure_training_method)
    _register_union(conv, LRScheduler, structure_lr_scheduler)

    def unstructure_training_type(value: TrainingType) -> Dict[str, Any]:
        if isinstance(value, FullTraining):
            return {**value.extra, "type": "Full"}
        if isinstance(value, LoRATraining):
            return {**value.extra, "type": "Lora", **_without_none(_fields(value))}
        return dict(value.raw, type=value.type)

    def unstructure_training_method(value: TrainingMethod) -> Dict[str, Any]:
        if isinstance(value, SFT):
            return {**value.extra, "method": "sft", "train_on_inputs": value.train_on_inputs}
        if isinstance(value, DPO):
            return {**value.extra, "method": "dpo", **_without_none(_fields(value))}
        return dict(value.raw, method=value.method)

    def unstructure_lr_scheduler(value: LRScheduler) -> Dict[str, Any]:
        if isinstance(value, (LinearLRScheduler, CosineLRScheduler)):
            kind = "linear" if isinstance(value, LinearLRScheduler) else "cosine"
            return {"lr_scheduler_type": kind, "lr_scheduler_args": _fields(value)}
        return {
            **value.extra,
            "lr_scheduler_type": value.lr_scheduler_type,
            "lr_scheduler_args": value.lr_scheduler_args,
        }

    hooks: Dict[Any, Callable[[Any], Any]] = {
        FullTraining: unstructure_training_type,
        LoRATraining: unstructure_training_type,
        UnknownTrainingType: unstructure_training_type,
        SFT: unstructure_training_method,
        DPO: unstructure_training_method,
        UnknownTrainingMethod: unstructure_training_method,
        LinearLRScheduler: unstructure_lr_scheduler,
        CosineLRScheduler: unstructure_lr_scheduler,
        UnknownLRScheduler: unstructure_lr_scheduler,
    }
    for cls, hook in hooks.items():
        conv.register_unstructure_hook(cls, hook)
    # A list method's result is a list subclass, which cattrs would pass through as is.
    conv.register_unstructure_hook(Listing, lambda items: [conv.unstructure(i) for i in items])

    # Request bodies: omit None fields; the W&B key travels as ``wandb_key``,
    # the name both official SDKs send and the live API accepts.
    wandb = override(rename="wandb_key")
    fields_of_request = make_dict_unstructure_fn(
        FineTuneRequest,
        conv,
        _cattrs_omit_if_default=True,
        wandb_api_key=wandb,
        extra_body=override(omit=True),
    )

    def unstructure_request(value: FineTuneRequest) -> Dict[str, Any]:
        # What the caller passes through goes in last: its keys replace the fields'.
        data: Dict[str, Any] = fields_of_request(value)
        return {**data, **value.extra_body} if value.extra_body else data

    conv.register_unstructure_hook(FineTuneRequest, unstructure_request)
    conv.register_structure_hook(
        FineTuneRequest, make_dict_structure_fn(FineTuneRequest, conv, wandb_api_key=wandb)
    )
    conv.register_unstructure_hook(
        PriceEstimateRequest,
        make_dict_unstructure_fn(PriceEstimateRequest, conv, _cattrs_omit_if_default=True),
    )
    return conv


_SCHEDULER_KEYS = frozenset(("lr_scheduler_type", "lr_scheduler_args"))

#: Legacy PascalCase keys still appear on old jobs.
_LEGACY_JOB_KEYS = (
    ("TrainingFileNumLines", "trainingfile_numlines"),
    ("TrainingFileSize", "trainingfile_size"),
)
#: The file object's two PascalCase wire names (snake_case spellings accepted too).
_FILE_KEYS = (("FileType", "file_type"), ("Processed", "processed"))


def _current_job_keys(data: Dict[str, Any]) -> Dict[str, Any]:
    for legacy, name in _LEGACY_JOB_KEYS:
        if legacy in data and data.get(name) is None:
            data = {**data, name: data[legacy]}
    return data


def _wire_file_keys(data: Dict[str, Any]) -> Dict[str, Any]:
    for wire, name in _FILE_KEYS:
        if wire not in data and name in data:
            data = {**data, wire: data[name]}
    return data


#: How the classes whose wire shape is not just their fields are read.
_SPECIAL: Dict[type, Dict[str, Any]] = {
    FineTune: {
        "aliases": [legacy for legacy, _ in _LEGACY_JOB_KEYS],
        "prepare": _current_job_keys,
    },
    FileObject: {
        "aliases": [name for _, name in _FILE_KEYS],
        "prepare": _wire_file_keys,
        "file_type": override(rename="FileType"),
        "processed": override(rename="Processed"),
    },
}


def _is_wire_class(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, WireObject)


def _wire_structure_fn(
    cls: Any,
    conv: cattrs.Converter,
    *,
    aliases: Iterable[str] = (),
    prepare: Optional[Callable[[Dict[str, Any]], Dict[str, Any]]] = None,
    optional: bool = False,
    **overrides: Any,
) -> Callable[[Any, Any], Any]:
    """Structure a JSON object into the :class:`WireObject` ``cls``, keeping unknown keys.

    One closure around cattrs' generated function (decoding a long list calls it
    for every object, so the checks are inlined rather than layered).

    :param aliases: other keys the caller handles (tags, legacy spellings), so
        they do not count as unknown.
    :param prepare: rewrites the object first (legacy spellings to current ones).
    :param optional: the hook of ``Optional[cls]``: ``None`` stays ``None``.
    :param overrides: cattrs overrides of fields, e.g. ``rename=``.
    """
    fields: set[str] = set()
    for field in attrs.fields(cls):
        if field.name != "extra":
            rename = getattr(overrides.get(field.name), "rename", None)
            fields.add(rename or field.name)
    known = frozenset(fields.union(aliases))
    renames = {name: getattr(value, "rename", None) or name for name, value in overrides.items()}
    overrides["extra"] = override(omit=True)
    detailed = make_dict_structure_fn(cls, conv, **overrides)
    generated = make_structure_fn(cls, conv, renames=renames, omit=("extra",))
    fast = generated
    if fast is None:  # a class whose __init__ does more than store: cattrs' fast function
        fast = make_dict_structure_fn(cls, conv, _cattrs_detailed_validation=False, **overrides)

    # The common case, every key a current field name, costs one C-level pass over the keys.
    plain = (known if prepare is None else frozenset(fields)).issuperset

    def structure(value: Any, _: Any) -> Any:
        if value.__class__ is not dict:
            if value is None and optional:
                return None
            value = _require_mapping(value)
        if not plain(value):
            return keeping_extra(value)
        try:
            return fast(value, cls)
        except Exception:  # the detailed run raises it again, naming the field
            return detailed(value, cls)

    def keeping_extra(value: Dict[str, Any]) -> Any:
        data = value if prepare is None else prepare(value)
        try:
            result = fast(data, cls)
        except Exception:  # as above
            result = detailed(data, cls)
        unknown = {key: value[key] for key in value if key not in known}
        if unknown:
            object.__setattr__(result, "extra", ReadOnlyDict(unknown))
        return result

    if generated is None:
        return structure
    # The same, with the common case in the generated function itself: one call per object.
    guard = Guard(plain=plain, other=structure, detailed=detailed)
    guarded = make_structure_fn(cls, conv, renames=renames, omit=("extra",), guard=guard)
    return guarded or structure


def _is_optional_wire_class(cls: Any) -> bool:
    args = typing.get_args(cls)
    return (
        typing.get_origin(cls) is Union
        and len(args) == 2
        and args[1] is type(None)
        and _is_wire_class(args[0])
    )


def _wire_unstructure_fn(cls: Any, conv: cattrs.Converter) -> Callable[[Any], Dict[str, Any]]:
    """Unstructure a :class:`WireObject`: its fields, then its unknown keys beside them."""
    generated = make_dict_unstructure_fn(cls, conv, extra=override(omit=True))

    def unstructure(value: Any) -> Dict[str, Any]:
        data: Dict[str, Any] = generated(value)
        return {**value.extra, **data} if value.extra else data

    return unstructure


def _unknown(data: Mapping[str, Any], known: Iterable[str]) -> Mapping[str, Any]:
    """The keys of ``data`` not in ``known``, as a read-only mapping."""
    return ReadOnlyDict({key: value for key, value in data.items() if key not in known})


def _with_extra(value: T, extra: Mapping[str, Any]) -> T:
    object.__setattr__(value, "extra", ReadOnlyDict(dict(extra)))
    return value


def _fields(value: Any) -> Dict[str, Any]:
    """An attrs object's fields as a dict, without ``extra``."""
    return {
        field.name: getattr(value, field.name)
        for field in attrs.fields(type(value))
        if field.name != "extra"
    }


def _register_union(conv: cattrs.Converter, union: Any, hook: Callable[[Any, Any], Any]) -> None:
    """Register a union's hook for the union and for its ``Optional`` form."""
    conv.register_structure_hook(union, hook)
    conv.register_structure_hook(
        Optional[union], lambda value, _: None if value is None else hook(value, union)
    )


def _is_dict_type(cls: Any) -> bool:
    return typing.get_origin(cls) in (dict, collections.abc.Mapping)


def _mapping_hook(cls: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    structure = make_mapping_structure_fn(cls, conv)

    def hook(value: Any, _: Any) -> Any:
        return structure(_require_mapping(value), cls)

    return hook


def _without_none(data: Dict[str, Any]) -> Dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


#: The library's single cattrs converter.
converter = _build()


#: What a body that does not fit makes the hooks raise: the ``TypeError`` and
#: ``ValueError`` they raise on purpose, and cattrs' ``KeyError`` for a missing field.
#: Anything else (an ``AttributeError``, say) is a bug in a hook and surfaces as itself.
_MISFIT = (TypeError, ValueError, KeyError)


def decode(data: Any, cls: type[T], *, consume: bool = False) -> T:
    """Structure a decoded JSON body into ``cls``.

    :param consume: ``data`` was parsed for this call alone: a list is emptied as
        it is read, each item freed once decoded (see :mod:`._consuming`). On a
        misfit it is put back whole, for the error's ``body``.
    :raises APIResponseValidationError: the body does not fit; the message
        names the path of each field that did not.
    """
    try:
        if data.__class__ is list:  # thousands of objects, no cycle: see gc_paused
            with gc_paused():
                if consume and consumable_list(data, cls):
                    listed: T = structure_consuming(converter, data, cls)  # type: ignore[assignment]
                else:
                    listed = converter.structure(data, cls)
            return listed
        result: T = converter.structure(data, cls)
        return result
    except cattrs.BaseValidationError as exc:
        for leaf in _leaves(exc):
            if not isinstance(leaf, _MISFIT):
                raise leaf  # noqa: B904 - the group stays attached as the context
        problems = "; ".join(cattrs.transform_error(exc, path="$"))
        raise APIResponseValidationError(
            f"unexpected response shape for {_type_name(cls)}: {problems}", body=data
        ) from exc
    except _MISFIT as exc:
        raise APIResponseValidationError(
            f"unexpected response shape for {_type_name(cls)}: {exc}", body=data
        ) from exc


def _leaves(group: cattrs.BaseValidationError) -> Iterator[BaseException]:
    """The exceptions at the bottom of cattrs' (nested) validation groups."""
    for inner in group.exceptions:
        if isinstance(inner, cattrs.BaseValidationError):
            yield from _leaves(inner)
        else:
            yield inner


def _type_name(cls: Any) -> str:
    # typing generics such as List[FineTune] have no __name__ before Python 3.10.
    return str(getattr(cls, "__name__", None) or cls).replace("typing.", "")


def encode(value: Any) -> Any:
    """Unstructure a request model into its exact JSON wire shape."""
    return converter.unstructure(value)
