"""The heap's code objects as one table: what the heap program unmarshals in a single call.

Every code object of the heap goes into one ``marshal``-encoded tuple at the start of the
program (one call instead of one per code object; the names, file names and constants code
objects share are written and interned once), and a function's make indexes it. With
``--lazy-code``, the functions that qualify (:func:`amber.capture.compile.lazy_code.choose`)
get a stub in the table instead, and their real code goes to one blob per module of the
image's ``lazy_code`` section, unmarshalled on first call (:mod:`amber.restore.lazy`).
"""

from __future__ import annotations

from amber._compat import ident
from amber.capture.compile import lazy_code
from amber.capture.reduce.recipes import CodeObject

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from amber.capture.compile.planner import HeapPlan


class CodeTable:
    """``table``: the eager code objects, then one stub per lazy function (its key K is its
    place among the stubs); ``index``: ident(code) -> place in ``table``; ``lazy_keys``:
    ident(function) -> K; ``blobs``/``where``: the lazy section's blobs and, per K, (blob, index)."""

    def __init__(self, plan: HeapPlan, lazy: bool) -> None:
        codes = [obj for oid, obj in plan.nodes.items()
                 if oid in plan.recipes and type(plan.recipes[oid].make) is CodeObject]
        chosen = lazy_code.choose(plan) if lazy else {}
        table: list = [code for code in codes if ident(code) not in chosen]
        self.blobs: list[bytes] = []
        self.where: list[tuple[int, int]] = []
        stubs: list = []
        if chosen:
            self.blobs, self.where, stubs = lazy_code.build(chosen)
        self.lazy_keys = {ident(fn): key for key, (_code, fn) in enumerate(chosen.values())}
        self.index = {ident(code): i for i, code in enumerate(table)}
        self.index.update((code_id, len(table) + key) for key, code_id in enumerate(chosen))
        self.table = table + stubs
