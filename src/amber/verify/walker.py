"""Describe a process's state as ``{path: fact}``: what a restore must reproduce.

Both sides run this: the live process at its snapshot point and the restored child. A *fact*
is a small tuple of atoms (marshal-able) saying what an object is without its address: a
class's module and qualified name, a str's value, a list's length, a function's code digest.
A *path* says how the object is reached from a root (``pkg.mod.Cls.__dict__['x'][2].attr``),
in the format of every message Amber prints.

What is walked, and how deep:

* **Modules captured by value** (``deep``): every entry of their real ``__dict__``, and
  everything reachable from it: containers, instances (type, real ``__dict__``, slots read
  through their member descriptors, the content of a built-in base), classes (type, metaclass,
  bases and *every* entry of their namespace, descriptors included), functions (code, defaults,
  closure cells, globals, attributes), and objects of C types through their own reduce
  protocol, or the digest of their buffer.
* **Modules imported again** (the others): only what a program changes in them: the names of
  their namespace and the kind of each value (atoms by value), and, for classes and functions
  they define, every entry of the class namespace and the function's attributes and defaults
  (``threading.Thread.x = 1`` shows). Their internals are theirs: a fresh import makes them.
* **Interpreter-level registrations**: ``sys`` hooks, ``sys.meta_path`` and ``path_hooks``,
  codec search functions and error handlers, signal handlers (not atexit: the interpreter
  counts the slots of unregistered callbacks too, and lists none),
  ``copyreg.dispatch_table``, and the registry of every ABC met.

**Identity and sharing.** The first path that reaches a mutable object names it; every later
path gets ``("same", first path)``, so sharing that a restore lost (or invented) shows.
Objects of modules imported again are named by where they live (``("ref", "sys.stderr")``).

**Values that differ on purpose** are described for what they mean: a set's elements in a
sorted order (their iteration order depends on hashes); an int that is the id of a walked
object as ``("id-of", its path)``. Memoised hashes are judged by :mod:`amber.verify.meaning`.

The walker reads objects the way the interpreter stores them and never through the program's
own overrides (``__getattr__``, ``__getattribute__``, a ``__dict__`` or ``__class__``
property): ``type(obj)``, the ``__dict__`` getter of ``type``/``object``/the module type, the
C methods of the built-in containers. It runs on the restore path's base set only (``sys``,
``gc``, ``_blake2``, ``_weakref``, ``_abc``, ``_signal``, ``_collections``, ``itertools``).
"""

import gc
import marshal
import sys
from _abc import _get_dump
from _blake2 import blake2b
from _collections import OrderedDict, defaultdict, deque
from _weakref import ref as weakref_type
from itertools import compress

TYPE_CHECKING = False  # restore path: typing is no module of the base set
if TYPE_CHECKING:
    from typing import Any

ModuleType: "Any" = type(sys)
FunctionType = type(lambda: None)
CodeType = type(FunctionType.__code__.__get__(lambda: None))  # type: ignore[attr-defined]
CellType = type((lambda x: lambda: x)(0).__closure__[0])  # type: ignore[index]
BuiltinType = type(len)
MappingProxyType = type(type.__dict__)
GetSetType = type(type.__dict__["__dict__"])
MemberType = type(type.__dict__["__weakrefoffset__"])
DictViews: tuple = (type({}.keys()), type({}.values()), type({}.items()))


class _Probe:
    def method(self) -> None:
        pass


MethodType = type(_Probe().method)
DescriptorTypes = (type(str.join), type(object.__init__), type(dict.__dict__["fromkeys"]), GetSetType,
                   MemberType)
MethodWrapperType = type(object().__str__)
HEAPTYPE = 1 << 9
IMMUTABLETYPE = 1 << 8  # set on the heap types of C extensions (3.10+), never on a Python class
ID_LIKE = 1 << 32  # ints from here on may be ids (addresses): see Walker.name_ids

_type_dict = type.__dict__["__dict__"].__get__
_type_module = type.__dict__["__module__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__
_type_bases = type.__dict__["__bases__"].__get__
_type_mro = type.__dict__["__mro__"].__get__
_type_flags = type.__dict__["__flags__"].__get__
_module_dict: "Any" = ModuleType.__dict__["__dict__"].__get__
_object_getstate = getattr(object, "__getstate__", None)

ATOMS = frozenset({int, bool, float, complex, str, bytes, type(None), type(...), type(NotImplemented),
                   range, slice})
# What the import system keeps on a module (how it was found, its search path, warnings' record of
# what it warned): in a module imported again, the fresh import's own. A module whose class caches
# what its __getattr__ returned (cryptography's deprecation wrapper) has __path__ in its dict
# only once a submodule was imported after it: no state of the program's.
_IMPORT_SYSTEM_KEYS = frozenset({"__spec__", "__loader__", "__path__", "__cached__", "__warningregistry__"})
LONG = 256  # str and bytes longer than this are described by length and digest
LONG_PATH = 240  # a path longer than this is continued from an anchor "<#n>" (deep linked lists)


def type_name(cls: type) -> str:
    """``module.qualname`` of a class, read from the type itself (never a ``__module__``
    property of the program's)."""
    module = _type_module(cls)
    qualname = _type_qualname(cls)
    if type(module) is not str:
        module = f"<{type(module).__name__}>"
    return f"{module}.{qualname}" if module != "builtins" else qualname


def is_heap_type(cls: type) -> bool:
    return bool(_type_flags(cls) & HEAPTYPE)


def is_python_class(cls: type) -> bool:
    """Made by a class statement (or ``type()``), not by a C extension: decided by the type's
    flags, never by what its namespace holds."""
    return _type_flags(cls) & (HEAPTYPE | IMMUTABLETYPE) == HEAPTYPE


def atom_fact(obj: object) -> tuple:
    kind = type(obj)
    if kind is str:
        text: Any = obj
        if len(text) <= LONG:
            return ("str", text)
        return ("str", len(text), blake2b(text.encode("utf-8", "surrogatepass")).hexdigest())
    if kind is bytes:
        data: Any = obj
        if len(data) <= LONG:
            return ("bytes", data)
        return ("bytes", len(data), blake2b(data).hexdigest())
    if kind is int or kind is bool:
        return (kind.__name__, obj)
    return (kind.__name__, repr(obj))  # float (nan, -0.0), complex, None, Ellipsis, range, slice


class Description:
    """What a walk found: ``facts`` (path -> fact, in the order the walk met them); on the live
    side, ``objects`` (path -> the object there) for judging a difference's meaning."""

    def __init__(self, facts: dict, objects: "dict | None", deep: set, anchors: "dict | None" = None,
                 protocol: "list | None" = None) -> None:
        self.anchors = anchors or {}  # "<#n>" -> the long path it continues
        self.protocol = protocol or []  # instances whose class has a reduce protocol of its own
        self.renewed: list = []  # paths of what a restore makes again on purpose (amber.transient)
        self.as_imported: set = set()  # values of modules imported again that their import left
        self.own_setstate: list = []  # instances whose class sets its own state when unpickled
        # (path, modules): instances whose own reduce protocol imported modules when the walk
        # asked it (the program's code ran, and changed the state being described)
        self.imports_run: list = []
        self.getstate_asked: list = []  # live side: see Walker._asks_protocol
        self.again: Any = None  # live side: walks the state once more, as it is then
        self.facts = facts
        self.objects = objects
        self.deep = deep  # the modules described in depth: those captured by value


class Walker:
    """One walk of one process's state (see the module's docstring)."""

    def __init__(self, modules: list, deep: set, keep_objects: bool = False, real_of=None,
                 unchanged=None, hidden: "list | None" = None, asked: "set | None" = None) -> None:
        self.modules = modules
        self.asked = asked  # restored side: the paths whose __getstate__ the live side asked
        self.getstate_asked: list = []  # live side: those paths
        self.hidden = hidden or []  # Amber's own modules: their objects named, never walked
        self.names = {name for name, _ in modules}
        self.real_of = real_of  # obj -> what it stands for, or None (Amber's recorders' stand-ins)
        # (module, name) -> whether that value is still the one the module's import left (live side)
        self.unchanged = unchanged
        self.as_imported: list = []  # paths of such values, in modules imported again
        self.deep = deep  # names of the modules captured by value
        self.facts: dict = {}
        self.objects: dict | None = {} if keep_objects else None
        self.first: dict = {}  # id -> the first path that reached the object
        self.alive: list = []  # every object walked, so that no id is reused during the walk
        self.refs: dict = {}  # id -> "module.name" of what modules imported again hold
        self.module_dicts: dict = {}  # id(module.__dict__) -> module name
        self.abcs: list = []  # (path, ABC class) met
        self.protocol: list = []  # paths of instances whose class has a reduce protocol of its own
        self.own_setstate: list = []  # paths of instances whose class has a __setstate__ of its own
        self.imports_run: list = []  # see Description.imports_run
        self.anchors = 0
        self.anchor_paths: dict = {}  # "<#n>" -> the path it stands for
        self.stack: list = []

    # -- the walk -----------------------------------------------------------------------------

    def run(self) -> Description:
        # Found before the walk keeps lists of its own that hold the same functions.
        registries = (_codec_search_path(), _codec_error_registry())
        for name, mod in [*self.modules, *self.hidden]:
            if not issubclass(type(mod), ModuleType):
                continue
            namespace = _module_dict(mod)
            self.module_dicts[id(namespace)] = name
            if name not in self.deep or (name, mod) in self.hidden:
                for key, value in list(namespace.items()):
                    if type(value) not in ATOMS and type(value) is not ModuleType:
                        self.refs.setdefault(id(value), f"{name}.{key}")
        for name, mod in self.modules:
            self.root(name, mod)
        self.interpreter(*registries)
        self.abc_registries()
        self.name_ids()
        found = Description(self.facts, self.objects, self.deep, self.anchor_paths, self.protocol)
        found.as_imported = set(self.as_imported)
        found.own_setstate = self.own_setstate
        found.imports_run = self.imports_run
        found.getstate_asked = self.getstate_asked
        return found

    def root(self, name: str, mod: "Any") -> None:
        # sys.modules may hold any object (typing.io on 3.11), one that claims to be a module
        # through __class__ too (a cffi library: isinstance says module, it has no module dict)
        if not issubclass(type(mod), ModuleType):
            if name in self.deep:
                self.walk(name, mod)
            else:
                self.shallow(name, mod, name)
            return
        namespace = _module_dict(mod)
        self.facts[name] = ("module", type_name(type(mod)), str(namespace.get("__name__")))
        self.first[id(mod)] = name
        self.alive.append(mod)
        deep = name in self.deep
        for key, value in list(namespace.items()):
            if name == "builtins" and type(key) is str and key.startswith("__amber"):
                continue  # what Amber's restore path puts there (lazy code's __amber_code__)
            if not deep and key in _IMPORT_SYSTEM_KEYS:
                continue
            sub = f"{name}.{key}"
            if type(value) is ModuleType and sub in sys.modules and sub not in self.names:
                # A submodule imported after the snapshot point (by Amber's own capture): no state
                # of the program's.
                continue
            path = f"{name}.{key}"
            if type(key) is not str or not key.isidentifier() or path in self.names:
                # (a submodule as an attribute of its package: the submodule is a root by that name)
                path = f"{name}.__dict__[{key!r}]"
            if deep:
                self.walk(path, value)
            else:
                self.shallow(path, value, name, key)
                if self.unchanged is not None and type(key) is str and self.unchanged(name, key):
                    self.as_imported.append(path)

    def walk(self, path: str, obj: object) -> None:
        """Describe ``obj`` at ``path`` and everything it reaches (depth first, no recursion)."""
        stack = self.stack
        stack.append((path, obj))
        while stack:
            path, obj = stack.pop()
            try:
                children = self.node(path, obj)
            except Exception as e:  # noqa: BLE001 - an object that cannot be read is described so
                self.facts[path] = ("unreadable", type_name(type(obj)), type(e).__name__)
                children = None
            if children:
                if len(path) > LONG_PATH:  # a deep chain: named anew, so that paths stay short
                    self.anchors += 1
                    anchor = f"<#{self.anchors}>"
                    self.anchor_paths[anchor] = path
                    path = anchor
                for suffix, child in reversed(children):
                    stack.append((path + suffix, child))

    def node(self, path: str, obj: object) -> "list | None":
        if self.real_of is not None:
            real = self.real_of(obj)
            if real is not None:
                obj = real
        kind = type(obj)
        if kind in ATOMS:
            self.facts[path] = atom_fact(obj)
            return None
        oid = id(obj)
        immutable = kind is tuple or kind is frozenset or kind is CodeType
        # Immutable containers are described by what they hold, never as what a module imported
        # again holds: the capture writes them by value (equal ones are interchangeable), so a
        # restore has an equal one, not that module's very object.
        ref = self.refs.get(oid) if not immutable else None
        if ref is not None:
            self.facts[path] = ("ref", ref)
            return None
        if not immutable:
            seen = self.first.get(oid)
            if seen is not None:
                self.facts[path] = ("same", seen)
                return None
            self.first[oid] = path
        self.alive.append(obj)
        if self.objects is not None:
            self.objects[path] = obj
        describe = _DISPATCH.get(kind)
        if describe is not None:
            fact, children = describe(self, obj)
        elif issubclass(kind, ModuleType):  # a module of a ModuleType subclass: still a module
            fact, children = _module(self, obj)
        elif issubclass(kind, type):
            fact, children = self.describe_class(obj)
        elif is_python_class(kind):
            fact, children = self.describe_instance(obj, kind)
        else:
            fact, children = self.describe_c_object(obj, kind)
        self.facts[path] = fact
        return children

    def shallow(self, path: str, obj: object, module: str, member: object = None) -> None:
        """A value of a module imported again: its kind; for classes and functions the module
        defines (``member``: the name the module has it under), what a program may have set on
        them."""
        if self.real_of is not None:  # a recorder's stand-in kept there (a default sys.stderr)
            real = self.real_of(obj)
            if real is not None:
                obj = real
        kind = type(obj)
        if kind in ATOMS:
            self.facts[path] = atom_fact(obj)
        elif kind is ModuleType:
            self.facts[path] = ("module", str(_module_dict(obj).get("__name__")))
        elif isinstance(obj, type):
            self.facts[path] = ("class", type_name(obj))
            if is_python_class(obj) and _type_module(obj) == module and id(obj) not in self.first:
                self.first[id(obj)] = path
                self.alive.append(obj)
                for key, value in list(_type_dict(obj).items()):
                    if key not in _CLASS_CACHES:
                        self.shallow(f"{path}.__dict__[{key!r}]", value, "")
                        self.note_as_imported(f"{path}.__dict__[{key!r}]", module, member, key)
        elif kind is FunctionType:
            fn: Any = obj
            self.facts[path] = ("function", str(fn.__module__), fn.__qualname__, _code_digest(fn.__code__))
            if fn.__module__ == module and id(obj) not in self.first:
                self.first[id(obj)] = path
                self.alive.append(obj)
                for key, value in list(fn.__dict__.items()):
                    self.shallow(f"{path}.{key}", value, "")
                    self.note_as_imported(f"{path}.{key}", module, member, key)
                for i, value in enumerate(fn.__defaults__ or ()):
                    self.shallow(f"{path}.__defaults__[{i}]", value, "")
                for key, value in (fn.__kwdefaults__ or {}).items():
                    self.shallow(f"{path}.__kwdefaults__[{key!r}]", value, "")
        elif kind is BuiltinType:
            self.facts[path] = _builtin_fact(obj)
        else:
            self.facts[path] = ("object", type_name(kind))

    def note_as_imported(self, path: str, module: str, member: object, attr: object) -> None:
        """``path`` holds what the module's import left on its class or function ``member``."""
        if self.unchanged is not None and type(member) is str and type(attr) is str and \
                self.unchanged(module, f"{member}.{attr}"):
            self.as_imported.append(path)

    def path_of(self, obj: object) -> str:
        return self.first[id(obj)]

    # -- kinds of object ----------------------------------------------------------------------

    def describe_class(self, cls: "Any") -> tuple:
        meta = type(cls)
        if not is_python_class(cls):
            return ("c-type", type_name(cls)), None
        namespace = _type_dict(cls)
        if "_abc_impl" in namespace:
            self.abcs.append((self.first[id(cls)], cls))
        children: list = [(".__bases__", _type_bases(cls))]
        # In sorted order, as the fact lists them: a restore may fill a namespace in another
        # order, and the walk must meet shared objects first by the same path on both sides.
        for key, value in sorted(namespace.items(), key=_by_key):
            if key not in _CLASS_CACHES:
                children.append((f".__dict__[{key!r}]", value))
        # Sorted: the order of a class namespace is no behaviour a program relies on.
        keys = tuple(sorted(str(k) for k in namespace if k not in _CLASS_CACHES))
        return ("class", type_name(cls), type_name(meta), keys), children

    def describe_instance(self, obj: "Any", kind: type) -> tuple:
        children: list = []
        if _is_set_like(kind):
            # A set of the program's (WeakSet, a MutableSet): its elements as a set's, in an
            # order that does not depend on hashes or ids, not as its reduce lists them.
            elements, members = _set(list(obj))
            return ("set-like", type_name(kind), *elements), members
        if _own_setstate(kind) and _type_module(kind) not in self.deep:
            # A class of a module imported again decides what an unpickled instance holds; a
            # restore through its hooks gives what pickle would (see amber.verify.meaning).
            self.own_setstate.append(self.path_of(obj))
        if self._asks_protocol(obj, kind):
            # Also what the class says its state is (pickle's view): where the fields differ but
            # this does not, the class left them out on purpose (see amber.verify.meaning).
            count = len(sys.modules)
            reduced = _reduce(obj, kind)  # (the instance's __dict__ put back as it was)
            if reduced is not None and len(sys.modules) > count:  # new modules come last
                # (A protocol that failed is not what the capture uses: what it imported on the
                # way is no state of the image's.)
                self.imports_run.append((self.path_of(obj), list(sys.modules)[count:]))
            if reduced is not None:
                self.alive.append(reduced)
                self.protocol.append(self.path_of(obj))
                children.append((".__reduce__", reduced))
        base = _builtin_base(kind)
        if base is not None:
            content = _CONTENT[base](self, obj)
            children.extend(content[1])
            head: tuple = ("object", type_name(kind), *content[0])
        else:
            head = ("object", type_name(kind))
        state = instance_dict(obj, kind)
        if state:
            children.extend((f".{key}" if type(key) is str else f".__dict__[{key!r}]", value)
                            for key, value in sorted(state.items(), key=_by_key))
            # Sorted: a restore sets some attributes after the others (values that need the whole
            # heap), so the order of an instance's __dict__ is not compared (README: not verified).
            head = (*head, tuple(sorted(k if type(k) is str else repr(k) for k in state)))
        children.extend(_slot_values(obj, kind))
        if base is None and _c_base(kind) is not object:
            reduced = _reduce(obj, kind)
            if reduced is not None:
                self.alive.append(reduced)
                children.append((".__reduce__", reduced))
        return head, children

    def _asks_protocol(self, obj: "Any", kind: type) -> bool:
        """Whether the walk asks the instance's own reduce protocol. A ``__getstate__`` alone is
        asked only where the instance holds an open file or socket (what such a hook leaves
        out; the capture copies the others field by field, and asking would run the program's
        code: a Django QuerySet's runs its query, opening a database connection on the way).
        The live side decides and lists the paths (``getstate_asked``); the restored side asks
        the same ones, so that both walks meet every object by the same path."""
        protocol = _own_protocol(kind)
        if protocol != "getstate":
            return bool(protocol)
        path = self.path_of(obj)
        if self.asked is not None:
            return path in self.asked
        if _holds_open_resource(obj, kind):
            self.getstate_asked.append(path)
            return True
        return False

    def describe_c_object(self, obj: "Any", kind: type) -> tuple:
        try:
            view = memoryview(obj)
        except TypeError:
            view = None
        if view is not None:
            data = view if view.c_contiguous else view.tobytes()
            return ("buffer", type_name(kind), view.nbytes, view.format, view.shape,
                    blake2b(data).hexdigest()), None
        reduced = _reduce(obj, kind)
        if reduced is None:
            return ("opaque", type_name(kind)), None
        self.alive.append(reduced)
        if type(reduced) is str:
            return ("global", type_name(kind), reduced), None
        return ("reduced", type_name(kind)), [(".__reduce__", reduced)]

    # -- what is not in a module ------------------------------------------------------------

    def interpreter(self, codec_search: list, codec_errors: dict) -> None:
        import _signal
        import copyreg

        roots: list = [(f"<sys>.{name}", getattr(sys, name, None))
                       for name in ("displayhook", "excepthook", "breakpointhook", "unraisablehook")]
        roots += [("<sys>.gettrace()", sys.gettrace()), ("<sys>.getprofile()", sys.getprofile()),
                  ("<sys>.meta_path", sys.meta_path), ("<sys>.path_hooks", sys.path_hooks),
                  ("<copyreg>.dispatch_table", copyreg.dispatch_table),
                  ("<codecs>.search_functions", codec_search), ("<codecs>.error_handlers", codec_errors)]
        for path, value in roots:
            self.walk(path, value)
        for signum in range(1, _signal.NSIG):
            try:
                handler = _signal.getsignal(signum)
            except (OSError, ValueError):
                continue
            if handler is not None:
                self.walk(f"<signal>.handler[{signum}]", handler)

    def abc_registries(self) -> None:
        for path, cls in self.abcs:
            try:
                registry = _get_dump(cls)[0]
            except Exception:  # noqa: BLE001 - an ABC the program broke: its registry is not compared
                continue
            names = sorted(type_name(c) for c in (r() for r in registry) if c is not None)
            self.facts[f"{path}.<registered>"] = ("registered", tuple(names))

    def name_ids(self) -> None:
        """An int that is the id of an object walked stands for that object: ``("id-of", path)``,
        as a value, a dict key or a set element (then sorted by those paths)."""
        first, refs = self.first, self.refs

        def named(k: tuple) -> tuple:
            if k[0] != "int" or k[1] < ID_LIKE:
                return k
            where = first.get(k[1]) or refs.get(k[1])
            return k if where is None else ("id-of", where)

        for path, fact in self.facts.items():
            kind = fact[0]
            if kind == "int":
                self.facts[path] = named(fact)
            elif kind == "dict" and fact[2]:
                self.facts[path] = (kind, fact[1], tuple(named(k) for k in fact[2]))
            elif kind in ("set", "frozenset") and len(fact[-1]) > 1:
                ids = sorted(repr(named(("int", v))) for v in fact[-1][1:])
                self.facts[path] = (*fact[:-1], ("ids?", *ids))


def _by_key(item: tuple) -> str:
    key = item[0]
    return key if type(key) is str else repr(key)


_CLASS_CACHES = frozenset({"__slotnames__"})  # copyreg's cache of slot names: written by reading it


def describe(modules: list, deep: set, keep_objects: bool = False, real_of=None,
             unchanged=None, hidden: "list | None" = None, asked: "set | None" = None) -> Description:
    """The state of ``modules`` (``[(name, module)]``) and of the interpreter; ``deep``: the names
    of the modules captured by value; ``real_of``: see :class:`Walker`."""
    enabled = gc.isenabled()
    gc.disable()  # the walk allocates and keeps: a collection would only walk it
    try:
        return Walker(modules, deep, keep_objects, real_of, unchanged, hidden, asked).run()
    finally:
        _NAMESPACES.clear()
        if enabled:
            gc.enable()


# -- reading objects as the interpreter stores them -----------------------------------------

def instance_dict(obj: object, kind: type) -> "dict | None":
    """The instance's own ``__dict__`` (never a ``__dict__`` property the class defines)."""
    for cls in _type_mro(kind):
        getter = _type_dict(cls).get("__dict__")
        if type(getter) is GetSetType:
            try:
                value = getter.__get__(obj, kind)
            except (AttributeError, TypeError):
                return None
            return value if type(value) is dict else None
    if _object_getstate is None:
        return None
    try:
        state = _leaving_class_as_it_was(kind, lambda: _object_getstate(obj))
    except Exception:  # noqa: BLE001 - no instance dict to be read
        return None
    if type(state) is tuple:
        state = state[0]
    return state if type(state) is dict else None


def _leaving_class_as_it_was(kind: type, read: "Any") -> "Any":
    """``read()``, with the class left as the program left it: the first time one of its
    instances is reduced, copyreg caches the class's slot names on it (``__slotnames__``), an
    entry a cold process never has. The snapshotting process is described before it is captured."""
    had = "__slotnames__" in _type_dict(kind)
    try:
        return read()
    finally:
        if not had and "__slotnames__" in _type_dict(kind):
            try:
                type.__delattr__(kind, "__slotnames__")
            except (AttributeError, TypeError):
                pass  # a type that refuses: copyreg could not have cached it either


def _leaving_instance_as_it_was(obj: object, kind: type, read: "Any") -> "Any":
    """``read()`` (the instance's own reduce protocol), with the instance's ``__dict__`` put back
    as it was: a protocol that reads a lazy attribute fills it (a ``functools.cached_property``:
    ``platform.uname_result.processor``), which a cold process does not have at this point."""
    state = instance_dict(obj, kind)
    before = dict(state) if state is not None else None
    try:
        return _leaving_class_as_it_was(kind, read)
    finally:
        if state is not None and before is not None and (
                len(state) != len(before) or any(state.get(k, before) is not v for k, v in before.items())):
            state.clear()
            state.update(before)


def _slot_values(obj: object, kind: type) -> list:
    """``(".name", value)`` for every slot set, read through its member descriptor."""
    out = []
    for cls in _type_mro(kind):
        if not is_python_class(cls):
            continue
        for name, member in list(_type_dict(cls).items()):
            if type(member) is MemberType and member.__objclass__ is cls and not name.startswith("__"):
                try:
                    out.append((f".<slot {name}>", member.__get__(obj, kind)))
                except AttributeError:
                    pass  # not set
    return out


_OBJECT_PROTOCOL = {name: object.__dict__.get(name)
                    for name in ("__reduce_ex__", "__reduce__", "__getstate__")}


def _own_protocol(kind: type) -> "bool | str":
    """Whether a class defines how its instances are pickled, in Python (those of C bases are the
    bases' state, read directly): True for a ``__reduce_ex__`` or ``__reduce__`` of its own,
    ``"getstate"`` for a ``__getstate__`` alone (see :meth:`Walker._asks_protocol`)."""
    getstate = False
    for cls in _type_mro(kind):
        if not is_python_class(cls):
            break
        namespace = _type_dict(cls)
        for name, inherited in _OBJECT_PROTOCOL.items():
            value = namespace.get(name)
            if value is not None and value is not inherited and type(value) is FunctionType:
                if name != "__getstate__":
                    return True
                getstate = True
    return "getstate" if getstate else False


def _holds_open_resource(obj: object, kind: type) -> bool:
    import _io

    socket_module = sys.modules.get("_socket")  # (not imported: then there is no socket)
    sockets = (socket_module.socket,) if socket_module is not None else ()
    for value in (instance_dict(obj, kind) or {}).values():
        cls = type(value)
        try:
            if sockets and issubclass(cls, sockets) and value.fileno() != -1:
                return True
            if issubclass(cls, _io._IOBase) and not _io._IOBase.closed.__get__(value):
                return True
        except (OSError, ValueError, AttributeError, TypeError):
            continue
    return False


def _is_set_like(kind: type) -> bool:
    """A collection without order of its own: it can be iterated, sized and asked for membership,
    but not indexed (WeakSet, a MutableSet). Decided by what the class defines, not by ABC
    registrations (which differ between processes)."""
    def defines(name: str) -> bool:
        return any(name in _type_dict(cls) for cls in _type_mro(kind) if cls is not object)
    return defines("__iter__") and defines("__contains__") and defines("__len__") and \
        not defines("__getitem__") and not issubclass(kind, (set, frozenset))


def _own_setstate(kind: type) -> bool:
    """Whether a class (of a module imported again, or any) defines ``__setstate__`` in Python."""
    for cls in _type_mro(kind):
        if not is_python_class(cls):
            return False
        if type(_type_dict(cls).get("__setstate__")) is FunctionType:
            return True
    return False


def _c_base(kind: type) -> type:
    for cls in _type_mro(kind):
        if not is_python_class(cls):
            return cls
    return object


def _reduce(obj: object, kind: type) -> object:
    """The object's own reduce protocol (``__reduce_ex__(4)``), or None if it has none."""
    try:
        reducer: Any = kind.__reduce_ex__
        reduced = _leaving_instance_as_it_was(obj, kind, lambda: reducer(obj, 4))
    except Exception:  # noqa: BLE001 - no protocol: the object is described by its type alone
        return None
    # An empty state is no state (unpickling sets nothing): an exception whose __dict__ was
    # only looked at reduces to (cls, args, {}), the same one restored to (cls, args).
    if type(reduced) is tuple and len(reduced) >= 3 and type(reduced[2]) is tuple:
        # An instance __dict__ that is empty is none: CPython makes one on first access (of
        # anyone's: a partial's reduce says {} or None for the same object).
        state = tuple(None if type(v) is dict and not v else v for v in reduced[2])
        reduced = (*reduced[:2], state, *reduced[3:])
    if type(reduced) is tuple and len(reduced) == 3 and (reduced[2] is None or reduced[2] == {}):
        reduced = reduced[:2]
    elif type(reduced) is tuple and len(reduced) >= 3 and type(reduced[2]) is dict:
        # A state made from the instance's __dict__, in its order: not compared (see
        # describe_instance), so sorted here too.
        reduced = (*reduced[:2], dict(sorted(reduced[2].items(), key=_by_key)), *reduced[3:])
    return reduced


def _code_digest(code: "Any") -> str:
    return blake2b(code.co_code, digest_size=8).hexdigest()


def _builtin_fact(fn: "Any") -> tuple:
    owner = fn.__self__
    if type(owner) is ModuleType:
        return ("builtin", str(_module_dict(owner).get("__name__")), fn.__name__)
    return ("builtin-method", fn.__qualname__)


def _codec_search_path() -> list:
    """The interpreter's list of codec search functions, found as the list that holds the
    standard one (the interpreter offers no way to read it)."""
    encodings = sys.modules.get("encodings")
    search = getattr(encodings, "search_function", None)
    for holder in gc.get_referrers(search) if search is not None else ():
        if type(holder) is list:
            return holder
    return []


def _codec_error_registry() -> dict:
    """The interpreter's codec error handlers, found as the dict that maps "strict" to the
    standard handler (the interpreter offers no way to list them)."""
    import _codecs

    strict = _codecs.lookup_error("strict")
    for holder in gc.get_referrers(strict):
        if type(holder) is dict and holder.get("strict") is strict and "replace" in holder:
            return holder
    return {}


# -- kinds of object, by exact type -------------------------------------------------------

def _sequence(items: list) -> list:
    return [(f"[{i}]", item) for i, item in enumerate(items)]


def _mapping(walker: Walker, items: list) -> tuple:
    keys: list = []
    children: list = []
    for i, (key, value) in enumerate(items):
        if type(key) is int and key >= ID_LIKE:  # perhaps an id: named by position, see name_ids
            keys.append(atom_fact(key))
            children.append((f"[#{i}]", value))
        elif type(key) in ATOMS:
            keys.append(atom_fact(key))
            children.append((f"[{key!r}]", value))
        else:
            keys.append(("#", i))
            children.append((f"<key {i}>", key))
            children.append((f"[#{i}]", value))
    return tuple(keys), children


def stable_key(obj: object) -> "str | None":
    """A key that orders equal values alike in every process (not a hash): for atoms and for
    tuples and frozensets of them; None for anything else."""
    kind = type(obj)
    if kind in ATOMS:
        return repr(atom_fact(obj))
    if kind is tuple or kind is frozenset:
        keys = [stable_key(x) for x in obj]  # type: ignore[attr-defined]
        if None in keys:
            return None
        known: Any = keys
        return ("(" if kind is tuple else "{") + ",".join(known if kind is tuple else sorted(known)) + ")"
    return None


def _set(items: list) -> tuple:
    """Sets in an order that does not depend on hashes: values with a stable key sorted by it;
    other elements by type, walked only where their type tells them apart."""
    atoms = []
    others: dict = {}
    big = []  # ints that may be ids: see Walker.name_ids
    for x in items:
        if type(x) is int and x >= ID_LIKE:
            big.append(x)
            continue
        key = stable_key(x)
        if key is not None:
            atoms.append(key)
        else:
            others.setdefault(type_name(type(x)), []).append(x)
    atoms.sort()
    children = [(f"{{{name}}}", group[0]) for name, group in sorted(others.items()) if len(group) == 1]
    counts = tuple(sorted((name, len(group)) for name, group in others.items()))
    return (tuple(atoms), counts, ("ids?", *big)), children


# Plain values that marshal writes by value alone (format 0: no references, no interning flags,
# so equal values give equal bytes in every process).
_PLAIN_VALUES = frozenset({int, bool, float, complex, str, bytes, type(None)})
BULK = 16  # a list, tuple or dict of at least this many plain values is one fact (a digest)


_is_int = frozenset({int}).__contains__


def _plain_digest(values) -> "str | None":
    """The digest of a list or tuple of plain values (no int that may be an id), else None.
    Judged in C (the kinds, then the range of the ints): such lists hold millions of values."""
    kinds = list(map(type, values))
    if not _PLAIN_VALUES.issuperset(kinds):
        return None
    if int in kinds:
        ints = list(compress(values, map(_is_int, kinds)))
        if max(ints) >= ID_LIKE or min(ints) <= -ID_LIKE:
            return None
    try:
        return blake2b(marshal.dumps(values, 0)).hexdigest()
    except ValueError:
        return None


def _interleaved(d: dict) -> list:
    """Key, value, key, value... of a dict, without a tuple per item (slices, in C)."""
    keys, values = list(dict.keys(d)), list(dict.values(d))
    flat: list = [None] * (2 * len(keys))
    flat[0::2] = keys
    flat[1::2] = values
    return flat


def _dict(walker: Walker, d: "Any") -> tuple:
    name = walker.module_dicts.get(id(d))
    if name is not None:
        return ("module-dict", name), None
    if dict.__len__(d) >= BULK:
        flat = _interleaved(d)
        digest = _plain_digest(flat)
        if digest is not None:  # keys and values, in order, at once
            return ("dict", len(flat) // 2, (), digest), None
    keys, children = _mapping(walker, list(dict.items(d)))
    return ("dict", len(keys), keys), children


def _content_dict(walker: Walker, d: "Any") -> tuple:
    keys, children = _mapping(walker, list(dict.items(d)))
    return (len(keys), keys), children


def _content_ordered(walker: Walker, d: "Any") -> tuple:
    keys, children = _mapping(walker, list(OrderedDict.items(d)))
    return ("ordered", len(keys), keys), children


def _content_defaultdict(walker: Walker, d: "Any") -> tuple:
    keys, children = _mapping(walker, list(dict.items(d)))
    return ("defaultdict", len(keys), keys), [(".default_factory", d.default_factory), *children]


def _content_list(walker: Walker, items: "Any") -> tuple:
    copy = list.copy(items)
    if len(copy) >= BULK:
        digest = _plain_digest(copy)
        if digest is not None:
            return (len(copy), digest), None
    return (len(copy),), _sequence(copy)


def _content_tuple(walker: Walker, items: "Any") -> tuple:
    copy = tuple.__getitem__(items, slice(None))
    if len(copy) >= BULK:
        digest = _plain_digest(copy)
        if digest is not None:
            return (len(copy), digest), None
    return (len(copy),), _sequence(list(copy))


def _content_deque(walker: Walker, items: "Any") -> tuple:
    copy = list(deque.__iter__(items))
    return (len(copy), items.maxlen), _sequence(copy)


def _content_set(walker: Walker, items: "Any") -> tuple:
    return _set(list(set.__iter__(items)) if isinstance(items, set) else list(frozenset.__iter__(items)))


def _content_bytearray(walker: Walker, data: "Any") -> tuple:
    return (blake2b(data).hexdigest(), len(data)), []


# The value of an instance of a subclass of a built-in scalar, as an exact built-in (through the
# built-in's own slot: never a conversion method the subclass overrides).
_PLAIN: dict = {int: int.__index__, float: float.__float__, str: str.__str__, bytes: bytes.__bytes__,
          complex: complex.__complex__}


def _content_scalar(walker: Walker, value: "Any") -> tuple:
    base = _builtin_base(type(value))
    assert base is not None
    return (atom_fact(_PLAIN[base](value)),), []


def _content_exception(walker: Walker, exc: "Any") -> tuple:
    return (), [(".args", BaseException.__dict__["args"].__get__(exc))]


def _content_weakref(walker: Walker, r: "Any") -> tuple:
    target = weakref_type.__call__(r)
    return (("dead",) if target is None else ("alive",)), ([] if target is None else [("()", target)])


def _content_property(walker: Walker, p: "Any") -> tuple:
    get = property.__dict__
    # __doc__ as the program reads it (a property may keep it in its own __dict__ or take it
    # from fget when asked).
    doc = p.__doc__ if type(p) is property else instance_dict(p, type(p)) or {}
    return (), [(".fget", get["fget"].__get__(p)), (".fset", get["fset"].__get__(p)),
                (".fdel", get["fdel"].__get__(p)), (".__doc__", doc)]


_CONTENT: dict = {
    OrderedDict: _content_ordered, defaultdict: _content_defaultdict, dict: _content_dict,
    list: _content_list, tuple: _content_tuple, deque: _content_deque, set: _content_set,
    frozenset: _content_set, bytearray: _content_bytearray, int: _content_scalar, float: _content_scalar,
    str: _content_scalar, bytes: _content_scalar, complex: _content_scalar,
    BaseException: _content_exception, weakref_type: _content_weakref, property: _content_property,
}


def _builtin_base(kind: type) -> "type | None":
    """The built-in class whose content an instance of ``kind`` (a subclass) carries."""
    for cls in _type_mro(kind):
        if cls in _CONTENT:
            return cls
    return None


def _exact(content):
    """The describer of an exact built-in type from its content describer."""
    def describe(walker: Walker, obj: object) -> tuple:
        head, children = content(walker, obj)
        return (type(obj).__name__, *head), children
    return describe


def _function(walker: Walker, fn: "Any") -> tuple:
    children: list = [(".__code__", fn.__code__), (".__globals__", fn.__globals__)]
    if fn.__defaults__:
        children.append((".__defaults__", fn.__defaults__))
    if fn.__kwdefaults__:
        children.append((".__kwdefaults__", fn.__kwdefaults__))
    for i, cell in enumerate(fn.__closure__ or ()):
        children.append((f".__closure__[{i}]", cell))
    attrs = fn.__dict__
    children.extend((f".{key}", value) for key, value in list(attrs.items()))
    # The names, not their order: as for an instance's __dict__, a restore sets some attributes
    # after the others (an ABC's _abc_impl that update_wrapper copied from a class: pyparsing).
    names = tuple(sorted(attrs, key=str))
    return ("function", str(fn.__module__), fn.__qualname__, fn.__name__, names), children


def _code(walker: Walker, code: "Any") -> tuple:
    fact = ("code", getattr(code, "co_qualname", code.co_name), code.co_filename, code.co_firstlineno,
            code.co_flags, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
            _code_digest(code), code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    children = [(f".co_consts[{i}]", c) for i, c in enumerate(code.co_consts) if type(c) not in ATOMS]
    return fact, children


def _cell(walker: Walker, cell: "Any") -> tuple:
    try:
        return ("cell",), [(".cell_contents", cell.cell_contents)]
    except ValueError:
        return ("cell", "empty"), None


def _method(walker: Walker, m: "Any") -> tuple:
    return ("method",), [(".__func__", m.__func__), (".__self__", m.__self__)]


def _builtin(walker: Walker, fn: "Any") -> tuple:
    fact = _builtin_fact(fn)
    return fact, (None if fact[0] == "builtin" else [(".__self__", fn.__self__)])


def _descriptor(walker: Walker, d: "Any") -> tuple:
    return ("descriptor", type(d).__name__, type_name(d.__objclass__), d.__name__), None


def _method_wrapper(walker: Walker, m: "Any") -> tuple:
    return ("method-wrapper", m.__name__), [(".__self__", m.__self__)]


def _wrapper(walker: Walker, w: "Any") -> tuple:  # staticmethod, classmethod
    attrs = w.__dict__
    return (type(w).__name__, tuple(attrs)), [(".__func__", w.__func__),
                                              *((f".{k}", v) for k, v in list(attrs.items()))]


_NAMESPACES: dict = {}  # id(dict) -> whether it is a class namespace, for the walk running now


def _is_class_namespace(d: object) -> bool:
    """Whether ``d`` is the dict a class keeps its namespace in (whose order a restore does not
    keep, see Walker.describe_class). A search of the heap, once per dict and walk."""
    known = _NAMESPACES.get(id(d))
    if known is None:
        holders = gc.get_referrers(d)
        known = _NAMESPACES[id(d)] = any(
            isinstance(holder, type) and d in gc.get_referents(_type_dict(holder)) for holder in holders)
    return known


def _mappingproxy(walker: Walker, proxy: "Any") -> tuple:
    items = list(proxy.items())
    target = gc.get_referents(proxy)
    if target and _is_class_namespace(target[0]):
        items.sort(key=_by_key)
    keys, children = _mapping(walker, items)
    return ("mappingproxy", len(keys), keys), children


def _dict_view(walker: Walker, view: "Any") -> tuple:
    owners = [o for o in gc.get_referents(view) if isinstance(o, dict)]
    owner = owners[0] if owners else None
    if owner is not None and _is_class_namespace(owner):  # a class's namespace: as the class has it
        return (type(view).__name__, "of a class namespace"), [(".<mapping>", MappingProxyType(owner))]
    return (type(view).__name__,), [(".<mapping>", owner)]


RESUMED_ON_STACK: set = set()  # restored side: the ids of the generators the image's stack resumes


def _generator(walker: Walker, gen: "Any") -> tuple:
    """A generator, coroutine or async generator: where its frame stands and what the frame holds
    (its locals, cells and value stack, read as the capture reads them: :mod:`amber.frames`),
    so that a frame object restored otherwise than it was (an iterator made a copy) is found.
    One running on the snapshot's stack (live) is the one the restored stack resumes: its frame
    is the stack's record, written when the stack goes on, after this description."""
    prefix = {"generator": "gi", "coroutine": "cr", "async_generator": "ag"}[type(gen).__name__]
    if getattr(gen, f"{prefix}_running") or id(gen) in RESUMED_ON_STACK:
        return (type(gen).__name__, gen.__qualname__, "on the running stack"), None
    frame = getattr(gen, f"{prefix}_frame")
    code = getattr(gen, f"{prefix}_code")
    fact = (type(gen).__name__, gen.__qualname__, None if frame is None else frame.f_lasti)
    if frame is None:
        return fact, None
    from amber import frames

    fn = frames.function_of(gen, code)
    state = None if fn is None else frames.read(gen, code, fn)
    if state is None:
        return (*fact, "frame not read"), None
    children: list = [(f".<frame>[{i}]", obj) for i, obj in state.slots]
    if state.exc_value is not None:
        children.append((".<handling>", state.exc_value))
    return (*fact, state.size, tuple(i for i, _obj in state.slots)), children


_DISPATCH: dict = {
    dict: _dict, FunctionType: _function, CodeType: _code, CellType: _cell, MethodType: _method,
    BuiltinType: _builtin, MethodWrapperType: _method_wrapper, staticmethod: _wrapper, classmethod: _wrapper,
    MappingProxyType: _mappingproxy,
    **{kind: _exact(_CONTENT[kind]) for kind in (OrderedDict, defaultdict, list, tuple, deque, set,
                                                 frozenset, bytearray, weakref_type, property)},
    **dict.fromkeys(DescriptorTypes, _descriptor),
    **dict.fromkeys(DictViews, _dict_view),
}


def _module(walker: Walker, mod: "Any") -> tuple:
    """A module met inside the heap: named, not walked (every module is a root of its own)."""
    return ("module", type_name(type(mod)), str(_module_dict(mod).get("__name__"))), None


_DISPATCH[ModuleType] = _module


def _generator_types() -> tuple:
    async def coroutine() -> None:
        pass

    async def async_generator():
        yield

    made = coroutine()
    kinds = (type(x for x in "a"), type(made), type(async_generator()))
    made.close()  # (never awaited: closed, so no warning)
    return kinds


_DISPATCH.update(dict.fromkeys(_generator_types(), _generator))
