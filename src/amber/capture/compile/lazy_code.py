"""Code on first call (``amber snapshot --lazy-code``, experimental): the saving side.

Which functions get a stub instead of their code (``choose``), and the stubs and per-module
blobs of real code (``build``). The restore side is :mod:`amber.restore.lazy`; the design and
what a program can notice are in docs/lazy-restore.md.
"""

from __future__ import annotations

import keyword
import marshal
import types
from collections import Counter

from amber._compat import ident

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from amber.capture.compile.planner import HeapPlan

# A generator's or coroutine's flags would have to be the stub's: those stay eager.
_EAGER_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # GENERATOR, COROUTINE, ITERABLE_COROUTINE, ASYNC_GENERATOR
_VARARGS, _VARKEYWORDS = 0x04, 0x08


def choose(plan: HeapPlan) -> dict:
    """{ident(code): (code, function)} for the functions whose code can come on first call: no
    free variables (a code object shared by closures cannot tell which one was called), not a
    generator or coroutine, and a code object nothing else in the heap refers to."""
    uses: Counter = Counter()
    for recipe in plan.recipes.values():
        for ref in recipe.refs():
            if type(ref) is types.CodeType:
                uses[ident(ref)] += 1
    chosen: dict = {}
    for oid, fn in plan.nodes.items():
        if type(fn) is not types.FunctionType or oid not in plan.recipes or plan.late.get(oid):
            continue
        code = fn.__code__
        if code.co_freevars or code.co_flags & _EAGER_FLAGS or uses[ident(code)] != 1:
            continue
        if _parameters(code) is None:
            continue
        chosen[ident(code)] = (code, fn)
    return chosen


def build(chosen: dict) -> tuple:
    """(blobs, where, stubs): one marshalled tuple of real code objects per module; for each
    function key K (the order of ``chosen``), (blob, index); and the stub code objects."""
    blob_of: dict = {}  # module -> its blob's index
    members: list = []  # per blob: the real code objects of its chosen functions
    where, stubs = [], []
    for key, (code, fn) in enumerate(chosen.values()):
        blob = blob_of.setdefault(getattr(fn, "__module__", None) or code.co_filename, len(blob_of))
        if blob == len(members):
            members.append([])
        where.append((blob, len(members[blob])))
        members[blob].append(code)
        stubs.append(stub(code, key))
    blobs = [marshal.dumps(tuple(codes)) for codes in members]
    return blobs, where, stubs


def stub(code: types.CodeType, key: int) -> types.CodeType:
    """A code object with ``code``'s name, place and parameters whose body fetches the real code
    (``__amber_code__(key)``) and calls the function again with the same arguments."""
    positional, posonly, kwonly, star, dstar = _parameters(code)
    params = list(positional)
    if posonly:
        params.insert(posonly, "/")
    if star:
        params.append("*" + star)
    elif kwonly:
        params.append("*")
    params += kwonly
    if dstar:
        params.append("**" + dstar)
    call = list(positional) + (["*" + star] if star else []) + [f"{k}={k}" for k in kwonly] + \
        (["**" + dstar] if dstar else [])
    source = f"def _({', '.join(params)}):\n    return __amber_code__({key})({', '.join(call)})\n"
    made = next(c for c in compile(source, code.co_filename, "exec").co_consts
                if type(c) is types.CodeType)
    # The real code's own string objects, so that marshal writes each name and file name once.
    names = code.co_varnames[:len(made.co_varnames)]
    return made.replace(co_name=code.co_name, co_qualname=code.co_qualname, co_filename=code.co_filename,
                        co_firstlineno=code.co_firstlineno,
                        co_varnames=names if names == made.co_varnames else made.co_varnames)


def _parameters(code: types.CodeType):
    """(positional, posonly count, keyword-only, *name, **name) or None if a stub cannot say it."""
    n = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames[:n]
    i = n
    star = dstar = None
    if code.co_flags & _VARARGS:
        star, i = code.co_varnames[i], i + 1
    if code.co_flags & _VARKEYWORDS:
        dstar = code.co_varnames[i]
    every = [*names, *(x for x in (star, dstar) if x)]
    if any(not x.isidentifier() or keyword.iskeyword(x) or x == "__amber_code__" for x in every):
        return None
    return names[:code.co_argcount], code.co_posonlyargcount, names[code.co_argcount:], star, dstar
