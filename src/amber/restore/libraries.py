"""``ctypes`` libraries and the functions taken from them: the restore side.

Rule (decided by the capture side, :mod:`amber.capture.reduce.ctypes_objects`): a library
(``CDLL``, ``PyDLL`` and their subclasses) is loaded again by the name it was loaded with, with
the same ``use_errno``/``use_last_error``; a function pointer taken from one (``lib.strlen``,
``lib["strlen"]``) is looked up again by its symbol's name in the restored library, and given
the ``argtypes``, ``restype`` and ``errcheck`` it had. Imported by name at restore.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def load_library(cls: type, name: str | None, use_errno: bool, use_last_error: bool) -> object:
    """The library ``name`` loaded again (``None``: the program itself, as ``CDLL(None)``)."""
    return cls(name, use_errno=use_errno, use_last_error=use_last_error)


def library_function(library: Any, symbol: str, argtypes: Any, restype: Any, errcheck: Any) -> object:
    """The function ``symbol`` of ``library``, with the calling information it had."""
    func: Any = library._FuncPtr((symbol, library))
    func.__name__ = symbol  # as ctypes names what it looks up
    if argtypes is not None:
        func.argtypes = argtypes
    func.restype = restype
    if errcheck is not None:
        func.errcheck = errcheck
    return func
