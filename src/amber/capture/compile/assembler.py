"""A writer of pickle programs: the lowest layer of capture.

Amber does not use ``pickle.Pickler``: the C pickler recurses on nested objects (so deep graphs
overflow), never calls ``reducer_override`` for exact dicts, lists and tuples, and decides on its
own in which order objects are created. Amber plans the order itself (see
:mod:`amber.capture.compile.planner`) and this module writes the opcodes; the C unpickler then executes
them at restore, so the bulk of a restore runs at C speed.

Every opcode is standard protocol 5, so ``python -m pickletools`` can disassemble a heap section.
The assembler keeps the memo: the position of every object already on the unpickler's memo, so
that later references are a ``BINGET``/``LONG_BINGET``.
"""

from __future__ import annotations

import builtins
import pickle as P
from itertools import repeat
from struct import Struct, pack

from amber._compat import ident

_pack_i = Struct("<i").pack
_pack_I = Struct("<I").pack
_pack_Q = Struct("<Q").pack
_pack_d = Struct(">d").pack

# Whole opcodes for the values written by the million (HeapCompiler.push_values writes them
# without a method call): the same bytes as Assembler.get, .int and .float write.
SMALL_GET = tuple(P.BINGET + bytes([i]) for i in range(256))  # memo index -> BINGET
SMALL_INT = tuple(P.BININT1 + bytes([i]) for i in range(256))  # 0 <= v < 256
pack_opcode_I = Struct("<cI").pack  # (P.LONG_BINGET, memo index): 256 and above
pack_opcode_H = Struct("<cH").pack  # (P.BININT2, v): 256 <= v < 65536
pack_opcode_d = Struct(">cd").pack  # (P.BINFLOAT, v)
_SHORT_INTS: list = []  # v -> its opcode, for 0 <= v < 65536 (made on first use: 2 MB)


def short_int_opcodes() -> list:
    """The opcode of every int from 0 to 65535, as Assembler.int writes it."""
    if not _SHORT_INTS:
        _SHORT_INTS.extend(SMALL_INT)
        _SHORT_INTS.extend(map(pack_opcode_H, repeat(P.BININT2, 65536 - 256), range(256, 65536)))
    return _SHORT_INTS


class Assembler:
    """Appends opcodes to ``self.out``; ``memo`` maps ident(obj) to its memo index.

    Its methods are named after what they write (``asm.int``, ``asm.str``), which hides the
    builtin names inside the class body: annotations there say ``builtins.int``."""

    def __init__(self) -> None:
        self.out = bytearray(P.PROTO + bytes([5]))
        self.memo: dict[int, int] = {}
        self._alive: list = []  # keeps memoized objects alive so their ids stay unique
        self._gets: list = list(SMALL_GET)  # memo index -> the opcode that pushes it (made as needed)

    # -- the memo -------------------------------------------------------------------------------
    def memoize(self, obj: object) -> None:
        """Record the object on top of the unpickler's stack as ``obj``."""
        self.memo[ident(obj)] = len(self.memo)
        self._alive.append(obj)
        self.out += P.MEMOIZE

    def get(self, obj) -> bool:
        """Push ``obj`` from the memo if it is there; say whether it was."""
        idx = self.memo.get(ident(obj))
        if idx is None:
            return False
        if idx < 256:
            self.out += P.BINGET + bytes([idx])
        else:
            self.out += P.LONG_BINGET + _pack_I(idx)
        return True

    def get_opcodes(self, top: builtins.int) -> list:
        """The opcodes that push memo indices 0 to ``top``, as ``get`` writes them."""
        gets = self._gets
        if top >= len(gets):
            first = len(gets)
            gets.extend(map(pack_opcode_I, repeat(P.LONG_BINGET, top + 1 - first), range(first, top + 1)))
        return gets

    # -- atoms: values written inline ---------------------------------------------------------
    def none(self) -> None:
        self.out += P.NONE

    def bool(self, v: bool) -> None:
        self.out += P.NEWTRUE if v else P.NEWFALSE

    def int(self, v: int) -> None:
        out = self.out
        if 0 <= v < 256:
            out += P.BININT1 + bytes([v])
        elif 0 <= v < 65536:
            out += P.BININT2 + pack("<H", v)
        elif -0x80000000 <= v <= 0x7FFFFFFF:
            out += P.BININT + _pack_i(v)
        else:
            enc = pickle_long(v)
            if len(enc) < 256:
                out += P.LONG1 + bytes([len(enc)]) + enc
            else:
                out += P.LONG4 + _pack_i(len(enc)) + enc

    def float(self, v: float) -> None:
        self.out += P.BINFLOAT + _pack_d(v)

    def str(self, v: str) -> None:
        """Write a str and memoize it (repeated strings then cost a memo get)."""
        if self.get(v):
            return
        enc = v.encode("utf-8", "surrogatepass")
        n = len(enc)
        if n < 256:
            self.out += P.SHORT_BINUNICODE + bytes([n]) + enc
        elif n <= 0xFFFFFFFF:
            self.out += P.BINUNICODE + _pack_I(n) + enc
        else:
            self.out += P.BINUNICODE8 + _pack_Q(n) + enc
        self.memoize(v)

    def bytes(self, v: bytes) -> None:
        if self.get(v):
            return
        n = len(v)
        if n < 256:
            self.out += P.SHORT_BINBYTES + bytes([n]) + v
        elif n <= 0xFFFFFFFF:
            self.out += P.BINBYTES + _pack_I(n) + v
        else:
            self.out += P.BINBYTES8 + _pack_Q(n) + v
        self.memoize(v)

    def bytearray(self, v) -> None:
        self.out += P.BYTEARRAY8 + _pack_Q(len(v)) + bytes(v)

    def next_buffer(self, readonly: builtins.bool) -> None:
        """Push the next out-of-band buffer (the image's mapped buffers, in order)."""
        self.out += P.NEXT_BUFFER
        if readonly:
            self.out += P.READONLY_BUFFER

    # -- structure --------------------------------------------------------------------------------
    def mark(self) -> None:
        self.out += P.MARK

    def pop(self) -> None:
        self.out += P.POP

    def tuple_of(self, n: builtins.int) -> None:
        """Build a tuple from the last ``n`` values (after a mark if n > 3)."""
        if n == 0:
            self.out += P.EMPTY_TUPLE
        elif n == 1:
            self.out += P.TUPLE1
        elif n == 2:
            self.out += P.TUPLE2
        elif n == 3:
            self.out += P.TUPLE3
        else:
            self.out += P.TUPLE

    def tuple_from_mark(self) -> None:
        """Build a tuple from everything pushed since the last mark."""
        self.out += P.TUPLE

    def empty_list(self) -> None:
        self.out += P.EMPTY_LIST

    def empty_dict(self) -> None:
        self.out += P.EMPTY_DICT

    def empty_set(self) -> None:
        self.out += P.EMPTY_SET

    def appends(self) -> None:
        self.out += P.APPENDS

    def setitems(self) -> None:
        self.out += P.SETITEMS

    def additems(self) -> None:
        self.out += P.ADDITEMS

    def frozenset(self) -> None:
        self.out += P.FROZENSET

    def global_(self, module: builtins.str, qualname: builtins.str) -> None:
        """Push ``module.qualname``, found by import and attribute lookup at restore."""
        self.str(module)
        self.str(qualname)
        self.out += P.STACK_GLOBAL

    def reduce(self) -> None:
        """Call the callable below the top with the tuple on top."""
        self.out += P.REDUCE

    def build(self) -> None:
        """Apply the state on top to the object below it (``__setstate__`` or ``__dict__``/setattr)."""
        self.out += P.BUILD

    def stop(self) -> None:
        self.out += P.STOP


def pickle_long(v: int) -> bytes:
    """Two's complement little-endian encoding, as LONG1/LONG4 expect."""
    if v == 0:
        return b""
    n = (v.bit_length() >> 3) + 1
    enc = v.to_bytes(n, "little", signed=True)
    if v < 0 and n > 1 and enc[-1] == 0xFF and (enc[-2] & 0x80):
        enc = enc[:-1]
    return enc
