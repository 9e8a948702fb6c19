"""What a reducer returns: a :class:`Recipe`, Amber's plan for re-making one object.

A recipe has two halves, so that cycles never need recursion and the program's own code runs
only once the heap is complete:

``make``
    how the object comes to exist. One of::

        ("global", module, qualname)   found by name in a module held by reference
        ("module", name)               a whole module held by reference
        ("call", func, args)           func(*args)
        ("tuple", items) / ("frozenset", items)
        ("list",) / ("dict",) / ("set",)   empty, filled later
        ("bytearray", data) / ("bytes", data)
        ("buffer", view, readonly)     a large buffer, from the image's mapped section
        ("code", code, marshalled)     a code object, from the heap's one table of code

``fills``
    a list of operations applied once the object exists::

        ("appends", items)             list items          (APPENDS)
        ("setitems", pairs)            dict items          (SETITEMS)
        ("additems", items)            set items           (ADDITEMS)
        ("build", dict_pairs, slot_pairs)   BUILD: into __dict__, then setattr (functions, cells)
        ("inst", dict_pairs, slot_pairs)    rebuild.instance_setstate (bypasses __setattr__)
        ("class", pairs)               rebuild.class_setstate (bypasses a metaclass __setattr__)
        ("state", state)               BUILD with the object's own __getstate__ result
        ("call", func, args)           func(obj, *args); pass contents as tuples, never as lists
                                       or dicts: those may still be empty shells when it runs
        ("obj_appends", items) / ("obj_setitems", pairs)   a reduce's list/dict items
        ("base_extend", items) / ("base_update", pairs) / ("base_add", items)
                                       contents of a list/dict/set subclass, through the base's method
        ("touch", obj)                 nothing to do; only makes ``obj`` part of the heap

``late`` says the make runs code that needs a complete heap (a foreign constructor, the
program's ``__reduce__``); ``fill_late`` the same of the fills. Late steps run after every plain
step, in dependency order (see :mod:`amber.capture.compile.planner`).
"""



REBUILD = "amber.restore.rebuild"


class Recipe:
    __slots__ = ("make", "fills", "late", "fill_late", "hash_by_code")

    def __init__(self, make, fills=None, late=False, fill_late=False):
        self.make = make
        self.fills = fills or []
        self.late = late
        self.fill_late = fill_late
        self.hash_by_code = False

    def make_refs(self):
        """The objects the make step refers to."""
        m = self.make
        kind = m[0]
        if kind == "call":
            yield m[1]
            for arg in m[2]:
                if type(arg) is Inline:
                    yield from arg.refs()
                else:
                    yield arg
        elif kind in ("tuple", "frozenset"):
            yield from m[1]
        elif kind == "code":
            yield m[2]

    def fill_refs(self):
        for op in self.fills:
            kind = op[0]
            if kind in ("appends", "additems", "obj_appends", "base_extend", "base_add"):
                yield from op[1]
            elif kind in ("setitems", "obj_setitems", "class", "base_update"):
                for k, v in op[1]:
                    yield k
                    yield v
            elif kind in ("build", "inst"):
                for part in (op[1], op[2]):
                    if part:
                        for k, v in part:
                            yield k
                            yield v
            elif kind == "state":
                yield op[1]
            elif kind == "call":
                yield op[1]
                yield from op[2]
            elif kind == "touch":
                yield op[1]


class Inline:
    """An argument written out in full where it is used (a fresh dict or tuple), not shared.

    For arguments a reconstructor reads at once, such as the namespace ``make_class`` passes to
    ``type.__new__``: a heap dict would still be an empty shell at that point.
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def refs(self):
        v = self.value
        if type(v) is dict:
            for k, x in v.items():
                yield k
                yield from (x.refs() if type(x) is Inline else (x,))
        else:
            for x in v:
                yield from (x.refs() if type(x) is Inline else (x,))


class Offender:
    """An object that cannot be captured, with the reason and what the user can do."""

    __slots__ = ("reason", "hint")

    def __init__(self, reason: str, hint: str):
        self.reason = reason
        self.hint = hint


class _Global:
    """A reference to module.qualname that is not an object in the snapshotting process."""

    __slots__ = ("module", "qualname")

    def __init__(self, module: str, qualname: str):
        self.module = module
        self.qualname = qualname


_GLOBALS: dict = {}


def _global(module: str, qualname: str) -> _Global:
    key = (module, qualname)
    g = _GLOBALS.get(key)
    if g is None:
        g = _GLOBALS[key] = _Global(module, qualname)
    return g
