"""The running stack at an ``amber.snapshot()`` called below the main script's top level: the
frames between that call and the main script's own frame, read by
:func:`amber.frames.read_running` into the records the image holds and
:mod:`amber.restore.stack` resumes (issue 15, section 1).

A record is a dict, innermost frame first:

* ``func``: the frame's function; None for the main script's frame, whose ``code`` is then given
  (run in the main module's namespace; ``code`` is None otherwise, as it is the function's own);
* ``digest``: of that code (:func:`amber.frames.code_digest`: a restore refuses a function whose
  code is not the one the frame ran);
* ``waiting_at``: the instruction the frame waits in (a call, a ``FOR_ITER`` or a ``SEND``);
  ``resume_at``: the next one, where the value it waits for is pushed;
* ``size`` and ``slots``: the stack's top for that push, found from the code
  (:func:`amber.bytecode.stack_depths`), and ``(index, object)`` for each slot below it that holds
  an object (locals, cells, value stack);
* ``handled``: the exception being handled where the frame waits (None outside ``except``
  blocks: :func:`handled_exceptions`);
* ``generator``: the program's generator whose own frame this is, or None for a plain frame;
* ``waits``: "call", or "for" / "send" where the callee is a generator this frame drives by a
  ``for`` loop or a ``yield from``; then ``exhausted_at`` and ``exhausted_size``: where the frame
  goes on, and with how many slots, once that generator has returned.

What is refused, naming the stack (:func:`describe`): a frame called from C code (a callback of
``map`` or ``sorted``, an ``__init__`` called by a class, a module body run by ``import``: the C
code's own work after the call cannot be resumed); a generator resumed otherwise than by a
``for`` loop or ``yield from`` (``next()``, ``send()``, ``list()``); a coroutine's or an async
generator's frame; a generator inside an ``except`` block of the frame that resumed it; a stack
that does not reach the main script's code (another thread's)."""

from __future__ import annotations

import dis
import sys
import types

from amber import bytecode, frames


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
    parts: list = []
    stack = frames_to_main(frame)
    for depth, f in enumerate(stack):
        code = f.f_code
        if code.co_filename.startswith("<frozen importlib"):  # (Amber's import hooks look so too)
            if not parts or parts[-1] != "the import system":
                parts.append("the import system")
            continue
        where = f"{frame_name(f)} at {code.co_filename}:{f.f_lineno}"
        # The outermost frame was entered from C by its nature (exec, or Amber's own call), and
        # a generator's is whenever C code resumed it (a for loop's own, on 3.11).
        state = frames.read_running(f) if depth < len(stack) - 1 and not code.co_flags & _GENERATOR else None
        if state is not None and state.entered_from_c and not _called_with_star_args(stack[depth + 1]):
            where += " (called from C code: such a frame cannot be resumed)"
        parts.append(where)
    return parts


def frame_name(frame) -> str:
    """``f()``, ``the main script``, or ``the body of module m`` (run by its import)."""
    code = frame.f_code
    if code.co_name != "<module>":
        return f"{code.co_qualname}()"
    if frame.f_globals is getattr(sys.modules.get("__main__"), "__dict__", None):
        return "the main script"
    return f"the body of module {frame.f_globals.get('__name__')}"


def _called_with_star_args(caller) -> bool:
    """Does ``caller`` wait in a ``CALL_FUNCTION_EX`` (see :func:`_check_called_through_call_machinery`)?"""
    state = frames.read_running(caller)
    instruction = None if state is None else bytecode.instruction_containing(caller.f_code, state.waiting_at)
    return instruction is not None and instruction.opcode == _CALL_FUNCTION_EX



_GENERATOR = 0x20
_COROUTINE_LIKE = 0x80 | 0x100 | 0x200  # a coroutine, an iterable coroutine, an async generator
_FOR_ITER, _SEND = dis.opmap["FOR_ITER"], dis.opmap["SEND"]
_CALL_FUNCTION_EX = dis.opmap["CALL_FUNCTION_EX"]


class Refusal(Exception):
    """The stack cannot be resumed: the reason, with the hint, for one line."""


class CapturedStack:
    """What :func:`capture` found: the frames and their records (innermost first) and the
    generators whose own frames are on the stack (the heap makes them as not yet started; the
    restore writes their frames: :mod:`amber.restore.stack`)."""

    def __init__(self, frames: list, records: tuple, generators: list) -> None:
        self.frames = frames
        self.records = records
        self.generators = generators


def capture(call_frame, main_codes: tuple, call: str = "amber.snapshot()") -> CapturedStack:
    """The records of the frames from the caller of ``call_frame`` (``amber.snapshot()``'s own
    frame, or ``call``'s) out to the main script's frame, which runs one of ``main_codes`` (the
    part of the script before its snapshot point, or after it); Refusal where they could not be
    resumed."""
    stack = frames_to_main(call_frame.f_back)
    where = f"{call} was called inside {describe(call_frame.f_back)}"
    if not any(stack[-1].f_code is code for code in main_codes):
        raise Refusal(f"{where}, which is not the main script's code (another thread, or code run by "
                      "exec): call it from the main script or a function it calls")
    if frames.entered_from_c(call_frame):
        raise Refusal(f"{where}, through C code that called {call} (functools.partial, a "
                      "callback): call it directly")
    records = [_waiting_frame(frame, where, outermost=frame is stack[-1]) for frame in stack]
    entered_from_c = [record["_state"].entered_from_c for record in records]
    generators = []
    for depth, frame in enumerate(stack):
        record = records[depth]
        callee = stack[depth - 1] if depth else None
        if callee is not None and callee.f_code.co_flags & _GENERATOR:
            gen = _generator_driven_by(record, frame, callee, where)
            records[depth - 1]["generator"] = gen
            generators.append(gen)
        else:
            through_c = callee is not None and entered_from_c[depth - 1]
            if through_c:
                _check_called_through_call_machinery(record, frame, records[depth - 1]["func"], callee, where)
            _check_call(record, frame, where, inline=not through_c)
    for record, exc in zip(records, handled_exceptions(records, sys.exc_info()[1], where), strict=True):
        record["handled"] = exc
    return CapturedStack(stack, tuple(records), generators)


def _waiting_frame(frame, where: str, outermost: bool) -> dict:
    """The record of one frame (see the module docstring), its stack's top found from its code."""
    code = frame.f_code
    name = code.co_qualname
    if code.co_flags & _COROUTINE_LIKE:
        raise Refusal(f"{where}: {name}() is a coroutine or an async generator, whose running frame "
                      "is not captured yet: call it from a plain function or a generator")
    state = frames.read_running(frame)
    depths = bytecode.stack_depths(code)
    instruction = None if state is None else bytecode.instruction_containing(code, state.waiting_at)
    after = None if instruction is None else bytecode.next_offset(code, instruction.offset)
    if state is None or instruction is None or depths is None or after not in depths:
        raise Refusal(f"{where}: this interpreter's frames are not laid out as Amber knows them")
    func = None if outermost else state.func
    if func is None and not outermost:
        raise Refusal(f"{where}: the frame of {name}() runs code that is not its function's")
    base = _stack_base(code)
    size = base + depths[after] - 1  # the value the instruction waits for is pushed at `after`
    record = {"func": func, "code": code if func is None else None, "digest": state.code,
              "waiting_at": instruction.offset, "resume_at": after, "size": size,
              "slots": frames.read_running_slots(frame, size), "handled": None, "generator": None,
              "waits": "call", "exhausted_at": None, "exhausted_size": None,
              # (capture only, taken out below: what the checks of the caller need)
              "_state": state, "_opcode": instruction.opcode, "_depths": depths, "_base": base,
              "_argval": instruction.argval}
    return record


def _check_called_through_call_machinery(record: dict, frame, func, callee, where: str) -> None:
    """A plain function's frame entered from C can be resumed alone where that C code is only
    the call machinery, which hands the result back as it is: its caller waits in a
    ``CALL_FUNCTION_EX`` (a call with ``*args`` or ``**kwargs``, which 3.11 and 3.12 make
    through ``PyObject_Call``: every decorator's ``fn(*args, **kwargs)``) of the callee's own
    function (or a method of it), found among the instruction's operands. Anything else
    between them (a class calling ``__init__``, ``map``, ``sorted``, a ``__getattr__``) does
    its own work with the result: refused."""
    depths, base = record["_depths"], record["_base"]
    operands = dict(frames.read_running_slots(frame, base + depths[record["waiting_at"]]))
    called = [obj for index, obj in operands.items() if index >= record["size"]]
    if record["_opcode"] != _CALL_FUNCTION_EX or not any(
            obj is func or getattr(obj, "__func__", None) is func for obj in called):
        raise Refusal(f"{where}: {frame_name(callee)} was called from C code, which cannot be "
                      "resumed: make the call outside that callback")


def _check_call(record: dict, frame, where: str, inline: bool = True) -> None:
    """A frame whose callee is a plain function's frame waits in a call: where the interpreter
    made it inline, the top it saved there must be the one its code gives (else this reading of
    the frame is wrong: refused rather than resumed wrongly)."""
    state = record["_state"]
    if inline and state.size is not None and state.size != record["size"] or \
            inline and sys.version_info[:2] >= (3, 13) and state.resume_at != record["resume_at"]:
        raise Refusal(f"{where}: the frame of {frame.f_code.co_qualname}() waits where this reading of "
                      "its code does not expect")
    _drop_capture_fields(record)


def _generator_driven_by(record: dict, frame, callee, where: str):
    """The generator whose frame is ``callee``, which the frame of ``record`` drives: by a
    ``for`` loop (``FOR_ITER``, the generator on the top of its stack) or a ``yield from``
    (``SEND``, the generator below the value sent). Anything else that resumes a generator (a
    call of ``next()`` or ``send()``, C code such as ``list()`` or ``sum()``) is refused: what it
    does with the value the generator yields cannot be resumed."""
    name = callee.f_code.co_qualname
    opcode, depths, base = record["_opcode"], record["_depths"], record["_base"]
    depth = depths[record["waiting_at"]]
    index = base + depth - (1 if opcode == _FOR_ITER else 2)
    held = dict(frames.read_running_slots(frame, base + depth)) if opcode in (_FOR_ITER, _SEND) else {}
    gen = held.get(index)
    if type(gen) is not types.GeneratorType or gen.gi_frame is not callee:
        raise Refusal(f"{where}: the generator {name}() is resumed by next(), send() or C code (list(), "
                      "sum()...), which cannot be resumed: iterate it with a for loop or yield from, or "
                      "make the call outside the generator")
    target = record["_argval"]
    if opcode == _FOR_ITER:  # exhausted: the FOR_ITER runs again, on the generator sent back in
        record.update(waits="for", exhausted_at=record["waiting_at"], exhausted_size=base + depth - 1)
    else:  # returned: the SEND's target takes its value (3.11: in the generator's place)
        if target not in depths:
            raise Refusal(f"{where}: this interpreter's frames are not laid out as Amber knows them")
        record.update(waits="send", exhausted_at=target, exhausted_size=base + depths[target] - 1)
    _drop_capture_fields(record)
    return gen




def _drop_capture_fields(record: dict) -> None:
    for key in [k for k in record if k.startswith("_")]:
        del record[key]


def handled_exceptions(records: list, current: object, where: str) -> list:
    """The exception each frame of ``records`` (innermost first) was handling where it waits,
    ``current`` being the innermost one's (``sys.exc_info()``).

    All plain frames of a thread share one "exception being handled". Entering an ``except``
    (or ``finally``, or ``with`` exit) block pushes the one it replaces on the frame's value
    stack (``PUSH_EXC_INFO``), and leaving the block puts it back (``POP_EXCEPT``). So the
    exception a caller was handling when it made its call is the one saved by the outermost
    such block its callee is in, or, if the callee is in none, the callee's own. A running
    generator has a state of its own, linked to its resumer's: beyond it, the resumer's. A
    resumed frame is a generator's, with an exception state of its own: each gets its value
    (:func:`amber.frames.write_running`), and the saved values go on with the value stack."""
    out = []
    for record in records:
        gen = record["generator"]
        code = record["code"] or record["func"].__code__
        out.append(current)
        if gen is not None:
            # What a generator's frames see falls through its own state to its resumer's when
            # its own holds none: a restored generator resumes with its own state alone.
            below = frames.handled_below(gen)
            if below is not None and (current is None or frames.generator_exception(gen) is None):
                raise Refusal(f"{where}: the generator {code.co_qualname}() runs inside an except block of "
                              "the frame that resumed it, which is not captured yet: make the "
                              "call outside that block")
            current = below
            continue
        base = _stack_base(code)
        saved = bytecode.outermost_saved_exception(code, record["waiting_at"], record["size"] - base)
        if saved is not None:
            current = dict(record["slots"]).get(base + saved)
    return out


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
        slots, handled = record["slots"], record["handled"]
        code = frame.f_code
        name = frame_name(frame)
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
