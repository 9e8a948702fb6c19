"""Interpreter-version-specific knowledge, kept in one place.

Amber targets CPython 3.11 first; 3.12 and 3.13 are tested as support grows. Anything that
depends on CPython internals or on how a given version lays out the standard library belongs
here, with the versions it was checked on.
"""

import sys

PY_VERSION = sys.version_info[:2]

# Type flags (Include/object.h), stable from 3.10 on.
TPFLAGS_IMMUTABLETYPE = 1 << 8
TPFLAGS_HEAPTYPE = 1 << 9

# Types that no module exports under their own name, so they cannot be found by name at restore.
# Each is re-derived at restore from the restored (complete) heap; the expressions are fixed here,
# never read from an image. Checked on 3.11, 3.12, 3.13.
# re.Pattern/re.Match come from re._compiler (3.11+), which does not need the re module itself
# to be complete (re's own functions refer to re.Pattern).
UNEXPORTED_TYPES = {
    ("builtins", "odict_keys"): "type(__import__('collections').OrderedDict().keys())",
    ("builtins", "odict_values"): "type(__import__('collections').OrderedDict().values())",
    ("builtins", "odict_items"): "type(__import__('collections').OrderedDict().items())",
    ("builtins", "odict_iterator"): "type(iter(__import__('collections').OrderedDict()))",
    ("re", "Pattern"): "type(__import__('re._compiler', fromlist=['_']).compile('', 0))",
    ("re", "Match"): "type(__import__('re._compiler', fromlist=['_']).compile('', 0).match(''))",
    # The interpreter's own types that only the `types` module names (types.CellType...): a
    # program may hold one without importing `types` (on 3.13 nothing of the base set imports
    # it), and a restore must not import it for the program either.
    ("builtins", "cell"): "type((lambda x: lambda: x)(0).__closure__[0])",
    ("builtins", "function"): "type(lambda: 0)",
    ("builtins", "code"): "type((lambda: 0).__code__)",
    ("builtins", "method"): "type(type('C', (), {'f': lambda s: 0})().f)",
    ("builtins", "builtin_function_or_method"): "type(len)",
    ("builtins", "generator"): "type(x for x in ())",
    ("builtins", "mappingproxy"): "type(type.__dict__)",
    ("builtins", "getset_descriptor"): "type(type.__dict__['__dict__'])",
    ("builtins", "member_descriptor"): "type(type.__dict__['__basicsize__'])",
    ("builtins", "method_descriptor"): "type(str.join)",
    ("builtins", "wrapper_descriptor"): "type(object.__init__)",
    ("builtins", "method-wrapper"): "type(object().__init__)",
    ("builtins", "classmethod_descriptor"): "type(dict.__dict__['fromkeys'])",
    ("builtins", "NoneType"): "type(None)",
    ("builtins", "NotImplementedType"): "type(NotImplemented)",
    ("builtins", "ellipsis"): "type(...)",
    ("builtins", "module"): "type(__import__('sys'))",
    ("types", "GenericAlias"): "type(list[int])",
    ("types", "UnionType"): "type(int | str)",
    ("types", "SimpleNamespace"): "type(__import__('sys').implementation)",
}


def is_python_class(cls) -> bool:
    """Was ``cls`` made by a class statement (or type()), so that it can be rebuilt by value?"""
    flags = cls.__flags__
    return bool(flags & TPFLAGS_HEAPTYPE) and not flags & TPFLAGS_IMMUTABLETYPE


def known_type_key(cls):
    key = (getattr(cls, "__module__", None), getattr(cls, "__qualname__", None))
    return key if UNEXPORTED_TYPES.get(key) else None


def c_metaclass(meta: type) -> type | None:
    """The C-implemented metaclass in ``meta``'s MRO other than ``type`` (``_ctypes.PyCSimpleType``),
    if any: a class made by it cannot be rebuilt with ``type.__new__`` alone."""
    for klass in meta.__mro__:
        if klass is not type and klass is not object and not is_python_class(klass):
            return klass
    return None


# -- C objects read through gc.get_referents (their tp_traverse order); checked on 3.11-3.13 ------
NOTHING = object()


def unbounded_lru_entries(wrapper) -> list | None:
    """[(key, kwd_mark positions, result)] of an unbounded ``lru_cache``, or None if unreadable.

    The C wrapper traverses its cache dict (key -> result when unbounded) and the marker object
    that separates positional from keyword arguments in keys; the marker is per interpreter, so
    keys record where it stood and the restore side puts its own marker back there.
    """
    import gc

    cache, mark = lru_cache_dict_and_mark(wrapper)
    if cache is None or sum(type(r) is object for r in gc.get_referents(wrapper)) > 1:
        return None
    mark = NOTHING if mark is None else mark
    out = []
    for key, result in cache.items():
        if type(key) is tuple and mark is not NOTHING and any(x is mark for x in key):
            where = tuple(i for i, x in enumerate(key) if x is mark)
            key = tuple(None if x is mark else x for x in key)
        else:
            where = ()
        out.append((key, where, result))
    return out


def lru_cache_dict_and_mark(wrapper):
    """The wrapper's cache dict and keyword marker, read from its referents (None where not
    exactly one of each can be told apart)."""
    import gc

    own = getattr(wrapper, "__dict__", None)
    refs = gc.get_referents(wrapper)
    dicts = [r for r in refs if type(r) is dict and r is not own]
    marks = [r for r in refs if type(r) is object]
    return (dicts[0] if len(dicts) == 1 else None), (marks[0] if len(marks) == 1 else None)


def key_wrapper_parts(key) -> tuple:
    """(cmp, wrapped object or NOTHING) of a ``functools.cmp_to_key`` object."""
    import gc

    refs = [r for r in gc.get_referents(key) if r is not type(key)]
    return refs[0], (refs[1] if len(refs) > 1 else NOTHING)


def thread_local_args(local) -> tuple:
    """The (args, kwargs) a ``threading.local`` passes to ``__init__`` in each new thread."""
    import gc

    args: tuple = ()
    kwargs: dict = {}
    for r in gc.get_referents(local):
        if type(r) is tuple and not args:
            args = r
        elif type(r) is dict and r and all(type(k) is str for k in r):
            kwargs = r
    return args, kwargs


def as_import_machinery(hook):
    """``hook`` (a function wrapped around ``_bootstrap._load_unlocked``) named as part of the
    import system: warnings skip frames whose file names importlib's _bootstrap
    (``warnings._is_internal_frame``, and ``_warnings`` in C, 3.11-3.13), so a warning that a
    module's import issues (``stacklevel=2``) is attributed to the importer, as in a cold run,
    and lands in the importer's ``__warningregistry__``, not in Amber's."""
    name = "<amber: hook around importlib._bootstrap._load_unlocked>"
    hook.__code__ = hook.__code__.replace(co_filename=name)
    return hook


def wrap_module_loading(started, finished):
    """Call ``started(name)`` when a module's loading begins and ``finished(name, ok)`` when it
    ends. Every import that runs a loader goes through ``_bootstrap._load_unlocked(spec)``
    (3.11-3.13), which the import system looks up as a module global at each call. Returns a
    function that removes the hook."""
    import _frozen_importlib as bootstrap

    original = bootstrap._load_unlocked

    def _load_unlocked(spec):
        started(spec.name)
        ok = False
        try:
            module = original(spec)
            ok = True
        finally:
            finished(spec.name, ok)
        return module

    bootstrap._load_unlocked = as_import_machinery(_load_unlocked)

    def undo() -> None:
        bootstrap._load_unlocked = original  # type: ignore[attr-defined]

    return undo


def context_var_parts(var) -> tuple:
    """(name, default or NOTHING) of a ``contextvars.ContextVar``."""
    import gc

    refs = gc.get_referents(var)
    return var.name, (refs[1] if len(refs) > 1 else NOTHING)


def simple_queue_items(queue) -> list | None:
    """The items waiting in a ``queue.SimpleQueue``, oldest first (its list, past its head)."""
    import gc

    refs = [r for r in gc.get_referents(queue) if r is not type(queue)]
    size = queue.qsize()
    if PY_VERSION >= (3, 13):  # a ring buffer: its items, oldest first
        return refs if len(refs) == size else None
    lists = [r for r in refs if type(r) is list]  # a list and the index of its head
    if len(lists) != 1:
        return None
    return list(lists[0][len(lists[0]) - size:]) if size <= len(lists[0]) else None


def pattern_parts(pattern) -> tuple | None:
    """The arguments ``re._compiler.compile`` passed to ``_sre.compile`` for ``pattern`` (3.11-3.13),
    so a restore makes the pattern without compiling it again; None if they do not reproduce it
    exactly (``Pattern.__eq__`` compares the compiled code)."""
    import _sre
    from re import _compiler, _parser  # type: ignore[attr-defined]  # private, no stub

    try:
        source, flags = pattern.pattern, pattern.flags
        parsed = _parser.parse(source, flags)
        code = _compiler._code(parsed, flags)
        groupindex = parsed.state.groupdict
        indexgroup = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        parts = (source, flags | parsed.state.flags, code, parsed.state.groups - 1, dict(groupindex),
                 tuple(indexgroup))
        if _sre.compile(*parts) != pattern:
            return None
    except Exception:
        return None
    return parts


def scanner_pattern_parts(lexicon, pattern) -> tuple | None:
    """The arguments of ``_sre.compile`` for the pattern ``re.Scanner(lexicon, flags)`` compiles
    from a parse tree (its ``pattern`` is None), built the way ``Scanner.__init__`` builds it
    (3.11-3.13); None if they do not make ``pattern`` again exactly."""
    import _sre
    from re import _compiler, _constants, _parser  # type: ignore[attr-defined]  # private, no stub

    try:
        flags = pattern.flags
        state = _parser.State()
        state.flags = flags
        branches = []
        for phrase, _action in lexicon:
            gid = state.opengroup()
            branches.append(_parser.SubPattern(state, [
                (_constants.SUBPATTERN, (gid, 0, 0, _parser.parse(phrase, flags)))]))
            state.closegroup(gid, branches[-1])
        tree = _parser.SubPattern(state, [(_constants.BRANCH, (None, branches))])
        code = _compiler._code(tree, flags)
        indexgroup = [None] * state.groups
        for name, index in state.groupdict.items():
            indexgroup[index] = name
        parts = (None, flags | state.flags, code, state.groups - 1, dict(state.groupdict), tuple(indexgroup))
        if _sre.compile(*parts) != pattern:
            return None
    except Exception:
        return None
    return parts


def type_param_parts(param) -> tuple:
    """(args, kwargs) that make a TypeVar, ParamSpec, TypeVarTuple or TypeAliasType like ``param``
    (3.12+)."""
    import typing

    kwargs = {}
    if isinstance(param, typing.TypeAliasType):  # type: ignore[attr-defined]  # 3.12+  # its value, evaluated now (it is lazy)
        return (param.__name__, param.__value__), {"type_params": param.__type_params__}
    if isinstance(param, typing.TypeVarTuple):
        args = (param.__name__,)
    else:
        args = (param.__name__, *getattr(param, "__constraints__", ()))
        kwargs = {"bound": param.__bound__, "covariant": param.__covariant__,
                  "contravariant": param.__contravariant__, "infer_variance": param.__infer_variance__}
    default = getattr(param, "__default__", None)
    # Defaults are a constructor argument from 3.13 on; NoDefault sentinels (typing's or
    # typing_extensions') mean there is none.
    if PY_VERSION >= (3, 13) and default is not None and "NoDefault" not in type(default).__name__:
        kwargs["default"] = default
    return args, kwargs


# The identity of a live object, as id() gives it, but without raising the "builtins.id" audit
# event: with any audit hook installed (amber run's input recorder, or the program's own), every
# id() call runs Python code, and capture asks for identities millions of times. object.__hash__
# is the object's address rotated by a few bits, so it is unique among live objects.
ident = object.__hash__


def map_file_private(fileno: int):
    """Map a whole file copy-on-write (MAP_PRIVATE): pages are shared between processes until
    one writes. Before 3.13 the mmap object keeps a duplicate of the descriptor open for its
    lifetime; 3.13 can do without it (``trackfd=False``)."""
    import mmap

    if PY_VERSION >= (3, 13):
        return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY, trackfd=False)  # type: ignore[call-arg]  # 3.13+
    return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY)


def ident_of_address(address: int) -> int:
    """The ``ident`` (``object.__hash__``) of the object whose ``id()`` is ``address``: CPython
    hashes a pointer by rotating it right by 4 bits (Python/pyhash.c, _Py_HashPointerRaw; the
    same on 3.11-3.13). Lets capture recognise an int that is some heap object's id()."""
    bits = 8 * _POINTER_SIZE
    mask = (1 << bits) - 1
    y = ((address >> 4) | (address << (bits - 4))) & mask
    if y >= 1 << (bits - 1):
        y -= 1 << bits
    return -2 if y == -1 else y


_POINTER_SIZE = 8 if sys.maxsize > 2**32 else 4
