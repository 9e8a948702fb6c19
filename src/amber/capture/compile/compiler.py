"""Compile a planned heap into a pickle program, in stages.

Before A, every code object of the heap is unmarshalled by one ``marshal.loads`` (a table the
makes of functions index), and large buffers go to the image's mapped section (``NEXT_BUFFER``).

A. *Shells*: every object Amber makes itself (modules, classes without their attributes,
   functions, cells, empty containers, instances via their base ``__new__``), depth-first on
   what each make needs. Nothing here runs the program's code.
B. *Plain fills*: module dicts, class attributes, function attributes, instance ``__dict__``s,
   container items. A value that is made late (below) is left out and patched in when made.
C. *Registration*: the captured modules enter ``sys.modules``; state the program set on modules
   held by reference (``sys.path``, ``sys.excepthook``...) is put back.
D. *Late steps*, in depth-first post-order of the whole graph: objects made by their own
   ``__reduce__`` or a foreign constructor, fills that run the program's code (``__setstate__``,
   dict keys hashed by a Python ``__hash__``), ABC registries. The heap is complete around them.
   Two rules override the post-order where a cycle would defeat it: a container that a late
   make reads at once has its keys made and their state set before it is filled; and the late
   values a state left out in stage B are made (and patched in) before that state is handed
   to ``__setstate__``, as pickle orders them.
E. Dicts that were filled in two passes get their key order back; the steps that need the
   complete heap (ABC registrations) run; the manifest is the program's result.

The unpickler then executes the program at C speed, and nothing in it recurses on the
graph's depth. Each kind of make and fill step (:mod:`amber.capture.reduce.recipes`) is turned
into opcodes by one method, found through a dispatch table keyed by the step's class; values
(tuples, items, the runs of atoms a heap holds by the million) are written by
:mod:`amber.capture.compile.values`.
"""

from __future__ import annotations

import marshal
from itertools import compress
from operator import itemgetter, not_

from amber._compat import ident, ident_of_address
from amber.capture.compile.assembler import Assembler
from amber.capture.compile.code_table import CodeTable
from amber.capture.compile.planner import HeapPlan
from amber.capture.compile.values import ValueWriter
from amber.capture.reduce import recipes as R
from amber.capture.reduce.recipes import ATOMS, LEAF_MAKES, Global, Inline, named, reconstructor
from amber.image.format import MAPPED_MIN
from amber.restore import lazy, rebuild

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    Step = tuple[Any, tuple]  # (callable, args): one call of the program, for stages C and E


_MAIN_THREAD_IDENT = __import__("_thread").get_ident()  # the snapshot runs in the main thread
_MAIN_THREAD_IDENT_MARK = object()
_BASE_METHODS: dict[type, Global] = {R.BaseExtend: named("builtins", "list.extend"),
                                     R.BaseUpdate: named("builtins", "dict.update"),
                                     R.BaseAdd: named("builtins", "set.update")}
# How a value left out of a fill in stage B is patched in once it is made: (how for the
# __dict__ part, how for the slots part); see rebuild.patch.
_PATCH_HOW = {R.Build: ("dict", "setattr"), R.InstanceState: ("dict", "object"),
              R.ClassState: ("type", "type")}



_second = itemgetter(1)


def _not_atoms(values: Iterable) -> Iterable:
    """``values`` without the atoms (no hash of theirs runs code, none is made late), filtered
    in C: a dict's keys are mostly atoms, and there may be millions."""
    values = list(values)
    if set(map(type, values)) <= ATOMS:
        return ()
    return compress(values, map(not_, map(ATOMS.__contains__, map(type, values))))


class CompiledHeap:
    """What the compiler hands the image writer: the heap program, the large buffers it takes
    with ``NEXT_BUFFER`` (in order) and the blobs of code that comes on first call."""

    __slots__ = ("program", "buffers", "lazy_blobs")

    def __init__(self, program: bytes, buffers: list, lazy_blobs: list[bytes]) -> None:
        self.program = program
        self.buffers = buffers  # [(bytes-like, read-only)]
        self.lazy_blobs = lazy_blobs


class Unplannable(Exception):
    """An object the compiler cannot make (no recipe, or a make that needs itself)."""

    def __init__(self, obj: object, why: str = "") -> None:
        super().__init__(why or f"no recipe for {type(obj).__name__} object")
        self.obj = obj
        self.why = why


class HeapCompiler(ValueWriter):
    """Emits the program for a :class:`~amber.capture.compile.planner.HeapPlan`."""

    def __init__(self, plan: HeapPlan, names: dict[int, tuple[str, str]], lazy_code: bool = False) -> None:
        """``names`` maps the identity of objects found by name in modules imported again to
        (module, qualname) (:attr:`amber.capture.world.rules.World.names`)."""
        self.plan = plan
        self.names = names
        self.codes = CodeTable(plan, lazy_code)
        self._lazy_token = object()  # memo key of the list lazy.install returns
        self.asm = Assembler()
        self.buffers: list = []
        self.patches: dict[int, list] = {}  # ident(late value) -> [(target, how, key)] to patch in
        self.pending_in: dict[int, list] = {}  # ident(target) -> late values to be patched into it
        self._filled_late: set[int] = set()  # objects whose stage-D fills are emitted
        self._deferred: dict[int, list] = {}
        self.reorders: list = []  # (dict, keys in their original order)
        self._late_ids = {oid for oid, flag in plan.late.items() if flag}  # the objects made late

    # == the stages =================================================================================
    def compile(self, manifest: dict, registration: list[Step], late_steps: list[Step]) -> CompiledHeap:
        """Emit the stages. ``registration`` runs in stage C, ``late_steps`` in stage E."""
        plan = self.plan
        recipes, late, nodes = plan.recipes, plan.late, plan.nodes
        asm = self.asm
        deferred_fills: dict[int, list] = {}

        self._emit_code_table()
        # A. shells
        for oid, obj in nodes.items():
            if oid in recipes and not late[oid]:
                self.ensure_made(obj)
        # B. plain fills
        for oid, obj in nodes.items():
            r = recipes.get(oid)
            if r is None or late[oid] or not r.fills:
                continue
            if r.fill_late:
                deferred_fills[oid] = r.fills
                continue
            rest = self.emit_fills(obj, r.fills, partial=True)
            if rest:
                deferred_fills[oid] = rest
        # C. registration, state of modules held by reference
        for func, args in registration:
            self.emit_call(func, args)
        self._emit_late(deferred_fills)
        # E. key order, steps that need the complete heap, the manifest
        for d, keys in self.reorders:
            self.emit_call(reconstructor(rebuild.reorder), (d, keys))
        for func, args in late_steps:
            self.emit_call(func, args)
        self.ref(manifest)
        asm.stop()
        return CompiledHeap(bytes(asm.out), self.buffers, self.codes.blobs)

    def _emit_late(self, deferred_fills: dict[int, list]) -> None:
        """Stage D: late makes and the fills that waited, in post-order of the whole graph.
        Filling a dict or set whose keys hash by the program's code waits for D2: in a cycle,
        post-order cannot promise that a key's own state (its memoised hash, its fields) is
        complete when the container is filled. A container that a late make reads at once is
        filled in D1 all the same."""
        recipes, late = self.plan.recipes, self.plan.late
        read_by_makes = {ident(x) for oid, r in recipes.items() if late[oid] for x in r.make_refs()}
        hashing_fills: list = []
        self._deferred = deferred_fills
        for obj in self.post_order():
            oid = ident(obj)
            if oid in self._filled_late:
                continue  # completed early, as the key of a container read by a late make
            self._filled_late.add(oid)
            fills = self._late_fills(obj)
            if not fills:
                continue
            if oid not in read_by_makes:
                hashing: list[R.Fill] = []
                plain: list[R.Fill] = []
                for op in fills:
                    (hashing if self._hashes_keys(op) else plain).append(op)
                if hashing:
                    hashing_fills.append((obj, hashing))
                    fills = plain
            else:
                # A late make reads this container at once, so it cannot wait for D2: its keys
                # are completed first (made, their state set), whatever the post-order says
                # (in a cycle through a key's state the container comes first).
                for op in fills:
                    if self._hashes_keys(op):
                        self._complete_keys(op)
            self.emit_fills(obj, fills, partial=False)
        # D2. containers whose keys hash by the program's code
        for obj, fills in hashing_fills:
            self.emit_fills(obj, fills, partial=False)

    def _late_fills(self, obj: object) -> list[R.Fill] | None:
        """Make ``obj`` if it is made late; the fills it still has for stage D."""
        oid = ident(obj)
        if self.plan.late[oid]:
            self.ensure_made(obj)
            return self.plan.recipes[oid].fills
        return self._deferred.get(oid)

    def _complete_keys(self, op: R.Fill) -> None:
        """Make and fill, now, the keys a hashing fill hashes (and the items of tuple and
        frozenset keys), unless that was done already."""
        todo = list(op.hashed())
        while todo:
            key = todo.pop()
            if type(key) in (tuple, frozenset):
                todo.extend(key)
                continue
            kid = ident(key)
            if kid not in self.plan.recipes or kid in self._filled_late:
                continue
            self._filled_late.add(kid)
            fills = self._late_fills(key)
            if fills:
                self.emit_fills(key, fills, partial=False)

    def _hashes_keys(self, op: R.Fill) -> bool:
        """Does this fill run the program's hashing code (so it waits for stage D2)?"""
        if type(op) is R.CallOn:
            return op.hashes
        return any(self.plan.hash_by_code(k) for k in op.hashed())

    def post_order(self) -> Iterable[object]:
        plan = self.plan
        recipes = plan.recipes
        children = plan.children  # each recipe's refs that are nodes (atoms never have recipes)
        seen: set[int] = set()
        for root_id in plan.root_label:
            if root_id not in recipes or root_id in seen:
                continue
            stack = [(plan.nodes[root_id], iter(children[root_id]))]
            seen.add(root_id)
            while stack:
                obj, it = stack[-1]
                for child in it:
                    cid = ident(child)
                    if cid in recipes and cid not in seen:
                        seen.add(cid)
                        stack.append((child, iter(children[cid])))
                        break
                else:
                    stack.pop()
                    yield obj

    # == making objects ===========================================================================
    def is_made(self, value: object) -> bool:
        return type(value) in ATOMS or type(value) is Global or ident(value) in self.asm.memo

    def ensure_made(self, obj: object) -> None:
        """Make ``obj`` (and, first, whatever its make needs), leaving the stack as it was."""
        if self.is_made(obj):
            return
        recipes = self.plan.recipes
        r = recipes.get(ident(obj))
        if r is not None and type(r.make) in LEAF_MAKES:  # most objects: nothing to make first
            self.emit_make(obj, r.make)
            self.asm.pop()
            return
        stack = [(obj, False)]
        pending: set[int] = set()  # waiting for what their makes need
        while stack:
            cur, ready = stack.pop()
            if self.is_made(cur):
                continue
            r = recipes.get(ident(cur))
            if r is None:
                raise Unplannable(cur)
            if ready:
                self.emit_make(cur, r.make)
                self.asm.pop()
                pending.discard(ident(cur))
                continue
            if ident(cur) in pending:
                # Its make needs, through others, itself: no order can make it.
                raise Unplannable(cur, "it cannot be made before what it is made from (a cycle)")
            pending.add(ident(cur))
            stack.append((cur, True))
            for child in r.make_refs():
                if not self.is_made(child):
                    stack.append((child, False))

    def emit_make(self, obj: object, make: R.Make) -> None:
        """Push the new object, memoize it, and patch it into the fills that had to leave it out."""
        asm = self.asm
        if self._MAKERS[type(make)](self, obj, make):
            return  # a tuple that contains itself: already on the memo
        asm.memoize(obj)
        if ident(obj) in self.codes.lazy_keys:  # a function whose code comes on first call
            self.ref(named("_operator", "setitem"))
            asm.get(self._lazy_token)
            asm.int(self.codes.lazy_keys[ident(obj)])
            asm.get(obj)
            asm.tuple_of(3)
            asm.reduce()
            asm.pop()
        # A late object is now available: put it where stage B had to leave it out.
        for target, how, key in self.patches.pop(ident(obj), ()):
            if how == "setitem":
                asm.get(target)
                asm.mark()
                self.ref(key)
                asm.get(obj)
                asm.setitems()
                asm.pop()
            else:
                self.emit_call(reconstructor(rebuild.patch), (target, how, key, obj))

    # One method per kind of make; each pushes the object and returns True only when the object
    # is already memoized (a tuple that reaches itself through a back reference).
    def _make_by_name(self, obj: object, m: R.ByName) -> bool:
        self.asm.global_(m.module, m.qualname)
        return False

    def _make_module(self, obj: object, m: R.ModuleByName) -> bool:
        self.ref(reconstructor(rebuild.module_by_name))
        self.asm.str(m.name)
        self.asm.tuple_of(1)
        self.asm.reduce()
        return False

    def _make_call(self, obj: object, m: R.Call) -> bool:
        self.ref(m.func)
        self.push_tuple(m.args)
        self.asm.reduce()
        return False

    def _make_tuple(self, obj: object, m: R.TupleOf) -> bool:
        self.push_tuple(m.items)
        if ident(obj) in self.asm.memo:  # a tuple that contains itself through a back reference
            self.asm.pop()
            self.asm.get(obj)
            return True
        return False

    def _make_frozenset(self, obj: object, m: R.FrozensetOf) -> bool:
        self.asm.mark()
        self.push_values(m.items)
        self.asm.frozenset()
        return False

    def _make_empty_list(self, obj: object, m: R.EmptyList) -> bool:
        self.asm.empty_list()
        return False

    def _make_empty_dict(self, obj: object, m: R.EmptyDict) -> bool:
        self.asm.empty_dict()
        return False

    def _make_empty_set(self, obj: object, m: R.EmptySet) -> bool:
        self.asm.empty_set()
        return False

    def _make_code(self, obj: object, m: R.CodeObject) -> bool:
        self.ref(named("_operator", "getitem"))
        self.asm.get(self.codes.table)
        self.asm.int(self.codes.index[ident(obj)])
        self.asm.tuple_of(2)
        self.asm.reduce()
        return False

    def _make_buffer(self, obj: object, m: R.MappedBuffer) -> bool:
        self.buffers.append((m.view, m.readonly))
        self.asm.next_buffer(m.readonly)
        return False

    def _make_bytes(self, obj: object, m: R.BytesOf) -> bool:
        if len(m.data) >= MAPPED_MIN:
            self.push_copied_buffer(m.builtin, m.data)
        elif type(m) is R.BytearrayOf:
            self.asm.bytearray(m.data)
        else:
            self.asm.bytes(m.data)
        return False

    _MAKERS: dict[type, Callable[[HeapCompiler, object, Any], bool]] = {
        R.ByName: _make_by_name, R.ModuleByName: _make_module, R.Call: _make_call,
        R.TupleOf: _make_tuple, R.FrozensetOf: _make_frozenset, R.EmptyList: _make_empty_list,
        R.EmptyDict: _make_empty_dict, R.EmptySet: _make_empty_set, R.CodeObject: _make_code,
        R.MappedBuffer: _make_buffer, R.BytesOf: _make_bytes, R.BytearrayOf: _make_bytes,
    }

    def _emit_code_table(self) -> None:
        """The code table first (:mod:`amber.capture.compile.code_table`), then, with code on
        first call, the restore side's hook that stubs call."""
        codes = self.codes
        if codes.table:
            self.ref(named("marshal", "loads"))
            self.asm.bytes(marshal.dumps(tuple(codes.table)))
            self.asm.tuple_of(1)
            self.asm.reduce()
            self.asm.memoize(codes.table)
            self.asm.pop()  # used from the memo only: a program leaves nothing but its result
        if codes.lazy_keys:
            self.ref(reconstructor(lazy.install))
            self.push_tuple((tuple(codes.where),))
            self.asm.reduce()
            self.asm.memoize(self._lazy_token)
            self.asm.pop()

    def push_copied_buffer(self, kind: str, data: Any) -> None:
        """A large bytes or bytearray: copied out of the mapped section in one memcpy, and kept
        out of the heap section, whose every byte is digested at restore."""
        self.asm.global_("builtins", kind)
        self.buffers.append((data, True))
        self.asm.next_buffer(True)
        self.asm.tuple_of(1)
        self.asm.reduce()

    # == values ===================================================================================
    def ref(self, value: Any) -> None:
        """Push ``value``: inline if an atom, from the memo otherwise (making it first if needed)."""
        asm = self.asm
        cls = type(value)
        if cls is str:
            asm.str(value)
        elif value is None:
            asm.none()
        elif cls is bool:
            asm.bool(value)
        elif cls is int:
            self._ref_int(value)
        elif cls is float:
            asm.float(value)
        elif cls is bytes:
            if len(value) < MAPPED_MIN:
                asm.bytes(value)
            elif not asm.get(value):
                self.push_copied_buffer("bytes", value)
                asm.memoize(value)
        elif asm.get(value):
            pass
        elif cls is Global:
            asm.global_(value.module, value.qualname)
            asm.memoize(value)
        elif cls is tuple and ident(value) not in self.plan.recipes:
            self.push_tuple(value)  # Amber's own argument tuples: not part of the heap
        elif cls is Inline:
            v = value.value
            if type(v) is dict:
                asm.empty_dict()
                if v:
                    self._emit_pairs_dict(list(v.items()))
            else:
                self.push_tuple(v)
        else:
            self.ensure_made(value)
            asm.get(value)

    def _ref_int(self, value: int) -> None:
        if value == _MAIN_THREAD_IDENT:
            self._push_main_thread_ident()
        elif not (value > 0xFFFF and not value & 0x7 and self._push_id_of(value)):
            self.asm.int(value)

    def _push_id_of(self, value: int) -> bool:
        """An int that is the id() of an object of the heap or of one found by name (an
        address: no ordinary number has that value) is that object's id() in the restored
        process (freezegun and pydantic keep ids in sets). Objects made late keep the old number
        (they do not exist yet)."""
        key = ident_of_address(value)
        target: Any = self.plan.nodes.get(key)
        if target is None:
            # Or an object found by name in a module imported again (freezegun keeps the id()s
            # of datetime's classes and functions). The ident is a bijection on addresses.
            name = self.names.get(key)
            if name is None or not name[1]:
                return False
            target = named(*name)
        elif self.plan.late.get(key) or id(target) != value:
            return False
        self.ref(named("builtins", "id"))
        self.ref(target)
        self.asm.tuple_of(1)
        self.asm.reduce()
        return True

    def _push_main_thread_ident(self) -> None:
        # An object that recorded which thread made it (a database connection that refuses to
        # be used from another thread) sees the restored main thread as that thread. Thread
        # identities are addresses, so an unrelated int with this value does not occur.
        if not self.asm.get(_MAIN_THREAD_IDENT_MARK):
            self.ref(named("_thread", "get_ident"))
            self.asm.tuple_of(0)
            self.asm.reduce()
            self.asm.memoize(_MAIN_THREAD_IDENT_MARK)

    def emit_call(self, func: Any, args: tuple) -> None:
        self.ref(func)
        self.push_tuple(args)
        self.asm.reduce()
        self.asm.pop()

    # == filling objects ==========================================================================
    def emit_fills(self, obj: object, fills: list, partial: bool) -> list:
        """Emit ``fills`` on ``obj``; with ``partial``, return the ops that must wait for stage D."""
        rest = []
        fillers = self._FILLERS
        # A recipe that refers to atoms alone (no node among its refs: plan.children) has no
        # value made late and no key that hashes by the program's code: every fill is ready.
        judge = partial and bool(self.plan.children.get(ident(obj), True))
        for op in fills:
            if judge and not self._fill_ready(op):
                rest.append(op)
                continue
            fillers[type(op)](self, obj, op, partial)
        return rest

    # One method per kind of fill; each leaves the stack as it found it.
    def _fill_setitems(self, obj: object, op: R.SetItems, partial: bool) -> None:
        pairs = self._split(obj, op.pairs, "setitem", partial)
        if pairs:
            self.asm.get(obj)
            self._emit_pairs_dict(pairs)
            self.asm.pop()

    def _fill_build(self, obj: object, op: R.Build, partial: bool) -> None:
        how = _PATCH_HOW[R.Build]
        attrs = self._split(obj, op.attrs, how[0], partial) if op.attrs else None
        slots = self._split(obj, op.slots, how[1], partial) if op.slots else None
        asm = self.asm
        asm.get(obj)
        if slots:
            self._emit_state_dict(attrs)
            self._emit_state_dict(slots)
            asm.tuple_of(2)
        else:
            self._emit_state_dict(attrs)
        asm.build()
        asm.pop()

    def _fill_instance_state(self, obj: object, op: R.InstanceState, partial: bool) -> None:
        how = _PATCH_HOW[R.InstanceState]
        parts = [self._split(obj, op.attrs, how[0], partial) if op.attrs else None,
                 self._split(obj, op.slots, how[1], partial) if op.slots else None]
        self._call_setstate(reconstructor(rebuild.instance_setstate), obj, parts)

    def _fill_class_state(self, obj: object, op: R.ClassState, partial: bool) -> None:
        parts = [self._split(obj, op.pairs, _PATCH_HOW[R.ClassState][0], partial)]
        self._call_setstate(reconstructor(rebuild.class_setstate), obj, parts)

    def _call_setstate(self, func: Global, obj: object, parts: list) -> None:
        asm = self.asm
        self.ref(func)
        asm.get(obj)
        for part in parts:
            self._emit_state_dict(part)
        asm.tuple_of(1 + len(parts))
        asm.reduce()
        asm.pop()

    def _fill_appends(self, obj: object, op: R.Appends, partial: bool) -> None:
        self._push_items(obj, op.items)
        self.asm.appends()
        self.asm.pop()

    def _fill_additems(self, obj: object, op: R.AddItems, partial: bool) -> None:
        self._push_items(obj, op.items)
        self.asm.additems()
        self.asm.pop()

    def _push_items(self, obj: object, items: list) -> None:
        self.asm.get(obj)
        self.asm.mark()
        self.push_values(items)

    def _fill_reduce_setitems(self, obj: object, op: R.ReduceSetItems, partial: bool) -> None:
        self.asm.get(obj)
        self._emit_pairs_dict(op.pairs)
        self.asm.pop()

    # Contents of a builtin container base go in through the base's own method: the subclass's
    # (an overridden append or __setitem__) would run the program's code.
    def _fill_base_items(self, obj: object, op: R.BaseExtend | R.BaseAdd, partial: bool) -> None:
        self._call_base_method(type(op), obj, op.items)

    def _fill_base_update(self, obj: object, op: R.BaseUpdate, partial: bool) -> None:
        self._call_base_method(R.BaseUpdate, obj, [Inline(pair) for pair in op.pairs])

    def _call_base_method(self, kind: type, obj: object, items: list) -> None:
        """``base.method(obj, (items...))``: one tuple of the items, made where it is used."""
        asm = self.asm
        self.ref(_BASE_METHODS[kind])
        asm.get(obj)
        asm.mark()
        self.push_values(items)
        asm.tuple_from_mark()
        asm.tuple_of(2)
        asm.reduce()
        asm.pop()

    def _fill_set_state(self, obj: object, op: R.SetState, partial: bool) -> None:
        if not partial:  # stage D: late makes may run
            self._complete_values_of(op.state)
        self.asm.get(obj)
        self.ref(op.state)
        self.asm.build()
        self.asm.pop()

    def _complete_values_of(self, state: Any) -> None:
        """Before the program's code is handed ``state`` (a ``__setstate__``, a call on the
        object), the late values that stage B left out of it (and out of the containers in it)
        are made, so they are patched in first; as pickle does, such a value is made before the
        state is set, even when its own make refers to the object whose state this is."""
        todo, seen = [state], set()
        while todo:
            holder = todo.pop()
            hid = ident(holder)
            if hid in seen:
                continue
            seen.add(hid)
            if type(holder) is tuple:
                todo.extend(holder)
            for value in self.pending_in.pop(hid, ()):
                self.ensure_made(value)
                todo.append(value)

    def _fill_call_on(self, obj: object, op: R.CallOn, partial: bool) -> None:
        if not partial:  # stage D: late makes may run
            self._complete_values_of(op.args)
        self.ref(op.func)
        self.push_tuple((obj, *op.args))
        self.asm.reduce()
        self.asm.pop()

    def _fill_touch(self, obj: object, op: R.Touch, partial: bool) -> None:
        pass  # only made the object part of the heap

    _FILLERS: dict[type, Callable[[HeapCompiler, object, Any, bool], None]] = {
        R.SetItems: _fill_setitems, R.Build: _fill_build, R.InstanceState: _fill_instance_state,
        R.ClassState: _fill_class_state, R.Appends: _fill_appends, R.AddItems: _fill_additems,
        R.ReduceSetItems: _fill_reduce_setitems, R.BaseExtend: _fill_base_items,
        R.BaseUpdate: _fill_base_update, R.BaseAdd: _fill_base_items, R.SetState: _fill_set_state,
        R.CallOn: _fill_call_on, R.Touch: _fill_touch,
    }

    def _fill_ready(self, op: R.Fill) -> bool:
        """Can this fill run in stage B? Values made late are patched in later, but keys and
        whole-container items are needed at once, and hashing may run the program's code."""
        if op.patched_later:
            return True
        if any(map(self.plan.hash_by_code, _not_atoms(op.hashed()))):
            return False
        return self._none_late(op.needed())

    def _none_late(self, values: Iterable) -> bool:
        """Is none of ``values`` made late?"""
        values = list(values)
        return set(map(type, values)) <= ATOMS or self._late_ids.isdisjoint(map(ident, values))

    def _split(self, obj: object, pairs: list, how: str, partial: bool) -> list:
        """The pairs that can be written now; the others are patched in once their value is made."""
        atoms_only = not self.plan.children.get(ident(obj), True)  # (see emit_fills)
        if not partial or atoms_only or self._none_late(map(_second, pairs)):
            return pairs  # (read only: the callers write it)
        late = self.plan.late
        ready = []
        skipped = False
        for k, v in pairs:
            if late.get(ident(v)) and ident(v) not in self.asm.memo:
                self.patches.setdefault(ident(v), []).append((obj, how, k))
                self.pending_in.setdefault(ident(obj), []).append(v)
                skipped = True
            else:
                ready.append((k, v))
        if skipped and how == "setitem":
            self.reorders.append((obj, tuple(k for k, _ in pairs)))
        return ready
