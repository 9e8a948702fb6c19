"""The running stack at an ``amber.snapshot()`` called below the main script's top level: the
frames between that call and the main script's own frame, read by
:func:`amber.frames.read_running` into the records the image holds and
:mod:`amber.restore.stack` resumes (issue 15, section 1).

A record is a tuple ``(func, code, digest, waiting_at, resume_at, size, slots, handled)``: the
frame's function (None for the main script's frame, whose code is then ``code``, run in the main
module's namespace; ``code`` is None otherwise, as it is the function's own), the digest of that
code (:func:`amber.frames.code_digest`: a restore refuses a function whose code is not the one the
frame ran), where its instruction pointer stood and the offset the pending call returns to
(:class:`amber.frames.RunningFrame`), the stack's top and the slots that hold objects, and the
exception being handled where the frame waits (None outside ``except`` blocks: see
:func:`handled_exceptions`). Innermost frame first.

What is refused, naming the stack (:func:`describe`): a frame called from C code (a callback of
``map`` or ``sorted``, an ``__init__`` called by a class, a module body run by ``import``: the C
code's own work after the call cannot be resumed); a generator's or coroutine's frame on the
stack; a stack that does not reach the main script's code (another thread's)."""

from __future__ import annotations

import dis
import sys

from amber import frames


def frames_to_main(frame) -> list:
    """The frames from ``frame`` out to the main script's module frame (innermost first);
    up to the outermost frame if the main script's is not on the stack."""
    main = sys.modules.get("__main__")
    main_globals = getattr(main, "__dict__", None)
    stack = []
    while frame is not None:
        stack.append(frame)
        if frame.f_globals is main_globals and frame.f_code.co_name == "<module>":
            break
        frame = frame.f_back
    return stack


def describe(frame) -> str:
    """``inner() at app.py:12, called by main() at app.py:20, called by the main script at
    app.py:30``, with a note on each frame that was entered from C code."""
    return ", called by ".join(frame_descriptions(frame))


def frame_descriptions(frame) -> list:
    """Each frame from ``frame`` out to the main script's, described as :func:`describe` does."""
    parts = []
    stack = frames_to_main(frame)
    for depth, f in enumerate(stack):
        code = f.f_code
        name = "the main script" if code.co_name == "<module>" else f"{code.co_qualname}()"
        where = f"{name} at {code.co_filename}:{f.f_lineno}"
        # The outermost frame was entered from C by its nature (exec, or Amber's own call).
        state = frames.read_running(f) if depth < len(stack) - 1 else None
        if state is not None and state.entered_from_c:
            where += " (called from C code: such a frame cannot be resumed)"
        parts.append(where)
    return parts


# co_flags of the code a generator, a coroutine or an async generator runs.
_SUSPENDABLE = 0x20 | 0x80 | 0x100 | 0x200


class Refusal(Exception):
    """The stack cannot be resumed: the reason, with the hint, for one line."""


def capture(call_frame, main_code) -> tuple:
    """The records of the frames from the caller of ``call_frame`` (``amber.snapshot()``'s own
    frame) out to the main script's frame, which runs ``main_code``; Refusal where they could
    not be resumed."""
    stack = frames_to_main(call_frame.f_back)
    where = f"amber.snapshot() was called inside {describe(call_frame.f_back)}"
    if stack[-1].f_code is not main_code:
        raise Refusal(f"{where}, which is not the main script's code (another thread, or code run by "
                      "exec): call it from the main script or a function it calls")
    if frames.entered_from_c(call_frame):
        raise Refusal(f"{where}, through C code that called amber.snapshot() (functools.partial, a "
                      "callback): call it directly")
    states = []
    for depth, frame in enumerate(stack):
        outermost = depth == len(stack) - 1
        code = frame.f_code
        if code.co_flags & _SUSPENDABLE:
            raise Refusal(f"{where}: {code.co_qualname}() is a generator or a coroutine, whose running "
                          "frame is not captured yet: call it from a plain function")
        state = frames.read_running(frame)
        if state is None:
            raise Refusal(f"{where}: this interpreter's frames are not laid out as Amber knows them")
        if state.entered_from_c and not outermost:
            raise Refusal(f"{where}: {code.co_qualname}() was called from C code, which cannot be "
                          "resumed: call amber.snapshot() outside that callback")
        func = None if outermost else state.func
        if func is None and not outermost:
            raise Refusal(f"{where}: the frame of {code.co_qualname}() runs code that is not its "
                          "function's")
        states.append((func, code, state))
    handled = handled_exceptions([(code, state) for _func, code, state in states], sys.exc_info()[1])
    return tuple((func, code if func is None else None, state.code, state.waiting_at, state.resume_at,
                  state.size, state.slots, exc)
                 for (func, code, state), exc in zip(states, handled, strict=True))


def handled_exceptions(stack: list, current: BaseException | None) -> list:
    """The exception each frame of ``stack`` (``(code, RunningFrame)``, innermost first) was
    handling where it waits, ``current`` being the innermost one's (``sys.exc_info()``).

    All plain frames of a thread share one "exception being handled". Entering an ``except``
    (or ``finally``, or ``with`` exit) block pushes the one it replaces on the frame's value
    stack (``PUSH_EXC_INFO``), and leaving the block puts it back (``POP_EXCEPT``). So the
    exception a caller was handling when it made its call is the one saved by the outermost
    such block its callee is in, or, if the callee is in none, the callee's own. A resumed frame
    is a generator's, with an exception state of its own: each gets its own value
    (:func:`amber.frames.write_running`), and the saved values go on with the value stack."""
    out = []
    for code, state in stack:
        out.append(current)
        saved = _outermost_saved_exception(code, state.waiting_at, state.size - _stack_base(code))
        if saved is not None:
            current = dict(state.slots).get(_stack_base(code) + saved)
    return out


def _outermost_saved_exception(code, offset: int, depth: int) -> int | None:
    """The value-stack index of the exception saved by the outermost ``except`` block that the
    instruction at ``offset`` (with ``depth`` values on the stack) is inside, or None.

    Follows what an exception raised there would do: the exception table sends it to a handler
    with the stack cut to a depth, that handler's code is covered by the next enclosing entry,
    and so on out. A handler that leaves an ``except`` block is, on 3.11 to 3.13, ``COPY 3;
    POP_EXCEPT; RERAISE 1``, entered with the saved exception just below the offset it pushes
    (``lasti``) and the new exception: at index ``depth - 1``. Only indices below every depth
    the stack was cut to so far are the frame's own (above them, the handlers' own pushes)."""
    entries = _exception_table(code)
    found = None
    for _ in range(len(entries)):  # each step goes out one handler: a bound, not a loop guard
        entry = next(((t, d, lasti) for start, end, t, d, lasti in entries if start <= offset < end), None)
        if entry is None:
            break
        target, entry_depth, lasti = entry
        if lasti and entry_depth - 1 < depth and _leaves_except_block(code, target):
            found = entry_depth - 1
        depth = min(depth, entry_depth)
        offset = target
    return found


_COPY, _POP_EXCEPT = dis.opmap["COPY"], dis.opmap["POP_EXCEPT"]


def _leaves_except_block(code, offset: int) -> bool:
    raw = code.co_code
    return raw[offset:offset + 2] == bytes((_COPY, 3)) and raw[offset + 2:offset + 3] == bytes((_POP_EXCEPT,))


def _exception_table(code) -> list:
    """``(start, end, target, depth, lasti)`` for each entry of ``code.co_exceptiontable``, in
    bytes (the table's format: CPython's ``Objects/exception_handling_notes.txt``: varints of
    6-bit groups, a set 0x40 bit continuing one, 0x80 marking an entry's first byte)."""
    table = code.co_exceptiontable
    position = 0

    def varint() -> int:
        nonlocal position
        byte = table[position]
        position += 1
        value = byte & 63
        while byte & 64:
            byte = table[position]
            position += 1
            value = (value << 6) | (byte & 63)
        return value

    entries = []
    while position < len(table):
        start = varint()
        length = varint()
        target = varint()
        depth_lasti = varint()
        entries.append((2 * start, 2 * (start + length), 2 * target, depth_lasti >> 1, bool(depth_lasti & 1)))
    return entries


def _stack_base(code) -> int:
    """The index of a frame's first value-stack slot: after its locals, cells and free variables
    (an argument that is also a cell has one slot)."""
    return code.co_nlocals + len(set(code.co_cellvars) - set(code.co_varnames)) + len(code.co_freevars)


def roots(stack_frames: list, records: tuple) -> list:
    """``(name, object)`` for each object a captured frame holds, named by its frame and its
    local (``main() at app.py:12: local 'config'``): the heap's roots, so that an object that
    cannot be captured is reported with the frame and the variable that hold it."""
    out = []
    for frame, record in zip(stack_frames, records, strict=True):
        slots, handled = record[-2:]
        code = frame.f_code
        name = "the main script" if code.co_name == "<module>" else f"{code.co_qualname}()"
        at = f"{name} at {code.co_filename}:{frame.f_lineno}"
        names = _slot_names(code)
        for index, obj in slots:
            local = f"local {names[index]!r}" if index < len(names) else f"value stack[{index - len(names)}]"
            out.append((f"{at}: {local}", obj))
        if handled is not None:
            out.append((f"{at}: the exception being handled", handled))
    return out


def _slot_names(code) -> list:
    """The names of a frame's local, cell and free variable slots, in their order."""
    name_of = getattr(code, "_varname_from_oparg", None)  # CPython's own mapping (3.11 to 3.13)
    if name_of is None:
        return []
    return [name_of(i) for i in range(_stack_base(code))]
