"""The saving side for objects the standard library implements in C and pickle refuses.

Each of these is rebuilt from the few values that define it, read through a public attribute
where there is one and through ``gc.get_referents`` where there is not (that knowledge is
version-specific and lives in :mod:`amber._compat`). The matching reconstructors are in
:mod:`amber.restore.rebuild`.

* ``functools.lru_cache``/``cache`` wrappers: rebuilt around the captured function. An
  unbounded cache (``maxsize=None``, ``functools.cache``) keeps its contents: its C dict is
  refilled at restore. A bounded cache is restored *empty* (as after ``cache_clear()``): its
  entries live in a C linked list that Python code cannot fill without calling the function.
* ``threading.local`` (and subclasses): the main thread's attributes and the arguments that
  each new thread's ``__init__`` is called with.
* ``contextvars.ContextVar``: its name and default, and the value it has in the main context at
  the snapshot point, which is set again in the restored main context;
* ``csv`` dialects; ``queue.SimpleQueue`` with its items; ``struct.Struct``; a ``memoryview`` of a
  whole buffer; ``functools.cmp_to_key`` wrappers, ``json`` scanners;
* ``typing.TypeVar``/``ParamSpec``/``TypeVarTuple``/``TypeAliasType`` where they are C types (3.12+);
* ``re.Pattern``: with its compiled code, so a restore does not compile it again (the pattern
  of an ``re.Scanner``, which has no source, compiled from the Scanner's lexicon);
* ``re.Match``: its pattern matched again on its string at the same ``pos``/``endpos`` (the
  way that reproduces every group's span is found at snapshot time, or the match is refused);
* dict views (``keys()``/``values()``/``items()`` of dicts, OrderedDicts, class and module
  namespaces): views of the very dict captured, so later changes to it show in them;
* ``random.SystemRandom``: stateless, so made anew;
* subclasses of ``classmethod``, ``staticmethod`` and ``property`` (``classonlymethod``).
* locks (only when not held), weak references (dead when nothing else holds the referent;
  a dead one that was hashed keeps a hash, so it stays a working dict key), and
  ``weakref.proxy`` objects (a proxy to the same referent with its callback, or a dead proxy).

Refused here (an :class:`~amber.capture.reduce.recipes.Offender` with a hint), as sockets and
running threads are: **an object that owns a live OS process**, which a restored process would not
own (``subprocess.Popen`` and multiprocessing's process handles, with ``returncode`` still None:
after restore, ``poll()`` would say it exited while it still runs, and nobody would reap it). One
that has finished and been waited for (``returncode`` set) is plain data and is captured.
"""

from __future__ import annotations

import functools
import sys
import types
from _queue import SimpleQueue
from _struct import Struct
from _thread import LockType, RLock
from _thread import _local as ThreadLocal
from _weakref import CallableProxyType, ProxyType
from _weakref import ref as _weakref_ref
from contextvars import ContextVar, copy_context

from amber import _compat
from amber._compat import ident
from amber.capture.reduce.recipes import (
    Build,
    Call,
    CallOn,
    InstanceState,
    Offender,
    Recipe,
    named,
    reconstructor,
)
from amber.capture.world.rules import module_namespace
from amber.restore import rebuild

_RLockType = type(RLock())
_KeyWrapper = type(functools.cmp_to_key(lambda a, b: 0))


def register(reducers) -> None:
    """Add this module's reducers to ``reducers.dispatch`` (exact types) and ``reducers.by_base``."""
    d = reducers.dispatch
    d[functools._lru_cache_wrapper] = reduce_lru_cache
    d[_KeyWrapper] = reduce_key_wrapper
    d[LockType] = reduce_lock
    d[_RLockType] = reduce_rlock
    json_c = sys.modules.get("_json")
    if json_c is not None and hasattr(json_c, "make_scanner"):
        d[json_c.make_scanner] = reduce_json_scanner
    d[ContextVar] = reduce_context_var
    for proxy_type in (ProxyType, CallableProxyType):
        d[proxy_type] = lambda proxy: reduce_weakproxy(proxy, reducers.strong_ids)
    d[type(_sre_compile_probe())] = reduce_pattern
    d[type(_sre_compile_probe().match(""))] = reduce_match
    d[SimpleQueue] = reduce_simple_queue
    d[Struct] = lambda st: Recipe(Call(named("_struct", "Struct"), (st.format,)))
    d[memoryview] = reduce_memoryview
    for view_type, kind in _DICT_VIEWS.items():
        d[view_type] = lambda view, kind=kind: reduce_dict_view(view, kind)
    d[type(_abc_data_probe())] = reduce_abc_data
    csv_c = sys.modules.get("_csv")
    if csv_c is not None:
        d[csv_c.Dialect] = reduce_csv_dialect
    reducers.by_base.append((ThreadLocal, reduce_thread_local))
    typing = sys.modules.get("typing")
    if typing is not None and not _compat.is_python_class(typing.TypeVar):
        for cls in (typing.TypeVar, typing.ParamSpec, typing.TypeVarTuple, typing.TypeAliasType):
            d[cls] = reduce_type_param
    random = sys.modules.get("random")
    if random is not None:
        reducers.by_base.append((random.SystemRandom, reduce_system_random))
    for owner in _process_owners():  # finished: captured as any instance is
        reducers.by_base.append((owner, lambda obj, cls: refuse_live_process(obj)
                                 or reducers.instances.reduce(obj, cls)))
    for base in (classmethod, staticmethod):
        reducers.by_base.append((base, lambda obj, cls: reducers.reduce_wrapper_descriptor(obj)))
    reducers.by_base.append((property, lambda obj, cls: reducers.reduce_property(obj)))


# Classes whose instances own an OS process: (module, class) as the standard library names them;
# each keeps the process's id in ``pid`` and its exit status in ``returncode`` (None while it has
# not been waited for); multiprocessing's Process keeps such a handle in ``_popen`` (None before
# start()). Only modules the program imported are looked at.
PROCESS_OWNERS = (
    ("subprocess", "Popen"),
    ("multiprocessing.process", "BaseProcess"),
    ("multiprocessing.popen_fork", "Popen"),  # popen_spawn_posix and popen_forkserver subclass it
    ("multiprocessing.popen_spawn_win32", "Popen"),
)


def _process_owners() -> list:
    owners = []
    for module, name in PROCESS_OWNERS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            owners.append(cls)
    return owners


def refuse_live_process(owner) -> Offender | None:
    """An object that owns an OS process that may still run (not waited for): refused; None if
    it has none, or it has finished."""
    handle = owner.__dict__.get("_popen", owner) if hasattr(owner, "_popen") else owner
    if handle is None or getattr(handle, "returncode", None) is not None:
        return None
    pid = getattr(handle, "pid", None)
    if pid is None:
        return None
    args = getattr(handle, "args", None)
    what = f" ({_shown(args)})" if args is not None else ""
    wait = "join()" if hasattr(owner, "join") else "wait() for"
    return Offender(f"a child process that is running or not waited for, pid {pid}{what}",
                    f"{wait} it before the snapshot point, or start it after restore (after the snapshot "
                    f"point, or in an amber.after_restore hook)")


def _shown(args) -> str:
    text = " ".join(map(str, args)) if isinstance(args, (list, tuple)) else str(args)
    return text if len(text) <= 60 else text[:57] + "..."


def reduce_lru_cache(wrapper):
    params = wrapper.cache_parameters()
    attrs = list(vars(wrapper).items())
    r = Recipe(Call(reconstructor(rebuild.make_lru_cache),
                (wrapper.__wrapped__, params["maxsize"], params["typed"])),
               [Build(attrs, None)] if attrs else None)
    if params["maxsize"] is None:
        entries = _compat.unbounded_lru_entries(wrapper)
        if entries:
            # Keys are hashed again when the cache is refilled, so a key made of restored objects
            # must be complete first: this fill waits for the late stage.
            r.fills.append(CallOn(reconstructor(rebuild.fill_lru_cache), (tuple(entries),), hashes=True))
            r.fill_late = True
    return r


def reduce_key_wrapper(key):
    cmp, wrapped = _compat.key_wrapper_parts(key)
    if wrapped is _compat.NOTHING:
        return Recipe(Call(named("functools", "cmp_to_key"), (cmp,)))
    return Recipe(Call(reconstructor(rebuild.make_key), (cmp, wrapped)), late=True)


def reduce_thread_local(local, cls):
    args, kwargs = _compat.thread_local_args(local)
    # The class is made with its __init__ (see reduce_class), so _local.__new__ takes the
    # arguments at once.
    # Keyword arguments as a tuple of pairs: a dict would still be an empty shell when the
    # make runs (stage A), a tuple is complete as soon as it exists.
    r = Recipe(Call(reconstructor(rebuild.make_thread_local), (cls, args, tuple(kwargs.items()))))
    attrs = list(ThreadLocal.__getattribute__(local, "__dict__").items())  # this thread's
    if attrs:
        r.fills.append(InstanceState(attrs, None))
    return r


def _sre_compile_probe():
    import re

    return re._compiler.compile("", 0)  # not into the program's re._cache


def reduce_pattern(pattern):
    # Compiling is what regular expressions cost at start-up (Django's URL patterns, parsers'
    # token tables): the image keeps the compiled code and a restore hands it straight to
    # _sre.compile. When that cannot be reproduced exactly, the pattern is compiled again.
    if pattern.pattern is None:
        return reduce_sourceless_pattern(pattern)
    parts = _compat.pattern_parts(pattern)
    if parts is None:
        return Recipe(Call(named("re", "_compile"), (pattern.pattern, pattern.flags)), late=True)
    return _pattern_recipe(parts)


def _pattern_recipe(parts: tuple) -> Recipe:
    source, flags, code, groups, groupindex, indexgroup = parts
    return Recipe(Call(reconstructor(rebuild.make_pattern),
                   (source, flags, tuple(code), groups, tuple(groupindex.items()), indexgroup)))


def reduce_sourceless_pattern(pattern):
    """A pattern compiled from a parse tree, not a string (``re.Scanner`` makes one): there is no
    source to compile again. The pattern of a Scanner is compiled now, from the lexicon the
    Scanner keeps, the way its ``__init__`` does, and kept as code like any other pattern."""
    import gc

    for holder in gc.get_referrers(pattern):
        if type(holder) is not dict:  # 3.12+ keeps an instance's attributes inline, without a dict
            try:
                holder = object.__getattribute__(holder, "__dict__")
            except (AttributeError, TypeError):
                continue
        if type(holder) is dict and holder.get("scanner") is pattern and "lexicon" in holder:
            parts = _compat.scanner_pattern_parts(holder["lexicon"], pattern)
            if parts is not None:
                return _pattern_recipe(parts)
    return Offender("a regular expression compiled from a parse tree (as re.Scanner does), which "
                    "its lexicon does not make again: it has no source to compile",
                    "keep the re.Scanner that made it, unchanged, or make the pattern with re.compile")


def reduce_match(match):
    """A ``re.Match``: made again by matching its pattern on its string at the same ``pos`` and
    ``endpos`` (``match``, ``fullmatch`` or ``search``, or the n-th ``search``/``match`` of a
    scanner, which is how ``finditer`` found it). Which one reproduces it is tried here, and
    the match is refused when none gives the same spans for every group."""
    from amber.restore.rebuild import rematch

    pattern, string, pos, endpos = match.re, match.string, match.pos, match.endpos
    for how in _MATCH_WAYS:
        nth = 0
        while True:
            try:
                again = rematch(pattern, string, pos, endpos, how, nth)
            except Exception:
                again = None
            if again is not None and _same_match(again, match):
                late = type(string) not in (str, bytes)  # a buffer: complete before it is read
                return Recipe(Call(reconstructor(rebuild.rematch), (pattern, string, pos, endpos, how, nth)),
                              late=late)
            # Scanners: the next match, until one starts past this one's start.
            if not how.startswith("scan") or again is None or again.start() > match.start() or \
                    nth >= _SCAN_LIMIT or again.end() == len(string) and again.start() == again.end():
                break
            nth += 1
    return Offender("a regular expression match that matching its pattern again on its string does not "
                    "reproduce (the string changed since, or it was found in a way Amber does not replay)",
                    "keep the groups you need (match.group(), match.span()) instead of the match")


_MATCH_WAYS = ("match", "search", "fullmatch", "scan-search", "scan-match")
_SCAN_LIMIT = 10_000  # matches a scanner is replayed through, at most (each restore replays them)


def _same_match(a, b) -> bool:
    return a.regs == b.regs and a.pos == b.pos and a.endpos == b.endpos and a.lastindex == b.lastindex \
        and a.re is b.re and a.string is b.string


def reduce_context_var(var):
    name, default = _compat.context_var_parts(var)
    args = (name,) if default is _compat.NOTHING else (name, default)
    r = Recipe(Call(reconstructor(rebuild.make_context_var), args))
    context = copy_context()
    if var in context:
        r.fills.append(CallOn(named("_contextvars", "ContextVar.set"), (context[var],)))
        r.fill_late = True
    return r


def reduce_simple_queue(queue):
    items = _compat.simple_queue_items(queue)
    if items is None:
        return Offender("a queue whose items cannot be read", "empty it before the snapshot point")
    r = Recipe(Call(named("_queue", "SimpleQueue"), ()))
    if items:
        r.fills.append(CallOn(reconstructor(rebuild.put_all), (tuple(items),)))
    return r


def reduce_type_param(param):
    # 3.12+: TypeVar, ParamSpec and TypeVarTuple are C types that pickle by name; they are
    # made again from what defines them, with the module they were made in.
    args, kwargs = _compat.type_param_parts(param)
    # Late: the constructors check their bounds and constraints with typing's own code.
    return Recipe(Call(reconstructor(rebuild.make_type_param),
                   (type(param), args, tuple(kwargs.items()), param.__module__)), late=True)


def reduce_system_random(rng, cls):
    # It has no state (it reads the OS's entropy), so pickle refuses it; a new one is the same.
    attrs = [(k, v) for k, v in vars(rng).items() if k != "gauss_next"]
    return Recipe(Call(cls, ()), [Build(attrs, None)] if attrs else None, late=True)


_DIALECT_FIELDS = ("delimiter", "doublequote", "escapechar", "lineterminator", "quotechar", "quoting",
                   "skipinitialspace", "strict")


def reduce_csv_dialect(dialect):
    # The dialects csv registers in _csv's registry when it is imported.
    fields = tuple((name, getattr(dialect, name)) for name in _DIALECT_FIELDS if hasattr(dialect, name))
    return Recipe(Call(reconstructor(rebuild.make_csv_dialect), (fields,)))


def _abc_data_probe():
    import abc

    class Probe(abc.ABC):  # noqa: B024 - only its _abc_impl is wanted
        pass
    return Probe.__dict__["_abc_impl"]


def reduce_abc_data(data):
    # An ABC's opaque state seen outside its class (functools.update_wrapper copied a class's
    # namespace into a function): it stands for the class's own, which the class gets anew.
    import gc

    for holder in gc.get_referrers(data):
        if type(holder) is types.MappingProxyType or not isinstance(holder, dict):
            continue
        for owner in gc.get_referrers(holder):
            if isinstance(owner, type) and owner.__dict__.get("_abc_impl") is data:
                return Recipe(Call(named("builtins", "getattr"), (owner, "_abc_impl")), late=True)
    return Recipe(Call(reconstructor(rebuild.fresh_abc_data), ()))


_ODict = type(__import__("collections").OrderedDict())
# view type -> (method that makes it, which dict method): a view is made again by calling the
# C type's own method on the restored mapping (never a subclass's override).
_DICT_VIEWS = {type({}.keys()): ("dict", "keys"), type({}.values()): ("dict", "values"),
               type({}.items()): ("dict", "items"),
               type(_ODict().keys()): ("odict", "keys"), type(_ODict().values()): ("odict", "values"),
               type(_ODict().items()): ("odict", "items")}


def reduce_dict_view(view, kind):
    """A view of a dict (``d.keys()``, ``.values()``, ``.items()``; an OrderedDict's, a
    defaultdict's, a mappingproxy's, whose views are those of the dict it wraps): a view of the
    same captured dict, so the dict's identity is kept and a change to it after restore shows
    in the view. A view of a class's or a module's namespace is a view of that namespace."""
    import gc

    owner_kind, method = kind
    (target,) = gc.get_referents(view)
    owner = namespace_owner(target)
    if owner is not None:
        return Recipe(Call(reconstructor(rebuild.namespace_view), (owner, method)))
    func = named("builtins", f"dict.{method}") if owner_kind == "dict" else \
        named("_collections", f"OrderedDict.{method}")
    return Recipe(Call(func, (target,)))


def namespace_owner(d):
    """The class or module whose namespace the dict ``d`` is, if any (found among the objects
    that refer to it; only dicts shaped like a namespace are looked for, the search is slow)."""
    import gc

    if type(d) is not dict or ("__module__" not in d and "__name__" not in d):
        return None
    for owner in gc.get_referrers(d):
        kind = type(owner)
        if issubclass(kind, type):
            namespace = gc.get_referents(type.__dict__["__dict__"].__get__(owner))
            if namespace and namespace[0] is d:
                return owner
        elif issubclass(kind, types.ModuleType) and module_namespace(owner) is d:
            return owner
    return None


def reduce_memoryview(view):
    target = view.obj
    try:
        whole = target is not None and memoryview(target) == view and \
            memoryview(target).format == view.format and memoryview(target).shape == view.shape
    except Exception:
        whole = False
    if not whole:
        return Offender("a memoryview of part of a buffer", "keep the buffer itself, or bytes(view)")
    return Recipe(Call(named("builtins", "memoryview"), (target,)), late=True)


def reduce_json_scanner(scanner):
    # c_make_scanner(context) only reads these attributes of its context.
    ctx = {name: getattr(scanner, name) for name in (
        "strict", "object_hook", "object_pairs_hook", "parse_float", "parse_int", "parse_constant")}
    return Recipe(Call(reconstructor(rebuild.make_json_scanner), (ctx,)), late=True)


def reduce_lock(lock):
    if lock.locked():
        return Offender("a lock that is held", "release it before the snapshot point")
    return Recipe(Call(named("_thread", "allocate_lock"), ()))


def reduce_rlock(lock):
    if lock._is_owned():
        return Offender("a reentrant lock that is held", "release it before the snapshot point")
    return Recipe(Call(named("_thread", "RLock"), ()))


def reduce_weakref(ref, strong_ids):
    """A weak reference; its referent is kept only if something holds it strongly."""
    from amber.capture.reduce.instances import slot_values

    target = _weakref_ref.__call__(ref)  # the referent: a WeakMethod's own __call__ makes a new method
    cls = type(ref)
    if target is None or strong_ids is not None and ident(target) not in strong_ids:
        # Dead at restore. A weak reference hashed while its referent lived keeps that hash, and
        # may be a dict key or set item: it is made dead *with* a hash of its own (the heap
        # program then inserts this very object, so lookups by it work as before; a dead
        # reference equals only itself). One that was never hashed stays unhashable. A live
        # referent that nothing holds strongly may have been hashed: it gets a hash too.
        if target is not None or _dead_ref_hashable(ref):
            r = Recipe(Call(reconstructor(rebuild.dead_ref_hashed), (cls,)))
        else:
            r = Recipe(Call(reconstructor(rebuild.dead_ref), (cls,)))
    else:
        r = Recipe(Call(named("_weakref", "ref.__new__"), (cls, target, ref.__callback__)))
    slots = slot_values(ref, cls)
    if slots:
        r.fills.append(InstanceState(None, slots))
    return r


def reduce_weakproxy(proxy, strong_ids):
    """A ``weakref.proxy``: a proxy to the very referent (never the referent in its place, which
    every attribute of the proxy forwards to), with its callback; dead when nothing else holds
    the referent. The referent is found by the address the proxy's own repr gives (which runs
    nothing of the referent's) among the objects held strongly."""
    import gc

    callable_kind = type(proxy) is CallableProxyType
    text = type(proxy).__repr__(proxy)  # "<weakproxy at 0x..; to 'A' at 0x..>", or "...; dead>"
    address = text.rpartition(" at ")[2].rstrip(">")
    target = None
    if strong_ids is not None and address.startswith("0x") and not text.endswith("dead>"):
        target = strong_ids.get(_compat.ident_of_address(int(address, 16)))
    if target is None:
        return Recipe(Call(reconstructor(rebuild.dead_proxy), (callable_kind,)))
    callback = gc.get_referents(proxy)  # a weak reference's only referent for the collector
    # Late: weakref.proxy picks its kind by whether the referent is callable, which a class
    # captured by value is only once its namespace (its __call__) is filled in.
    return Recipe(Call(named("_weakref", "proxy"), (target, *callback[:1])), late=True)


def _dead_ref_hashable(ref) -> bool:
    """Has this dead weak reference kept a hash (computed while its referent lived)? Asking runs
    nothing of the program's: a dead reference has no referent to hash."""
    try:
        _weakref_ref.__hash__(ref)
    except TypeError:
        return False
    return True

