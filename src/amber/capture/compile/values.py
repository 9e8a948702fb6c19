"""Writing values into the heap program: tuples, runs of values, the items of dicts and states.

A heap's containers hold atoms by the million (the ints and floats of an index, the words of a
text); each is written with the opcodes :meth:`HeapCompiler.ref` writes for it, but without a
call per value, and a run of values of one kind (a list's items, a dict's keys and its values)
in C at once, from opcode tables (:mod:`amber.capture.compile.assembler`). The bytes are the
same as value-by-value ``ref`` would write.
"""

from __future__ import annotations

import pickle
from itertools import chain, repeat
from operator import itemgetter

from amber._compat import ident
from amber.capture.compile.assembler import (
    SMALL_GET,
    SMALL_INT,
    Assembler,
    pack_opcode_d,
    pack_opcode_H,
    pack_opcode_I,
    short_int_opcodes,
)

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

BININT2, BINFLOAT, LONG_BINGET = pickle.BININT2, pickle.BINFLOAT, pickle.LONG_BINGET
_first, _second = itemgetter(0), itemgetter(1)
_RUN = 8  # values from which push_values tries to write them in C at once


class ValueWriter:
    """The compiler's writing of values (a mixin of :class:`HeapCompiler`, which gives ``asm``
    and ``ref``)."""

    asm: Assembler

    def ref(self, value: Any) -> None:  # pragma: no cover - HeapCompiler's
        raise NotImplementedError

    def push_tuple(self, items: tuple) -> None:
        asm = self.asm
        if len(items) > 3:
            asm.mark()
        self.push_values(items)
        asm.tuple_of(len(items))

    def push_values(self, values: Iterable) -> None:
        """``ref`` each of ``values`` in turn. The atoms a heap holds by the million (small ints,
        floats, strs already written) are written here with the opcodes ``ref`` writes for them,
        without a call each; everything else goes through ``ref``."""
        asm = self.asm
        out = asm.out
        run: Any = values if type(values) in (list, tuple) else ()
        if len(run) >= _RUN:
            opcodes = self._run_opcodes(run)
            if opcodes is not None:
                out += b"".join(opcodes)
                return
        memo = asm.memo
        ref = self.ref
        for v in values:
            cls = type(v)
            if cls is str:
                idx = memo.get(ident(v))
                if idx is None:
                    asm.str(v)
                else:
                    out += SMALL_GET[idx] if idx < 256 else pack_opcode_I(LONG_BINGET, idx)
            elif cls is int and 0 <= v <= 0xFFFF:  # below the thread idents and addresses _ref_int looks for
                out += SMALL_INT[v] if v < 256 else pack_opcode_H(BININT2, v)
            elif cls is float:
                out += pack_opcode_d(BINFLOAT, v)
            else:
                ref(v)

    def _run_opcodes(self, values: list | tuple) -> Iterable[bytes] | None:
        """The opcodes ``push_values`` writes for ``values`` when all are atoms of one kind that it
        writes itself (floats, ints from 0 to 65535, strs already on the memo), made in C: a heap's
        lists, tuples and dicts are mostly such runs. None for any other values."""
        kinds = set(map(type, values))
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
        if kind is float:
            return map(pack_opcode_d, repeat(BINFLOAT, len(values)), values)
        if kind is int:
            if min(values) < 0 or max(values) > 0xFFFF:
                return None
            return map(short_int_opcodes().__getitem__, values)
        if kind is str:
            indices: Any = list(map(self.asm.memo.get, map(ident, values)))
            if None in indices:
                return None  # (a first one is written and memoized)
            return map(self.asm.get_opcodes(max(indices)).__getitem__, indices)
        return None

    def _emit_pairs_dict(self, pairs: list) -> None:
        asm = self.asm
        for start in range(0, len(pairs), 1000):
            asm.mark()
            chunk = pairs[start:start + 1000]
            keys = values = None
            if len(chunk) >= _RUN:  # keys of one kind and values of one kind: written in C
                keys = self._run_opcodes(list(map(_first, chunk)))
                values = self._run_opcodes(list(map(_second, chunk))) if keys is not None else None
            if keys is not None and values is not None:
                asm.out += b"".join(chain.from_iterable(zip(keys, values, strict=True)))
            else:
                self.push_values(chain.from_iterable(chunk))  # key, value, key...
            asm.setitems()

    def _emit_state_dict(self, pairs: list | None) -> None:
        if pairs is None:
            self.asm.none()
            return
        self.asm.empty_dict()
        if pairs:
            self._emit_pairs_dict(pairs)
