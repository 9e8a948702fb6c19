"""What "the same value in two processes" means, for comparing state with a fresh import.

A fingerprint is a small marshal-able summary of a value that is equal in two interpreters
exactly when Amber can tell the value is the same there: atoms by value (hashed), named objects
(modules, classes, functions) by name, containers by their contents down to a depth, the
wrappers ``classmethod``, ``staticmethod`` and ``property`` by what they wrap; anything else
only by its type (kind ``"o"``: Amber cannot compare it). Fingerprints are made by the
snapshotting process and by the fresh-import probe (:mod:`amber.capture.world.probe`), and the
import recorder keeps those of containers right after each import
(:mod:`amber.capture.recorders.imports`).

Besides a module's namespace, the *members* of a module are compared: the namespaces of the
classes and functions the module defines under their own name (``threading.Thread``,
``json.dumps``), where a program sets attributes (``Thread.x = 1``, ``dumps.cache = {}``, a
method replaced) that a fresh import would not have. :func:`own_members` says which they are.

And the *instances a module owns* (:func:`owned_instances`): instances of Python classes held in
its namespace (``logging.root``), in the namespaces of its own classes (``logging.Logger.manager``),
and, one level down, in those instances' own ``__dict__`` (``DEFAULTS.sub``). Each is named by the
path a fresh import reaches it by; its fingerprint is that of its real ``__dict__``, so that a
program's ``logging.basicConfig()`` (``root.handlers`` filled, ``root.level`` rebound) is told
from what a fresh import leaves. Only paths every step of which is a plain attribute lookup are
owned (no ``__getattribute__`` of the program's, no data descriptor shadowing the entry, no
descriptor as a class attribute), so that looking the path up at restore, or in the probe,
runs none of the program's code and finds the entry itself.

Every string in a fingerprint is an exact ``str`` (``str.__str__`` of a subclass), so that marshal
never meets a value it cannot write.
"""

import sys
from _collections import OrderedDict, defaultdict, deque
from _thread import _local
from _weakref import ref as _weakref

_ATOM_TYPES = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, dict, set, frozenset)
# Containers of the collections module, compared by their contents as a list or a dict is.
_COLLECTIONS = {deque: list, OrderedDict: dict, defaultdict: dict}
# The mutable containers whose contents a restore sets again in place (a refill), so that what
# holds them keeps holding them: their changes in place are seen by their contents.
REFILLED = frozenset({list, dict, set, *_COLLECTIONS})
_WRAPPERS = (classmethod, staticmethod)
# What the interpreter or copyreg put into a class's namespace on first use (an empty
# ``__annotations__`` when it is read, ``__slotnames__`` when an instance is copied): recomputed on
# demand, never the program's state.
LAZY_CLASS_ATTRS = frozenset({"__annotations__", "__slotnames__"})
_TPFLAGS_HEAPTYPE = 1 << 9
_TPFLAGS_IMMUTABLETYPE = 1 << 8
# How deep owned instances are followed from a module's namespace: ``root`` and ``Logger.manager``
# (1), ``DEFAULTS.sub`` (2).
OWNED_DEPTH = 2
_type_dict = type.__dict__["__dict__"].__get__
_GETSET = type(type.__dict__["__dict__"])


def exact_str(text) -> str:
    """``text`` as an exact ``str`` (a subclass's own ``__str__`` is not called)."""
    return str.__str__(text) if isinstance(text, str) else repr(type(text))


_FUNCTION = type(exact_str)  # (types is not in the base set on every version)


class _Bound:
    def method(self) -> None: ...


# Callables that are named by their ``__module__`` and ``__qualname__``: functions, builtins,
# bound methods, the descriptors of C types' methods.
_NAMED_KINDS = frozenset({_FUNCTION, type(len), type(_Bound().method), type(str.join), type(object.__init__),
                          type(dict.__dict__["fromkeys"]), type(object().__str__)})


def fingerprint(value, depth: int = 3):
    """A marshal-able summary of ``value`` that is equal in two processes when the value is."""
    from _blake2 import blake2b

    cls = type(value)
    if cls in _ATOM_TYPES:
        text = repr(value) if cls is not str else value
        return ("a", cls.__name__, blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest())
    if cls is type(sys):
        return ("m", exact_str(value.__dict__.get("__name__", "")))
    if cls in _COLLECTIONS:
        inner = fingerprint(_COLLECTIONS[cls](value), depth)
        return ("c", cls.__name__, *inner[2:])
    if cls in _CONTAINERS:
        if depth <= 0 or len(value) > 256:
            return ("c", cls.__name__, len(value))
        if cls is dict:
            items = [(fingerprint(k, 0), fingerprint(v, depth - 1)) for k, v in value.items()]
        elif cls in (set, frozenset):
            items = sorted(fingerprint(v, depth - 1) for v in value)
        else:
            items = [fingerprint(v, depth - 1) for v in value]
        return ("c", cls.__name__, tuple(items))
    if cls in _WRAPPERS:
        return ("w", cls.__name__, fingerprint(value.__func__, 0))
    if cls is property:
        return ("w", "property", *(fingerprint(f, 0) for f in (value.fget, value.fset, value.fdel)))
    if issubclass(cls, type):
        module = type.__getattribute__(value, "__module__")
        qualname = type.__getattribute__(value, "__qualname__")
    elif cls in _NAMED_KINDS:
        module, qualname = getattr(value, "__module__", ""), getattr(value, "__qualname__", None)
    else:  # never its attributes: a lazy object's would run the program's code
        module = qualname = None
    if isinstance(qualname, str):
        return ("n", exact_str(module), exact_str(qualname))
    return ("o", f"{exact_str(cls.__module__)}.{exact_str(cls.__qualname__)}")


def safe_fingerprint(value):
    """:func:`fingerprint`, or the value's type only when looking at it raises."""
    try:
        return fingerprint(value)
    except Exception:  # a value whose repr, len or __qualname__ raises: compare its type only
        return ("o", exact_str(type(value).__qualname__))


def namespace_fingerprint(module) -> dict:
    """{attribute: fingerprint} of a module's namespace, dunder names left out."""
    try:
        items = list(vars(module).items())
    except TypeError:
        return {}
    out = {}
    for attr, value in items:
        if type(attr) is not str or attr.startswith("__") and attr.endswith("__"):
            continue
        out[attr] = safe_fingerprint(value)
    return out


def own_members(module) -> dict:
    """{name: class or function} of the Python classes and functions ``module`` defines under
    their own name (``__module__`` is the module's ``__name__``, or any name for the classes of an
    extension module, ``__qualname__`` the attribute):
    the namespaces a program may set attributes on. Runs none of the program's code (a lazy
    object's ``__class__`` is never asked for)."""
    try:
        namespace = vars(module)
        items = list(namespace.items())
    except TypeError:
        return {}
    own = namespace.get("__name__")
    in_c = _made_in_c(namespace)
    out = {}
    for attr, value in items:
        if type(attr) is not str:
            continue
        kind = type(value)
        if kind is _FUNCTION:
            module_name, qualname = value.__module__, value.__qualname__
        elif issubclass(kind, type):
            flags = value.__flags__
            if not flags & _TPFLAGS_HEAPTYPE or flags & _TPFLAGS_IMMUTABLETYPE:
                continue  # implemented in C: its namespace is not the program's to change
            try:
                module_name = type.__getattribute__(value, "__module__")
                qualname = type.__getattribute__(value, "__qualname__")
            except Exception:
                continue
        else:
            continue
        if (module_name == own or in_c and kind is not _FUNCTION) and qualname == attr:
            out[attr] = value
    return out


def _made_in_c(namespace: dict) -> bool:
    """Is this the namespace of an extension or builtin module? Its C code makes the classes it
    holds under their own name, whatever module their ``__module__`` names (``_ast.Constant``
    says ``ast``, where ``ast.py`` adds properties to it)."""
    file = namespace.get("__file__")
    if not isinstance(file, str):
        return namespace.get("__name__") in sys.builtin_module_names
    return file.endswith((".so", ".pyd", ".dylib"))


def member_items(member) -> list:
    """(attribute, value) pairs of a class's, function's or instance's own namespace (an
    instance's real ``__dict__``: never what a ``__dict__`` property of its class answers)."""
    try:
        kind = type(member)
        if issubclass(kind, type):
            namespace = type.__getattribute__(member, "__dict__")
        elif kind is _FUNCTION:
            namespace = member.__dict__
        else:
            namespace = instance_namespace(member)
            if namespace is None:
                return []
        return [(k, v) for k, v in list(namespace.items()) if type(k) is str]
    except Exception:
        return []


def instance_namespace(obj) -> "dict | None":
    """The real ``__dict__`` of an instance, read through the descriptor the interpreter made for
    it (a class's own ``__dict__`` property, a proxy's, is passed by), or None."""
    cls = type(obj)
    for klass in cls.__mro__:
        entry = _type_dict(klass).get("__dict__")
        if type(entry) is _GETSET and entry.__objclass__ is klass:
            try:
                namespace = entry.__get__(obj, cls)
            except Exception:
                return None
            return namespace if type(namespace) is dict else None
    return None


def _looked_up_plainly(cls, base: type = object) -> bool:
    """Does attribute lookup on ``cls``'s instances run none of the program's code before it
    reads the instance dict (no ``__getattribute__`` of its own below ``base``, not a
    thread-local, whose dict is per thread)?"""
    for klass in cls.__mro__:
        if klass is base:
            return True
        ns = _type_dict(klass)
        if "__getattribute__" in ns or klass is _local:
            return False
    return True


def plain_entry(cls, key: str) -> bool:
    """Is ``getattr(instance, key)`` the entry ``key`` of the instance's own dict: no data
    descriptor of that name in the class's MRO (a property, a slot) answers first?"""
    for klass in cls.__mro__:
        found = _type_dict(klass).get(key, _NOTHING)
        if found is not _NOTHING:
            kind = type(found)
            return not any("__set__" in _type_dict(k) or "__delete__" in _type_dict(k) for k in kind.__mro__)
    return True


_NOTHING = object()


def owned_instance(value) -> bool:
    """An instance of a Python class (not a class, function, module, container or atom), with a
    real ``__dict__``, whose attributes are found by plain lookup, and that is no descriptor."""
    cls = type(value)
    known = _owned_types.get(id(cls))
    if known is None or known[0]() is not cls:
        verdict = _owned_type(cls)
        try:
            known = _owned_types[id(cls)] = (_weakref(cls), verdict)
        except TypeError:  # a type that takes no weak reference: not remembered
            known = (None, verdict)
    return known[1] and instance_namespace(value) is not None


def _owned_type(cls) -> bool:
    """The part of :func:`owned_instance` that depends on the type alone."""
    if cls in _ATOM_TYPES or cls in _CONTAINERS or cls in _NAMED_KINDS or cls in _WRAPPERS or \
            cls is property or cls is type(sys) or issubclass(cls, type):
        return False
    flags = cls.__flags__
    if not flags & _TPFLAGS_HEAPTYPE or flags & _TPFLAGS_IMMUTABLETYPE:
        return False  # a C type: its state is in C
    return _looked_up_plainly(cls) and not any("__get__" in _type_dict(k) for k in cls.__mro__[:-1])


# id(type) -> (a weak reference to it, its verdict): asked for every value of every module
# imported, so learnt once per type, without keeping the type alive.
_owned_types: dict = {}
_PLAIN_TYPES = frozenset({*_ATOM_TYPES, *_CONTAINERS, _FUNCTION, type, type(sys)})


def owned_instances(module, members: dict | None = None) -> dict:
    """{path: instance} of the instances ``module`` owns (see the module docstring), each once,
    under the first path that reaches it; no code of the program's runs. ``members``:
    :func:`own_members` of the module, when the caller has it."""
    try:
        items = list(vars(module).items())
    except TypeError:
        return {}
    frontier = [(attr, value) for attr, value in items if type(value) not in _PLAIN_TYPES
                and owned_instance(value) and type(attr) is str and not _dunder(attr)]
    for name, member in (own_members(module) if members is None else members).items():
        if issubclass(type(member), type) and _looked_up_plainly(type(member), type):
            frontier += [(f"{name}.{key}", value) for key, value in list(_type_dict(member).items())
                         if type(value) not in _PLAIN_TYPES and type(key) is str and owned_instance(value)
                         and not _dunder(key) and key.isidentifier()]
    out: dict = {}
    seen: set = set()
    for depth in range(1, OWNED_DEPTH + 1):
        deeper = []
        for path, obj in frontier:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            out[path] = obj
            if depth < OWNED_DEPTH:
                cls = type(obj)
                deeper += [(f"{path}.{key}", value) for key, value in member_items(obj)
                           if type(value) not in _PLAIN_TYPES and owned_instance(value)
                           and not _dunder(key) and key.isidentifier() and plain_entry(cls, key)]
        frontier = deeper
    return out


def resolve(module, path: str):
    """What ``path`` (a path of :func:`owned_instances`) reaches in ``module`` now, read where
    the values are stored (module dict, class namespace, instance dict), or None."""
    try:
        obj = vars(module)
    except TypeError:
        return None
    for i, part in enumerate(path.split(".")):
        if i == 0:
            target = obj
        else:
            target = _type_dict(obj) if issubclass(type(obj), type) else instance_namespace(obj)
        obj = target.get(part) if target is not None else None
        if obj is None:
            return None
    return obj


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def member_fingerprint(member) -> dict:
    """{attribute: fingerprint} of a class's, function's or owned instance's own namespace."""
    return {attr: safe_fingerprint(value) for attr, value in member_items(member)
            if attr not in ("__dict__", "__weakref__")}
