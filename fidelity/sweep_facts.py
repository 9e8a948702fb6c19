"""The sweep's describer: one module's state and the interpreter's registrations, as {path: fact}.

fidelity/stdlib_sweep.py embeds this file's text into the program it sweeps with, after the
snapshot point, so it is compiled afresh and runs the same way in the cold processes and in the
restored one. It shares no code with Amber (nothing of ``amber`` is imported) and imports only
modules built into the interpreter, after it has noted ``sys.modules``: describing must not
import anything that could change what it describes. Run as a script it describes the module
named by its first argument into the file named by its second (the program sets SWEEP_MODULE
and SWEEP_OUT itself).
"""

import sys

SWEEP_LOADED = sorted(sys.modules)  # before the describer imports anything

import _abc  # noqa: E402  (builtin modules only, and only once sys.modules was noted)
import _codecs  # noqa: E402
import _signal  # noqa: E402
import _warnings  # noqa: E402
import atexit  # noqa: E402
import builtins  # noqa: E402
import gc  # noqa: E402

MAX_DEPTH = 6  # how deep below a module-level name entries are described one by one
MAX_ENTRIES = 400  # entries of one container described one by one; the rest as one digest
MAX_REPR = 160
HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class statement made the type
PLAIN = (type(None), bool, int, float, complex, str, bytes)
FUNCTION = type(lambda: 0)
CODE = FUNCTION.__code__.__class__
MODULE = type(sys)
BUILTIN = type(len)
METHOD = type((lambda: 0).__get__(0))
DESCRIPTOR_WRAPPERS = (staticmethod, classmethod)


def digest(data) -> str:
    """A digest that is the same in every process (hash() is salted per process)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return format(int.from_bytes(b"\x01" + bytes(data), "little") % ((1 << 61) - 1), "x")


def mask(text: str) -> str:
    """Addresses (0x...) masked: they differ between any two processes."""
    out, i = [], 0
    while True:
        j = text.find("0x", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        k = j + 2
        while k < len(text) and text[k] in "0123456789abcdefABCDEF":
            k += 1
        out.append(text[i:j] + ("0x?" if k > j + 2 else "0x"))
        i = k


def clip(text: str) -> str:
    return text if len(text) <= MAX_REPR else f"{text[:MAX_REPR]}...(len {len(text)} #{digest(text)})"


def name_of(obj) -> str:
    """module.qualname of a class or function, read from the object's own dict entries."""
    try:
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
    except Exception as e:
        return f"<name raised {type(e).__name__}>"


def safe_repr(obj) -> str:
    try:
        return clip(mask(repr(obj)))
    except Exception as e:
        return f"<repr raised {type(e).__name__}>"


def plain(obj):
    """The value's repr when it is a plain value (tuples and frozensets of plain values too), else None."""
    t = type(obj)
    if t in PLAIN:
        return clip(repr(obj))
    if t is tuple and all(type(x) in PLAIN for x in obj):
        return clip(repr(obj))
    if t is frozenset and all(type(x) in PLAIN for x in obj):
        return clip("frozenset(" + repr(sorted(repr(x) for x in obj)) + ")")
    return None


def short(obj) -> str:
    """A one-line fact that does not recurse: for keys, set elements, mro entries."""
    p = plain(obj)
    if p is not None:
        return p
    t = type(obj)
    if isinstance(obj, type):
        return "class " + name_of(obj)
    if t is FUNCTION or t is BUILTIN:
        return f"{t.__name__} {name_of(obj)}"
    if t is MODULE:
        return "module " + str(obj.__dict__.get("__name__"))
    if t in (tuple, frozenset, list, set, dict):
        return f"{t.__name__} len {len(obj)}"
    if t.__flags__ & HEAPTYPE:
        return "instance of " + name_of(t)
    return f"{name_of(t)} {safe_repr(obj)}"


class Describer:
    """Walks from a module's namespace; each object is described once, later paths name the first."""

    def __init__(self) -> None:
        self.facts: dict = {}
        self.seen: dict = {}  # id -> first path (objects are kept alive by the module, or by keep)
        self.keep: list = []
        self.namespaces = {id(m.__dict__): n for n, m in list(sys.modules.items()) if type(m) is MODULE}

    def add(self, path: str, fact: str) -> None:
        self.facts[path] = fact

    def describe(self, path: str, obj, depth: int = 0) -> None:
        p = plain(obj)
        if p is not None:
            return self.add(path, p)
        if id(obj) in self.seen:
            return self.add(path, "same object as " + self.seen[id(obj)])
        self.seen[id(obj)] = path
        self.keep.append(obj)
        if id(obj) in self.namespaces:
            return self.add(path, "namespace of module " + self.namespaces[id(obj)])
        if depth >= MAX_DEPTH:
            return self.add(path, short(obj))
        self.dispatch(path, obj, depth + 1)

    def dispatch(self, path: str, obj, depth: int) -> None:
        t = type(obj)
        if t is MODULE:
            self.add(path, "module " + str(obj.__dict__.get("__name__")))
        elif isinstance(obj, type):
            self.klass(path, obj, depth)
        elif t is FUNCTION:
            self.function(path, obj, depth)
        elif t is CODE:
            self.add(path, self.code(obj))
        elif t is METHOD:
            self.add(path, "method " + name_of(obj.__func__))
            self.describe(path + ".__self__", obj.__self__, depth)
        elif t in (list, tuple, dict, set, frozenset):
            self.container(path, obj, depth)
        elif t.__name__ == "Pattern" and t.__module__ == "re":
            self.add(path, f"pattern {obj.pattern!r} flags {obj.flags}")
        elif t.__flags__ & HEAPTYPE:
            self.instance(path, obj, depth)
        else:
            self.add(path, f"{name_of(t)} {safe_repr(obj)}")

    def container(self, path: str, obj, depth: int) -> None:
        t = type(obj)
        if t in (set, frozenset):
            # compared sorted: a set's order follows the salted hashes of its elements
            self.add(path, f"{t.__name__} len {len(obj)} {clip(repr(sorted(short(x) for x in obj)))}")
            return
        if t is dict:
            items = sorted(obj.items(), key=lambda kv: short(kv[0]))
            self.add(path, f"dict len {len(obj)} order #{digest(repr([short(k) for k in obj]))}")
            self.entries(path, [(f"[{short(k)}]", v) for k, v in items], depth)
            return
        self.add(path, f"{t.__name__} len {len(obj)}")
        self.entries(path, [(f"[{i}]", v) for i, v in enumerate(obj)], depth)

    def entries(self, path: str, pairs: list, depth: int) -> None:
        for sub, value in pairs[:MAX_ENTRIES]:
            self.describe(path + sub, value, depth)
        if len(pairs) > MAX_ENTRIES:
            rest = repr([(sub, short(v)) for sub, v in pairs[MAX_ENTRIES:]])
            self.add(path + "[...]", f"{len(pairs) - MAX_ENTRIES} more #{digest(rest)}")

    def code(self, code) -> str:
        consts = [self.code(c) if type(c) is CODE else short(c) for c in code.co_consts]
        return (f"code {code.co_qualname} {code.co_filename}:{code.co_firstlineno} "
                f"co_code #{digest(code.co_code)} names {digest(repr(code.co_names))} "
                f"consts #{digest(repr(consts))}")

    def function(self, path: str, fn, depth: int) -> None:
        self.add(path, f"function {fn.__qualname__} module {fn.__module__} {self.code(fn.__code__)}")
        for i, value in enumerate(fn.__defaults__ or ()):
            self.describe(f"{path}.__defaults__[{i}]", value, depth)
        for key, value in sorted((fn.__kwdefaults__ or {}).items()):
            self.describe(f"{path}.__kwdefaults__[{key}]", value, depth)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:
                self.add(f"{path}.<cell {name}>", "empty cell")
                continue
            self.describe(f"{path}.<cell {name}>", value, depth)
        self.add(path + ".__dict__", "keys " + repr(sorted(fn.__dict__)))

    def klass(self, path: str, cls, depth: int) -> None:
        self.add(path, f"class {name_of(cls)} {type(cls).__name__} mro {[name_of(c) for c in cls.__mro__]}")
        ns = type.__dict__["__dict__"].__get__(cls)
        for key in sorted(ns, key=str):
            if key == "_abc_impl" and type(ns[key]).__name__ == "_abc_data":
                # the registry of an ABC lives in C: its registered classes, by name
                registry = _abc._get_dump(cls)[0]
                fact = "abc registry " + repr(sorted(short(r()) for r in registry if r() is not None))
                self.add(f"{path}.__dict__[{key}]", fact)
                continue
            self.entry(f"{path}.__dict__[{key}]", ns[key], depth)

    def entry(self, path: str, value, depth: int) -> None:
        """A class namespace entry: descriptors by kind, the functions they wrap described."""
        t = type(value)
        if t in DESCRIPTOR_WRAPPERS:
            self.add(path, t.__name__)
            self.describe(path + ".__func__", value.__func__, depth)
        elif t is property:
            self.add(path, "property")
            self.describe(path + ".__doc__", value.__doc__, depth)
            for part in ("fget", "fset", "fdel"):
                self.describe(f"{path}.{part}", getattr(value, part), depth)
        elif t.__name__ in ("getset_descriptor", "member_descriptor", "wrapper_descriptor",
                            "method_descriptor", "classmethod_descriptor", "builtin_function_or_method"):
            self.add(path, t.__name__)
        else:
            self.describe(path, value, depth)

    def instance(self, path: str, obj, depth: int) -> None:
        t = type(obj)
        self.add(path, "instance of " + name_of(t))
        base = next((b for b in t.__mro__ if not b.__flags__ & HEAPTYPE), object)
        if base in (dict, list, tuple, set, frozenset):
            self.container(path + ".<content>", base(obj) if base is not dict else dict(dict.items(obj)),
                           depth)
        elif base is not object and "__repr__" in base.__dict__:
            self.add(path + ".<base>", f"{base.__name__} {safe_repr(base.__repr__(obj))}")
        try:
            ns = object.__getattribute__(obj, "__dict__")
        except AttributeError:
            ns = None
        if type(ns) is dict:
            for key in sorted(ns, key=str):
                self.describe(f"{path}.{key}", ns[key], depth)
        for klass in t.__mro__:
            for key, d in type.__dict__["__dict__"].__get__(klass).items():
                if type(d).__name__ == "member_descriptor" and key not in ("__weakref__",):
                    try:
                        self.describe(f"{path}.<slot {key}>", d.__get__(obj, t), depth)
                    except AttributeError:
                        self.add(f"{path}.<slot {key}>", "slot unset")


def registrations(facts: dict) -> None:
    """What the interpreter keeps outside modules: registries an import may add to."""
    import encodings

    search = [o for o in gc.get_referrers(encodings.search_function)
              if type(o) is list and all(callable(x) for x in o)]
    facts["@interp.codecs.search_functions"] = repr([[short(f) for f in s] for s in search])
    strict = _codecs.lookup_error("strict")
    errors = [o for o in gc.get_referrers(strict) if type(o) is dict and o.get("strict") is strict]
    facts["@interp.codecs.error_handlers"] = repr([sorted(e) for e in errors])
    copyreg = sys.modules.get("copyreg")
    if copyreg is None:
        facts["@interp.copyreg"] = "not imported"
    else:
        facts["@interp.copyreg"] = repr((sorted(short(k) for k in copyreg.dispatch_table),
                                         sorted(copyreg._extension_registry)))
    facts["@interp.sys.meta_path"] = repr([short(type(f)) if not isinstance(f, type) else short(f)
                                            for f in sys.meta_path])
    facts["@interp.sys.path_hooks"] = repr([short(h) for h in sys.path_hooks])
    facts["@interp.atexit"] = f"{atexit._ncallbacks()} callbacks"
    for sig in sorted(_signal.valid_signals()):
        facts[f"@interp.signal[{int(sig)}]"] = short(_signal.getsignal(sig))
    facts["@interp.warnings.filters"] = f"len {len(_warnings.filters)}"
    for i, f in enumerate(_warnings.filters):
        facts[f"@interp.warnings.filters[{i}]"] = repr([short(x) if type(x) not in PLAIN else x for x in f])
    for hook in ("excepthook", "displayhook", "breakpointhook", "unraisablehook"):
        facts[f"@interp.sys.{hook}"] = short(getattr(sys, hook))
    facts["@interp.sys.settings"] = repr((sys.getrecursionlimit(), sys.getswitchinterval(),
                                          sys.get_int_max_str_digits(), gc.get_threshold(), gc.isenabled()))
    for name in SWEEP_LOADED:
        facts[f"@interp.sys.modules[{name}]"] = "loaded"


def describe_module(name: str) -> dict:
    mod = sys.modules[name]
    d = Describer()
    ns = mod.__dict__
    for key in sorted(ns, key=str):
        value = ns[key]
        if value is builtins.__dict__ or value is builtins:
            d.add(f"{name}.{key}", "builtins")
            continue
        d.describe(f"{name}.{key}", value)
    facts = d.facts
    registrations(facts)
    return facts


def main() -> None:
    facts = describe_module(globals().get("SWEEP_MODULE") or sys.argv[1])
    with open(globals().get("SWEEP_OUT") or sys.argv[2], "w", encoding="utf-8") as f:
        f.write(repr(facts))


if __name__ == "__main__":
    main()
