"""Code on first call (``amber snapshot --lazy-code``, experimental): the restore side.

A function captured this way starts with a *stub* code object: its real name, qualified name,
file, first line and parameters, and a body that calls ``__amber_code__(K)`` (put into
``builtins`` by ``install``) and then the function again with the same arguments.
``__amber_code__`` unmarshals the real code objects of the stub's module (one blob per module,
on the first call of any of its functions), gives every function of that module its real code
and returns the one called: only a first call into a module goes through a stub's frame.
See docs/lazy-restore.md for what qualifies and what a program can notice.
"""

import builtins
import marshal
import posix

from amber.errors import error
from amber.image import format as fmt

_section: list = []  # [memoryview of the mapped lazy_code section, its table, the image's path]
_loaded: dict = {}  # blob index -> the unmarshalled tuple
_where: list = []  # K -> (blob index, index in the blob)
_functions: list = []  # K -> the function
_members: dict = {}  # blob index -> [(K, index in the blob)]


def attach(section, table: list, path: str) -> None:
    """Called by the loader before the heap program runs: where the blobs are."""
    _section[:] = [section, table, path]


def install(where: tuple) -> list:
    """Called once by the heap program; returns the list it puts function K at index K of."""
    _where.extend(where)
    _functions.extend([None] * len(where))
    builtins.__amber_code__ = load  # type: ignore[attr-defined]  # what every stub calls
    return _functions


def load(key: int):
    """The real code of function ``key``, set on it; the function is returned to be called."""
    blob, index = _where[key]
    codes = _loaded.get(blob)
    if codes is None:
        section, table, path = _section
        start, length, digest = table[blob]
        data = section[start:start + length]
        if fmt.digest(data) != digest:
            # Never run damaged code, and give the program no exception to swallow: stop here.
            error(f"{path}: image is damaged (code of a module fails its checksum)")
            posix._exit(2)
        codes = _loaded[blob] = marshal.loads(data)
        # Every function of the module gets its real code now: only the first call into a
        # module goes through a stub's frame.
        if not _members:  # by module, made on the first load (install stays one call)
            for other, (other_blob, other_index) in enumerate(_where):
                _members.setdefault(other_blob, []).append((other, other_index))
        for other, other_index in _members[blob]:
            _functions[other].__code__ = codes[other_index]
    function = _functions[key]
    function.__code__ = codes[index]
    return function


def load_all() -> None:
    """Every function its real code now (a verification compares code, not stubs)."""
    for key in range(len(_where)):
        if _functions[key] is not None:
            load(key)
