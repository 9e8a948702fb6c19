"""Reconstructors: the loading side of every recipe in :mod:`amber.capture.reduce.reducers`.

The heap section of an image calls these by name (``amber.restore.rebuild.make_class`` ...), so
their names and signatures are part of the image format: change one and bump FORMAT_VERSION.
Each one builds an object *without running the program's code*: no module body, class body,
metaclass, ``__init_subclass__``, ``__set_name__`` or ``__init__`` runs again at restore. Nor
does reading a class: its ``__mro__`` and namespace are read through ``type``'s own descriptors,
never by attribute lookup, which a metaclass's ``__getattribute__`` answers (program code, called
while the heap is half made: its ``super()`` cell and its module's globals may not be set yet).
Imports only the base set.
"""

import posix
import sys
from _thread import _local as _thread_local
from _weakref import ref as _ref

from amber.errors import AmberError

TYPE_CHECKING = False  # typing is not in the base set: its names are for type checkers only
if TYPE_CHECKING:
    from typing import Any

_type_setattr = type.__setattr__
_type_dict_of = type.__dict__["__dict__"].__get__  # a class's namespace (a mappingproxy)
_mro_of = type.__dict__["__mro__"].__get__
_object_setattr = object.__setattr__
_object_class = object.__dict__["__class__"]
_local_getattribute = _thread_local.__getattribute__
_FunctionType: "Any" = type(lambda: None)


def make_module(name: str):
    """An empty module object; its ``__dict__`` is filled by the heap program afterwards."""
    return type(sys)(name)


_ModuleType = type(sys)
_module_dict = vars(_ModuleType)["__dict__"].__get__


def make_module_of(name, cls):
    """An empty module of a ``ModuleType`` subclass (a lazy module's class), made as ModuleType
    makes one: the subclass's own ``__new__``/``__init__`` never run."""
    mod = _ModuleType.__new__(cls)
    _ModuleType.__init__(mod, name)
    return mod


def module_dict(mod):
    """A module's own dict, past any ``__dict__`` or ``__getattribute__`` of its class."""
    return _module_dict(mod)


def namespace_view(owner, method: str):
    """A view (``keys``, ``values``, ``items``) of a class's or a module's own namespace."""
    if issubclass(type(owner), _ModuleType):
        namespace = _module_dict(owner)
    else:
        from gc import get_referents

        (namespace,) = get_referents(_type_dict_of(owner))
    return getattr(dict, method)(namespace)


def module_by_name(name: str):
    """A module held by reference: already loaded in this process, or imported now."""
    mod = sys.modules.get(name)
    if mod is None:
        __import__(name)
        mod = sys.modules[name]
    return mod


def _noop_init_subclass(cls, **kwargs):
    pass


def make_class(metaclass, name: str, bases: tuple, namespace: dict, hook_owners: tuple = ()):
    """Create a class with only its layout-defining entries (``__slots__``, ``__module__``...).

    ``type.__new__`` calls ``__set_name__`` on the namespace's values (the namespace holds
    only strings here) and the ``__init_subclass__`` of the first class after the new one in
    its MRO that defines one now (``hook_owners``: those that did at the snapshot, in MRO
    order); that hook is swapped for a no-op while the class is made, because its effects
    (registries, attributes) are already captured in the heap. The metaclass's own
    ``__new__``/``__init__`` never run.
    """
    hook_owner = next((k for k in hook_owners if "__init_subclass__" in _type_dict_of(k)), None)
    if hook_owner is None:
        return type.__new__(metaclass, name, bases, namespace)
    saved = _type_dict_of(hook_owner)["__init_subclass__"]
    try:
        _type_setattr(hook_owner, "__init_subclass__", classmethod(_noop_init_subclass))
    except TypeError:  # a static (C) type: its hook is C code, let it run
        return type.__new__(metaclass, name, bases, namespace)
    try:
        return type.__new__(metaclass, name, bases, namespace)
    finally:
        _type_setattr(hook_owner, "__init_subclass__", saved)


def become_own_type(cls) -> None:
    """Make a class its own type, as it was (``cls.__class__ = cls``), through object's own
    descriptor: a ``__setattr__`` of its metaclass is the program's code."""
    _object_class.__set__(cls, cls)


def class_setstate(cls, attrs: dict) -> None:
    """Set a class's attributes as they were, bypassing any metaclass ``__setattr__``."""
    meta = type(cls)
    shadowing = _metaclass_data_descriptors(meta) if meta is not type else {}
    for key, value in attrs.items():
        owner = shadowing.get(key)
        if owner is None:
            _type_setattr(cls, key, value)
        else:
            _set_class_attr_under(owner, cls, key, value)


def class_dict_setitems(cls, items: tuple) -> None:
    """Entries of a class's namespace named like an attribute of ``type`` itself (``__name__``,
    ``__base__``, ``__mro__``, ``__class__``...): ``type.__setattr__`` would change the class's
    name or class, or refuse, so they are written into the class's dict directly (the dict a
    mappingproxy of it refers to). None of these names is a slot of the type (such as
    ``__init__``), so no C slot needs updating; the type's attribute cache is invalidated by a
    store and a delete of a name of Amber's own."""
    from gc import get_referents

    (namespace,) = get_referents(_type_dict_of(cls))
    for key, value in items:
        namespace[key] = value
    _type_setattr(cls, "_amber_modified", None)
    _type_delattr(cls, "_amber_modified")


_type_delattr = type.__delattr__
_shadowing_by_metaclass: dict = {}


def _metaclass_data_descriptors(meta) -> dict:
    """{name: metaclass that defines it} for data descriptors (properties) of Python metaclasses:
    ``type.__setattr__`` would call their setter instead of storing into the class. Learnt once
    per metaclass and size of its namespaces (a metaclass may itself be filled later)."""
    key = (meta, tuple(len(_type_dict_of(klass)) for klass in _mro_of(meta)))
    out = _shadowing_by_metaclass.get(key)
    if out is not None:
        return out
    out = _shadowing_by_metaclass[key] = {}
    for klass in _mro_of(meta):
        if klass is type or klass is object:
            continue
        for name, value in _type_dict_of(klass).items():
            if name not in out and hasattr(type(value), "__set__"):
                out[name] = klass
    return out


def _set_class_attr_under(owner, cls, key, value) -> None:
    # No API stores into a class's namespace past a metaclass descriptor of the same name, so
    # the descriptor is replaced by a plain value on the metaclass for the moment of the store
    # (replaced, not deleted: type refuses to delete __doc__).
    saved = _type_dict_of(owner)[key]
    _type_setattr(owner, key, None)
    try:
        _type_setattr(cls, key, value)
    finally:
        _type_setattr(owner, key, saved)


def finish_abc(cls, registered: tuple) -> None:
    """Rebuild an ABC's opaque ``_abc_impl`` (never copied: it holds caches) and its registry."""
    from _abc import _abc_init, _abc_register

    _abc_init(cls)
    for sub in registered:
        _abc_register(cls, sub)


def register_abc(cls, registered: tuple) -> None:
    """Replay ``ABC.register(sub)`` calls made during start-up on ABCs held by reference."""
    from _abc import _abc_register

    for sub in registered:
        _abc_register(cls, sub)


class _Slotted:
    __slots__ = ("slot",)


_MemberDescriptor = type(_Slotted.__dict__["slot"])


def instance_setstate(obj, attrs, slots) -> None:
    """Fill an instance that has slots (or a ``__setattr__`` of its own) without calling it.

    Slots are set through their own member descriptors, so a property of the same name on a
    subclass (which would refuse, or run code) is passed by."""
    if attrs:
        # Past any __getattribute__ of the program's (it may need state not yet set); a
        # thread-local's __dict__ is its per-thread one, which only _local's own lookup finds.
        if issubclass(type(obj), _thread_local):
            _local_getattribute(obj, "__dict__").update(attrs)
        else:
            _update_instance_dict(obj, attrs)
    if slots:
        cls = type(obj)
        for key, value in slots.items():
            member = _members.get((cls, key), _members)
            if member is _members:
                member = _members[(cls, key)] = _slot_member(cls, key)
            if member is None:
                _object_setattr(obj, key, value)
            else:
                member.__set__(obj, value)


_members: dict = {}  # (class, slot name) -> its member descriptor, or None
_GetSetDescriptor = type(type.__dict__["__dict__"])
_dict_getters: dict = {}  # class -> the descriptor of its instances' real __dict__, or None


def _update_instance_dict(obj, attrs) -> None:
    """Store ``attrs`` in the instance's real ``__dict__``, never in what a ``__dict__`` property
    of its class (a transparent proxy's) answers: through the dict's own descriptor, the nearest
    one the interpreter made; where the class replaced that one, attribute by attribute with
    object.__setattr__ (which stores into the real dict)."""
    cls = type(obj)
    getter = _dict_getters.get(cls, _dict_getters)
    if getter is _dict_getters:
        getter = _dict_getters[cls] = _real_dict_descriptor(cls)
    if getter is not None:
        getter.__get__(obj, cls).update(attrs)
        return
    for key, value in attrs.items():
        _object_setattr(obj, key, value)


def _real_dict_descriptor(cls):
    for klass in _mro_of(cls):
        entry = _type_dict_of(klass).get("__dict__")
        if type(entry) is _GetSetDescriptor and entry.__objclass__ is klass:
            return entry
    return None


def _slot_member(cls, key: str):
    for klass in _mro_of(cls):
        member = _type_dict_of(klass).get(key)
        if type(member) is _MemberDescriptor:
            return member
    return None


def patch(obj, how: str, key, value) -> None:
    """Put a value made late (by the program's own code) into an object filled earlier."""
    if how == "dict":
        if type(obj) is _FunctionType:
            obj.__dict__[key] = value
        else:
            _update_instance_dict(obj, {key: value})
    elif how == "type":
        class_setstate(obj, {key: value})
    elif how == "object":
        _object_setattr(obj, key, value)
    else:
        setattr(obj, key, value)


def reorder(d: dict, keys: tuple) -> None:
    """Give a dict that was filled in two passes its original key order back."""
    items = [(k, d[k]) for k in keys if k in d]
    known = set(keys)
    rest = [(k, v) for k, v in d.items() if k not in known]
    d.clear()
    d.update(items)
    d.update(rest)


def make_property(cls, fget, fset, fdel, doc, from_getter=False):
    """A property (or an instance of a subclass) with exactly ``doc``: made with no doc, a
    property takes its getter's, which the original may not have had (``ipaddress``). One whose
    doc was its getter's (``from_getter``) takes it from the getter again, as the original did:
    its getter(), setter() and deleter() copies then take their new getter's doc."""
    obj = property.__new__(cls)
    if from_getter:
        _init_from_getter(obj, fget, fset, fdel, doc)
        return obj
    property.__init__(obj, fget, fset, fdel, doc)
    if doc is None and obj.__doc__ is not None:
        try:
            obj.__doc__ = None
        except AttributeError:
            pass
    return obj


def _init_from_getter(obj, fget, fset, fdel, doc) -> None:
    """``property.__init__`` with no doc, so that it takes ``doc`` from the getter; the getter is
    lent ``doc`` for the call when its own is not set yet (a later step of the heap sets it)."""
    current = getattr(fget, "__doc__", None)
    if current is doc:
        property.__init__(obj, fget, fset, fdel, None)
        return
    try:
        fget.__doc__ = doc
    except (AttributeError, TypeError):
        property.__init__(obj, fget, fset, fdel, doc)
        return
    try:
        property.__init__(obj, fget, fset, fdel, None)
    finally:
        fget.__doc__ = current


class _Gone:
    """Stands for an object that was only weakly reachable: it dies as soon as it is made."""


def dead_ref(cls, callback=None):
    """A weak reference whose referent is gone, as it would be after the next collection."""
    # ref's own __new__, not a subclass's (WeakMethod's wants a bound method); no callback, so
    # nothing runs when the stand-in dies at once.
    return _ref.__new__(cls, _Gone())


def dead_proxy(callable_referent: bool):
    """A ``weakref.proxy`` whose referent is gone (its callable kind when ``callable_referent``):
    made on a stand-in that dies at once, with no callback."""
    from _weakref import proxy

    if callable_referent:
        def stand_in():  # a callable referent makes a CallableProxyType
            pass
        return proxy(stand_in)
    return proxy(_Gone())


def make_wrapper(kind: type, func):
    """A staticmethod or classmethod whose ``__dict__`` is only what the capture fills in
    (making one copies the function's attributes, which the original may not have had)."""
    wrapper = kind(func)
    wrapper.__dict__.clear()
    return wrapper


def remake_generator(fn, args: tuple, kwargs: tuple, name: str, qualname: str):
    """A generator (coroutine, async generator) that had not started: its function called again
    with the arguments it was bound to (which runs none of its body)."""
    gen = fn(*args, **dict(kwargs))
    gen.__name__ = name
    gen.__qualname__ = qualname
    return gen


def suspended_generator(fn, name: str, qualname: str):
    """A generator (coroutine) that was suspended, first made as one not yet started: its
    function called with placeholders for its parameters, which runs none of its body. Its
    frame's execution state is written into it by :func:`resume_generator_at`."""
    return _called_with_placeholders(fn, name, qualname)


def _called_with_placeholders(fn, name: str, qualname: str):
    """``fn`` (a generator function) called with None for every parameter it needs: a
    generator not yet started, named as the one it stands for."""
    code = fn.__code__
    n, kw = code.co_argcount, code.co_kwonlyargcount
    gen = fn(*[None] * n, **dict.fromkeys(code.co_varnames[n:n + kw]))
    gen.__name__ = name
    gen.__qualname__ = qualname
    return gen


def resume_generator_at(gen, fn, code: bytes, instr: int, frame_state: int, size: int, slots: tuple,
                        exc_value, hooks_inited: int) -> None:
    """Give ``gen`` the execution state its frame had (:mod:`amber.frames`)."""
    from amber import frames

    frames.write(gen, fn, code, instr, frame_state, size, slots, exc_value, hooks_inited)


_CellType: "Any" = type((lambda x: lambda: x)(0).__closure__[0])  # type: ignore[index]

# How each kind of dict iterator is made from its dict (the base's own methods, never a
# subclass's), for dict_iterator.
_DICT_ITERATORS = {
    "keys": lambda d: iter(dict.keys(d)), "values": lambda d: iter(dict.values(d)),
    "items": lambda d: iter(dict.items(d)), "reversed keys": lambda d: reversed(dict.keys(d)),
    "reversed values": lambda d: reversed(dict.values(d)),
    "reversed items": lambda d: reversed(dict.items(d)),
}


def thread_handle(done: bool):
    """3.13's handle of a thread (``threading.Thread._handle``): of one that has not started, or,
    ``done``, of one that has finished (``is_alive()`` False, ``join()`` returns at once)."""
    import _thread

    handle = _thread._ThreadHandle()  # type: ignore[attr-defined]
    if done:  # (a handle is done only once its thread has run: a thread that does nothing)
        _thread.start_joinable_thread(_nothing, handle=handle)  # type: ignore[attr-defined]
        handle.join()
    return handle


def _nothing() -> None:
    pass


def dict_iterator(d, kind: str, consumed: int):
    """An iterator of ``kind`` over the very dict ``d`` (complete: made late), past the
    ``consumed`` entries it had handed out: it sees what the program does to the dict after the
    restore as the original would (a change of size ends it with RuntimeError)."""
    it = _DICT_ITERATORS[kind]({} if d is None else d)
    for _ in range(consumed):
        next(it)
    return it


def closed_generator(code, name: str, qualname: str):
    """A finished generator (coroutine, async generator) of this code: made and closed before it
    starts, so nothing of its body runs."""
    fn = _FunctionType(code, {}, name, None, tuple(_CellType() for _ in code.co_freevars))
    gen = _called_with_placeholders(fn, name, qualname)
    if hasattr(gen, "aclose"):  # an async generator: closing one that has not started is immediate
        try:
            gen.aclose().send(None)
        except StopIteration:
            pass
    else:
        gen.close()
    return gen


def dead_ref_hashed(cls):
    """A dead weak reference that kept a hash (it was hashed while its referent lived, and may
    be a dict key): made on a stand-in, hashed, then the stand-in dropped. Its hash is this
    process's own; the dicts and sets it is in are filled with this object afterwards."""
    stand_in = _Gone()
    ref = _ref.__new__(cls, stand_in)
    _ref.__hash__(ref)  # ref's own hash (cached in the reference), never a subclass's
    del stand_in
    return ref


def set_list(target: list, items: tuple) -> None:
    target[:] = items


def set_dict(target: dict, items: tuple) -> None:
    """Refill with (key, value) pairs."""
    target.clear()
    target.update(items)


def set_set(target: set, items: tuple) -> None:
    target.clear()
    target.update(items)


_collector_enabled = [True]  # as every interpreter starts, unless start-up turned it off


def collector_enabled_at_snapshot() -> bool:
    """Was the garbage collector on at the snapshot point (``gc.disable()`` in start-up: off)?"""
    return _collector_enabled[0]


def apply_setting(key: str, value) -> None:
    """Interpreter settings outside the heap, as start-up left them."""
    import gc

    if key == "recursionlimit":
        sys.setrecursionlimit(value)
    elif key == "gc_threshold":
        gc.set_threshold(*value)
    elif key == "gc_enabled":
        # The collector stays off until the program resumes; then it is as start-up left it.
        _collector_enabled[0] = bool(value)
    elif key == "switchinterval":
        sys.setswitchinterval(value)
    elif key == "coroutine_origin_tracking_depth":
        sys.set_coroutine_origin_tracking_depth(value)
    elif key == "monitoring":  # sys.monitoring's tools: ids, callbacks, then the events they watch
        monitoring = sys.monitoring  # type: ignore[attr-defined]
        for tool, name, events, callbacks in value:
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, name)
            for event, callback in callbacks:
                monitoring.register_callback(tool, event, callback)
            monitoring.set_events(tool, events)
    elif key == "int_max_str_digits":
        sys.set_int_max_str_digits(value)
    elif key == "umask":
        posix.umask(value)
    elif key == "cwd":
        try:
            posix.chdir(value)
        except OSError as e:
            raise AmberError(f"start-up changed to the directory {value}, which cannot be entered here "
                             f"({e.strerror})") from None


def register_modules(pairs: tuple, attached: tuple = ()) -> None:
    """Captured modules enter ``sys.modules`` once their dicts are filled (stage C). Those in
    ``attached`` (captured modules whose package is imported again, and had them as an
    attribute at the snapshot point) become that attribute again: the fresh import of the
    package does not know the submodules the heap brings."""
    modules = sys.modules
    for name, mod in pairs:
        modules[name] = mod
    for name in attached:
        parent, _, child = name.rpartition(".")
        package = modules.get(parent)
        if package is not None:
            setattr(package, child, modules[name])


def replay_registrations(calls: tuple) -> None:
    """Make the program's atexit, codec-search and at-fork registrations again, in order: each
    is (the registering function, its arguments), as the recorder saw the call."""
    for register, args, kwargs in calls:
        register(*args, **kwargs)


def known_type(module: str, qualname: str):
    """A type no module exports by name, re-derived from the restored heap (see amber._compat)."""
    from amber._compat import UNEXPORTED_TYPES

    return eval(UNEXPORTED_TYPES[(module, qualname)], {"__builtins__": __builtins__})


def make_lru_cache(func, maxsize, typed):
    from functools import _CacheInfo, _lru_cache_wrapper

    return _lru_cache_wrapper(func, maxsize, typed, _CacheInfo)


def fill_lru_cache(wrapper, entries: list) -> None:
    """Refill an unbounded cache; keys are hashed anew, with this interpreter's key marker."""
    from amber._compat import lru_cache_dict_and_mark

    cache, mark = lru_cache_dict_and_mark(wrapper)
    if cache is None:
        return  # unreadable on this interpreter: the cache starts empty
    for key, where, result in entries:
        if where:
            key = tuple(mark if i in where else x for i, x in enumerate(key))
        cache[key] = result


def make_key(cmp, wrapped):
    """An object of ``functools.cmp_to_key(cmp)`` wrapping ``wrapped``."""
    from functools import cmp_to_key

    return cmp_to_key(cmp)(wrapped)


def make_thread_local(cls, args: tuple, kwargs: tuple):
    """A ``threading.local``: this (main) thread's attributes are filled afterwards; other
    threads call ``__init__`` with the original arguments, as before the snapshot."""
    from _thread import _local

    return _local.__new__(cls, *args, **dict(kwargs))


def make_json_scanner(context: dict):
    from _json import make_scanner

    ns: Any = type(sys.implementation)(**context)  # a SimpleNamespace: what make_scanner reads
    ns.memo = {}
    return make_scanner(ns)


def make_context_var(name, *default):
    from _contextvars import ContextVar

    return ContextVar(name, default=default[0]) if default else ContextVar(name)


def put_all(queue, items: list) -> None:
    for item in items:
        queue.put(item)


def make_pattern(source, flags, code: tuple, groups, groupindex: tuple, indexgroup):
    """A compiled regular expression from its compiled code (see amber._compat.pattern_parts)."""
    from _sre import compile

    return compile(source, flags, list(code), groups, dict(groupindex), indexgroup)


def rematch(pattern, string, pos: int, endpos: int, how: str, nth: int = 0):
    """A ``re.Match`` made again: ``pattern.<how>(string, pos, endpos)``, or for ``scan-search``
    and ``scan-match`` the ``nth`` (from 0) result of a scanner's ``search``/``match`` (as
    ``finditer`` and tokenizers find them). The capture side checked that this reproduces
    every group's span."""
    if how.startswith("scan-"):
        step = getattr(pattern.scanner(string, pos, endpos), how[5:])
        for _ in range(nth):
            step()
        return step()
    return getattr(pattern, how)(string, pos, endpos)


def make_type_param(cls, args: tuple, kwargs: tuple, module: str):
    """3.12+: these types take their ``__module__`` from the calling frame's globals (and
    TypeAliasType's cannot be set afterwards), so the call is made from a frame of ``module``."""
    make = eval("lambda: cls(*args, **kwargs)", {"__name__": module, "cls": cls, "args": args,
                                                "kwargs": dict(kwargs)})
    return make()


def class_member(cls, name: str):
    return _type_dict_of(cls)[name]


def closed_file(kind: str, name: str, mode: str):
    """A closed file object of the kind a closed file in the heap was, under its name."""
    import _io

    devnull = "nul" if sys.platform == "win32" else "/dev/null"
    f: Any
    raw: Any
    if kind == "text":
        f = _io.open(devnull, "w" if any(c in mode for c in "wax+") else "r")
        raw = f.buffer.raw
    elif kind == "raw":
        f = raw = _io.FileIO(devnull, "r")
    else:
        f = _io.open(devnull, kind)
        raw = f.raw
    try:
        raw.name = name
    except (AttributeError, TypeError):
        pass
    f.close()
    return f


FACTORIES = [True]  # off in a verification's restore (amber.verify.child): no program code runs there


class _NotMade:
    """What stands for an ``amber.transient`` object in a verification's restore."""


def call_factory(factory):
    """An ``amber.transient`` object: its factory's result stands for it in the restored heap."""
    if not FACTORIES[0]:
        return _NotMade()
    return factory()


def make_csv_dialect(fields: tuple):
    from _csv import Dialect

    return Dialect(**dict(fields))


def fresh_abc_data():
    """The opaque state of an ABC nothing registered with."""
    from _abc import _abc_init

    holder = type("_AbcStateHolder", (), {})
    _abc_init(holder)
    return holder._abc_impl
