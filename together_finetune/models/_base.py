"""What every object decoded from the API shares: the keys this library does not know yet."""

from __future__ import annotations

from typing import Any, Dict, Mapping, NoReturn

import attrs


class ReadOnlyDict(Dict[str, Any]):
    """A ``dict`` that refuses changes; it pickles and copies like one (unlike
    ``types.MappingProxyType``), so the objects that hold it do too."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Refused: raises :class:`TypeError`, as ``extra`` is read-only."""
        raise TypeError("extra is read-only: it holds what the server sent")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse  # pyright: ignore[reportAssignmentType]  # refuse, whatever the signature

    def __reduce__(self) -> Any:
        return (ReadOnlyDict, (dict(self),))


#: The ``extra`` of an object that came with no unknown keys (shared, read-only).
NO_EXTRA: Mapping[str, Any] = ReadOnlyDict()


@attrs.frozen
class WireObject:
    """Base of the classes the API's answers decode into.

    :ivar extra: the keys of the object the server sent that this version of
        the library does not know, wire key to decoded JSON value, read-only
        (empty when there were none). A field the API adds is reachable here the
        day it ships. Not part of equality or the repr; ``--json`` output of the
        command line includes these keys.
    """

    extra: Mapping[str, Any] = attrs.field(default=NO_EXTRA, eq=False, repr=False, kw_only=True)
