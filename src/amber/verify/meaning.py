"""Which differences between the live and the restored descriptions are differences.

A restore renews some values on purpose, and :mod:`amber.verify.walker` already describes the
ones it can for what they mean (set orders, ids). What is left needs the live object to judge,
so it is judged here, on the live side:

* **a memoised hash**: an int attribute whose value is ``hash()`` of its object in the live
  process; a restore resets it (the restored process has its own hash seed), to None or by
  removing it, so the object computes it again (and may have by the time it is described: a
  dict keyed by it was rebuilt);
* **what the program asked to be made again** (``amber.transient``): anything under its path;
* **the warnings a module has shown** (its ``__warningregistry__``): valid only for the warnings
  filters' version of the process that made it (``warnings`` clears a registry of another
  version on its next use), so a restored process, whose filters are its own, starts with none
  where a module imported again is concerned: a warning shown during start-up may be shown
  again after restore, on standard error;
* **the handle of a ctypes library**: what the dynamic loader gave the process that loaded it
  (the restore loads the library again by name);
* **a value of a module imported again that the program never changed** (the live process has
  what that module's import left): the restore's fresh import sets its own, as a cold run
  would (addresses, strings built in hash order);
* **what a class's own ``__setstate__`` makes of its state**: an instance of a class of a module
  imported again that defines ``__setstate__`` is restored through the class's hooks and holds
  what that method keeps, as after pickle (scikit-learn's ``Bunch`` drops its ``__dict__``):
  anything under its path;
* **state a class leaves out on purpose**: an instance whose class defines its own reduce
  protocol (``__getstate__``, ``__reduce__``) and whose fields differ while what that protocol
  returns does not (a client that drops its socket in ``__getstate__``): the class says that is
  its state, as pickle would.
* **bytes a type's own protocol does not keep**: a buffer in what an object's reduce protocol
  returns whose bytes differ after the restore, when a round trip through that same protocol in
  the live process (the object made again from its reduce, and reduced again) changes them too:
  they carry nothing the type keeps (a C struct's uninitialised padding: scipy's ``cKDTree``
  node buffer). Any other difference under the same object still counts.

Everything else that differs is a :class:`Difference`, reported with its path.
"""

from __future__ import annotations

import re
import sys

from amber.verify.walker import Description

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Compiled outside re's cache, which is the program's (and captured with it).
_ATTRIBUTE = re._compiler.compile(  # type: ignore[attr-defined]
    r"^(?P<owner>.+)\.(?:<slot )?(?P<name>[A-Za-z_][A-Za-z0-9_]*)>?$", 0)
_MISSING = ("<missing>",)


class Difference:
    """One path where the restored state is not the live one."""

    __slots__ = ("path", "live", "restored")

    def __init__(self, path: str, live: tuple, restored: tuple) -> None:
        self.path = path
        self.live = live
        self.restored = restored

    def __str__(self) -> str:
        return f"{self.path}: {show(self.live)} here, {show(self.restored)} after restore"

    def spelled(self, anchors: dict) -> str:
        """As :meth:`__str__`, a path that starts from an anchor (``<#n>``) spelled out."""
        path = self.path
        if path.startswith("<#"):
            anchor = path[:path.index(">") + 1]
            full = anchors.get(anchor, anchor)
            path = (full if len(full) < 160 else f"{full[:80]}...{full[-60:]}") + path[len(anchor):]
        return f"{path}: {show(self.live)} here, {show(self.restored)} after restore"

    @property
    def module(self) -> str:
        """The root the path starts from: a module's name, or ``<sys>``-like for the interpreter."""
        return root_of(self.path)


def root_of(path: str) -> str:
    """``pkg.mod`` of ``pkg.mod.Cls.__dict__['x']``: the longest prefix that is a root's name is
    found by the caller; here, the part before the first bracket or angle bracket."""
    cut = len(path)
    for mark in ("[", "<", "("):
        at = path.find(mark, 1)
        if at != -1:
            cut = min(cut, at)
    return path[:cut].rstrip(".")


def differences(live: Description, restored: dict) -> list[Difference]:
    """The paths whose facts differ, in the order the live walk met them, after the judgement
    of :func:`_renewed_on_purpose`."""
    facts = live.facts
    found = [Difference(path, fact, restored.get(path, _MISSING))
             for path, fact in facts.items() if restored.get(path, _MISSING) != fact]
    found += [Difference(path, _MISSING, fact) for path, fact in restored.items() if path not in facts]
    if not found:
        return found
    renewed = _renewed_on_purpose(live, found)
    found = [d for d in found if d.path not in renewed and d.path not in live.as_imported
             and not _warnings_shown(d.path)
             and not _under(d.path, live.renewed) and not _under(d.path, live.own_setstate)]
    return _not_kept_by_a_round_trip(live, _left_out_by_protocol(live, found))


_REDUCED = re._compiler.compile(r"^(?P<owner>.+?)\.__reduce__(?P<index>(?:\[\d+\])+)$", 0)  # type: ignore[attr-defined]


def _not_kept_by_a_round_trip(live: Description, found: list[Difference]) -> list[Difference]:
    objects = live.objects or {}
    kept = []
    for d in found:
        m = _REDUCED.match(d.path)
        same_shape = d.live[0] == d.restored[0] == "buffer" and d.live[:5] == d.restored[:5]
        owner = objects.get(m.group("owner")) if m and same_shape else None
        if owner is None or not _changed_by_a_round_trip(owner, m.group("index")):
            kept.append(d)
    return kept


def _changed_by_a_round_trip(obj: object, index: str) -> bool:
    """Whether the buffer at ``index`` (``[2][0]``) of ``obj``'s reduce differs after ``obj`` is
    made again from that reduce, as pickle makes it, and reduced again."""
    try:
        reduced: Any = type(obj).__reduce_ex__(obj, 4)
        copy = _made_again(reduced)
        first: Any = _at(reduced, index)
        again: Any = _at(type(copy).__reduce_ex__(copy, 4), index)
        return bytes(memoryview(first)) != bytes(memoryview(again))
    except Exception:  # noqa: BLE001 - a round trip that fails proves nothing: the difference stays
        return False


def _at(reduced: Any, index: str) -> object:
    for i in index.strip("[]").split("]["):  # (not re.findall: re's cache is the program's)
        reduced = reduced[int(i)]
    return reduced


def _made_again(reduced: Any) -> object:
    """A copy of an object made from its reduce the way pickle makes one (callable, arguments,
    then state through ``__setstate__`` or into ``__dict__``)."""
    make, args, state = reduced[0], reduced[1], reduced[2] if len(reduced) > 2 else None
    copy = make(*args)
    if state is not None:
        setstate = getattr(copy, "__setstate__", None)
        if setstate is not None:
            setstate(state)
        else:
            copy.__dict__.update(state)
    return copy


def _warnings_shown(path: str) -> bool:
    """A module's ``__warningregistry__`` (or what is in it): see the module's docstring."""
    at = path.find(".__warningregistry__")
    return at > 0 and "[" not in path[:at] and path[at + len(".__warningregistry__"):][:1] in ("", "[", ".")


def _under(path: str, roots: list) -> bool:
    return any(path == r or path.startswith((r + ".", r + "[", r + "<")) for r in roots)


def _left_out_by_protocol(live: Description, found: list[Difference]) -> list[Difference]:
    if not live.protocol or not found:
        return found
    differing = [d.path for d in found]
    agreed = set()
    for path in live.protocol:
        reduced = path + ".__reduce__"
        if not any(p == reduced or p.startswith((reduced + ".", reduced + "[")) for p in differing):
            agreed.add(path)
    if not agreed:
        return found

    return [d for d in found if not _under(d.path, list(agreed))]


def _renewed_on_purpose(live: Description, found: list[Difference]) -> set:
    """The paths of ``found`` that a restore changed on purpose (see the module's docstring)."""
    objects = live.objects or {}
    renewed: set = set()
    dropped: dict = {}  # owner path -> attribute names a restore removed on purpose
    for d in found:
        reset = d.restored[0] == "int" or d.restored in (_MISSING, ("NoneType", "None"))
        if d.live[0] != "int" or not reset:
            continue
        m = _ATTRIBUTE.match(d.path)
        owner = objects.get(m.group("owner")) if m else None
        if m and m.group("name") == "_handle" and d.restored[0] == "int" and _is_library(owner):
            renewed.add(d.path)  # what the dynamic loader gave this process
            continue
        if owner is None or not _is_hash_of(owner, d.live[1]):
            continue
        renewed.add(d.path)
        if d.restored == _MISSING:
            dropped.setdefault(m.group("owner"), set()).add(m.group("name"))
    for d in found:
        names = dropped.get(d.path)
        if names and d.live[0] == "object" and d.restored[0] == "object" and len(d.live) == len(d.restored):
            kept = tuple(k for k in d.live[-1] if k not in names)
            if (*d.live[:-1], kept) == d.restored:
                renewed.add(d.path)
    return renewed


def _is_library(obj: object) -> bool:
    """A ctypes library (``CDLL`` and subclasses), loaded again by name at restore."""
    ctypes = sys.modules.get("ctypes")
    library = getattr(ctypes, "CDLL", None)
    return isinstance(library, type) and issubclass(type(obj), library)


def _is_hash_of(obj: object, value: int) -> bool:
    try:
        return hash(obj) == value
    except Exception:  # noqa: BLE001 - an unhashable object memoises no hash
        return False


def show(fact: tuple) -> str:
    """A fact for people: ``str 'abc'``, ``list of 3``, ``an instance of pkg.Cls``."""
    kind = fact[0]
    if fact is _MISSING or kind == "<missing>":
        return "nothing"
    if kind in ("str", "bytes", "int", "bool", "float", "complex"):
        return f"{kind} {fact[1]!r}" if len(fact) == 2 else f"{kind} of length {fact[1]}"
    if kind == "same":
        return f"the same object as {fact[1]}"
    if kind == "ref":
        return f"{fact[1]} (by reference)"
    if kind == "id-of":
        return f"the id of {fact[1]}"
    if kind == "object":
        return f"an instance of {fact[1]}"
    if kind in ("class", "c-type"):
        return f"class {fact[1]}"
    if kind == "function":
        return f"function {fact[1]}.{fact[2]}"
    if kind == "module":
        return f"module {fact[-1]}"
    if kind in ("list", "tuple", "dict", "set", "frozenset", "deque"):
        return f"{kind} of {fact[1] if isinstance(fact[1], int) else len(fact[1])}"
    return " ".join(str(part) for part in fact[:3])
