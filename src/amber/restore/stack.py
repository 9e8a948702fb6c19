"""Resume the running stack an image holds (a snapshot taken by ``amber.snapshot()`` called inside
functions: split kind "stack"): each frame goes on from the call it was waiting in, running its
own code object, with its locals, cells and value stack as they were.

How: each captured plain frame is written into a *host* generator, a generator of a function made
here with room for the frame (:func:`amber.frames.write_running`); a generator's own frame is
written into the program's generator (restored as not yet started: :func:`amber.frames.write_waiting`).
Sending the host a value returns that value from the call the frame was waiting in; the frame's
``return`` ends the generator with its result. The driver resumes the innermost frame with
``amber.snapshot()``'s result (None), then each outer frame with what the one inside it did (a
value returned or yielded, a generator's return: :func:`_go_on`); an exception one raises is thrown
into the next one out, at its call, where its own ``try`` blocks and ``with`` blocks apply as they
would have; a
frame inside an ``except`` block handles the exception it handled (``sys.exc_info()``, a bare
``raise``), the generator's own exception state holding it. The driver's own entries are taken out
of each exception's traceback, and each resumed frame's ``f_back`` is the frame that called it, so a
traceback, ``inspect.stack()`` and logging see the program's frames as a cold run has them. What
differs: ``sys._getframe(n)`` walks the interpreter's own chain, in which this driver calls each
frame (one Amber frame per level); a resumed frame is a generator's frame to the interpreter
(``inspect.currentframe().f_code`` is the program's code, without the generator flag); the value a
frame returns (or yields, or raises) to its caller is held by the driver too until that caller
returns (an object finalized when its last reference goes is finalized then, not earlier).

Imported by a restore only when its image holds a stack.
"""

from amber import frames
from amber.errors import ImageError

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
    """The generator that runs each frame of ``stack`` (innermost first), holding its frame's
    state: a host for a plain frame, the program's own generator for a generator's frame; the
    frames linked to their callers (``f_back``)."""
    gens = []
    for record in stack:
        func, code, handled = record["func"], record["code"], record["handled"]
        locals_ = None
        if func is None:  # the main script's frame: its code reads and writes names in its namespace
            func = _function_type(code, main_namespace)
            locals_ = main_namespace
        if code is None:
            code = func.__code__
        if frames.code_digest(code) != record["digest"]:
            where = f"{code.co_filename}:{code.co_firstlineno}"
            raise RuntimeError(f"the code of {code.co_qualname}() ({where}) is not the code its frame "
                               "was captured in (its source changed since the snapshot?)")
        gen = record["generator"]
        if gen is None:
            gen = _host(frames.host_capacity(code))()
            frames.write_running(gen, func, code, locals_, record["waiting_at"], record["resume_at"],
                                 record["size"], record["slots"], handled)
        else:
            frames.write_waiting(gen, func, record["digest"], record["waiting_at"], record["resume_at"],
                                 record["size"], record["slots"], handled)
        gens.append(gen)
    for inner, outer in zip(gens, gens[1:], strict=False):
        frames.link_back(inner.gi_frame, outer.gi_frame)
    return gens


# What a frame's callee did: returned or yielded a value, returned from a generator (the value
# of its StopIteration), or raised.
_VALUE, _EXHAUSTED, _RAISED = "value", "exhausted", "raised"


class ResumedStack:
    """The frames of an image's stack, written and linked (:func:`prepare`), to be run on once."""

    def __init__(self, gens: list, records: tuple, own: list) -> None:
        self.gens, self.records, self.own = gens, records, own

    def run(self, before=None) -> None:
        """Run the frames on, innermost first, to the end of the main script's frame; raise what
        the outermost one raises. ``before``: called with the resumed frames (innermost first)
        before the first one goes on (``amber debug`` stops in them)."""
        gens, self.gens = self.gens, []
        if before is not None:
            before([gen.gi_frame for gen in gens])
        outcome: tuple = (_VALUE, None)  # amber.snapshot() returned None
        callee = None
        outer = len(self.records)
        for record, is_generator in zip(self.records, self.own, strict=True):
            gen = gens.pop(0)  # (held no longer than it runs: a generator left by `break` is closed)
            outer -= 1
            outcome = _at_depth(outer, gen, record, is_generator, outcome, callee)
            if is_generator:  # its later callers are other frames
                frames.unlink_back(gen.gi_frame)
            callee = gen if outcome[0] == _EXHAUSTED else None
        gen = callee = None
        kind, value = outcome
        if kind == _RAISED:
            raise value


def prepare(stack: tuple, main_namespace: dict) -> ResumedStack:
    """The frames of ``stack`` written into their generators (:func:`hosts`), before any of the
    program runs again; ImageError if the image's records cannot be (a code object that is not
    the one its frame ran, a record that does not fit its frame)."""
    try:
        gens = hosts(stack, main_namespace)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise ImageError(f"the image's running stack cannot be resumed: {e}") from None
    own = [record["generator"] is not None for record in stack]
    for record in stack:  # the frames hold what they held now: nothing else keeps it alive longer
        record.update(slots=(), handled=None, generator=None)  # (a local dropped is freed as cold)
    return ResumedStack(gens, stack, own)


def _at_depth(outer: int, gen, record: dict, own_generator: bool, outcome: tuple, callee) -> tuple:
    """:func:`_go_on` from ``outer`` calls deep: a frame runs as deep in the interpreter's count
    of Python calls as the frames outside it put it in the uninterrupted run (its
    ``RecursionError`` comes where it would have, give or take Amber's own few frames below)."""
    if outer > 0:
        return _at_depth(outer - 1, gen, record, own_generator, outcome, callee)
    return _go_on(gen, record, own_generator, outcome, callee)


def _go_on(gen, record: dict, own_generator: bool, outcome: tuple, callee) -> tuple:
    """Run one frame on from what its callee did, until it returns, yields or raises.

    The frame waits in a call (``waits`` "call"), a ``for`` loop's ``FOR_ITER`` ("for") or a
    ``yield from``'s ``SEND`` ("send"). A value goes on from the instruction after it, pushed
    as that instruction pushes it; an exception is raised there; a generator callee that
    returned makes a ``FOR_ITER`` run again (on the exhausted generator: the loop ends as it
    ends) and a ``SEND`` go on at its target with the return value, where it takes it."""
    kind, value = outcome
    frames.instrument(gen.gi_code)
    try:
        if kind == _RAISED:
            result = gen.throw(value)
        elif kind == _EXHAUSTED:
            frames.go_on_at(gen, record["exhausted_at"], record["exhausted_size"])
            result = gen.send(callee if record["waits"] == "for" else value)
        else:
            frames.ready_to_return(gen, record["resume_at"])
            result = gen.send(value)
    except StopIteration as done:
        if own_generator:
            return _EXHAUSTED, done.value
        if _returned(done):
            return _VALUE, done.value
        return _RAISED, _as_raised(done, plain=True)  # (3.12 on: a plain frame raised it)
    except BaseException as e:
        return _RAISED, _as_raised(e, plain=not own_generator)
    if not own_generator:  # (a frame of code with no yield cannot suspend)
        raise RuntimeError(f"a resumed frame of {gen.__qualname__}() suspended")
    return _VALUE, result


def _returned(done: StopIteration) -> bool:
    """Did the host's frame return (the generator protocol made this StopIteration, with no
    traceback beyond the driver's own entry), rather than raise it?"""
    tb = done.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is not _go_on.__code__:
            return False
        tb = tb.tb_next
    return True


def _as_raised(error: BaseException, plain: bool) -> BaseException:
    """``error`` as the frame raised it: a StopIteration that the generator protocol turned into
    a RuntimeError is the StopIteration again where the frame was a plain one (which raises it
    as it is), and the driver's entries are out of its traceback."""
    if plain and type(error) is RuntimeError and isinstance(error.__cause__, StopIteration) and \
            str(error) == "generator raised StopIteration":
        error = error.__cause__
    kept = []
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is not _go_on.__code__:
            kept.append(tb)
        tb = tb.tb_next
    for tb, after in zip(kept, [*kept[1:], None], strict=False):  # (none kept: an exception
        tb.tb_next = after                                          # re-raised as it was restored)
    return error.with_traceback(kept[0] if kept else None)
