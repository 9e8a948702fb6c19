"""Generators, coroutines and async generators, captured with their execution state.

* **Not started** (``inspect.getgeneratorstate`` would say ``GEN_CREATED``): its frame holds
  nothing but the bound arguments, so calling its function again with them makes the same
  generator. The function is the one the frame was made from (a generator's frame refers to
  it), so its closure cells are the very cells it shares with the enclosing scope; the arguments
  are read from the frame's locals (positional, ``*args``, keyword-only, ``**kwargs``, in the
  function's own order). Calling a generator function runs none of its body.
* **Finished** (``GEN_CLOSED``, no frame left): a closed generator of the same code, name and
  qualified name; nothing can run in it any more.
* **Suspended** in a ``yield`` (a generator, an async generator between two ``asend``) or an
  ``await`` (a coroutine): made as not yet
  started, then given its frame's execution state (:mod:`amber.frames`: the instruction it
  stands at, its locals, cells and value stack, the exception it was handling), once the objects
  of its frame exist (a fill: its locals may refer back to it). A ``contextlib.contextmanager``
  kept open (a library that enters a ``with`` for the life of the process) is then an instance
  like any other, its generator suspended in the ``yield`` (``asynccontextmanager`` too).
* **Running on the stack the image resumes** (a ``for`` loop or a ``yield from`` drives it,
  and ``amber.snapshot()`` was called inside it): made as not yet started; the stack's record
  of its frame is written into it when the stack resumes (:mod:`amber.restore.stack`).
* **Refused**, with the function, the place it stands at and the workaround (finish or drop it
  before the snapshot point, create it after restore; for an open context manager, exit it in an
  ``amber.before_snapshot`` hook): one running (on another thread's stack, or an
  async generator in the middle of an ``asend``, whose awaitable is a C object), and any where
  :mod:`amber.frames` does not know this interpreter's frame layout.

The same holds for coroutines (``cr_*``) and async generators (``ag_*``) where not said. The
state is read from the objects' own attributes (``gi_frame``, ``gi_suspended``...), never
through ``inspect`` (importing it would add modules to the program's world).
"""

from __future__ import annotations

import gc
import sys
import types

from amber import frames
from amber.capture.reduce.recipes import Call, CallOn, Offender, Recipe, reconstructor
from amber.restore import rebuild

_PREFIX = {types.GeneratorType: "gi", types.CoroutineType: "cr", types.AsyncGeneratorType: "ag"}
_KIND = {types.GeneratorType: "generator", types.CoroutineType: "coroutine",
         types.AsyncGeneratorType: "async generator"}
_VARARGS, _VARKEYWORDS = 0x04, 0x08
CREATED, SUSPENDED, RUNNING, CLOSED = "created", "suspended", "running", "closed"


def state(obj) -> str:
    """``created``, ``suspended``, ``running`` or ``closed``, as ``inspect`` would say."""
    prefix = _PREFIX[type(obj)]
    frame = getattr(obj, f"{prefix}_frame")
    if frame is None:
        return CLOSED
    if getattr(obj, f"{prefix}_running"):
        return RUNNING
    suspended = getattr(obj, f"{prefix}_suspended", None)
    if suspended is None:  # an async generator before 3.12: compared with a fresh one
        suspended = frame.f_lasti != _created_lasti(obj)
    return SUSPENDED if suspended else CREATED


_created_at: dict = {}  # code -> where a not yet started frame of it stands


def _created_lasti(obj) -> int:
    """Where the frame of a not yet started async generator of this code stands (the same for
    every frame of one code object): learnt from one made for the purpose, never started."""
    code = obj.ag_code
    lasti = _created_at.get(code)
    if lasti is None:
        fresh = _make_with_placeholders(obj)  # kept alive while read: a frame outliving its
        lasti = _created_at[code] = fresh.ag_frame.f_lasti  # generator reports another place
    return lasti


def _make_with_placeholders(obj):
    code = obj.ag_code
    fn = types.FunctionType(code, {}, code.co_name, None,
                            tuple(types.CellType() for _ in code.co_freevars))
    kwonly = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    return fn(*[None] * code.co_argcount, **dict.fromkeys(kwonly))


def reduce_generator(obj, on_stack: bool = False):
    """A generator, coroutine or async generator (see the module docstring); ``on_stack``: its
    own frame is on the running stack the image resumes (:mod:`amber.capture.stack`)."""
    kind = type(obj)
    prefix = _PREFIX[kind]
    now = state(obj)
    code = getattr(obj, f"{prefix}_code")
    if now == RUNNING and on_stack:
        fn = frames.function_of(obj, code)
        if fn is not None:  # (its frame is the stack's record: written into it as the stack resumes)
            return Recipe(Call(reconstructor(rebuild.suspended_generator),
                               (fn, obj.__name__, obj.__qualname__)))
    if now == CLOSED:
        return Recipe(Call(reconstructor(rebuild.closed_generator), (code, obj.__name__, obj.__qualname__)))
    if now == CREATED:
        fn = frames.function_of(obj, code)
        if fn is not None:
            args, kwargs = _bound_arguments(getattr(obj, f"{prefix}_frame"), code)
            return Recipe(Call(reconstructor(rebuild.remake_generator),
                               (fn, args, kwargs, obj.__name__, obj.__qualname__)))
    if now == SUSPENDED:
        captured = _suspended(obj, code)
        if captured is not None:
            return captured
    return refuse_in_progress(obj, now)


def _readable(obj, code) -> tuple | None:
    """(the function, its frame's state) of a suspended generator, or None where it cannot be read."""
    fn = frames.function_of(obj, code)
    state = None if fn is None else frames.read(obj, code, fn)
    return None if state is None else (fn, state)


def _suspended(obj, code) -> Recipe | None:
    """A suspended generator or coroutine: made as one not yet started, its execution state
    written into it by a fill (see the module docstring); None where it cannot be read."""
    readable = _readable(obj, code)
    if readable is None:
        return None
    fn, state = readable
    return Recipe(Call(reconstructor(rebuild.suspended_generator), (fn, obj.__name__, obj.__qualname__)),
                  [CallOn(reconstructor(rebuild.resume_generator_at), (fn, *state.as_args()))])


def _bound_arguments(frame, code) -> tuple[tuple, tuple]:
    """(positional arguments, keyword arguments as pairs) that call the function again as it was
    called: a frame that has not started holds exactly its bound arguments."""
    values = frame.f_locals
    names = code.co_varnames
    n, kw = code.co_argcount, code.co_kwonlyargcount
    args = [values[name] for name in names[:n]]
    kwargs = [(name, values[name]) for name in names[n:n + kw]]
    at = n + kw
    if code.co_flags & _VARARGS:
        args.extend(values[names[at]])
        at += 1
    if code.co_flags & _VARKEYWORDS:
        kwargs.extend(values[names[at]].items())
    return tuple(args), tuple(kwargs)


def refuse_in_progress(obj, now: str | None = None) -> Offender:
    """A generator in progress: what it is, where it stands, and the library-level object that
    keeps it open when that is a ``contextlib`` context manager."""
    kind = type(obj)
    prefix = _PREFIX[kind]
    frame = getattr(obj, f"{prefix}_frame")
    where = f" at {frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""
    manager = _context_manager_of(obj)
    if manager is not None:
        return refuse_open_context(manager)
    article = "an" if _KIND[kind][0] in "aeiou" else "a"
    what = f"{article} {_KIND[kind]} of {obj.__qualname__}() {now or state(obj)}{where}"
    return Offender(f"{what} (its frame cannot be captured yet)",
                    "finish or drop it before the snapshot point, or create it after restore")


def context_manager_bases() -> tuple:
    """contextlib's generator-based context manager classes, if the program imported it."""
    contextlib = sys.modules.get("contextlib")
    base = getattr(contextlib, "_GeneratorContextManagerBase", None)
    return (base,) if isinstance(base, type) else ()


def _context_manager_of(gen):
    """The ``contextlib.contextmanager`` object whose generator ``gen`` is, if any."""
    bases = context_manager_bases()
    if not bases:
        return None
    holders = gc.get_referrers(gen)
    # The manager itself, or its instance dict (then the manager refers to that).
    holders += [r for h in holders if type(h) is dict for r in gc.get_referrers(h)]
    for holder in holders:
        if issubclass(type(holder), bases) and vars(holder).get("gen") is gen:
            return holder
    return None


def reduce_context_manager(manager, cls, instances):
    """A ``contextlib.contextmanager`` object: captured as any instance (not entered yet, open,
    or exited: its generator is made again, resumed where it was, or closed, see
    :func:`reduce_generator`); refused while its generator is one that cannot be captured."""
    gen = vars(manager).get("gen")
    if type(gen) in _PREFIX and state(gen) in (SUSPENDED, RUNNING):
        if state(gen) == RUNNING or _readable(gen, getattr(gen, f"{_PREFIX[type(gen)]}_code")) is None:
            return refuse_open_context(manager)
    return instances.reduce(manager, cls)


def refuse_open_context(manager) -> Offender:
    gen = vars(manager).get("gen")
    prefix = _PREFIX.get(type(gen))
    # Entering the manager drops its func; the generator's frame still refers to the function.
    func = vars(manager).get("func")
    if func is None and prefix:
        func = frames.function_of(gen, getattr(gen, f"{prefix}_code"))
    made_by = _qualified(func) if func is not None else type(manager).__qualname__
    frame = getattr(gen, f"{prefix}_frame", None) if prefix else None
    where = f", suspended at {frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else ""
    exit_call = "await manager.__aexit__(None, None, None)" if hasattr(type(manager), "__aexit__") \
        else "manager.__exit__(None, None, None)"
    return Offender(
        f"a `with` block kept open: the context manager made by {made_by}() "
        f"({type(manager).__module__}.{type(manager).__qualname__}){where}",
        f"exit it in an amber.before_snapshot hook ({exit_call}) and enter a new "
        f"{made_by}() after the snapshot point or in an amber.after_restore hook")


def _qualified(func) -> str:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", "?")
    return f"{module}.{qualname}" if isinstance(module, str) else str(qualname)
