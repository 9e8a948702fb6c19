"""What Amber reads from a code object's bytecode to capture a running frame (3.11 to 3.13):
its exception table, the depth of its value stack at an instruction, the instruction after one
and where one jumps. Only ``dis``'s public tables and ``dis.stack_effect`` (the compiler's own
stack effects) are used, so each interpreter version answers for its own bytecode.

Why the depth is computed rather than read: a frame that waits in a call of Python code (a
``CALL`` the interpreter runs inline) saved its stack's top there, but one whose instruction
calls C code that calls Python (``FOR_ITER`` resuming a generator, ``SEND`` in a ``yield from``)
did not: its slots hold the values while the saved top is stale. The depth at each instruction
is fixed by the compiler (every path to an instruction reaches it with the same depth), so it
is found by following the code from its start, as the compiler does to size the frame.

Imported by the capture side only.
"""

import dis

# Instructions after which the code does not go on to the next one.
_NO_FALL_THROUGH = {dis.opmap[name] for name in (
    "RETURN_VALUE", "RETURN_CONST", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD", "JUMP_BACKWARD",
    "JUMP_BACKWARD_NO_INTERRUPT") if name in dis.opmap}
_JUMPS = set(getattr(dis, "hasjump", ())) | set(dis.hasjrel) | set(dis.hasjabs)
_RETURN_GENERATOR = dis.opmap["RETURN_GENERATOR"]
_COPY, _POP_EXCEPT = dis.opmap["COPY"], dis.opmap["POP_EXCEPT"]


def exception_table(code) -> list:
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


def handler_at(entries: list, offset: int) -> "tuple | None":
    """``(target, depth, lasti)`` of the exception table entry that covers ``offset``."""
    return next(((t, d, lasti) for start, end, t, d, lasti in entries if start <= offset < end), None)


def stack_depths(code) -> "dict | None":
    """The depth of the value stack when each reachable instruction of ``code`` starts, by
    offset; None if the paths disagree (bytecode this reading does not understand)."""
    instructions = {ins.offset: ins for ins in dis.get_instructions(code)}
    order = sorted(instructions)
    following = dict(zip(order, order[1:], strict=False))
    entries = exception_table(code)
    depths: dict = {}
    work = [(order[0], 0)]
    while work:
        offset, depth = work.pop()
        known = depths.get(offset)
        if known is not None:
            if known != depth:
                return None
            continue
        if depth < 0 or depth > code.co_stacksize or offset not in instructions:
            return None
        depths[offset] = depth
        ins = instructions[offset]
        handler = handler_at(entries, offset)
        if handler is not None:  # an exception raised here: the stack cut, lasti and it pushed
            target, cut, lasti = handler
            work.append((target, cut + lasti + 1))
        if ins.opcode == _RETURN_GENERATOR:  # resumed with the value sent in on the stack
            effect = 1
        else:
            effect = dis.stack_effect(ins.opcode, ins.arg, jump=False) if ins.opcode >= dis.HAVE_ARGUMENT \
                else dis.stack_effect(ins.opcode)
        if ins.opcode in _JUMPS:
            work.append((ins.argval, depth + dis.stack_effect(ins.opcode, ins.arg, jump=True)))
        if ins.opcode not in _NO_FALL_THROUGH and offset in following:
            work.append((following[offset], depth + effect))
    return depths


def instruction_containing(code, offset: int):
    """The ``dis.Instruction`` whose code units (with its inline caches) hold ``offset``: where
    a frame's instruction pointer stands, which may be the last cache unit of its call."""
    found = None
    for ins in dis.get_instructions(code):
        if ins.offset > offset:
            break
        found = ins
    return found


def next_offset(code, offset: int) -> "int | None":
    """The offset of the instruction after the one at ``offset`` (past its inline caches)."""
    return next((ins.offset for ins in dis.get_instructions(code) if ins.offset > offset), None)


def leaves_except_block(code, offset: int) -> bool:
    """Is the handler at ``offset`` the one that leaves an ``except`` block (``COPY 3;
    POP_EXCEPT``, then ``RERAISE``), as 3.11 to 3.13 compile every such block's cleanup?"""
    raw = code.co_code
    return raw[offset:offset + 2] == bytes((_COPY, 3)) and raw[offset + 2:offset + 3] == bytes((_POP_EXCEPT,))


def outermost_saved_exception(code, offset: int, depth: int) -> "int | None":
    """The value-stack index of the exception saved by the outermost ``except`` block that the
    instruction at ``offset`` (with ``depth`` values on the stack) is inside, or None.

    Follows what an exception raised there would do: the exception table sends it to a handler
    with the stack cut to a depth, that handler's code is covered by the next enclosing entry,
    and so on out. A handler that leaves an ``except`` block is entered with the saved exception
    just below the offset it pushes (``lasti``) and the new exception: at index ``depth - 1``.
    Only indices below every depth the stack was cut to so far are the frame's own (above them,
    the handlers' own pushes)."""
    entries = exception_table(code)
    found = None
    for _ in range(len(entries)):  # each step goes out one handler: a bound, not a loop guard
        handler = handler_at(entries, offset)
        if handler is None:
            break
        target, entry_depth, lasti = handler
        if lasti and entry_depth - 1 < depth and leaves_except_block(code, target):
            found = entry_depth - 1
        depth = min(depth, entry_depth)
        offset = target
    return found
