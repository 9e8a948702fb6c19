"""Instances: whether an object is copied exactly, field by field, or saved through its own
pickling hooks, and both ways of doing it. The saving side's policy for "other objects".

Copied field by field (``instance_by_value``): instances of classes captured by value whose state
is all where Amber sees it (``__dict__``, slots, a builtin base Amber rebuilds, a C base that adds
no state), enum members and typing aliases: made by the nearest base's ``__new__`` and filled, so
no constructor, ``__reduce__`` or ``__setstate__`` of the program runs at restore, and the copy is
exact. Saved through their hooks (``honour``): instances of classes from modules imported again
(they know their C parts), with C bases that keep state, or holding an open file or socket their
hooks leave out. Such hooks are first tried in this process (``_copy_by_reduce``); when they
cannot rebuild the instance (pickle would fail too) or hand back another object (a singleton, a
lazy proxy's target), a Python-only instance is copied field by field instead. Hooks that
look the instance up by name in a module imported again (``logging.Logger``'s) give the fresh
process's object, with the state the program gave it set on it (``_found_by_lookup``).
"""

from __future__ import annotations

import _socket
import copyreg
import io
import types

from amber._compat import ident, is_python_class
from amber.capture.recorders.entropy import generator_kind
from amber.capture.reduce.layout import (
    c_constructor_owner,
    dict_is_overridden,
    instance_dict,
    made_by_class_statement,
    object_new_is_valid,
    slot_names,
)
from amber.capture.reduce.recipes import (
    Appends,
    BaseAdd,
    BaseExtend,
    BaseUpdate,
    Build,
    ByName,
    Call,
    CallOn,
    Inline,
    InstanceState,
    Offender,
    Recipe,
    ReduceSetItems,
    SetState,
    named,
)

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from amber.capture.reduce.hash_memos import HashMemos
    from amber.capture.world.rules import World

_PICKLE_HOOKS = ("__reduce_ex__", "__reduce__", "__getstate__", "__setstate__", "__getnewargs__",
                 "__getnewargs_ex__")
# Modules imported again whose instances hold nothing but Python state, whatever their hooks say.
_PLAIN_STATE_MODULES = frozenset({"typing", "typing_extensions"})
# Builtin bases whose instance data Amber passes to the base's __new__ itself.
_VALUE_BASES = {int: int.__new__, float: float.__new__, str: str.__new__, bytes: bytes.__new__,
                tuple: tuple.__new__, complex: complex.__new__, frozenset: frozenset.__new__}
_FILLED_BASES = (list, dict, set, bytearray)


class InstanceReducer:
    """Reduces instances of classes: what :class:`~amber.capture.reduce.reducers.Reducers` falls
    back on when no reducer is registered for an object's exact type or base."""

    def __init__(self, world: World, hash_memos: HashMemos, is_c_type: Callable[[type], bool],
                 kept: set[int]) -> None:
        self.world = world
        self.hash_memos = hash_memos
        self.is_c_type = is_c_type  # implemented in C, as opposed to made by a class statement
        self.kept = kept  # identities of generators seeded on purpose (amber.keep_state)
        self.tracebacks_dropped: list = []  # ids of exceptions captured without their traceback
        self.generators: list[tuple[int, str]] = []  # (identity, kind): generators restores would repeat
        self._plain_build: dict = {}  # (class, slot names) -> can BUILD fill its instances
        self._stateless: dict = {}  # C type -> adds no state to its instances
        self._hooks: dict = {}  # ident(class) -> defines a pickling hook
        self._shell_ok: dict = {}  # class -> its instances' shells can be made by a base __new__

    def reduce(self, obj, cls):
        try:
            kind = generator_kind(obj)
        except (AttributeError, TypeError):  # a class whose __module__ is a descriptor (a proxy)
            kind = None
        if kind is not None and ident(obj) not in self.kept:
            self.generators.append((ident(obj), kind))
        reducer = copyreg.dispatch_table.get(cls)
        if reducer is not None:
            return self.honour(obj, reducer(obj))
        if self._rebuild_by_value(obj, cls):
            return self.instance_by_value(obj, cls)
        # Copied field by field only where the shell can be made without the class's own
        # constructor: never with object.__new__ past a C base that has one of its own (ast
        # nodes, PyO3, Cython classes); their own reduce protocol makes those.
        pure = self.only_python_bases(cls) and self.shell_by_base_new(cls)
        module = getattr(cls, "__module__", None) or ""
        if pure and (module in _PLAIN_STATE_MODULES or not self.world.is_by_ref_module(module)) \
                and not _holds_a_resource(obj, cls, self._hooks_of(cls)):
            # A class captured by value keeps all of its instances' state where Amber can copy
            # it: an exact copy, made without running the class's pickling hooks or constructor
            # at restore (sympy would rebuild every expression through Basic.__new__, typing
            # every alias through its cached __getitem__). A class of a module imported again
            # is trusted to know its C parts: its hooks decide; so is a class whose instance
            # holds an open file or socket that its hooks leave out.
            return self.instance_by_value(obj, cls)
        before = _own_state(obj, cls) if pure else None
        try:
            rv = _materialise(obj.__reduce_ex__(5))
        except Exception as e:
            if pure:
                _put_back(obj, cls, before)  # (a protocol may fail after it changed the instance)
                return self.instance_by_value(obj, cls)
            owner = None if self.shell_by_base_new(cls) else c_constructor_owner(cls)
            made = f"; {_qualified(owner)} makes its instances with a constructor of its own" if owner else ""
            return Offender(f"cannot be saved ({type(e).__name__}: {e}){made}",
                            "make it again after restore: amber.transient(obj, factory) (the factory "
                            "builds it), or make it after the snapshot point; or register a reducer "
                            "with copyreg.pickle")
        if _put_back(obj, cls, before):
            # Its reduce protocol changed it (a Django QuerySet runs its query and keeps the
            # rows): the state at the snapshot point is the one before, all of it in Python.
            return self.instance_by_value(obj, cls)
        found = self._found_by_lookup(obj, cls, rv)
        if found is not None:
            return found
        if pure and not self._hooks_rebuild(obj, cls, rv):
            # The class's own hooks cannot rebuild this instance (pickle would fail too), hand
            # back the object itself (a singleton, whose class must exist first) or another
            # kind of object; all its state is in Python, so a field-by-field copy is faithful.
            return self.instance_by_value(obj, cls)
        return self.honour(obj, rv)

    def _found_by_lookup(self, obj, cls, rv):
        """An instance whose reduce protocol is a lookup by name in a module imported again
        (``Logger.__reduce__`` returns ``(getLogger, (name,))``), with no state: at restore it is
        the object that lookup returns in the fresh process, so whatever else there holds it
        (a library's own reference, ``Logger.manager.loggerDict``) is the very same object; and
        the state the program gave it (a logger's handlers, level, parent, ``disabled``) is set
        again on that object, in its real ``__dict__`` and slots, where pickle would lose it. A
        lookup counts when its function is found by name in a module imported again and, called
        here, returns this very object; all the instance's own attributes are set again."""
        if type(rv) is not tuple or not 2 <= len(rv) <= 6 or any(part is not None for part in rv[2:]):
            return None
        func, args = rv[0], rv[1]
        if type(args) is not tuple or self.world.global_name(func) is None:
            return None
        try:
            if func(*args) is not obj:
                return None
        except Exception:
            return None
        d = instance_dict(obj, cls)
        attrs, slots = self.hash_memos.reset(obj, cls, list(d.items()) if d else None, slot_values(obj, cls))
        r = Recipe(Call(func, args), late=True)
        if attrs or slots:
            r.fills.append(InstanceState(attrs, slots))
        r.fill_late = True
        return r

    def only_python_bases(self, cls) -> bool:
        """Does ``cls`` keep all of its instances' state where Amber can copy it: in Python, or in
        a builtin base Amber rebuilds itself (a namedtuple's tuple, a dict subclass's dict), or a
        C base that adds no state?"""
        return all(k is object or k in _VALUE_BASES or k in _FILLED_BASES or not self.is_c_type(k)
                   or self.stateless_c_type(k)
                   for k in cls.__mro__)

    def _hooks_rebuild(self, obj, cls, rv) -> bool:
        """Do ``cls``'s pickling hooks rebuild this instance as a new object of its type? Tried on each
        instance (what a reduce returns can depend on the instance: a Django field of an
        abstract model cannot be found in the registry its concrete fields are), in this
        process, by making a copy the way an unpickler would."""
        return _copy_by_reduce(obj, rv)

    def _rebuild_by_value(self, obj, cls, honour_hooks: bool = True) -> bool:
        """Instances of classes captured by value are copied field by field unless the class
        customises pickling (or ``honour_hooks`` is false); enum members and typing aliases
        always are."""
        members = cls.__dict__.get("_member_map_") if isinstance(cls, type) else None
        if isinstance(members, dict) and getattr(obj, "_name_", None) in members:
            return True
        if cls.__module__ == "typing" and self.world.global_name(cls) is None:
            return True
        for klass in cls.__mro__:
            if klass is object or klass in _VALUE_BASES or klass in _FILLED_BASES or \
                    (klass.__module__ == "builtins" and issubclass(klass, BaseException)):
                continue
            if self.is_c_type(klass) and not self.stateless_c_type(klass):
                return False  # a C base type keeps state Amber cannot see
            # A hook set to None only forbids pickling (identity constants such as re's opcodes);
            # Amber keeps identity, so it copies those by value.
            if honour_hooks and any(klass.__dict__.get(h) is not None for h in _PICKLE_HOOKS):
                return False
        return self.shell_by_base_new(cls)

    def shell_by_base_new(self, cls) -> bool:
        """Can an instance's shell be made by the base ``__new__`` that ``instance_by_value``
        uses? Checked at snapshot time, once per class: when that is ``object.__new__``, the
        class's C constructor must be object's (:func:`amber.capture.reduce.layout.object_new_is_valid`)."""
        known = self._shell_ok.get(cls)
        if known is None:
            base = _construction_base(cls, self.stateless_c_type)
            known = self._shell_ok[cls] = base is not None or object_new_is_valid(cls)
        return known

    def instance_by_value(self, obj, cls):
        base_new, newargs = _base_construction(obj, cls, self.stateless_c_type)
        r = Recipe(Call(base_new, (cls,) + newargs))
        # The real instance dict, not what a __dict__ property of the class answers (proxies).
        d = instance_dict(obj, cls)
        attrs = list(d.items()) or None if d is not None else None
        slots = slot_values(obj, cls)
        attrs, slots = self.hash_memos.reset(obj, cls, attrs, slots)
        if issubclass(cls, BaseException):
            slots = slots or []
            for name in ("__cause__", "__context__"):
                if getattr(obj, name) is not None:
                    slots.append((name, getattr(obj, name)))
            if obj.__suppress_context__:
                slots.append(("__suppress_context__", True))
            if obj.__traceback__ is not None:  # it holds frames: said, never silently dropped
                self.tracebacks_dropped.append(ident(obj))
            if newargs != tuple(obj.args):  # made from other arguments (a group): its own args
                slots.append(("args", obj.args))
            slots += _exception_fields(obj, cls)
        # BUILD sets attributes at C speed, but it would hand them to a __setstate__ the class
        # defines, and set slots through a __setattr__ or a property that shadows one: where
        # the class has any of those, rebuild.instance_setstate sets them directly.
        if attrs or slots:
            plain = self._build_sets_directly(cls, slots)
            r.fills.append((Build if plain else InstanceState)(attrs, slots))  # BUILD: the fastest
        # Contents of a builtin container base go in through the base's own method, never the
        # subclass's (an overridden append or __setitem__ would run the program's code). The
        # type, not isinstance: a lazy proxy claims the __class__ of what it wraps.
        if issubclass(cls, list):
            r.fills.append(BaseExtend(list.copy(obj)))
        elif issubclass(cls, dict):
            r.fills.append(BaseUpdate(list(dict.items(obj))))
        elif issubclass(cls, set):
            r.fills.append(BaseAdd(list(set.__iter__(obj))))
        elif issubclass(cls, bytearray):
            r.fills.append(CallOn(named("builtins", "bytearray.extend"), (bytes(obj),)))
        return r

    def _hooks_of(self, cls) -> bool:
        """``_defines_hooks``, learnt once per class (keyed by identity: a metaclass may define
        its own equality)."""
        known = self._hooks.get(ident(cls))
        if known is None:
            known = self._hooks[ident(cls)] = _defines_hooks(cls)
        return known

    def stateless_c_type(self, klass) -> bool:
        """A C type that adds nothing to its instances' memory (a Cython class that only brings
        methods, SQLAlchemy's cache-key base; datetime.tzinfo) and whose ``__new__`` needs no
        arguments: an instance of a class built on it keeps all its state where Amber sees it."""
        known = self._stateless.get(klass)
        if known is None:
            base = klass.__base__
            known = self._stateless[klass] = bool(
                base is not None and klass.__basicsize__ == base.__basicsize__
                and klass.__itemsize__ == base.__itemsize__ and klass.__dictoffset__ == base.__dictoffset__
                and klass.__weakrefoffset__ == base.__weakrefoffset__
                and not any(k in _VALUE_BASES or k in _FILLED_BASES or k is BaseException
                            for k in klass.__mro__)
                and self.world.global_name(klass) is not None and _new_needs_no_arguments(klass))
        return known

    def _build_sets_directly(self, cls, slots) -> bool:
        """Would the unpickler's BUILD store ``slots`` and ``__dict__`` entries of a ``cls``
        instance without running any of the program's code?"""
        key = (cls, tuple(name for name, _ in slots) if slots else ())
        known = self._plain_build.get(key)
        if known is None:
            known = (not _intercepts_attributes(cls) and getattr(cls, "__setstate__", None) is None
                     and cls.__setattr__ is object.__setattr__ and not dict_is_overridden(cls)
                     and all(_slot_is_first(cls, name) for name in key[1]))
            self._plain_build[key] = known
        return known

    def honour(self, obj, rv):
        """Follow the object's own reduce value, as pickle would."""
        if isinstance(rv, str):
            # "Save me by name": a singleton. Amber keeps identity anyway, so one captured by
            # value is copied field by field; one in a module held by reference is looked up.
            # The module it claims is trusted only if the name finds this very object there.
            modname = getattr(obj, "__module__", None)
            if isinstance(modname, str) and self.world.is_by_ref_module(modname) and \
                    self.world.found_at(modname, rv) is obj:
                return Recipe(ByName(modname, rv))
            if self._rebuild_by_value(obj, type(obj), honour_hooks=False):
                return self.instance_by_value(obj, type(obj))
            return Offender(f"reduces to the name {rv!r} but its class keeps state in C",
                            "define it in a module held by reference (amber.reimport)")
        if not isinstance(rv, tuple) or not 2 <= len(rv) <= 6:
            return Offender("has a __reduce__ that returns a malformed value", "fix its __reduce__")
        func, args, state, listitems, dictitems, setter = (tuple(rv) + (None,) * 4)[:6]
        args = tuple(args)
        if func is copyreg.__newobj__ and args and self._new_is_by_ref(args[0]):
            func = args[0].__new__
        elif (func is type(obj) and type(func) is not type and type(func).__call__ is not type.__call__
              and not self.world.is_by_ref_module(getattr(func, "__module__", None) or "")):
            # Re-making an instance by calling its class (a C base's reduce): the metaclass's own
            # __call__ (a singleton cache, a registry) did its work before the snapshot, and the
            # heap holds the result; it would now run against a class still being rebuilt.
            # Only the class's construction runs, as type.__call__ does it.
            func, args = named("builtins", "type.__call__"), (func, *args)
        r = Recipe(Call(func, args), late=True)
        if listitems is not None:
            r.fills.append(Appends(list(listitems)))
        if dictitems is not None:
            r.fills.append(ReduceSetItems(list(dictitems)))
        if state is None:
            own = self._state_hooks_leave_out(obj)
            if own is not None:
                r.fills.append(own)
        if state is not None:
            if setter is not None:
                r.fills.append(CallOn(setter, (state,)))
            elif _default_state(obj, state):
                # What object.__getstate__ returns: applied as pickle would, but slots are set
                # through their own descriptors (a subclass may shadow one with a property).
                attrs, slots = state if type(state) is tuple else (state, None)
                attrs, slots = self.hash_memos.reset(obj, type(obj), list(attrs.items()) if attrs else None,
                                                     list(slots.items()) if slots else None)
                r.fills.append(InstanceState(attrs, slots))
            else:
                r.fills.append(SetState(state))
        r.fill_late = True
        return r

    def _state_hooks_leave_out(self, obj):
        """The instance's own attributes when its hooks hand back no state at all: a class
        captured by value on a C base whose ``__reduce__`` knows only the base's data
        (``class Price(decimal.Decimal)``, a subclass of ``datetime.date``) would lose what the
        program stored on the instance, which pickle drops too; Amber copies the process's
        state, so they are set on the rebuilt instance directly."""
        cls = type(obj)
        module = getattr(cls, "__module__", None)
        if not made_by_class_statement(cls) or not isinstance(module, str) or \
                self.world.is_by_ref_module(module):
            return None
        d = instance_dict(obj, cls)
        attrs = list(d.items()) if d else None
        slots = slot_values(obj, cls)
        attrs, slots = self.hash_memos.reset(obj, cls, attrs, slots)
        return InstanceState(attrs, slots) if attrs or slots else None

    def _new_is_by_ref(self, cls) -> bool:
        if not isinstance(cls, type):
            return False
        for klass in cls.__mro__:
            if "__new__" in klass.__dict__:
                return self.world.global_name(klass) is not None or not is_python_class(klass)
        return True


def _new_needs_no_arguments(klass) -> bool:
    try:
        klass.__new__(klass)
    except Exception:
        return False
    return True


def _construction_base(cls, stateless_c_type):
    """The base whose ``__new__`` ``_base_construction`` calls (None: object's)."""
    for klass in cls.__mro__:
        if klass is not object and not is_python_class(klass) and stateless_c_type(klass) or \
                klass in _VALUE_BASES or klass in _FILLED_BASES or klass is BaseException or \
                (not is_python_class(klass) and issubclass(klass, BaseException)):
            return klass
    return None


def _qualified(cls) -> str:
    module = getattr(cls, "__module__", None)
    if isinstance(module, str) and module != "builtins":
        return f"{module}.{cls.__qualname__}"
    return cls.__qualname__


def _exception_new(klass):
    """The ``__new__`` that makes an instance of ``klass``, an exception class of C: the nearest
    one defined on its way to BaseException (``OSError.__new__``: BaseException's refuses a class
    whose base has a ``__new__`` of its own)."""
    for base in klass.__mro__:
        if "__new__" in base.__dict__:
            if base.__module__ == "builtins":
                return named("builtins", f"{base.__name__}.__new__")
            return base.__dict__["__new__"]
    return named("builtins", "BaseException.__new__")


def _exception_fields(obj, cls) -> list:
    """``(name, value)`` for the fields C exception classes keep beside ``args``
    (``StopIteration.value``, ``OSError.errno``, ``ImportError.name``, ``AttributeError.obj``):
    their ``__init__`` sets them, which a rebuild does not call. Fields that cannot be set (an
    exception group's, which its constructor sets) or read None (unset: ``OSError.filename2``,
    which ``str()`` shows once it is set, even to None) are left to the construction."""
    fields = []
    for klass in cls.__mro__:
        if klass is BaseException or not issubclass(klass, BaseException) or is_python_class(klass):
            continue
        for name, descriptor in klass.__dict__.items():
            if type(descriptor) is not _MEMBER_DESCRIPTOR:
                continue
            try:
                value = descriptor.__get__(obj, cls)
                descriptor.__set__(obj, value)  # (the same value: does this field take a new one?)
            except (AttributeError, TypeError):
                continue
            if value is not None:  # (an unset field reads None; set to None, it would print so)
                fields.append((name, value))
    return fields


_MEMBER_DESCRIPTOR = type(StopIteration.__dict__["value"])  # (types.MemberDescriptorType)


def _base_construction(obj, cls, stateless_c_type=lambda klass: False):
    """The ``__new__`` of the nearest builtin (or stateless C) base, and the instance data it needs."""
    for klass in cls.__mro__:
        if klass is not object and not is_python_class(klass) and stateless_c_type(klass):
            return klass.__new__, ()
        if klass in _VALUE_BASES:
            if klass is frozenset:
                return named("builtins", "frozenset.__new__"), (tuple(frozenset.__iter__(obj)),)
            return named("builtins", f"{klass.__name__}.__new__"), klass.__getnewargs__(obj)
        if klass is BaseException or (not is_python_class(klass) and issubclass(klass, BaseException)):
            # ExceptionGroup's own constructor (BaseException's refuses it) checks its
            # exceptions as it is made: given written out (the group's own list may still be an
            # empty shell then); its args are set back afterwards.
            if issubclass(klass, BaseExceptionGroup):
                return named("builtins", "BaseExceptionGroup.__new__"), \
                    (obj.args[0], Inline(tuple(obj.exceptions)))
            return _exception_new(klass), tuple(obj.args)
        if klass in _FILLED_BASES:
            return named("builtins", f"{klass.__name__}.__new__"), ()
    return named("builtins", "object.__new__"), ()


_RESOURCE_TYPES = (io.IOBase, _socket.socket, types.GeneratorType, types.CoroutineType,
                   types.AsyncGeneratorType, types.FrameType)


def _defines_hooks(cls) -> bool:
    """Does ``cls`` (or a base other than object) define a pickling hook?"""
    return any(hook in klass.__dict__ for klass in cls.__mro__[:-1] for hook in _PICKLE_HOOKS)


def _holds_a_resource(obj, cls, defines_hooks: bool) -> bool:
    """Does an instance whose class has pickling hooks hold, directly, what cannot be captured
    (an open file or socket, a running generator, a frame)? Its hooks are then what the class
    offers for that case (a __getstate__ that leaves the file out)."""
    if not defines_hooks:
        return False
    d = instance_dict(obj, cls)
    values = list(d.values()) if d is not None else []
    values += [v for _name, v in slot_values(obj, cls) or ()]
    for value in values:
        kind = type(value)  # not isinstance: a proxy of a file is no file (it is judged by its fields)
        if not issubclass(kind, _RESOURCE_TYPES):
            continue
        if issubclass(kind, io.IOBase) and is_closed(value):
            continue
        if issubclass(kind, _socket.socket) and value.fileno() == -1:
            continue
        return True
    return False


def _own_state(obj, cls) -> list | None:
    """What an instance holds directly: its ``__dict__``'s items (the values held, so that they
    can be put back), to tell whether running its class's code changed it."""
    d = instance_dict(obj, cls)
    return None if d is None else list(d.items())


def _put_back(obj, cls, before: list | None) -> bool:
    """Give the instance its ``__dict__`` as :func:`_own_state` saw it, if running its class's
    code changed it since; return whether it had."""
    d = instance_dict(obj, cls)
    if before is None or d is None:
        return False
    if len(d) == len(before) and all(k1 == k2 and v1 is v2
                                     for (k1, v1), (k2, v2) in zip(d.items(), before, strict=True)):
        return False
    d.clear()
    d.update(before)
    return True


def _materialise(rv):
    """A reduce value whose list and dict items are lists: they are iterators, which the trial
    copy would otherwise use up before the image is written."""
    if isinstance(rv, tuple) and len(rv) > 3:
        rv = rv[:3] + tuple(None if items is None else list(items) for items in rv[3:5]) + rv[5:]
    return rv


def _shallow_copy(state):
    if type(state) is dict:
        return dict(state)
    if type(state) is tuple:
        return tuple(dict(part) if type(part) is dict else part for part in state)
    return state


def _copy_by_reduce(obj, rv) -> bool:
    """Rebuild an object from its reduce value as an unpickler would; say whether that made a
    new object."""
    if isinstance(rv, str):
        return True
    try:
        func, args, state, listitems, dictitems, setter = (tuple(rv) + (None,) * 4)[:6]
        new = func(*args)
        if new is obj or type(new) is not type(obj):
            return False  # a singleton, or a stand-in (a lazy proxy pickles as its target)
        if listitems is not None:
            for item in listitems:
                new.append(item)
        if dictitems is not None:
            for key, value in dictitems:
                new[key] = value
        if state is not None:
            state = _shallow_copy(state)  # a __setstate__ may pop from it (Django's MultiValueDict)
            if setter is not None:
                setter(new, state)
            elif getattr(new, "__setstate__", None) is not None:
                new.__setstate__(state)
            else:
                attrs, slots = state if type(state) is tuple else (state, None)
                if attrs:
                    new.__dict__.update(attrs)
                for key, value in (slots or {}).items():
                    setattr(new, key, value)
        return True
    except Exception:
        return False


def _slot_is_first(cls, name: str) -> bool:
    """Is the slot's own member descriptor what attribute assignment finds first?"""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return type(klass.__dict__[name]) is types.MemberDescriptorType
    return False


def _intercepts_attributes(cls) -> bool:
    """Would the unpickler's BUILD run the program's code (it looks ``__setstate__`` up on the
    instance, so a ``__getattr__`` proxy answers)?"""
    return hasattr(cls, "__getattr__") or cls.__getattribute__ is not object.__getattribute__


def _default_state(obj, state) -> bool:
    """Is ``state`` the (dict, slots) shape that BUILD applies itself (no ``__setstate__``)?"""
    if getattr(type(obj), "__setstate__", None) is not None:
        return False
    if type(state) is dict:
        return all(type(k) is str for k in state)
    return type(state) is tuple and len(state) == 2 and \
        all(part is None or type(part) is dict and all(type(k) is str for k in part) for part in state)


def slot_values(obj, cls):
    """(name, value) of every slot an instance has a value in, through the whole MRO; the slots
    are read from each class's layout (:func:`amber.capture.reduce.layout.slot_names`), which
    survives ``del Cls.__slots__``."""
    out = []
    for klass in cls.__mro__:
        own = klass.__dict__
        for name in slot_names(klass):
            member = own.get(name)
            try:
                # Through the slot's own descriptor: a subclass's property of the same name
                # would run the program's code, or answer something else.
                value = member.__get__(obj, klass) if type(member) is types.MemberDescriptorType \
                    else object.__getattribute__(obj, name)
            except AttributeError:
                continue
            out.append((name, value))
    return out or None


def is_closed(f) -> bool:
    try:
        return bool(f.closed)
    except Exception:
        return True
