"""Objects that own Vulkan handles are not copied: a copy would share the handles.

Two shapes:

- :class:`SharedIdentity` (``ManagedBuffer``): ``copy.copy`` and ``copy.deepcopy`` return the
  object itself, so a component holding a buffer can be deep-copied and still name the one
  buffer; pickling is refused.
- :class:`Unshareable` (BufferManager, ResourceBinder, GraphicsContext, BufferSet, pipelines):
  copying and pickling are refused with :class:`~engine.errors.NotCopyableError`.
"""

from __future__ import annotations

from typing import Any, NoReturn

from engine.errors import NotCopyableError


def _refuse_pickle(obj: object) -> NoReturn:
    name = type(obj).__name__
    raise NotCopyableError(
        f"pickle({name}): a {name} owns Vulkan handles of one device in this process; they "
        "cannot be saved or sent to another process. Save the data instead (read_buffer() "
        "for a buffer's bytes).")


class SharedIdentity:
    """``copy.copy``/``copy.deepcopy`` return ``self``; ``pickle`` raises NotCopyableError."""

    __slots__ = ()

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        _refuse_pickle(self)

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)


class Unshareable:
    """``copy.copy``, ``copy.deepcopy`` and ``pickle`` raise NotCopyableError."""

    __slots__ = ()

    def __copy__(self) -> NoReturn:
        self._refuse_copy("copy.copy")

    def __deepcopy__(self, memo: Any) -> NoReturn:
        self._refuse_copy("copy.deepcopy")

    def _refuse_copy(self, call: str) -> NoReturn:
        name = type(self).__name__
        raise NotCopyableError(
            f"{call}({name}): a {name} owns Vulkan handles; a copy would share them and free "
            "them twice. Pass the object itself (more references to it are fine), or create "
            "another one.")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        _refuse_pickle(self)

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)
