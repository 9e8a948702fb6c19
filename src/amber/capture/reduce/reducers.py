"""The saving side: one reduce function per kind of object, chosen through a dispatch table.

Each reducer returns a :class:`~amber.capture.reduce.recipes.Recipe` (how to re-make the object, see that
module) or an :class:`~amber.capture.reduce.recipes.Offender` (why it cannot be captured and what to do).
The matching reconstructors live in :mod:`amber.restore.rebuild`.

Kinds Amber rebuilds itself, whatever the object's own pickling hooks say: modules (with their
``ModuleType`` subclass), functions, classes, code, cells, bound methods, weak references,
locks, enum members, typing aliases, generators that have not started or have finished
(:mod:`amber.capture.reduce.generators`), and instances of classes captured by value whose
state is all where Amber sees it (``__dict__``, slots, builtin bases, C bases that add no
state), copied exactly, field by field, unless they hold an open file or socket their hooks
leave out. Every other object's own ``__reduce_ex__``/``__getstate__``/``__setstate__`` (or a
``copyreg`` registration) is honoured, after one trial in this process. Instances are
:mod:`amber.capture.reduce.instances`; what a class is made of, :mod:`amber.capture.reduce.layout`.

Every object is judged by ``type(obj)``, never by ``isinstance`` or ``obj.__class__``, which a
proxy forwards to what it wraps; a module's or a class's namespace is read where it is stored,
never through ``getattr`` (a lazy module's ``__getattr__`` must not run because Amber looked).
"""

from __future__ import annotations

import _socket
import builtins
import gc
import io
import marshal
import sys
import types
import weakref
from _thread import _local as ThreadLocal
from pickle import PickleBuffer

from amber import lifecycle, secrecy
from amber._compat import ident, known_type_key
from amber.capture.recorders.inputs import stood_in_for
from amber.capture.reduce import c_objects, ctypes_objects, generators, runtime, sqlite, tls
from amber.capture.reduce.hash_memos import HashMemos
from amber.capture.reduce.instances import InstanceReducer, is_closed
from amber.capture.reduce.layout import added_slots, made_by_class_statement, slots_are_intact
from amber.capture.reduce.recipes import (
    EMPTY_DICT,
    EMPTY_LIST,
    EMPTY_SET,
    AddItems,
    Appends,
    Build,
    ByName,
    BytearrayOf,
    BytesOf,
    Call,
    CallOn,
    ClassState,
    CodeObject,
    FrozensetOf,
    Inline,
    MappedBuffer,
    ModuleByName,
    Offender,
    Recipe,
    SetItems,
    Touch,
    TupleOf,
    named,
    reconstructor,
)
from amber.capture.world.rules import World, is_extension, module_namespace
from amber.image.format import MAPPED_MIN
from amber.restore import rebuild
from amber.secrecy import SecretStr

_IN_MEMORY_FILES = (io.BytesIO, io.StringIO)  # buffers, not files: they pickle with their contents
_FILE_TYPES = {io.TextIOWrapper: "text", io.BufferedReader: "rb", io.BufferedWriter: "wb",
               io.BufferedRandom: "rb+", io.FileIO: "raw"}
# Never found by name: immutable values are cheaper to write than to look up, and equal ones
# from another module must not be confused with them.
_NEVER_GLOBAL = frozenset({tuple, frozenset, str, bytes, types.CodeType, types.CellType})


_PROPERTY_DOC = property.__dict__["__doc__"]  # the doc slot of a property, read past a subclass


class Reducers:
    """Holds the dispatch table and what reducers need to know about the world."""

    def __init__(self, world: World, always_doc: bool = False) -> None:
        self.world = world
        self.module_dicts: dict[int, types.ModuleType] = {}  # ident(dict) -> module captured by value
        self.imported_dicts = {ident(mod.__dict__): mod for name, mod in world.modules.items()
                               if world.is_by_ref_module(name) and isinstance(mod, types.ModuleType)}
        self.contained = _contained_in_imported_dicts(world)
        self.always_doc = always_doc  # --lazy-code: a stub's constants do not carry the docstring
        self.on_stack: set = set()  # idents of the generators whose frames the image's stack resumes
        self.set_iterators: list = []  # idents of set iterators restored over a copy (said in a note)
        self.dispatch = {
            tuple: self.reduce_tuple,
            list: self.reduce_list,
            dict: self.reduce_dict,
            set: self.reduce_set,
            frozenset: self.reduce_frozenset,
            bytearray: lambda o: Recipe(BytearrayOf(bytes(o))),
            complex: lambda o: Recipe(Call(complex, (o.real, o.imag))),
            types.ModuleType: self.reduce_module,
            types.FunctionType: self.reduce_function,
            types.CodeType: self.reduce_code,
            types.CellType: self.reduce_cell,
            types.MethodType: lambda o: Recipe(Call(types.MethodType, (o.__func__, o.__self__))),
            types.BuiltinMethodType: self.reduce_builtin,
            types.MethodWrapperType: self.reduce_builtin,
            types.GetSetDescriptorType: reduce_class_member,
            types.MemberDescriptorType: reduce_class_member,
            PickleBuffer: reduce_pickle_buffer,
            SecretStr: lambda o: Recipe(Call(reconstructor(secrecy.read), (o.variable,))),
            staticmethod: self.reduce_wrapper_descriptor,
            classmethod: self.reduce_wrapper_descriptor,
            property: self.reduce_property,
            weakref.ref: self.reduce_weakref,
            types.GeneratorType: self.reduce_generator,
            types.CoroutineType: self.reduce_generator,
            types.AsyncGeneratorType: self.reduce_generator,
            types.FrameType: lambda o: Offender("a frame", "drop the reference before the snapshot point"),
            types.TracebackType: lambda o: Offender(
                "a traceback", "keep the exception, not its traceback (exceptions lose theirs)"),
            types.MappingProxyType: self.reduce_mappingproxy,
            **dict.fromkeys(_DICT_ITERATOR_KINDS, reduce_dict_iterator),
            type(iter(set())): self.reduce_set_iterator,
            **({} if _THREAD_HANDLE is None else {_THREAD_HANDLE: reduce_thread_handle}),
        }
        self.hash_memos = HashMemos()
        self.transients = {ident(obj): factory for obj, factory in lifecycle.transients()}
        self.kept = {ident(obj) for obj in lifecycle.kept()}
        self._c_types: dict[int, bool] = {}  # ident(class) -> is_c_type
        self.instances = InstanceReducer(world, self.hash_memos, self.is_c_type, self.kept)
        self.by_base: list = []  # (base class, reducer(obj, cls)) for subclasses of C types
        c_objects.register(self)
        tls.register(self)
        runtime.register(self)
        sqlite.register(self)
        ctypes_objects.register(self)
        self.path_of = lambda obj: type(obj).__qualname__  # the planner names paths (Planner.__init__)
        for base in generators.context_manager_bases():  # a `with` kept open is refused by name
            self.by_base.append((base, lambda obj, cls: generators.reduce_context_manager(
                obj, cls, self.instances)))
        # ident -> object held strongly: set by the planner before weak refs and proxies are made
        self.strong_ids: dict[int, object] | None = None

    # -- entry point --------------------------------------------------------------------------
    def reduce(self, obj):
        if self.transients:
            factory = self.transients.get(ident(obj))
            if factory is not None:
                # amber.transient: not written; made by its factory once the heap is complete.
                return Recipe(Call(reconstructor(rebuild.call_factory), (factory,)), late=True)
        real = stood_in_for(obj)
        if real is not None:  # a recorder's stand-in that start-up kept (from os import stat): the real one
            return self.reduce(real)
        cls = type(obj)
        name = self.world.global_name(obj) if cls not in _NEVER_GLOBAL else None
        if name is not None:
            if name[1] == "":
                return Recipe(ModuleByName(name[0]))
            return Recipe(ByName(name[0], name[1]))
        where = self.contained.get(ident(obj)) if self.contained else None
        if where is not None:
            # An entry of a module-level dict of a module imported again (urllib3's
            # key_fn_by_scheme['http']): that entry of the fresh import, as for a module-level name.
            return Recipe(Call(named("_operator", "getitem"), where))
        if cls is dict and ident(obj) in self.module_dicts:
            return self.reduce_module_dict(obj)
        if cls is dict and ident(obj) in self.imported_dicts:
            # The namespace of a module imported again (builtins.__dict__ as a module's
            # __builtins__, a function's __globals__): that very dict, never a copy.
            return Recipe(Call(named("builtins", "getattr"), (self.imported_dicts[ident(obj)], "__dict__")))
        fn = self.dispatch.get(cls)
        if fn is not None:
            return fn(obj)
        # Every kind is judged by type(obj), never isinstance: a proxy that forwards __class__
        # (Django's LazyObject, wrapt) passes isinstance checks for what it wraps, and would be
        # taken for (or refused as) its target.
        if issubclass(cls, type):
            return self.reduce_class(obj)
        if issubclass(cls, types.ModuleType):
            return self.reduce_module(obj)
        if issubclass(cls, weakref.ref):
            return self.reduce_weakref(obj)
        return self.reduce_other(obj, cls)

    def reduce_other(self, obj, cls):
        """Objects no exact type names: resources that cannot be captured, closed files,
        subclasses of C types with a reducer of their own, and instances. Judged by ``cls``
        (the real type), not by what ``obj.__class__`` claims."""
        if issubclass(cls, _socket.socket):
            return Offender("an open socket" if obj.fileno() != -1 else "a socket",
                            "close it before the snapshot point and connect again after restore")
        threading = sys.modules.get("threading")
        if threading is not None and issubclass(cls, threading.Thread) and obj.is_alive() and \
                obj is not threading.main_thread():
            return Offender(f"a running thread ({obj.name})",
                            "start threads after restore (after the snapshot point), or stop this one first")
        if issubclass(cls, io.IOBase) and not issubclass(cls, _IN_MEMORY_FILES) and not is_closed(obj):
            return Offender(f"an open file ({_describe_file(obj)})",
                            "close it before the snapshot point and reopen it in an amber.after_restore hook")
        if cls in _FILE_TYPES:
            # A closed file (``with open(...) as f`` at module level leaves one): a closed file
            # object of the same kind and name.
            name, mode = str(getattr(obj, "name", "")), str(getattr(obj, "mode", ""))
            return Recipe(Call(reconstructor(rebuild.closed_file), (_FILE_TYPES[cls], name, mode)))
        for base, reducer in self.by_base:
            if issubclass(cls, base):
                return reducer(obj, cls)
        return self.instances.reduce(obj, cls)

    # -- containers ---------------------------------------------------------------------------
    def reduce_tuple(self, obj):
        return Recipe(TupleOf(obj))

    def reduce_list(self, obj):
        return Recipe(EMPTY_LIST, [Appends(list(obj))] if obj else None)

    def reduce_dict(self, obj):
        r = Recipe(EMPTY_DICT, [SetItems(list(obj.items()))] if obj else None)
        return r

    def reduce_set(self, obj):
        return Recipe(EMPTY_SET, [AddItems(list(obj))] if obj else None)

    def reduce_frozenset(self, obj):
        return Recipe(FrozensetOf(tuple(obj)))

    # -- modules ------------------------------------------------------------------------------
    def reduce_module(self, mod):
        # The name it is registered under (_decimal calls itself "decimal"). Read from its dict,
        # never by getattr: a lazy module's __getattr__ must not run because Amber looked.
        ns = module_namespace(mod)
        own_name = ns.get("__name__")
        name = self.world.registered_name(mod) or (own_name if isinstance(own_name, str) else "")
        # Registered now (a lazy import the capture set off), or at the snapshot point (the capture
        # sets a quiet copy of warnings in sys.modules: amber.capture.pipeline._QuietWarnings).
        registered = sys.modules.get(name) is mod or self.world.modules.get(name) is mod
        if self.world.is_by_ref_module(name) and registered:
            return Recipe(ModuleByName(name))
        if is_extension(mod):
            return Offender(f"an extension module that cannot be imported by its name ({name})",
                            "reach it through the package that creates it, or after the snapshot point")
        # The module's dict is its own node (functions share it as their globals); the fill makes
        # sure it is reached even when nothing else refers to it.
        self.module_dicts.setdefault(ident(ns), mod)
        cls = type(mod)
        if cls is types.ModuleType:
            return Recipe(Call(reconstructor(rebuild.make_module), (own_name,)), [Touch(ns)])
        # A module of a ModuleType subclass (a lazy module, or one that set its own __class__):
        # made as an instance of that class, without running its __new__ or __init__.
        return Recipe(Call(reconstructor(rebuild.make_module_of), (own_name, cls)), [Touch(ns)])

    def reduce_module_dict(self, d):
        mod = self.module_dicts[ident(d)]
        items = [(k, v) for k, v in d.items() if not self.world.bound_by_the_capture(mod, k, v)]
        fills = [SetItems(items)] if items else None
        if type(mod) is types.ModuleType:
            return Recipe(Call(named("builtins", "getattr"), (mod, "__dict__")), fills)
        # Past a __dict__ property or __getattribute__ the module's class may have.
        return Recipe(Call(reconstructor(rebuild.module_dict), (mod,)), fills)

    def reduce_builtin(self, fn):
        """A C function not found by name: looked up again on what it is bound to (a bound
        method of a captured object, ``cache.get``; a function of an extension submodule)."""
        owner = getattr(fn, "__self__", None)
        name = fn.__name__
        if owner is None:
            owner = _static_method_owner(fn)
        if issubclass(type(owner), types.ModuleType):
            found = self._module_builtin(owner, name, fn)
            if found is not None:
                return found
        try:
            same = owner is not None and getattr(owner, name) == fn
        except Exception:
            same = False
        if not same:
            return Offender(f"a built-in function that cannot be found again ({name})",
                            "keep a reference to the object or module it belongs to instead")
        return Recipe(Call(named("builtins", "getattr"), (owner, name)))

    def _module_builtin(self, module, name: str, fn):
        """A function of a module held by reference that the program moved away from its name
        (``_old = sys.displayhook; sys.displayhook = mine``; ``builtins.print`` replaced): found
        by identity, not by the name it has now. First at a name the interpreter itself keeps
        it under (``sys.__displayhook__``, ``sys.__excepthook__``...); otherwise it is the
        module's own function of that name, which every fresh interpreter or import has there
        before the heap puts the program's replacement back (stage C)."""
        modname = self.world.registered_name(module)
        if modname is None or not self.world.is_by_ref_module(modname):
            return None
        ns = module_namespace(module)
        for key, value in ns.items():
            if value is fn and key.startswith("__") and key.endswith("__"):
                return Recipe(ByName(modname, key))
        if ns.get(name) is not fn and getattr(fn, "__module__", modname) in (modname, None):
            return Recipe(ByName(modname, name))
        return None

    def reduce_mappingproxy(self, proxy):
        import gc

        (target,) = gc.get_referents(proxy)
        if type(target) is dict:
            # A class's ``__dict__`` kept aside (``ns = C.__dict__``) is a proxy of that class's
            # own namespace, not of a copy: a change to the class after restore shows in it.
            owner = c_objects.namespace_owner(target)
            if owner is not None and issubclass(type(owner), type):
                return Recipe(Call(named("builtins", "getattr"), (owner, "__dict__")))
        if isinstance(target, dict):
            return Recipe(Call(types.MappingProxyType, (target,)))
        return Recipe(Call(named("builtins", "getattr"), (target, "__dict__")))

    # -- code ---------------------------------------------------------------------------------
    def reduce_code(self, code):
        # The compiler marshals every code object of the heap in one go (compile/code_table.py);
        # the bytes here are what the secret scan reads.
        return Recipe(CodeObject(code, marshal.dumps(code)))

    def reduce_function(self, fn):
        closure = fn.__closure__
        make = Call(types.FunctionType, (fn.__code__, fn.__globals__, fn.__name__, None, closure))
        slots = [("__module__", fn.__module__)]
        # FunctionType takes its qualname from the code (3.11+), functools.wraps may set another.
        if fn.__qualname__ != fn.__code__.co_qualname:
            slots.append(("__qualname__", fn.__qualname__))
        if fn.__defaults__ is not None:
            slots.append(("__defaults__", fn.__defaults__))
        if fn.__kwdefaults__ is not None:
            slots.append(("__kwdefaults__", fn.__kwdefaults__))
        if fn.__annotations__:
            slots.append(("__annotations__", fn.__annotations__))
        co_consts = fn.__code__.co_consts
        if self.always_doc and fn.__doc__ is not None or \
                fn.__doc__ is not (co_consts[0] if co_consts and isinstance(co_consts[0], str) else None):
            slots.append(("__doc__", fn.__doc__))
        attrs = list(fn.__dict__.items()) or None
        return Recipe(make, [Build(attrs, slots)])

    def reduce_cell(self, cell):
        r = Recipe(Call(types.CellType, ()))
        try:
            r.fills.append(Build(None, [("cell_contents", cell.cell_contents)]))
        except ValueError:  # an empty cell: a name not yet bound
            pass
        return r

    def reduce_wrapper_descriptor(self, obj):
        attrs = list(vars(obj).items())
        return Recipe(Call(reconstructor(rebuild.make_wrapper), (type(obj), obj.__func__)),
                      [Build(attrs, None)] if attrs else None)

    def reduce_property(self, prop):
        # The doc the property itself holds: for a subclass, prop.__doc__ reads the instance's
        # __dict__ (filled from it below), where the property put its getter's doc instead.
        doc = _PROPERTY_DOC.__get__(prop)
        # A doc taken from the getter is the getter's very object. Such a property's getter(),
        # setter() and deleter() copies take their own getter's doc: made by make_property,
        # which takes the getter's doc the same way.
        from_getter = doc is not None and prop.fget is not None and doc is getattr(prop.fget, "__doc__", None)
        args = (prop.fget, prop.fset, prop.fdel, doc)
        # No doc: made by make_property, which keeps it None (a property takes its getter's doc,
        # which may not be filled in yet when the property is made, or differ).
        if type(prop) is property and doc is not None and not from_getter:
            r = Recipe(Call(property, args))
        else:
            r = Recipe(Call(reconstructor(rebuild.make_property),
                            (type(prop), *args, *((True,) if from_getter else ()))))
        attrs = list(getattr(prop, "__dict__", {}).items())
        if attrs:
            r.fills.append(Build(attrs, None))
        return r

    # -- classes ------------------------------------------------------------------------------
    def is_c_type(self, cls) -> bool:
        """Implemented in C (state Amber cannot see), as opposed to made by a class statement.

        Decided from the type's flags and its own C constructor (:mod:`amber.capture.reduce.layout`),
        never from entries of its dict, which a program may delete (``del Cls.__slots__`` leaves
        member descriptors without ``__slots__``, as a C type made from a spec has). Learnt
        once per class (keyed by identity: a metaclass may define its own equality)."""
        known = self._c_types.get(ident(cls))
        if known is None:
            known = self._c_types[ident(cls)] = self._is_c_type(cls)
        return known

    def _is_c_type(self, cls) -> bool:
        if not made_by_class_statement(cls):
            return True
        d = cls.__dict__
        # Its module, or the nearest registered package of an unregistered extension submodule.
        modname = getattr(cls, "__module__", None)
        if modname == "builtins":
            # A class statement that calls itself builtin (pytest's Skipped) keeps __module__ in
            # its namespace; a C type whose spec has no module name has none there.
            return d.get("__module__") != "builtins" or getattr(builtins, cls.__name__, None) is cls
        while isinstance(modname, str):
            mod = self.world.modules.get(modname)
            if mod is not None:
                return is_extension(mod)
            if "." not in modname:
                return False
            modname = modname.rpartition(".")[0]
        return False

    def reduce_class(self, cls):
        if self.is_c_type(cls):
            key = known_type_key(cls)
            if key is not None:
                return Recipe(Call(reconstructor(rebuild.known_type), key), late=True)
            elsewhere = self.world.exported_elsewhere(cls)
            if elsewhere is not None:
                return Recipe(ByName(*elsewhere))
            return Offender(f"a type implemented in C that no module exports "
                            f"({cls.__module__}.{cls.__qualname__})",
                            "keep a reference to an object of that type instead of the type")
        ns = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        d = cls.__dict__
        slot_names = set()
        slots = added_slots(cls)
        if slots is not None:
            ns["__slots__"] = Inline(slots)
            slot_names = set(slots)
        if "__init__" in d and issubclass(cls, ThreadLocal):
            # _local.__new__ accepts the arguments a thread-local was made with only when its
            # class has an __init__: present from the start, its instances need no late stage.
            ns["__init__"] = d["__init__"]
        if "__orig_bases__" in d:
            # typing's __init_subclass__ (C-implemented from 3.12, so it runs) reads it at once.
            ns["__orig_bases__"] = d["__orig_bases__"]
        # Every entry is rebuilt, a class's own __dict__ or __weakref__ property included (a
        # transparent proxy's); only the descriptors type.__new__ makes again are left out.
        skip = {"__module__", "__qualname__", "_abc_impl", *ns}
        # Names that type's (or object's) own descriptors intercept (__class__, __name__,
        # __base__, __mro__...: Django's LazyObject proxies __class__, toolz's Compose has a
        # __name__ property): type.__setattr__ would change the class's own class or name, or
        # refuse a read-only attribute, so they go straight into the class's dict.
        intercepted = intercepted_by_type()
        direct = [(k, v) for k, v in d.items() if k in intercepted and k not in ns and k != "__qualname__"
                  and not _made_by_type(cls, k, v)]
        attrs = [(k, v) for k, v in d.items() if k not in skip and k not in intercepted and not
                 (k in slot_names and type(v) is types.MemberDescriptorType) and not _made_by_type(cls, k, v)]
        if slots is not None and not slots_are_intact(cls):
            # __slots__ rebound after the class was made: the layout came from its members, the
            # entry is set as it is now; or deleted (del Cls.__slots__): removed again.
            if "__slots__" in d:
                attrs.append(("__slots__", d["__slots__"]))
        elif slots is not None and type(d["__slots__"]) is not tuple:
            # The class statement's own list (rich, socket) or string (sqlparse's "tokens"):
            # type.__new__ was given a tuple; the entry is the object the class had.
            attrs.append(("__slots__", d["__slots__"]))
        meta = type(cls)
        own_type = meta is cls
        if own_type:
            # A class that is its own type (h11's sentinels set ``v.__class__ = v`` in their
            # metaclass's __new__): made with the metaclass it came from, the first metaclass
            # of its MRO, then made its own type again.
            meta = next((k for k in cls.__mro__[1:] if issubclass(k, type)), type)
        r = Recipe(Call(reconstructor(rebuild.make_class),
                    (meta, cls.__name__, cls.__bases__, Inline(ns), _init_subclass_owners(cls))),
                   [ClassState(attrs)] if attrs else None)
        if own_type:
            r.fills.append(CallOn(reconstructor(rebuild.become_own_type), ()))
        if slots is not None and "__slots__" not in d:
            r.fills.append(CallOn(named("builtins", "type.__delattr__"), ("__slots__",)))
        if direct:
            r.fills.append(CallOn(reconstructor(rebuild.class_dict_setitems), (tuple(direct),)))
        if "_abc_impl" in d:
            from _abc import _get_dump

            registry = tuple(sorted((ref() for ref in _get_dump(cls)[0] if ref() is not None),
                                    key=lambda c: (c.__module__, c.__qualname__)))
            r.fills.append(CallOn(reconstructor(rebuild.finish_abc), (registry,)))
            r.fill_late = True  # after every function's __isabstractmethod__ is set
        return r

    # -- instances ----------------------------------------------------------------------------
    def reduce_set_iterator(self, it):
        """An iterator over a set: a list iterator over what it has left (a set is rebuilt in
        another order where its items' hashes are salted, so no position in the restored set
        stands for the same items); said in a note, as it does not see the set change after
        the restore."""
        self.set_iterators.append(ident(it))
        return Recipe(Call(iter, (list(copy_of_iterator(it)),)))

    def reduce_generator(self, gen):
        return generators.reduce_generator(gen, on_stack=ident(gen) in self.on_stack)

    def reduce_weakref(self, ref):
        return c_objects.reduce_weakref(ref, self.strong_ids)


_INTERCEPTED: list[frozenset] = []


def intercepted_by_type() -> frozenset:
    """Names that ``type.__setattr__`` does not store into a class's dict as they are: the data
    descriptors of ``type`` and ``object`` (``__name__``, ``__bases__``, ``__base__``,
    ``__mro__``, ``__class__``...), less those whose setter only stores the value (``__doc__``,
    ``__module__``, ``__annotations__``), learnt once by trying each on a class made for it."""
    if not _INTERCEPTED:
        names = set()
        for owner in (type, object):
            for name, value in vars(owner).items():
                if not hasattr(type(value), "__set__"):
                    continue
                probe = type("_AmberProbe", (), {})
                marker = _Marker()
                try:
                    type.__setattr__(probe, name, marker)
                    stored = probe.__dict__.get(name) is marker
                except Exception:
                    stored = False
                if not stored:
                    names.add(name)
        _INTERCEPTED.append(frozenset(names))
    return _INTERCEPTED[0]


class _Marker:
    pass


def _made_by_type(cls, key: str, value) -> bool:
    """Is this entry the descriptor type.__new__ makes for the class itself (the ``__dict__`` and
    ``__weakref__`` of its instances), which the rebuilt class gets by itself?"""
    return type(value) is types.GetSetDescriptorType and key in ("__dict__", "__weakref__") \
        and value.__objclass__ is cls


def _contained_in_imported_dicts(world: World) -> dict:
    """ident(value) -> (dict, key) for the values of the module-level dicts of modules imported
    again, where the program did not change the dict after the import (so the fresh import
    makes the same entry), the key is a plain value and the value is found by no name of its own."""
    out: dict = {}
    atoms = (str, int, bytes, float, bool, type(None))
    for name, mod in world.modules.items():
        if not world.is_by_ref_module(name) or not isinstance(mod, types.ModuleType) or name in world.base:
            continue
        namespace = mod.__dict__
        dicts = [attr for attr, value in list(namespace.items()) if type(value) is dict and
                 world.global_name(value) == (name, attr)]
        if not dicts:
            continue
        if name not in world.imports.after_import:
            continue
        changed = set(world.imports.changed_since_import(name, dicts))
        for attr in dicts:
            if attr in changed:
                continue
            table = namespace[attr]
            for key, value in list(table.items()):
                if type(key) in atoms and type(value) not in atoms and world.global_name(value) is None:
                    out.setdefault(ident(value), (table, key))
    return out


def _init_subclass_owners(cls) -> tuple:
    """The classes after ``cls`` in its MRO that define ``__init_subclass__``, in MRO order:
    type.__new__ calls the first of them that has it when the class is made at restore (a
    class captured by value gets its attributes after the shells are made)."""
    return tuple(klass for klass in cls.__mro__[1:] if "__init_subclass__" in klass.__dict__
                 and klass is not object)


def reduce_class_member(descriptor):
    """A descriptor a class made for itself (a slot, a C type's attribute): found again in the
    class's namespace, which has it from the moment the class exists."""
    return Recipe(Call(reconstructor(rebuild.class_member), (descriptor.__objclass__, descriptor.__name__)))


def reduce_pickle_buffer(buf):
    """A buffer handed out by a protocol-5 ``__reduce_ex__`` (numpy arrays). A large one goes to
    the image's mapped section, so restored processes share its pages (copy-on-write when the
    new object may write into it); a small one is written in band, as bytes when read-only and
    as a bytearray otherwise."""
    view = buf.raw()
    if view.nbytes >= MAPPED_MIN:
        return Recipe(MappedBuffer(view, view.readonly))
    data, readonly = view.tobytes(), view.readonly
    view.release()
    return Recipe(BytesOf(data)) if readonly else Recipe(BytearrayOf(data))


def _describe_file(f) -> str:
    name = getattr(f, "name", None)
    return repr(name) if name is not None else type(f).__name__


def _static_method_owner(fn):
    """The type a static method of a C type belongs to (``str.maketrans``, which a class body
    copies as ``maketrans = str.maketrans``): its ``__self__`` reads None, but its own reduce
    names the type (``getattr(str, "maketrans")``). None for anything else."""
    try:
        reduced = fn.__reduce__()
    except Exception:
        return None
    if (type(reduced) is tuple and len(reduced) == 2 and reduced[0] is getattr
            and type(reduced[1]) is tuple and len(reduced[1]) == 2 and isinstance(reduced[1][0], type)):
        return reduced[1][0]
    return None


# The iterators of a dict and of its views, and what rebuild.dict_iterator calls each.
_DICT_ITERATOR_KINDS: dict = {
    type(iter({})): "keys", type(iter({}.values())): "values", type(iter({}.items())): "items",
    type(reversed({})): "reversed keys", type(reversed({}.values())): "reversed values",
    type(reversed({}.items())): "reversed items",
}


def reduce_dict_iterator(it):
    """An iterator over a dict (a ``for k in d`` on a frame's value stack, one kept in a
    suspended generator): remade over the very dict, past the entries it has handed out (the
    dict keeps its order), not as a list of what is left (``__reduce__``), which would not see
    what the program does to the dict after the restore. Its dict is its one referent besides a
    reused items tuple; none once it is exhausted."""
    kind = _DICT_ITERATOR_KINDS[type(it)]
    owners = [o for o in gc.get_referents(it) if isinstance(o, dict)]
    if not owners:
        return Recipe(Call(reconstructor(rebuild.dict_iterator), (None, kind, 0)))
    d = owners[0]
    try:
        it.__reduce__()  # (copies the iterator and runs it out: RuntimeError if the dict changed size)
    except RuntimeError as e:
        return Offender(f"an iterator over a dict that changed since it was made ({e})",
                        "finish or drop the loop before the snapshot point")
    consumed = dict.__len__(d) - it.__length_hint__()
    return Recipe(Call(reconstructor(rebuild.dict_iterator), (d, kind, consumed)), late=True)


def copy_of_iterator(it):
    """What ``it`` has left, read from a copy of it (``__reduce__``: the iterator itself stays)."""
    _func, (left,) = it.__reduce__()
    return left


_THREAD_HANDLE = getattr(__import__("_thread"), "_ThreadHandle", None)  # (3.13's; a C type)


def reduce_thread_handle(handle):
    """3.13 keeps a thread's state in a handle of C (``threading.Thread._handle``): one of a
    thread that finished, or never started, is made again as such (a Thread object left by a
    ``join()`` before the snapshot point); a running thread's is refused, as the thread is."""
    if handle.is_done():
        return Recipe(Call(reconstructor(rebuild.thread_handle), (True,)))
    if not handle.ident:
        return Recipe(Call(reconstructor(rebuild.thread_handle), (False,)))
    return Offender("the handle of a running thread", "join the thread before the snapshot point, or start "
                    "it after restore (in an amber.after_restore hook)")

