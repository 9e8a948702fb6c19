"""Resume the running stack an image holds (a snapshot taken by ``amber.snapshot()`` called inside
functions: split kind "stack"): each frame goes on from the call it was waiting in, running its
own code object, with its locals, cells and value stack as they were.

How: each captured frame is written into a *host* generator, a generator of a function made here
with room for the frame (:func:`amber.frames.write_running`). Sending the host a value returns that
value from the call the frame was waiting in; the frame's ``return`` ends the generator with its
result. The driver resumes the innermost frame with ``amber.snapshot()``'s result (None), then each
outer frame with the result of the one inside it; an exception one raises is thrown into the next
one out, at its call, where its own ``try`` blocks and ``with`` blocks apply as they would have; a
frame inside an ``except`` block handles the exception it handled (``sys.exc_info()``, a bare
``raise``), the generator's own exception state holding it. The driver's own entries are taken out
of each exception's traceback, and each resumed frame's ``f_back`` is the frame that called it, so a
traceback, ``inspect.stack()`` and logging see the program's frames as a cold run has them. What
differs: ``sys._getframe(n)`` walks the interpreter's own chain, in which this driver calls each
frame (one Amber frame per level); a resumed frame is a generator's frame to the interpreter
(``inspect.currentframe().f_code`` is the program's code, without the generator flag).

Imported by a restore only when its image holds a stack.
"""

from amber import frames

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HOSTS: dict = {}  # capacity -> a host function with that many locals
_function_type: "Any" = type(lambda: None)


def _host(capacity: int):
    """A generator function whose frame has ``capacity`` locals: room for a frame of that size."""
    host = _HOSTS.get(capacity)
    if host is None:
        names = ", ".join(f"v{i}" for i in range(capacity + 1))
        namespace: dict = {}
        exec(f"def host():\n    {names} = {(None,) * (capacity + 1)!r}\n    yield\n", namespace)
        host = _HOSTS[capacity] = namespace["host"]
    return host


def hosts(stack: tuple, main_namespace: dict) -> list:
    """A host generator for each frame of ``stack`` (innermost first), each holding its frame's
    state, the frames linked to their callers (``f_back``)."""
    gens = []
    for func, code, digest, waiting_at, resume_at, size, slots, handled in stack:
        locals_ = None
        if func is None:  # the main script's frame: its code reads and writes names in its namespace
            func = _function_type(code, main_namespace)
            locals_ = main_namespace
        if code is None:
            code = func.__code__
        if frames.code_digest(code) != digest:
            where = f"{code.co_filename}:{code.co_firstlineno}"
            raise RuntimeError(f"the code of {code.co_qualname}() ({where}) is not the code its frame "
                               "was captured in (its source changed since the snapshot?)")
        gen = _host(frames.host_capacity(code))()
        frames.write_running(gen, func, code, locals_, waiting_at, resume_at, size, slots, handled)
        gens.append((gen, resume_at))
    for (inner, _), (outer, _) in zip(gens, gens[1:], strict=False):
        frames.link_back(inner.gi_frame, outer.gi_frame)
    return gens


def resume(stack: tuple, main_namespace: dict, before=None) -> None:
    """Run the captured frames on, innermost first, to the end of the main script's frame; raise
    what the outermost one raises. ``before``: called with the resumed frames (innermost first)
    before the first one goes on (``amber debug`` stops in them)."""
    value: object = None
    error: BaseException | None = None
    resumed = hosts(stack, main_namespace)
    if before is not None:
        before([gen.gi_frame for gen, _ in resumed])
    for gen, resume_at in resumed:
        try:
            frames.instrument(gen.gi_code)
            if error is None:
                frames.ready_to_return(gen, resume_at)
                gen.send(value)
            else:
                gen.throw(error)
        except StopIteration as done:
            if _returned(done):
                value, error = done.value, None
            else:  # the frame raised it (3.12 on, no generator code turns it into a RuntimeError)
                value, error = None, _as_raised(done)
        except BaseException as e:
            value, error = None, _as_raised(e)
        else:  # (a frame of code with no yield cannot suspend)
            raise RuntimeError(f"a resumed frame of {gen.__qualname__}() suspended")
    if error is not None:
        raise error


def _returned(done: StopIteration) -> bool:
    """Did the host's frame return (the generator protocol made this StopIteration, with no
    traceback beyond the driver's own entry), rather than raise it?"""
    tb = done.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is not resume.__code__:
            return False
        tb = tb.tb_next
    return True


def _as_raised(error: BaseException) -> BaseException:
    """``error`` as the frame raised it: a StopIteration that the generator protocol turned into
    a RuntimeError is the StopIteration again (a plain frame raises it as it is), and the
    driver's entries are out of its traceback."""
    if type(error) is RuntimeError and isinstance(error.__cause__, StopIteration) and \
            str(error) == "generator raised StopIteration":
        error = error.__cause__
    kept = []
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is not resume.__code__:
            kept.append(tb)
        tb = tb.tb_next
    for tb, after in zip(kept, kept[1:] + [None], strict=True):
        tb.tb_next = after
    return error.with_traceback(kept[0] if kept else None)
