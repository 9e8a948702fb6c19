"""Text that is already public: the constants of the code of installed distributions and the stdlib.

The secret scan guesses at values kept under a secret's name (``pwd``, ``password: ...`` in a
text) without knowing any secret's value. Such a guess is wrong when the value is a constant the
code of a *published* file holds: a string or bytes literal (a docstring, an item of a dict
display, an argument of a call in an annotation) of a module whose file is

* a file of the standard library (the directory ``os`` was loaded from, outside its
  ``site-packages``), or
* a file listed in the ``RECORD`` of an installed distribution (``*.dist-info`` in the
  ``sys.path`` entry that holds it: what ``pip install`` wrote, the same in every installation).

Such a value is the same text in every installation of that distribution: it discloses nothing
about this process, so it is judged like the constants of code are (:meth:`SecretScanner.check`
with ``literal``: secrets' values and key shapes are still looked for, names are not). The
program's own files (the script, modules beside it, a project installed in editable mode, whose
``RECORD`` lists no source) are not public: a password written there and kept in a variable is
refused as before.

Which modules are asked: those on the path by which the walk reached the value (the modules
themselves, and the modules that define the classes and functions on it), so a hit costs the
compilation of a few files, and only when there is a hit. Nothing is imported (the program's
state is being captured): files are read and compiled with builtins.

The *lines* of a published file are public too: a copy of its source text kept by the process
(``linecache``'s cache, filled by ``inspect.stack()`` or a traceback; a frame summary's line)
holds whole lines of a file, of which the constants are only a part (``secret = make(root)``,
a line of code, is no constant). Such a value, one or more whole lines (its ends may be
stripped of white space) of the file of a module the process imported, whose file is
published, is judged as literal too. Amber's own files count as published: they are Amber's
code, not the program's (its capture runs the program, so its frames are on the stack that
``inspect.stack()`` reads), the same text for every program.
"""

from __future__ import annotations

import os
import sys
import types

# Imported while the program's state is captured: no typing at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from amber.capture.compile.planner import HeapPlan

__all__ = ["PublicText"]

_CODE = types.CodeType


class PublicText:
    """Answers "is this value a constant of a published file on the way to it?" for one plan."""

    def __init__(self, plan: HeapPlan, modules: dict) -> None:
        self.plan = plan
        self.modules = modules  # name -> module (the program's sys.modules)
        self._constants: dict[str, frozenset] = {}  # file -> its code's str and bytes constants
        self._records: dict[str, frozenset] = {}  # sys.path entry -> the files its RECORDs list
        self._stdlib = _stdlib_dir()
        self._amber = _amber_dir()

    def holds(self, holder: int, value: object) -> bool:
        """Whether ``value`` (a str or bytes), reached through the object ``holder`` (an id of
        the plan), is a constant of the code of a published module on the path to it."""
        if isinstance(value, str):
            needle = value.encode("utf-8", "surrogatepass")
        elif isinstance(value, bytes):
            needle = bytes(value)
        else:
            return False
        for path in self._files_on_path(holder):
            if self._published(path) and value in self._constants_of(path, needle):
                return True
        return False

    def lines_of(self, values: list) -> set:
        """The indexes of ``values`` (str or bytes) that are whole lines of a published source
        file of a module the process imported (the module doc); each file is read once."""
        pending: dict[int, bytes] = {}
        for i, value in enumerate(values):
            needle = _utf8(value)
            if needle is not None and needle.strip():
                pending[i] = needle
        found: set = set()
        for path in self._imported_sources():
            if not pending:
                break
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if b"\r" in data:
                data = data.replace(b"\r\n", b"\n")  # linecache reads with universal newlines
            for i, needle in list(pending.items()):
                if _whole_lines(data, needle):
                    found.add(i)
                    del pending[i]
        return found

    # == which files =================================================================================
    def _imported_sources(self) -> Iterable[str]:
        """The published ``.py`` files of the modules imported (Amber's own among them)."""
        seen: set = set()
        for module in list(sys.modules.values()):
            path = _dict_of(module).get("__file__")
            if type(path) is str and path.endswith(".py") and path not in seen:
                seen.add(path)
                if self._published(path):
                    yield path

    def _files_on_path(self, holder: int) -> Iterable[str]:
        seen: set = set()
        for module in self._modules_on_path(holder):
            path = _dict_of(module).get("__file__")
            if type(path) is str and path not in seen:
                seen.add(path)
                yield path

    def _modules_on_path(self, holder: int) -> Iterable[object]:
        parent, nodes = self.plan.parent, self.plan.nodes
        cur: int | None = holder
        while cur is not None:
            obj = nodes[cur]
            if isinstance(obj, types.ModuleType):
                yield obj
            else:
                for name in (_module_name(obj), _module_name(type(obj))):
                    module = self.modules.get(name) if type(name) is str else None
                    if module is not None:
                        yield module
            cur = parent.get(cur)

    def _published(self, path: str) -> bool:
        path = os.path.abspath(path)
        if not os.path.isfile(path):
            return False
        if self._stdlib and path.startswith(self._stdlib + os.sep) and \
                f"{os.sep}site-packages{os.sep}" not in path[len(self._stdlib):]:
            return True
        if path.startswith(self._amber + os.sep):
            return True
        for entry in sys.path:
            root = os.path.abspath(entry or ".")
            if path.startswith(root + os.sep):
                rel = path[len(root) + 1:].replace(os.sep, "/")
                if rel in self._recorded(root):
                    return True
        return False

    def _recorded(self, root: str) -> frozenset:
        known = self._records.get(root)
        if known is None:
            known = self._records[root] = frozenset(_record_paths(root))
        return known

    # == what they hold ==============================================================================
    def _constants_of(self, path: str, needle: bytes) -> frozenset:
        known = self._constants.get(path)
        if known is not None:
            return known
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return frozenset()
        if path.endswith(".py") and needle not in data:
            return frozenset()  # a literal written without escapes is in the file as it is
        code = _code_of(path, data)
        known = self._constants[path] = frozenset(_constants(code)) if code is not None else frozenset()
        return known


def _utf8(value: object) -> bytes | None:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value) if isinstance(value, bytes) else None


def _whole_lines(data: bytes, needle: bytes) -> bool:
    """Whether ``needle`` is in ``data`` as whole lines: only white space between the start of
    its first line and it, and between it and the end of its last line."""
    start = data.find(needle)
    while start >= 0:
        end = start + len(needle)
        head = data[data.rfind(b"\n", 0, start) + 1:start]
        line_end = data.find(b"\n", end)
        tail = b"" if needle.endswith(b"\n") else data[end:line_end if line_end >= 0 else len(data)]
        if not head.strip() and not tail.strip():
            return True
        start = data.find(needle, start + 1)
    return False


def _code_of(path: str, data: bytes) -> _CODE | None:
    """The module code of a source (``.py``) or sourceless (``.pyc``) file, or None."""
    try:
        if path.endswith(".pyc"):
            import marshal  # builtin: importing it adds nothing to sys.modules' state

            code = marshal.loads(data[16:])
            return code if isinstance(code, _CODE) else None
        if path.endswith(".py"):
            return compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, EOFError, TypeError):
        return None
    return None


def _constants(code: _CODE) -> Iterable[str | bytes]:
    stack: list = [code]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            yield item
        elif kind is _CODE:
            stack.extend(item.co_consts)
        elif kind is tuple or kind is frozenset:
            stack.extend(item)


def _record_paths(root: str) -> Iterable[str]:
    """The files (relative to ``root``, with ``/``) listed by the RECORDs of ``root``'s distributions."""
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.endswith(".dist-info"):
            continue
        try:
            with open(os.path.join(root, name, "RECORD"), encoding="utf-8") as f:
                for line in f:
                    first = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line.strip()
                    yield first.strip('"')
        except OSError:
            continue


def _amber_dir() -> str:
    """Amber's own package directory (its files are Amber's code, not the program's)."""
    import amber  # imported already: the capture runs inside it

    path = getattr(amber, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if isinstance(path, str) else "\0"


def _stdlib_dir() -> str:
    """The standard library's directory: where ``os`` was loaded from."""
    path = getattr(os, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if isinstance(path, str) else ""


def _dict_of(obj: object) -> dict:
    try:
        found = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return {}
    return found if type(found) is dict else {}


def _module_name(obj: object) -> object:
    """The ``__module__`` a class or function keeps in its own namespace (no descriptors run)."""
    if isinstance(obj, type):
        return type.__dict__["__dict__"].__get__(obj).get("__module__")
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return getattr(obj, "__module__", None)
    return None
