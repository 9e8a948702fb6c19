"""What a class is made of, decided from what the interpreter knows, not from what a program can
change: whether a class was made by a class statement (so Amber can make it again with
``type.__new__``) or in C, and which slots it adds to its instances' memory.

The rule: *never decide from class-dict entries alone.* A program can delete or rebind them
(``del Cls.__slots__``, ``Cls.__new__ = ...``), so "has ``__slots__``" or "has members" says
nothing about how a class was made. What a program cannot change:

* the type flags (``__flags__``): a class statement makes a heap type
  (``Py_TPFLAGS_HEAPTYPE``), mutable (no ``Py_TPFLAGS_IMMUTABLETYPE``) and always subclassable
  (``Py_TPFLAGS_BASETYPE``); a C type made from a spec (PyO3, ``_ast``) may be a heap type too,
  but one that cannot be subclassed was certainly not made by a class statement;
* a constructor written in C for that very class: its ``__new__`` is then a builtin bound to the
  class itself, which only the C side can create (``object.__new__`` stored on a class is bound
  to ``object``);
* member descriptors, which record the class that owns them (``__objclass__``): the slots of a
  class whose ``__slots__`` entry is gone are read from them.
"""

from __future__ import annotations

import types

from amber._compat import TPFLAGS_HEAPTYPE, TPFLAGS_IMMUTABLETYPE

TPFLAGS_BASETYPE = 1 << 10  # Include/object.h; every class a class statement makes has it


def own_c_constructor(cls) -> bool:
    """Does ``cls`` have a ``__new__`` written in C for itself (PyO3's, Cython's, ``_ast.AST``'s)?"""
    try:
        new = type.__dict__["__dict__"].__get__(cls)["__new__"]
    except (KeyError, TypeError):
        return False
    return type(new) is types.BuiltinFunctionType and getattr(new, "__self__", None) is cls


def made_by_class_statement(cls) -> bool:
    """Was ``cls`` made by a class statement (or ``type()``), judged by its flags and by whether
    it has a C constructor of its own (see the module docstring)?"""
    flags = cls.__flags__
    if not flags & TPFLAGS_HEAPTYPE or flags & TPFLAGS_IMMUTABLETYPE or not flags & TPFLAGS_BASETYPE:
        return False
    return not own_c_constructor(cls)


def added_slots(cls) -> tuple | None:
    """The slot names ``cls`` adds to its instances, as ``type.__new__`` needs them again
    (``__dict__``/``__weakref__`` included when it adds those); None when a class statement
    without ``__slots__`` makes the same layout.

    From ``__slots__`` while it is a str or strings (:func:`slots_are_intact`); otherwise
    (deleted, or rebound after the class was made) from the member descriptors the class owns
    and the ``__dict__``/``__weakref__`` descriptors it added."""
    d = cls.__dict__
    if slots_are_intact(cls):
        slots = d["__slots__"]
        return (slots,) if isinstance(slots, str) else tuple(slots)
    layout = [k for k, v in d.items() if type(v) is types.MemberDescriptorType and v.__objclass__ is cls]
    if "__slots__" not in d and not layout and cls.__dictoffset__:
        return None  # instances have a __dict__, as a class statement without __slots__ gives them
    return tuple(layout + [k for k in ("__dict__", "__weakref__") if k in d])


def slots_are_intact(cls) -> bool:
    """Is ``cls.__slots__`` still what made its layout (a str or strings, in its own dict)?"""
    slots = cls.__dict__.get("__slots__")
    if slots is None:
        return False
    if isinstance(slots, str):
        return True
    try:
        return all(isinstance(n, str) for n in slots)
    except TypeError:
        return False


def slot_names(cls) -> tuple:
    """The slots ``cls`` itself adds, under the names their values are found by (private names
    mangled), without ``__dict__`` and ``__weakref__``."""
    if slots_are_intact(cls):
        slots = cls.__dict__["__slots__"]
        out = []
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{cls.__name__.lstrip('_')}{name}"
            out.append(name)
        return tuple(out)
    if not made_by_class_statement(cls):
        return ()  # a C type's members are its own business (read through its hooks)
    # Member descriptors carry the mangled name already.
    return tuple(k for k, v in cls.__dict__.items()
                 if type(v) is types.MemberDescriptorType and v.__objclass__ is cls)


def dict_descriptor(cls):
    """The descriptor that reads an instance's real ``__dict__``: the nearest one that the
    interpreter made (type.__new__ for the class that added the dict, or a C type's), passing
    by a ``__dict__`` property that a class defines for its instances (transparent proxies).
    None when there is none (the class that added the dict replaced its descriptor)."""
    for klass in cls.__mro__:
        entry = type.__dict__["__dict__"].__get__(klass).get("__dict__")
        if type(entry) is types.GetSetDescriptorType and entry.__objclass__ is klass:
            return entry
    return None


def dict_is_overridden(cls) -> bool:
    """Does attribute lookup of ``__dict__`` on an instance find something else than the real
    dict's descriptor (a class's own ``__dict__`` property)? Then the unpickler's BUILD, which
    looks ``__dict__`` up that way, would fill the wrong dict."""
    for klass in cls.__mro__:
        entry = type.__dict__["__dict__"].__get__(klass).get("__dict__")
        if entry is not None:
            return not (type(entry) is types.GetSetDescriptorType and entry.__objclass__ is klass)
    return False


def instance_dict(obj, cls) -> dict | None:
    """The instance's own ``__dict__`` (None if it has none), never what an overriding
    ``__dict__`` property or a ``__getattr__`` answers. Where no descriptor of the real dict is
    left, ``object.__getstate__`` reads it (3.11+: the C default, which looks at the dict
    itself; it may record ``__slotnames__`` on the class, as pickle does)."""
    descriptor = dict_descriptor(cls)
    if descriptor is not None:
        try:
            return descriptor.__get__(obj, cls)
        except (AttributeError, TypeError):
            return None
    if not cls.__dictoffset__:
        return None
    state = object.__getstate__(obj)
    if type(state) is tuple:
        state = state[0]
    return state if type(state) is dict else None


TPFLAGS_DISALLOW_INSTANTIATION = 1 << 7


def object_new_is_valid(cls) -> bool:
    """Would ``object.__new__(cls)`` make an instance? CPython refuses it ("object.__new__(X) is
    not safe, use Y.__new__()") when the constructor ``cls`` really has in C is not object's:
    the first C constructor of its own along the ``__base__`` chain (a ``__new__`` written in
    Python is passed by, as CPython's own check does). ``ast`` nodes, PyO3 and Cython classes
    have one; so do ``decimal.Decimal`` and ``datetime.date``."""
    klass = cls
    while klass is not None:
        if klass.__flags__ & TPFLAGS_DISALLOW_INSTANTIATION:
            return False
        if own_c_constructor(klass):
            return klass is object
        klass = klass.__base__
    return True


def c_constructor_owner(cls):
    """The class whose C constructor ``cls``'s instances need (None when object's will do)."""
    klass = cls
    while klass is not None and klass is not object:
        if own_c_constructor(klass) or klass.__flags__ & TPFLAGS_DISALLOW_INSTANTIATION:
            return klass
        klass = klass.__base__
    return None
