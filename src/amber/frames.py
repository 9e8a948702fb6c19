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
    slots = []
    for i in range(size):
        address = c.c_void_p.from_address(frame + LAYOUT.localsplus + _WORD * i).value
        if address:
            slots.append((i, c.cast(address, c.py_object).value))
    exc = c.c_void_p.from_address(id(gen) + LAYOUT.exc_value).value
    exc_value = c.cast(exc, c.py_object).value if exc else None
    state = c.c_int8.from_address(id(gen) + LAYOUT.frame_state).value
    hooks = c.c_int8.from_address(id(gen) + LAYOUT.hooks_inited).value
    return FrameState(code_digest(code), instr, state, size, tuple(slots), exc_value, hooks)


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
