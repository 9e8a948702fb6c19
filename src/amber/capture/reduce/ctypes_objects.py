"""The saving side for ``ctypes`` libraries and their functions (restore: :mod:`amber.restore.libraries`).

* A library (``ctypes.CDLL`` and subclasses, ``PyDLL``): its name (``_name``; the handle is
  the process's own) and the flags of its function class (``use_errno``, ``use_last_error``);
  the other entries of its ``__dict__`` (the functions it cached) are set again on it. The
  ``mode`` it was loaded with is not recorded by ctypes: it is loaded with the default mode.
* A function pointer taken from a library by name: the library (ctypes keeps it in the
  function's ``_objects``), the symbol's name, and ``argtypes``/``restype``/``errcheck``. It is
  checked now that looking the name up again gives the very address.

Refused with the path: any other function pointer (a Python callback made with ``CFUNCTYPE``,
one made from an address), which no name finds again; a library whose name is no file name.
"""

from __future__ import annotations

import sys

from amber.capture.reduce.recipes import Call, InstanceState, Offender, Recipe, reconstructor
from amber.restore import libraries

_LIBRARY_OWN = ("_name", "_handle", "_FuncPtr")


def register(reducers) -> None:
    """Add the reducers to ``reducers.by_base`` when ``ctypes`` is loaded."""
    ctypes = sys.modules.get("ctypes")
    if ctypes is None or not isinstance(getattr(ctypes, "CDLL", None), type):
        return
    reducers.by_base.append((ctypes.CDLL, lambda obj, cls: reduce_library(ctypes, obj, cls)))
    reducers.by_base.append((ctypes._CFuncPtr, lambda obj, cls: reduce_function(ctypes, obj, cls)))


def reduce_library(ctypes, library, cls) -> Recipe | Offender:
    attrs = library.__dict__
    name, func_class = attrs.get("_name"), attrs.get("_FuncPtr")
    if not (name is None or type(name) is str) or not isinstance(func_class, type):
        return Offender("a ctypes library loaded without a file name",
                        "load it again after restore, in an amber.after_restore hook")
    flags = getattr(func_class, "_flags_", 0)
    use_errno = bool(flags & ctypes._FUNCFLAG_USE_ERRNO)
    use_last_error = bool(flags & ctypes._FUNCFLAG_USE_LASTERROR)
    r = Recipe(Call(reconstructor(libraries.load_library), (cls, name, use_errno, use_last_error)))
    rest = [(k, v) for k, v in attrs.items() if k not in _LIBRARY_OWN]
    if rest:
        r.fills.append(InstanceState(rest, None))
    return r


def reduce_function(ctypes, func, cls) -> Recipe | Offender:
    kept = getattr(func, "_objects", None)
    library = kept.get("0") if type(kept) is dict else None
    symbol = func.__dict__.get("__name__") if hasattr(func, "__dict__") else None
    if not isinstance(library, ctypes.CDLL) or type(symbol) is not str or \
            cls is not library.__dict__.get("_FuncPtr") or not _same_address(ctypes, func, library, symbol):
        return Offender("a ctypes function pointer that is no symbol of a loaded library (a Python "
                        "callback, or one made from an address)",
                        "make it again after restore, in an amber.after_restore hook")
    r = Recipe(Call(reconstructor(libraries.library_function),
                    (library, symbol, func.argtypes, func.restype, func.errcheck)))
    rest = [(k, v) for k, v in func.__dict__.items() if k != "__name__"]
    if rest:
        r.fills.append(InstanceState(rest, None))
    return r


def _same_address(ctypes, func, library, symbol: str) -> bool:
    try:
        again = library.__dict__["_FuncPtr"]((symbol, library))
    except (AttributeError, TypeError, ValueError):
        return False
    address = ctypes.cast(func, ctypes.c_void_p).value
    return address is not None and address == ctypes.cast(again, ctypes.c_void_p).value
