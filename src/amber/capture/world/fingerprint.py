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

Every string in a fingerprint is an exact ``str`` (``str.__str__`` of a subclass), so that marshal
never meets a value it cannot write.
"""

import sys

_ATOM_TYPES = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, dict, set, frozenset)
_WRAPPERS = (classmethod, staticmethod)
# What the interpreter or copyreg put into a class's namespace on first use (an empty
# ``__annotations__`` when it is read, ``__slotnames__`` when an instance is copied): recomputed on
# demand, never the program's state.
LAZY_CLASS_ATTRS = frozenset({"__annotations__", "__slotnames__"})
_TPFLAGS_HEAPTYPE = 1 << 9
_TPFLAGS_IMMUTABLETYPE = 1 << 8


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
    their own name (``__module__`` is the module's ``__name__``, ``__qualname__`` the attribute):
    the namespaces a program may set attributes on. Runs none of the program's code (a lazy
    object's ``__class__`` is never asked for)."""
    try:
        namespace = vars(module)
        items = list(namespace.items())
    except TypeError:
        return {}
    own = namespace.get("__name__")
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
        if module_name == own and qualname == attr:
            out[attr] = value
    return out


def member_items(member) -> list:
    """(attribute, value) pairs of a class's or function's own namespace."""
    try:
        namespace = type.__getattribute__(member, "__dict__") if issubclass(type(member), type) \
            else member.__dict__
        return [(k, v) for k, v in list(namespace.items()) if type(k) is str]
    except Exception:
        return []


def member_fingerprint(member) -> dict:
    """{attribute: fingerprint} of a class's or function's own namespace."""
    return {attr: safe_fingerprint(value) for attr, value in member_items(member)
            if attr not in ("__dict__", "__weakref__")}
