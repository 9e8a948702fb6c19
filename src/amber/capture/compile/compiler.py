"""Compile the walked heap into a pickle program, in stages.

Compile, in stages (each stage only refers to objects the earlier ones made):

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
E. Dicts that were filled in two passes get their key order back; the manifest is returned.

The unpickler then executes the program at C speed, and nothing in it recurses on the
graph's depth. :class:`HeapCompiler` is the compiling half of
:class:`amber.capture.compile.planner.Planner` (which walks and classifies).
"""

from __future__ import annotations

import marshal

from amber._compat import ident, ident_of_address
from amber.capture.compile import lazy_code
from amber.capture.compile.assembler import Assembler
from amber.capture.reduce.recipes import REBUILD, Inline, Recipe, _Global, _global
from amber.image.format import MAPPED_MIN

_MAIN_THREAD_IDENT = __import__("_thread").get_ident()  # the snapshot runs in the main thread
_MAIN_THREAD_IDENT_MARK = object()
_BASE_METHODS = {"base_extend": "list.extend", "base_update": "dict.update", "base_add": "set.update"}
_PATCH_HOW = {"build": ("dict", "setattr"), "inst": ("dict", "object"), "class": ("type", "type")}
_ATOMS = frozenset({type(None), bool, int, float, str, bytes})


class HeapCompiler:
    """Emits the program for the graph a Planner walked (``nodes``, ``recipes``, ``late``)."""

    # == compile ====================================================================================
    def compile(self, manifest, registration: list, replay: list) -> bytes:
        """Emit the stages. ``registration`` and ``replay`` are (callable, args) steps for stage C."""
        asm = self.asm = Assembler()
        recipes = self.recipes
        late = self.late
        self.patches: dict[int, list] = {}
        self.reorders: list = []
        deferred_fills: dict[int, list] = {}

        self._emit_code_table()
        # A. shells
        for oid, obj in self.nodes.items():
            if oid in recipes and not late[oid]:
                self.ensure_made(obj)
        # B. plain fills
        for oid, obj in self.nodes.items():
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
        for func, args in registration + replay:
            self.emit_call(func, args)
        # D. late steps, in post-order of the whole graph. Filling a dict or set whose keys hash
        # by the program's code waits for D2: in a cycle, post-order cannot promise that a key's
        # own state (its memoised hash, its fields) is complete when the container is filled.
        # A container that a late make reads at once is filled in D1 all the same.
        read_by_makes = {ident(x) for oid, r in recipes.items() if late[oid] for x in r.make_refs()}
        hashing_fills: list = []
        for obj in self.post_order():
            oid = ident(obj)
            r = recipes[oid]
            if late[oid]:
                self.ensure_made(obj)
                fills = r.fills
            else:
                fills = deferred_fills.get(oid)
            if not fills:
                continue
            if oid not in read_by_makes:
                hashing, plain = [], []
                for op in fills:
                    (hashing if self._hashes_keys(op) else plain).append(op)
                if hashing:
                    hashing_fills.append((obj, hashing))
                    fills = plain
            self.emit_fills(obj, fills, partial=False)
        # D2. containers whose keys hash by the program's code
        for obj, fills in hashing_fills:
            self.emit_fills(obj, fills, partial=False)
        # E. key order, manifest
        for d, keys in self.reorders:
            self.emit_call(_global(REBUILD, "reorder"), (d, keys))
        self.ref(manifest)
        asm.stop()
        return bytes(asm.out)

    def _hashes_keys(self, op) -> bool:
        kind = op[0]
        if kind in ("setitems", "obj_setitems", "base_update"):
            return any(self.hash_by_code(k) for k, _ in op[1])
        if kind in ("additems", "base_add"):
            return any(self.hash_by_code(x) for x in op[1])
        if kind == "call" and op[1] is _global(REBUILD, "fill_lru_cache"):
            return True
        return False

    def post_order(self):
        recipes = self.recipes
        seen: set[int] = set()
        for root_id in self.root_label:
            if root_id not in recipes or root_id in seen:
                continue
            stack = [(self.nodes[root_id], iter(list(_refs(recipes[root_id]))))]
            seen.add(root_id)
            while stack:
                obj, it = stack[-1]
                for child in it:
                    cid = ident(child)
                    if cid in recipes and cid not in seen:
                        seen.add(cid)
                        stack.append((child, iter(list(_refs(recipes[cid])))))
                        break
                else:
                    stack.pop()
                    yield obj

    # -- making objects -------------------------------------------------------------------------
    def is_made(self, value) -> bool:
        return type(value) in _ATOMS or isinstance(value, _Global) or ident(value) in self.asm.memo

    def ensure_made(self, obj) -> None:
        """Make ``obj`` (and, first, whatever its make needs), leaving the stack as it was."""
        if self.is_made(obj):
            return
        recipes = self.recipes
        stack = [(obj, False)]
        pending: set[int] = set()  # waiting for what their makes need
        while stack:
            cur, ready = stack.pop()
            if self.is_made(cur):
                continue
            r = recipes.get(ident(cur))
            if r is None:
                raise _Unplannable(cur)
            if ready:
                self.emit_make(cur, r)
                self.asm.pop()
                pending.discard(ident(cur))
                continue
            if ident(cur) in pending:
                # Its make needs, through others, itself: no order can make it.
                raise _Unplannable(cur, "it cannot be made before what it is made from (a cycle)")
            pending.add(ident(cur))
            stack.append((cur, True))
            for child in r.make_refs():
                if not self.is_made(child):
                    stack.append((child, False))

    def emit_make(self, obj, r: Recipe) -> None:
        asm = self.asm
        m = r.make
        kind = m[0]
        if kind == "global":
            asm.global_(m[1], m[2])
        elif kind == "module":
            self.ref(_global(REBUILD, "module_by_name"))
            asm.str(m[1])
            asm.tuple_of(1)
            asm.reduce()
        elif kind == "call":
            self.ref(m[1])
            self.push_tuple(m[2])
            asm.reduce()
        elif kind == "tuple":
            items = m[1]
            if len(items) > 3:
                asm.mark()
            for item in items:
                self.ref(item)
            asm.tuple_of(len(items))
            if ident(obj) in asm.memo:  # a tuple that contains itself through a back reference
                asm.pop()
                asm.get(obj)
                return
        elif kind == "frozenset":
            asm.mark()
            for item in m[1]:
                self.ref(item)
            asm.frozenset()
        elif kind == "list":
            asm.empty_list()
        elif kind == "dict":
            asm.empty_dict()
        elif kind == "set":
            asm.empty_set()
        elif kind == "code":
            self.ref(_global("operator", "getitem"))
            asm.get(self._code_table)
            asm.int(self._code_index[ident(obj)])
            asm.tuple_of(2)
            asm.reduce()
        elif kind == "buffer":
            self.buffers.append((m[1], m[2]))
            asm.next_buffer(m[2])
        elif kind in ("bytes", "bytearray") and len(m[1]) >= MAPPED_MIN:
            self.push_copied_buffer(kind, m[1])
        elif kind == "bytearray":
            asm.bytearray(m[1])
        elif kind == "bytes":
            asm.bytes(m[1])
        else:  # pragma: no cover - reducers only produce the kinds above
            raise AssertionError(kind)
        asm.memoize(obj)
        if ident(obj) in self._lazy_keys:  # a function whose code comes on first call
            self.ref(_global("_operator", "setitem"))
            asm.get(self._lazy_token)
            asm.int(self._lazy_keys[ident(obj)])
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
                self.emit_call(_global(REBUILD, "patch"), (target, how, key, obj))

    def push_tuple(self, items) -> None:
        asm = self.asm
        if len(items) > 3:
            asm.mark()
        for item in items:
            self.ref(item)
        asm.tuple_of(len(items))

    def _emit_code_table(self) -> None:
        """Every code object of the heap, unmarshalled by one ``marshal.loads`` at the start of
        the program: one call instead of one per code object, and the names, file names and
        constants that code objects share are written and interned once. With ``lazy_code``,
        the functions that qualify get stubs in this table and their real code goes to one
        blob per module, unmarshalled on first call (:mod:`amber.restore.lazy`)."""
        codes = [obj for oid, obj in self.nodes.items()
                 if oid in self.recipes and self.recipes[oid].make[0] == "code"]
        lazy = lazy_code.choose(self) if getattr(self, "lazy_code", False) else {}
        # The eager code objects, then one stub per lazy function, whose key K is its place.
        table = [code for code in codes if ident(code) not in lazy]
        self.lazy_blobs, where, stubs = lazy_code.build(lazy) if lazy else ([], [], [])
        self._lazy_keys = {ident(fn): key for key, (_code, fn) in enumerate(lazy.values())}
        self._code_index = {ident(code): i for i, code in enumerate(table)}
        self._code_index.update((code_id, len(table) + key) for key, code_id in enumerate(lazy))
        table += stubs
        self._code_table = table
        if table:
            self.ref(_global("marshal", "loads"))
            self.asm.bytes(marshal.dumps(tuple(table)))
            self.asm.tuple_of(1)
            self.asm.reduce()
            self.asm.memoize(table)
        self._lazy_token = object()
        if lazy:
            self.ref(_global("amber.restore.lazy", "install"))
            self.push_tuple((tuple(where),))
            self.asm.reduce()
            self.asm.memoize(self._lazy_token)
            self.asm.pop()

    def push_copied_buffer(self, kind: str, data) -> None:
        """A large bytes or bytearray: copied out of the mapped section in one memcpy, and kept
        out of the heap section, whose every byte is digested at restore."""
        self.asm.global_("builtins", kind)
        self.buffers.append((data, True))
        self.asm.next_buffer(True)
        self.asm.tuple_of(1)
        self.asm.reduce()

    def ref(self, value) -> None:
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
            if value == _MAIN_THREAD_IDENT:
                self._push_main_thread_ident()
            elif value > 0xFFFF and not value & 0x7 and self._push_id_of(value):
                pass
            else:
                asm.int(value)
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
        elif cls is _Global:
            asm.global_(value.module, value.qualname)
            asm.memoize(value)
        elif cls is tuple and ident(value) not in self.recipes:
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

    def _push_id_of(self, value: int) -> bool:
        """An int that is the id() of an object of the heap or of one found by name (an
        address: no ordinary number has that value) is that object's id() in the restored
        process (freezegun and pydantic keep ids in sets). Objects made late keep the old number
        (they do not exist yet)."""
        key = ident_of_address(value)
        target = self.nodes.get(key)
        if target is None:
            # Or an object found by name in a module imported again (freezegun keeps the id()s
            # of datetime's classes and functions). The ident is a bijection on addresses.
            name = self.reducers.world.names.get(key)
            if name is None or not name[1]:
                return False
            target = _global(*name)
        elif self.late.get(key) or id(target) != value:
            return False
        self.ref(_global("builtins", "id"))
        self.ref(target)
        self.asm.tuple_of(1)
        self.asm.reduce()
        return True

    def _push_main_thread_ident(self) -> None:
        # An object that recorded which thread made it (a database connection that refuses to
        # be used from another thread) sees the restored main thread as that thread. Thread
        # identities are addresses, so an unrelated int with this value does not occur.
        if not self.asm.get(_MAIN_THREAD_IDENT_MARK):
            self.ref(_global("_thread", "get_ident"))
            self.asm.tuple_of(0)
            self.asm.reduce()
            self.asm.memoize(_MAIN_THREAD_IDENT_MARK)

    def emit_call(self, func, args) -> None:
        self.ref(func)
        self.push_tuple(args)
        self.asm.reduce()
        self.asm.pop()

    # -- filling objects ------------------------------------------------------------------------
    def emit_fills(self, obj, fills, partial: bool) -> list:
        """Emit ``fills`` on ``obj``; with ``partial``, return the ops that must wait for stage D."""
        asm = self.asm
        rest = []
        for op in fills:
            kind = op[0]
            if kind == "touch":
                continue
            if partial and not self._fill_ready(op):
                rest.append(op)
                continue
            if kind == "setitems":
                pairs = self._split(obj, op[1], "setitem", partial)
                if pairs:
                    asm.get(obj)
                    self._emit_pairs_dict(pairs)
                    asm.pop()
            elif kind in ("build", "inst", "class"):
                how = _PATCH_HOW[kind]
                if kind == "class":
                    parts = [self._split(obj, op[1], how[0], partial)]
                else:
                    parts = [self._split(obj, op[1], how[0], partial) if op[1] else None,
                             self._split(obj, op[2], how[1], partial) if op[2] else None]
                if kind == "build":
                    asm.get(obj)
                    if parts[1]:
                        self._emit_state_dict(parts[0])
                        self._emit_state_dict(parts[1])
                        asm.tuple_of(2)
                    else:
                        self._emit_state_dict(parts[0])
                    asm.build()
                    asm.pop()
                else:
                    func = "class_setstate" if kind == "class" else "instance_setstate"
                    self.ref(_global(REBUILD, func))
                    asm.get(obj)
                    for part in parts:
                        self._emit_state_dict(part)
                    asm.tuple_of(1 + len(parts))
                    asm.reduce()
                    asm.pop()
            elif kind in ("appends", "obj_appends", "additems"):
                asm.get(obj)
                asm.mark()
                for item in op[1]:
                    self.ref(item)
                if kind == "additems":
                    asm.additems()
                else:
                    asm.appends()
                asm.pop()
            elif kind == "obj_setitems":
                asm.get(obj)
                self._emit_pairs_dict(op[1], existing=True)
                asm.pop()
            elif kind in _BASE_METHODS:
                self.ref(_global("builtins", _BASE_METHODS[kind]))
                asm.get(obj)
                asm.mark()
                for item in op[1]:
                    if kind == "base_update":
                        self.ref(item[0])
                        self.ref(item[1])
                        asm.tuple_of(2)
                    else:
                        self.ref(item)
                asm.tuple_from_mark()
                asm.tuple_of(2)
                asm.reduce()
                asm.pop()
            elif kind == "state":
                asm.get(obj)
                self.ref(op[1])
                asm.build()
                asm.pop()
            elif kind == "call":
                self.ref(op[1])
                self.push_tuple((obj,) + tuple(op[2]))
                asm.reduce()
                asm.pop()
            else:  # pragma: no cover
                raise AssertionError(kind)
        return rest

    def _fill_ready(self, op) -> bool:
        """Can this fill run in stage B? Values made late are patched in later, but keys and
        whole-container items are needed at once, and hashing may run the program's code."""
        kind = op[0]
        late = self.late
        if kind in ("setitems", "base_update"):
            return not any(self.hash_by_code(k) or late.get(ident(k)) for k, _ in op[1])
        if kind in ("build", "inst", "class"):
            return True
        if kind in ("additems", "base_add"):
            return not any(self.hash_by_code(x) or late.get(ident(x)) for x in op[1])
        if kind in ("appends", "base_extend"):
            return not any(late.get(ident(x)) for x in op[1])
        if kind == "call" and op[1] is _global(REBUILD, "finish_abc"):
            return False
        refs = list(Recipe(("list",), [op]).fill_refs())
        return not any(late.get(ident(x)) for x in refs)

    def _split(self, obj, pairs, how, partial):
        if not partial:
            return pairs
        late = self.late
        ready = []
        skipped = False
        for k, v in pairs:
            if late.get(ident(v)) and ident(v) not in self.asm.memo:
                self.patches.setdefault(ident(v), []).append((obj, how, k))
                skipped = True
            else:
                ready.append((k, v))
        if skipped and how == "setitem":
            self.reorders.append((obj, tuple(k for k, _ in pairs)))
        return ready

    def _emit_pairs_dict(self, pairs, existing=False) -> None:
        asm = self.asm
        for start in range(0, len(pairs), 1000):
            asm.mark()
            for k, v in pairs[start:start + 1000]:
                self.ref(k)
                self.ref(v)
            asm.setitems()

    def _emit_state_dict(self, pairs) -> None:
        if pairs is None:
            self.asm.none()
            return
        self.asm.empty_dict()
        if pairs:
            self._emit_pairs_dict(pairs)


class _Unplannable(Exception):
    def __init__(self, obj, why: str = ""):
        super().__init__(why or f"no recipe for {type(obj).__name__} object")
        self.obj = obj
        self.why = why


def _refs(recipe):
    yield from recipe.make_refs()
    yield from recipe.fill_refs()
