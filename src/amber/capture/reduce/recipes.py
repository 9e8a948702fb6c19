"""What a reducer returns: a :class:`Recipe`, Amber's plan for re-making one object.

A recipe has two halves, so that cycles never need recursion and the program's own code runs
only once the heap is complete:

``make``
    how the object comes to exist: one :class:`Make` step (below).
``fills``
    a list of :class:`Fill` steps applied once the object exists (its items, attributes, state).

``late`` says the make runs code that needs a complete heap (a foreign constructor, the
program's ``__reduce__``); ``fill_late`` the same of the fills. Late steps run after every plain
step, in dependency order (see :mod:`amber.capture.compile.compiler`).

Each step is a small class whose fields are the objects it refers to; ``refs()`` iterates over
them, so the planner walks the graph without knowing the kinds (an iterator of C, never a
generator, for the steps that hold many: a heap has millions of edges). The compiler turns each kind into
opcodes through a dispatch table keyed by the step's class (as ``pickle.py`` dispatches on
types). Reconstructors that the heap program calls are named through :func:`reconstructor`,
from the function object itself, so a name that does not exist fails where it is written.
"""

from _operator import itemgetter  # operator itself is not in the base set
from itertools import chain

# Imported before the snapshotting process takes its baseline (by recorders.baseline): nothing
# here may import a module the restore path does not have (itertools and _operator are in the
# base set), so the typing names are for mypy only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

ATOMS = frozenset({type(None), bool, int, float, str, bytes})  # written inline, never walked

# == makes ===========================================================================================


class Make:
    """How an object comes to exist."""

    __slots__ = ()

    def refs(self) -> "Iterator[Any]":
        """The objects this step refers to (each becomes a node of the heap)."""
        return iter(())


class ByName(Make):
    """``module.qualname``, found by import and attribute lookup in a module held by reference."""

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str) -> None:
        self.module = module
        self.qualname = qualname


class ModuleByName(Make):
    """A whole module held by reference, imported by name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Call(Make):
    """``func(*args)``. Arguments wrapped in :class:`Inline` are written out where they are used."""

    __slots__ = ("func", "args")

    def __init__(self, func: "Any", args: tuple) -> None:
        self.func = func
        self.args = args

    def refs(self) -> "Iterator[Any]":
        yield self.func
        for arg in self.args:
            if type(arg) is Inline:
                yield from arg.refs()
            else:
                yield arg


class TupleOf(Make):
    """A tuple of these items (made once they all exist)."""

    __slots__ = ("items",)

    def __init__(self, items: tuple) -> None:
        self.items = items

    def refs(self) -> "Iterator[Any]":
        return iter(self.items)


class FrozensetOf(TupleOf):
    """A frozenset of these items (they are hashed when it is made)."""

    __slots__ = ()


class EmptyList(Make):
    """An empty list, filled by :class:`Appends`."""

    __slots__ = ()


class EmptyDict(Make):
    """An empty dict, filled by :class:`SetItems`."""

    __slots__ = ()


class EmptySet(Make):
    """An empty set, filled by :class:`AddItems`."""

    __slots__ = ()


EMPTY_LIST, EMPTY_DICT, EMPTY_SET = EmptyList(), EmptyDict(), EmptySet()


class BytesOf(Make):
    """A bytes value written in the program (or copied out of the mapped section when large)."""

    __slots__ = ("data",)
    builtin = "bytes"  # the type that owns the memory: what a large one is copied into

    def __init__(self, data: bytes) -> None:
        self.data = data


class BytearrayOf(BytesOf):
    """A bytearray with these contents."""

    __slots__ = ()
    builtin = "bytearray"


class MappedBuffer(Make):
    """A large buffer, from the image's mapped section (``NEXT_BUFFER``)."""

    __slots__ = ("view", "readonly")

    def __init__(self, view: "memoryview", readonly: bool) -> None:
        self.view = view
        self.readonly = readonly


class CodeObject(Make):
    """A code object, from the heap's one table of code; ``marshalled`` is what the secret scan
    reads (the table itself is marshalled once for all code objects)."""

    __slots__ = ("code", "marshalled")

    def __init__(self, code: "Any", marshalled: bytes) -> None:
        self.code = code
        self.marshalled = marshalled

    def refs(self) -> "Iterator[Any]":
        yield self.marshalled


# The makes that refer to nothing that is made (nothing, or only an atom): what they need exists.
LEAF_MAKES = frozenset({ByName, ModuleByName, EmptyList, EmptyDict, EmptySet, BytesOf, BytearrayOf,
                        MappedBuffer, CodeObject})


# == fills ===========================================================================================
Pairs = list  # [(key or attribute name, value)]


class Fill:
    """One operation applied to an object that exists.

    What the compiler needs to know to place it (see ``HeapCompiler._fill_ready``):
    ``patched_later``: values made late are left out and patched in once made, so the fill can
    run in the plain stage whatever its values; ``hashed()``: what it hashes (keys, set items),
    which must be complete first; ``needed()``: what must exist when it runs."""

    __slots__ = ()
    patched_later = False

    def refs(self) -> "Iterator[Any]":
        return iter(())

    def hashed(self) -> "Iterator[Any]":
        return iter(())

    def needed(self) -> "Iterator[Any]":
        return self.refs()


class _Items(Fill):
    __slots__ = ("items",)

    def __init__(self, items: list) -> None:
        self.items = items

    def refs(self) -> "Iterator[Any]":
        return iter(self.items)


class _HashedItems(_Items):
    __slots__ = ()

    def hashed(self) -> "Iterator[Any]":
        return iter(self.items)


class _KeyedPairs(Fill):
    __slots__ = ("pairs",)

    def __init__(self, pairs: "Pairs") -> None:
        self.pairs = pairs

    def refs(self) -> "Iterator[Any]":
        return _flat(self.pairs)

    def hashed(self) -> "Iterator[Any]":
        return map(_first, self.pairs)


class Appends(_Items):
    """List items (``APPENDS``): of a list, or those a ``__reduce__`` returned."""

    __slots__ = ()


class AddItems(_HashedItems):
    """Set items (``ADDITEMS``)."""

    __slots__ = ()


class SetItems(_KeyedPairs):
    """Dict items (``SETITEMS``); a value made late is patched in (the keys are needed at once)."""

    __slots__ = ()

    def needed(self) -> "Iterator[Any]":
        return self.hashed()


class ReduceSetItems(_KeyedPairs):
    """The dict items a ``__reduce__`` returned (``SETITEMS`` on the object, all at once)."""

    __slots__ = ()


class BaseExtend(_Items):
    """Contents of a list subclass, through ``list.extend`` (never the subclass's own methods)."""

    __slots__ = ()


class BaseAdd(_HashedItems):
    """Contents of a set subclass, through ``set.update``."""

    __slots__ = ()


class BaseUpdate(_KeyedPairs):
    """Contents of a dict subclass, through ``dict.update``."""

    __slots__ = ()

    def needed(self) -> "Iterator[Any]":
        return self.hashed()


class ClassState(_KeyedPairs):
    """A class's attributes, through ``rebuild.class_setstate`` (bypasses a metaclass ``__setattr__``)."""

    __slots__ = ()
    patched_later = True


class Build(Fill):
    """``BUILD``: ``attrs`` into ``__dict__``, then ``slots`` by setattr (functions, cells, plain
    instances); either may be None."""

    __slots__ = ("attrs", "slots")
    patched_later = True

    def __init__(self, attrs: "Pairs | None", slots: "Pairs | None") -> None:
        self.attrs = attrs
        self.slots = slots

    def refs(self) -> "Iterator[Any]":
        if not self.slots:
            return _flat(self.attrs or ())
        return chain(_flat(self.attrs or ()), _flat(self.slots))


class InstanceState(Build):
    """Like :class:`Build`, through ``rebuild.instance_setstate``: bypasses ``__setstate__``,
    ``__setattr__`` and properties that shadow slots."""

    __slots__ = ()


class SetState(Fill):
    """``BUILD`` with the object's own ``__getstate__`` result (its ``__setstate__`` runs)."""

    __slots__ = ("state",)

    def __init__(self, state: "Any") -> None:
        self.state = state

    def refs(self) -> "Iterator[Any]":
        yield self.state


class CallOn(Fill):
    """``func(obj, *args)``. Pass contents as tuples, never as lists or dicts: those may still be
    empty shells when it runs. ``hashes``: the call hashes keys among its arguments (a cache
    refilled), so it waits until the program's hashing code can run."""

    __slots__ = ("func", "args", "hashes")

    def __init__(self, func: "Any", args: tuple, hashes: bool = False) -> None:
        self.func = func
        self.args = args
        self.hashes = hashes

    def refs(self) -> "Iterator[Any]":
        yield self.func
        yield from self.args


class Touch(Fill):
    """Nothing to do; only makes ``obj`` part of the heap (a module's dict)."""

    __slots__ = ("obj",)

    def __init__(self, obj: "Any") -> None:
        self.obj = obj

    def refs(self) -> "Iterator[Any]":
        yield self.obj

    def needed(self) -> "Iterator[Any]":
        return iter(())


def _flat(pairs: "Pairs | tuple") -> "Iterator[Any]":
    """Key, value, key, value..."""
    return chain.from_iterable(pairs)


_first = itemgetter(0)


# == the recipe ======================================================================================


class Recipe:
    __slots__ = ("make", "fills", "late", "fill_late")

    def __init__(self, make: "Make", fills: "list[Fill] | None" = None, late: bool = False,
                 fill_late: bool = False) -> None:
        self.make = make
        self.fills = fills or []
        self.late = late
        self.fill_late = fill_late

    def make_refs(self) -> "Iterator[Any]":
        """The objects the make step refers to."""
        return self.make.refs()

    def refs(self) -> "Iterator[Any]":
        """Every object the recipe refers to: the edges of the heap's graph."""
        if not self.fills:
            return self.make.refs()
        return chain(self.make.refs(), *[op.refs() for op in self.fills])


class Inline:
    """An argument written out in full where it is used (a fresh dict or tuple), not shared.

    For arguments a reconstructor reads at once, such as the namespace ``make_class`` passes to
    ``type.__new__``: a heap dict would still be an empty shell at that point.
    """

    __slots__ = ("value",)

    def __init__(self, value: "dict | tuple") -> None:
        self.value = value

    def refs(self) -> "Iterator[Any]":
        v = self.value
        for x in (_flat(list(v.items())) if type(v) is dict else v):
            yield from (x.refs() if type(x) is Inline else (x,))


class Offender:
    """An object that cannot be captured, with the reason and what the user can do."""

    __slots__ = ("reason", "hint")

    def __init__(self, reason: str, hint: str):
        self.reason = reason
        self.hint = hint


class Global:
    """A reference to ``module.qualname`` that is not an object in the snapshotting process
    (or one that must be found by name at restore); interned, so identity means equality."""

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str):
        self.module = module
        self.qualname = qualname

    def __repr__(self) -> str:
        return f"Global({self.module}.{self.qualname})"


_GLOBALS: dict[tuple[str, str], Global] = {}


def named(module: str, qualname: str) -> "Global":
    """The interned :class:`Global` for ``module.qualname``."""
    key = (module, qualname)
    g = _GLOBALS.get(key)
    if g is None:
        g = _GLOBALS[key] = Global(module, qualname)
    return g


def reconstructor(fn: "Callable") -> "Global":
    """A function of Amber's restore side (:mod:`amber.restore.rebuild`, :mod:`amber.restore.lazy`)
    that the heap program calls, named from the function itself."""
    return named(fn.__module__, fn.__qualname__)
