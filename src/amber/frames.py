"""The execution state of a suspended generator: read from its frame at capture, written into a
new generator of the same function at restore. The one place that knows CPython's frame layouts
(3.11, 3.12, 3.13); it reads and writes them through ``ctypes``.

A generator (a coroutine, an async generator: one layout, ``_PyGenObject_HEAD``) ends with its
frame, a ``_PyInterpreterFrame`` stored in the object itself, and the frame ends with
``localsplus``: the locals, the cells and the free variables, then the value stack. The type's
``tp_basicsize`` stops exactly at ``localsplus``, so the frame is found from the object's size
alone; the fields before it are at the offsets below. What a suspended frame holds, and what is
captured (:class:`FrameState`):

* ``instr``: where it stands, as a byte offset into its code's bytecode (the instruction pointer
  points into the code object's variable part, which starts at the code type's basicsize);
* ``frame_state``: the generator's frame state (suspended; on 3.13, suspended in ``yield from``),
  the interpreter's own value, written back as read (an image is restored by the interpreter
  version that made it);
* ``slots``: every slot of ``localsplus`` up to the stack's top that holds an object, with its
  index (an unbound local, or the NULL a call pushes, is an empty slot), and ``size``, the top;
* ``exc_value``: the exception being handled where it suspended (a ``yield`` in an ``except``
  block), or None;
* ``code``: a digest of the bytecode, exception table and frame shape the state was read
  against: the restore writes it only into a frame of the very same code (a module imported
  again whose source was edited since gives another; writing the old state into it would run
  the new code from the old code's offsets and stack);
* ``hooks_inited``: for an async generator, whether the first-iteration hook
  (``sys.set_asyncgen_hooks``: an event loop's, which registers it for shutdown) has been called
  on it: not called again after restore, as it would not be in the running program.

At restore the generator is made by calling its function with placeholder arguments, which runs
none of its body (:func:`amber.restore.rebuild.suspended_generator`); then :func:`write` replaces
every slot (references counted), the stack's top, the instruction pointer, the frame state and
the exception. Before reading or writing, the frame's code and function fields must be the
generator's own code and function: if they are not (a build this module does not know, such as
a debug build with a larger object header), nothing is read or written, and the generator is
refused as one in progress always was.

Imported by the capture side, and by the heap program only when an image holds a suspended
generator: ``ctypes`` is imported then and taken out of ``sys.modules`` again (the program's
``sys.modules`` stays as a cold run's).
"""

import gc
import sys
from _blake2 import blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WORD = 8  # a pointer: the layouts below are those of 64-bit builds


class Layout:
    """Byte offsets: of fields in ``_PyInterpreterFrame`` (``code``... ``localsplus``) and in the
    generator object (``exc_value``, ``hooks_inited`` three bytes before ``frame_state``)."""

    __slots__ = ("code", "func", "instr", "stacktop", "localsplus", "exc_value", "frame_state",
                 "hooks_inited")

    def __init__(self, code: int, func: int, instr: int, stacktop: int, localsplus: int, exc_value: int,
                 frame_state: int) -> None:
        self.code, self.func, self.instr, self.stacktop = code, func, instr, stacktop
        self.localsplus, self.exc_value, self.frame_state = localsplus, exc_value, frame_state
        self.hooks_inited = frame_state - 3  # then closed, running_async, frame_state


# 3.11: the frame starts with f_func, f_globals, f_builtins, f_locals, f_code, frame_obj, previous,
# prev_instr, stacktop (int), is_entry, owner; the generator head has gi_code before the weak list.
# 3.12 and 3.13: f_code (3.13: f_executable), previous, f_funcobj, f_globals, f_builtins, f_locals,
# frame_obj, prev_instr (3.13: instr_ptr), stacktop, return_offset, owner; no gi_code.
LAYOUTS = {
    (3, 11): Layout(code=32, func=0, instr=56, stacktop=64, localsplus=72, exc_value=48, frame_state=75),
    (3, 12): Layout(code=0, func=16, instr=56, stacktop=64, localsplus=72, exc_value=40, frame_state=67),
    (3, 13): Layout(code=0, func=16, instr=56, stacktop=64, localsplus=72, exc_value=40, frame_state=67),
}
LAYOUT = LAYOUTS.get(sys.version_info[:2]) if sys.maxsize > 2 ** 32 else None


class FrameState:
    """What a restore writes into a new generator of the same function (see the module docstring)."""

    __slots__ = ("code", "instr", "frame_state", "size", "slots", "exc_value", "hooks_inited")

    def __init__(self, code: bytes, instr: int, frame_state: int, size: int, slots: tuple, exc_value: object,
                 hooks_inited: int) -> None:
        self.code = code
        self.hooks_inited = hooks_inited
        self.instr = instr
        self.frame_state = frame_state
        self.size = size
        self.slots = slots  # ((index, object), ...)
        self.exc_value = exc_value

    def as_args(self) -> tuple:
        return (self.code, self.instr, self.frame_state, self.size, self.slots, self.exc_value,
                self.hooks_inited)


_ctypes: "Any" = None  # the ctypes module, once imported


def _c():
    """ctypes, imported once (with ``Py_IncRef``/``Py_DecRef`` typed); taken out of
    ``sys.modules`` again when it was not there."""
    global _ctypes
    if _ctypes is None:
        before = set(sys.modules)
        import ctypes

        for name in set(sys.modules) - before:
            del sys.modules[name]
        ctypes.pythonapi.Py_IncRef.argtypes = [ctypes.py_object]
        ctypes.pythonapi.Py_DecRef.argtypes = [ctypes.c_void_p]
        _ctypes = ctypes
    return _ctypes


def function_of(gen, code):
    """The function whose call made ``gen`` (its frame refers to it), if its code is still
    ``code``; None otherwise."""
    for ref in gc.get_referents(gen):
        if type(ref) is type(function_of) and ref.__code__ is code:
            return ref
    return None


def _frame_address(gen) -> int:
    assert LAYOUT is not None
    return id(gen) + type(gen).__basicsize__ - LAYOUT.localsplus


def _bytecode_address(code) -> int:
    return id(code) + type(code).__basicsize__


def _is_its_frame(gen, code, func) -> bool:
    """Does the frame at the place this layout says hold ``gen``'s code and function?"""
    if LAYOUT is None:
        return False
    c = _c()
    frame = _frame_address(gen)
    return (c.c_void_p.from_address(frame + LAYOUT.code).value == id(code)
            and c.c_void_p.from_address(frame + LAYOUT.func).value == id(func))


def read(gen, code, func) -> "FrameState | None":
    """The execution state of ``gen`` (suspended, of function ``func`` with code ``code``), or
    None where this interpreter's layout is not known here."""
    if not _is_its_frame(gen, code, func):
        return None
    assert LAYOUT is not None
    c = _c()
    frame = _frame_address(gen)
    instr = c.c_void_p.from_address(frame + LAYOUT.instr).value - _bytecode_address(code)
    size = c.c_int.from_address(frame + LAYOUT.stacktop).value
    if not 0 <= instr < len(code.co_code) or not 0 <= size <= _capacity(code):
        return None
    slots = _read_slots(c, frame, size)
    exc = c.c_void_p.from_address(id(gen) + LAYOUT.exc_value).value
    exc_value = c.cast(exc, c.py_object).value if exc else None
    state = c.c_int8.from_address(id(gen) + LAYOUT.frame_state).value
    hooks = c.c_int8.from_address(id(gen) + LAYOUT.hooks_inited).value
    return FrameState(code_digest(code), instr, state, size, slots, exc_value, hooks)


# A frame object (PyFrameObject) holds its _PyInterpreterFrame at this offset (3.11 to 3.13).
_FRAME_OBJECT_DATA = 16 + _WORD
# Where a frame was entered from C: 3.11 marks the frame itself (``is_entry``, a byte after
# ``stacktop``); 3.12 and 3.13 link it to a shim frame whose ``owner`` is FRAME_OWNED_BY_CSTACK.
_IS_ENTRY_3_11 = 68
_PREVIOUS_3_12 = 8
_OWNER_3_12 = 70
_OWNED_BY_CSTACK = 3
_RETURN_OFFSET_3_13 = 68  # a uint16: 3.13's instr_ptr stays on the CALL; a return resumes past it


class RunningFrame:
    """What a frame that is waiting in a call holds (read by :func:`read_running`): the frame's
    function, its code's digest, the byte offset the call returns to, the stack's top and every
    slot of ``localsplus`` below it that holds an object (None and no slots where the frame did
    not save its top: it waits in an instruction that called C code, such as a ``FOR_ITER``
    resuming a generator); and whether it was entered from C (its
    caller is a C function: a Python callback of ``map``, ``sorted``, a class's ``__init__``
    called by ``type.__call__``), in which case resuming it alone would skip what that C
    function does with its result."""

    __slots__ = ("func", "code", "waiting_at", "resume_at", "size", "slots", "entered_from_c")

    def __init__(self, func, code: bytes, waiting_at: int, resume_at: int, size: "int | None", slots: tuple,
                 entered_from_c: bool) -> None:
        self.func = func
        self.code = code
        self.waiting_at = waiting_at  # where the frame's instruction pointer stands while it waits
        self.resume_at = resume_at
        self.size = size
        self.slots = slots  # ((index, object), ...)
        self.entered_from_c = entered_from_c


def read_running(frame) -> "RunningFrame | None":
    """The state of ``frame``, a frame object of this thread's stack that is waiting for a call
    it made to return (any frame below the running one), or None where this interpreter's
    layout is not known here or the frame does not hold what the layout says."""
    if LAYOUT is None:
        return None
    c = _c()
    data = c.c_void_p.from_address(id(frame) + _FRAME_OBJECT_DATA).value
    code = frame.f_code
    if not data or c.c_void_p.from_address(data + LAYOUT.code).value != id(code):
        return None
    func_address = c.c_void_p.from_address(data + LAYOUT.func).value
    func = c.cast(func_address, c.py_object).value if func_address else None
    if type(func) is not type(read_running) or func.__code__ is not code:
        func = None  # module-level code run by exec(): its function is not the program's
    version = sys.version_info[:2]
    waiting_at = resume_at = c.c_void_p.from_address(data + LAYOUT.instr).value - _bytecode_address(code)
    if version >= (3, 13):
        resume_at += 2 * c.c_uint16.from_address(data + _RETURN_OFFSET_3_13).value
    else:
        resume_at += 2  # prev_instr is the call's last code unit; a return goes on after it
    size: int | None = c.c_int.from_address(data + LAYOUT.stacktop).value
    # (3.13: a generator resumed inline by FOR_ITER_GEN or SEND_GEN leaves its caller a return
    # offset to where the loop ends, not to the next instruction: resume_at is only read where
    # the callee is a plain function's frame, and checked there: amber.capture.stack)
    if not 0 <= waiting_at < len(code.co_code):
        return None
    if not 0 <= size <= _capacity(code):  # type: ignore[operator]
        size = None  # not saved where it waits (an instruction that called C code)
    slots = _read_slots(c, data, size) if size is not None else ()
    return RunningFrame(func, code_digest(code), waiting_at, resume_at, size, slots,
                        _entered_from_c(c, data, frame))


def read_running_slots(frame, size: int) -> tuple:
    """``(index, object)`` for each slot of ``frame`` (a frame object of a running function)
    below ``size`` that holds an object: its stack's top as found from its code
    (:func:`amber.bytecode.stack_depths`) where the frame did not save it."""
    assert LAYOUT is not None
    c = _c()
    data = c.c_void_p.from_address(id(frame) + _FRAME_OBJECT_DATA).value
    if not data or c.c_void_p.from_address(data + LAYOUT.code).value != id(frame.f_code) or \
            not 0 <= size <= _capacity(frame.f_code):
        raise RuntimeError("this interpreter's frames are not laid out as Amber knows them")
    return _read_slots(c, data, size)


def entered_from_c(frame) -> bool:
    """Was ``frame`` (a frame object of a running function) called by C code?"""
    c = _c()
    data = c.c_void_p.from_address(id(frame) + _FRAME_OBJECT_DATA).value
    return bool(data) and _entered_from_c(c, data, frame)


def _entered_from_c(c, data: int, frame) -> bool:
    """3.11 marks a frame C code entered (``is_entry``). 3.12 and 3.13 link it to a frame of the
    C stack; and 3.13 runs a class's ``__init__`` after a frame of its own (``_Py_InitCleanup``,
    which hands back the instance, not ``__init__``'s None), which ``f_back`` skips: a frame
    whose interpreter frame was not pushed by its ``f_back``'s has something in between."""
    if sys.version_info[:2] == (3, 11):
        return bool(c.c_int8.from_address(data + _IS_ENTRY_3_11).value)
    previous = c.c_void_p.from_address(data + _PREVIOUS_3_12).value
    if not previous:
        return False
    if c.c_int8.from_address(previous + _OWNER_3_12).value == _OWNED_BY_CSTACK:
        return True
    back = frame.f_back
    return back is not None and c.c_void_p.from_address(id(back) + _FRAME_OBJECT_DATA).value != previous


def code_digest(code) -> bytes:
    """What a frame state depends on in its code: the bytecode, the exception table, the frame's
    shape (locals, cells, free variables, stack depth)."""
    shape = repr((code.co_nlocals, code.co_varnames, code.co_cellvars, code.co_freevars, code.co_stacksize))
    return blake2b(code.co_code + code.co_exceptiontable + shape.encode(), digest_size=16).digest()


def _capacity(code) -> int:
    """How many slots a frame of ``code`` has: its locals, cells and free variables, and its
    deepest stack."""
    return code.co_nlocals + len(code.co_cellvars) + len(code.co_freevars) + code.co_stacksize


def write(gen, func, code_was: bytes, instr: int, frame_state: int, size: int, slots: tuple,
          exc_value: object, hooks_inited: int) -> None:
    """Put a captured execution state into ``gen``, a generator of ``func`` not yet started."""
    code = func.__code__  # (the frame's own code, once _is_its_frame says so)
    if not _is_its_frame(gen, code, func):
        raise RuntimeError("this interpreter's generator frames are not laid out as the image's were")
    if code_digest(code) != code_was:
        where = f"{code.co_filename}:{code.co_firstlineno}"
        raise RuntimeError(f"the code of {code.co_name}() ({where}) is not the code its suspended "
                           "generator was captured in (its source changed since the snapshot?)")
    if not (0 <= size <= _capacity(code) and 0 <= instr < len(code.co_code) and instr % 2 == 0
            and all(type(i) is int and 0 <= i < size for i, _obj in slots)):
        raise RuntimeError(f"a frame state that does not fit {code.co_name}'s frame")
    assert LAYOUT is not None
    c = _c()
    incref, decref = c.pythonapi.Py_IncRef, c.pythonapi.Py_DecRef
    frame = _frame_address(gen)
    held = _write_slots(c, frame, size, slots)
    c.c_void_p.from_address(frame + LAYOUT.instr).value = _bytecode_address(code) + instr
    exc = c.c_void_p.from_address(id(gen) + LAYOUT.exc_value)
    if exc.value:
        held.append(exc.value)
    if exc_value is not None:
        incref(exc_value)
        exc.value = id(exc_value)
    else:
        exc.value = None
    c.c_int8.from_address(id(gen) + LAYOUT.frame_state).value = frame_state
    c.c_int8.from_address(id(gen) + LAYOUT.hooks_inited).value = 1 if hooks_inited else 0
    for address in held:
        decref(address)


def _read_slots(c, frame: int, size: int) -> tuple:
    """``(index, object)`` for each slot of ``frame`` below ``size`` that holds an object."""
    assert LAYOUT is not None
    slots = []
    for i in range(size):
        address = c.c_void_p.from_address(frame + LAYOUT.localsplus + _WORD * i).value
        if address:
            slots.append((i, c.cast(address, c.py_object).value))
    return tuple(slots)


def _write_slots(c, frame: int, size: int, slots: tuple) -> list:
    """Replace the slots of ``frame`` (references counted) and its stack's top; return the
    addresses of the objects it held, for the caller to release once the frame is whole."""
    assert LAYOUT is not None
    incref = c.pythonapi.Py_IncRef
    top = c.c_int.from_address(frame + LAYOUT.stacktop)
    held = []
    for i in range(top.value):  # the placeholders' slots: released once the new ones are in
        slot = c.c_void_p.from_address(frame + LAYOUT.localsplus + _WORD * i)
        if slot.value:
            held.append(slot.value)
        slot.value = None
    for i in range(top.value, size):  # past the old top: never written, not even with NULL
        c.c_void_p.from_address(frame + LAYOUT.localsplus + _WORD * i).value = None
    for i, obj in slots:
        incref(obj)
        c.c_void_p.from_address(frame + LAYOUT.localsplus + _WORD * i).value = id(obj)
    top.value = size
    return held


# Where a frame keeps its globals, builtins and locals (3.11: after f_func; 3.12 and 3.13: after
# previous and f_funcobj), and where 3.11's generator keeps its own code (gi_code).
_NAMESPACES = {(3, 11): (8, 16, 24), (3, 12): (24, 32, 40), (3, 13): (24, 32, 40)}
_GI_CODE_3_11 = 16
# A generator's frame state "suspended" (3.13 added a state before it, for a new generator).
_SUSPENDED = {(3, 11): -1, (3, 12): -1, (3, 13): -2}


def write_running(gen, func, code, locals_: "dict | None", waiting_at: int, resume_at: int, size: int,
                  slots: tuple, handled: "BaseException | None" = None) -> None:
    """Make ``gen``, a host generator not yet started whose frame has room for ``code``'s (see
    :func:`host_capacity`), a frame of ``func`` running ``code`` that waits in a call, its
    instruction pointer at ``waiting_at`` as a waiting frame's is (its line is the call's):
    throwing an exception into it raises it from the call; sending it a value, once
    :func:`ready_to_return` has moved it to ``resume_at``, returns that value from the call (both
    offsets as :class:`RunningFrame` has them). Its ``RETURN_VALUE`` ends the generator with the
    frame's result (``StopIteration.value``). ``locals_``: the frame's namespace where its code reads
    names from one (a module's frame: its dict), else None. ``handled``: the exception the frame is
    handling (``sys.exc_info()`` in it), kept as the generator's own exception state, which the
    interpreter makes the thread's while the generator runs. The host's own code, function and
    namespaces are released; the globals and builtins are ``func``'s, which the frame borrows
    (as every frame does from its function)."""
    version = sys.version_info[:2]
    if LAYOUT is None or version not in _NAMESPACES:
        raise RuntimeError("this interpreter's frames are not laid out as Amber knows them")
    if not (0 <= size <= _capacity(code) and 0 <= waiting_at < resume_at <= len(code.co_code)
            and resume_at % 2 == 0 and waiting_at % 2 == 0
            and all(type(i) is int and 0 <= i < size for i, _obj in slots)):
        raise RuntimeError(f"a frame state that does not fit {code.co_name}'s frame")
    c = _c()
    incref, decref = c.pythonapi.Py_IncRef, c.pythonapi.Py_DecRef
    frame = _frame_address(gen)
    host_code = c.c_void_p.from_address(frame + LAYOUT.code).value
    if host_code != id(gen.gi_code) or _capacity(gen.gi_code) < _capacity(code):
        raise RuntimeError("the host generator cannot hold this frame")
    held = _write_slots(c, frame, size, slots)
    globals_at, builtins_at, locals_at = _NAMESPACES[version]
    gen_head = -(type(gen).__basicsize__ - LAYOUT.localsplus)  # the generator object, from its frame
    owned = [(LAYOUT.code, code), (LAYOUT.func, func), (locals_at, locals_),
             (gen_head + LAYOUT.exc_value, handled)]
    if version == (3, 11):
        owned.append((gen_head + _GI_CODE_3_11, code))
    for offset, obj in owned:
        field = c.c_void_p.from_address(frame + offset)
        if field.value:
            held.append(field.value)
        if obj is None:
            field.value = None
        else:
            incref(obj)
            field.value = id(obj)
    c.c_void_p.from_address(frame + globals_at).value = id(func.__globals__)  # borrowed
    c.c_void_p.from_address(frame + builtins_at).value = id(func.__builtins__)
    c.c_void_p.from_address(frame + LAYOUT.instr).value = _bytecode_address(code) + _waiting_instr(waiting_at,
                                                                                                   resume_at)
    if version >= (3, 13):
        c.c_uint16.from_address(frame + _RETURN_OFFSET_3_13).value = 0
    c.c_int8.from_address(id(gen) + LAYOUT.frame_state).value = _SUSPENDED[version]
    gen.__name__, gen.__qualname__ = code.co_name, code.co_qualname
    for address in held:
        decref(address)


def _waiting_instr(waiting_at: int, resume_at: int) -> int:
    """Where a frame's instruction pointer stands while it waits in the instruction at
    ``waiting_at``: on it (3.13), or on the last code unit before ``resume_at`` (3.11 and 3.12
    go on after the unit it points at; its line, and the handler an exception raised there
    finds, are the waiting instruction's)."""
    return waiting_at if sys.version_info[:2] >= (3, 13) else resume_at - 2


def write_waiting(gen, func, code_was: bytes, waiting_at: int, resume_at: int, size: int, slots: tuple,
                  handled: object) -> None:
    """Make ``gen``, a generator of ``func`` not yet started, one whose frame waits in the
    instruction at ``waiting_at`` as :func:`write_running` makes a host's (its own frame was
    running at the snapshot: a generator on the running stack), suspended."""
    write(gen, func, code_was, _waiting_instr(waiting_at, resume_at), _SUSPENDED[sys.version_info[:2]], size,
          slots, handled, 0)


def go_on_at(gen, at: int, size: int) -> None:
    """Make ``gen``'s frame (suspended, of :func:`write_running` or :func:`write_waiting`) go on
    at the instruction at ``at`` with ``size`` slots, once a value is sent into it (which the
    send pushes): where a frame that waited in a ``FOR_ITER`` runs it again on an exhausted
    generator, or one that waited in a ``SEND`` takes the inner generator's return value."""
    assert LAYOUT is not None
    c = _c()
    frame = _frame_address(gen)
    top = c.c_int.from_address(frame + LAYOUT.stacktop)
    if not 0 <= size <= top.value or not 2 <= at < len(gen.gi_code.co_code):
        raise RuntimeError("a frame state that does not fit its frame")
    released = []
    for i in range(size, top.value):
        slot = c.c_void_p.from_address(frame + LAYOUT.localsplus + _WORD * i)
        if slot.value:
            released.append(slot.value)
        slot.value = None
    top.value = size
    _point_at(gen, at)
    for address in released:
        c.pythonapi.Py_DecRef(address)


def generator_exception(gen) -> object:
    """The exception ``gen``'s own exception state holds (None if none)."""
    assert LAYOUT is not None
    c = _c()
    value = c.c_void_p.from_address(id(gen) + LAYOUT.exc_value).value
    return c.cast(value, c.py_object).value if value and value != id(None) else None


def handled_below(gen) -> object:
    """The exception being handled below ``gen``, a running generator: what ``sys.exc_info()``
    says in the frame that resumed it (the generator's own exception state links to the
    thread's state it was resumed from; the first that holds an exception other than None)."""
    assert LAYOUT is not None
    c = _c()
    item = c.c_void_p.from_address(id(gen) + LAYOUT.exc_value + _WORD).value  # its previous_item
    while item:
        value = c.c_void_p.from_address(item).value
        if value and value != id(None):
            return c.cast(value, c.py_object).value
        item = c.c_void_p.from_address(item + _WORD).value
    return None


def ready_to_return(gen, resume_at: int) -> None:
    """Before a value is sent into a host of :func:`write_running`: 3.13 resumes a generator at
    its instruction pointer, which then goes past the call (3.11 and 3.12 resume after the
    instruction it points at: the call's last code unit, as it stands)."""
    if sys.version_info[:2] >= (3, 13):
        _point_at(gen, resume_at)


def _point_at(gen, at: int) -> None:
    """Make ``gen``'s frame go on at the instruction at ``at`` when it is resumed: its pointer
    on it (3.13), or on the code unit before it (3.11 and 3.12 go on after the one it points at)."""
    assert LAYOUT is not None
    frame = _frame_address(gen)
    pointer = _bytecode_address(gen.gi_code) + _waiting_instr(at, at)
    _c().c_void_p.from_address(frame + LAYOUT.instr).value = pointer


def instrument(code) -> None:
    """Bring ``code`` up to the tracing and monitoring in force (``sys.settrace``, a profiler,
    ``sys.monitoring``) before a resumed frame of it goes on. 3.12 and 3.13 instrument a code
    object when a frame of it passes its ``RESUME`` (at its start and after each ``yield``), and
    every executing frame's when tracing starts; a resumed frame is neither (it was a suspended
    host when tracing started, and it goes on past the call it waited in): untouched, it would
    run without line events (pdb would not stop in it, coverage would not see it). Changing a
    tool's local events on it instruments it anew (line events asked for, then none: what
    remains is what the tracing in force needs)."""
    if sys.version_info[:2] < (3, 12) or sys.gettrace() is None and sys.getprofile() is None and \
            all(sys.monitoring.get_tool(i) is None for i in range(6)):
        return
    monitoring = sys.monitoring
    tool = next((i for i in range(6) if monitoring.get_tool(i) is None), None)
    if tool is None:
        return
    monitoring.use_tool_id(tool, "amber")
    try:
        monitoring.set_local_events(tool, code, monitoring.events.LINE)
        monitoring.set_local_events(tool, code, 0)
    finally:
        monitoring.free_tool_id(tool)


def host_capacity(code) -> int:
    """How many locals a host generator's function needs to hold a frame of ``code``."""
    return _capacity(code)


def unlink_back(frame) -> None:
    """Undo :func:`link_back`: ``frame``'s ``f_back`` is again whatever frame resumes it (a
    generator of the program, once the restore has resumed it; its later callers are others)."""
    c = _c()
    field = c.c_void_p.from_address(id(frame) + 16)
    old = field.value
    field.value = None
    if old:
        c.pythonapi.Py_DecRef(old)


def link_back(frame, back) -> None:
    """Set ``frame``'s ``f_back`` (a frame object's own link, which wins over the interpreter's
    chain of callers) to ``back``: a resumed frame's caller is then the frame that called it in
    the snapshotting process, not Amber's driver (for tracebacks, ``inspect.stack()``, logging)."""
    c = _c()
    field = c.c_void_p.from_address(id(frame) + 16)  # PyFrameObject: the object's head, then f_back
    old = field.value
    c.pythonapi.Py_IncRef(back)
    field.value = id(back)
    if old:
        c.pythonapi.Py_DecRef(old)
