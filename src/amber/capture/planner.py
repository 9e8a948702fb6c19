"""Plan the heap: walk the object graph once, then compile it into a pickle program in stages.

Walk
    Breadth-first from the roots, so that the path reported for an object that cannot be
    captured is a shortest one. Every object gets a recipe (:mod:`amber.capture.reducers`);
    every offender is collected, so one failed snapshot lists them all. Weak references are
    reduced last: their referents are kept only if something else holds them strongly.

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

Nothing recurses on the graph's depth: a linked list of a million nodes is fine.
"""

from __future__ import annotations

import marshal
import os
import sys
import types
from collections import deque

from amber._compat import ident, ident_of_address
from amber.capture.assembler import Assembler
from amber.capture.recipes import REBUILD, Inline, Offender, Recipe, _Global, _global
from amber.image.format import MAPPED_MIN

_ATOMS = frozenset({type(None), bool, int, float, str, bytes})
_MAIN_THREAD_IDENT = __import__("_thread").get_ident()  # the snapshot runs in the main thread
_MAIN_THREAD_IDENT_MARK = object()
_BASE_METHODS = {"base_extend": "list.extend", "base_update": "dict.update", "base_add": "set.update"}
_PATCH_HOW = {"build": ("dict", "setattr"), "inst": ("dict", "object"), "class": ("type", "type")}


class Heap:
    """The result of planning: the program bytes plus what inspect and errors need."""

    def __init__(self):
        self.program = b""
        self.offenders: list[tuple[str, str, Offender]] = []  # (path, type name, offender)
        self.count = 0
        self.by_type: dict[str, list] = {}
        self.largest: list = []


class Planner:
    def __init__(self, reducers):
        self.reducers = reducers
        self.nodes: dict[int, object] = {}
        self.recipes: dict[int, Recipe] = {}
        self.parent: dict[int, int | None] = {}
        self.root_label: dict[int, str] = {}
        self.offenders: dict[int, Offender] = {}
        self.late: dict[int, bool] = {}
        self._hash_code_types: dict[type, bool] = {}
        self.scanner = None  # a SecretScanner: every str and bytes written is checked
        self._scanned: set[int] = set()
        self.secret_hits: list = []  # (id of the holder, value, why)
        self.buffers: list = []  # (bytes-like, read-only): the image's mapped section, in NEXT_BUFFER order

    # == walk =======================================================================================
    def walk(self, roots: list) -> None:
        """``roots`` is a list of (label, object); labels start the paths in error messages."""
        queue: deque = deque()
        weak: list = []
        for label, obj in roots:
            if type(obj) in _ATOMS or isinstance(obj, _Global) or ident(obj) in self.nodes:
                continue
            self.nodes[ident(obj)] = obj
            self.parent[ident(obj)] = None
            self.root_label[ident(obj)] = label
            queue.append(obj)
        while True:
            while queue:
                obj = queue.popleft()
                if isinstance(obj, __import__("weakref").ref) and ident(obj) not in self.recipes:
                    weak.append(obj)
                    continue
                self._add(obj, self._reduce(obj), queue)
            if not weak:
                break
            # Referents that nothing holds strongly are gone at restore, as after a collection.
            self.reducers.strong_ids = set(self.nodes)
            for ref in weak:
                self._add(ref, self._reduce(ref), queue)
            weak = []

    def _reduce(self, obj):
        try:
            return self.reducers.reduce(obj)
        except Exception as e:
            if os.environ.get("AMBER_DEBUG"):
                raise
            # A bug in Amber or an object that misbehaves when looked at: reported with its path
            # like any other offender, so one run lists every problem.
            return Offender(f"Amber could not capture it ({type(e).__name__}: {e})",
                            "report this to Amber's developers; AMBER_DEBUG=1 shows where it failed")

    def _add(self, obj, recipe, queue) -> None:
        oid = ident(obj)
        if isinstance(recipe, Offender):
            self.offenders[oid] = recipe
            return
        self.recipes[oid] = recipe
        nodes = self.nodes
        parent = self.parent
        scanner = self.scanner
        for child in _refs(recipe):
            cls = type(child)
            if cls in _ATOMS or cls is _Global:
                if scanner is not None and (cls is str or cls is bytes):
                    cid = ident(child)
                    if cid not in self._scanned:
                        self._scanned.add(cid)
                        why = scanner.check(child)
                        if why is not None:
                            self.secret_hits.append((oid, child, why))
                continue
            cid = ident(child)
            if cid not in nodes:
                nodes[cid] = child
                parent[cid] = oid
                queue.append(child)

    # == classification ===========================================================================
    def classify(self) -> None:
        """Mark every object whose make must wait for stage D (its own, or through what it needs)."""
        late = self.late
        recipes = self.recipes
        for oid in recipes:
            if oid in late:
                continue
            stack = [(oid, False)]
            while stack:
                cur, done = stack.pop()
                if done:
                    r = recipes[cur]
                    flag = r.late
                    if not flag:
                        for child in r.make_refs():
                            cid = ident(child)
                            if late.get(cid):
                                flag = True
                                break
                        if not flag and r.make[0] == "frozenset":
                            flag = any(self.hash_by_code(x) for x in r.make[1])
                    late[cur] = flag
                    continue
                if cur in late:
                    continue
                late[cur] = False  # provisional: breaks cycles through makes
                stack.append((cur, True))
                for child in recipes[cur].make_refs():
                    cid = ident(child)
                    if cid in recipes and cid not in late:
                        stack.append((cid, False))

    def hash_by_code(self, key) -> bool:
        """Does hashing ``key`` run Python code of the program (so it must wait for stage D)?"""
        cls = type(key)
        if cls in _ATOMS or cls is complex:
            return False
        if cls is tuple or cls is frozenset:
            return any(self.hash_by_code(x) for x in key)
        if isinstance(key, (type, types.FunctionType, types.ModuleType)):
            return False
        if self.late.get(ident(key)):
            return True
        if isinstance(key, __import__("weakref").ref):
            target = key()
            return target is not None and self.hash_by_code(target)
        recipe = self.recipes.get(ident(key))
        if recipe is not None and recipe.make[0] in ("global", "module"):
            return False  # found by name: complete as soon as it exists
        known = self._hash_code_types.get(cls)
        if known is None:
            # A __hash__ written in Python reads the key's state (Enum's reads _name_), which is
            # set only when the key is filled; a C __hash__ of a by-value class may too (it
            # delegates to __eq__'s fields only in Python), so only the identity hash is safe.
            hash_fn = getattr(cls, "__hash__", None)
            known = hash_fn is not object.__hash__ and (
                hasattr(hash_fn, "__code__") or self.reducers.world.global_name(cls) is None)
            self._hash_code_types[cls] = known
        return known

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
        constants that code objects share are written and interned once."""
        codes = [obj for oid, obj in self.nodes.items()
                 if oid in self.recipes and self.recipes[oid].make[0] == "code"]
        self._code_index = {ident(code): i for i, code in enumerate(codes)}
        self._code_table = codes
        if codes:
            self.ref(_global("marshal", "loads"))
            self.asm.bytes(marshal.dumps(tuple(codes)))
            self.asm.tuple_of(1)
            self.asm.reduce()
            self.asm.memoize(codes)

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
            elif kind in ("appends", "obj_appends"):
                asm.get(obj)
                asm.mark()
                for item in op[1]:
                    self.ref(item)
                asm.appends()
                asm.pop()
            elif kind == "additems":
                asm.get(obj)
                asm.mark()
                for item in op[1]:
                    self.ref(item)
                asm.additems()
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

    # == reporting ==================================================================================
    def path_to_value(self, holder: int, value) -> str:
        return self.path_to(holder) + _edge_label(self.nodes[holder], value)

    def path_to(self, oid: int) -> str:
        chain = []
        cur = oid
        while cur is not None:
            chain.append(cur)
            cur = self.parent.get(cur)
        chain.reverse()
        out = self.root_label.get(chain[0], "?")
        for parent_id, child_id in zip(chain, chain[1:], strict=False):
            out += _edge_label(self.nodes[parent_id], self.nodes[child_id])
        return out


class _Unplannable(Exception):
    def __init__(self, obj, why: str = ""):
        super().__init__(why or f"no recipe for {type(obj).__name__} object")
        self.obj = obj
        self.why = why


def _refs(recipe):
    yield from recipe.make_refs()
    yield from recipe.fill_refs()


def _edge_label(parent, child) -> str:
    """How ``parent`` refers to ``child``, written as Python would access it."""
    if isinstance(parent, types.ModuleType):
        return ""
    if isinstance(parent, dict):
        for k, v in parent.items():
            if v is child:
                if isinstance(k, str) and k.isidentifier() and _is_module_dict(parent):
                    return f".{k}"
                return f"[{_short_repr(k)}]"
            if k is child:
                return f" (key {_short_repr(k)})"
    if isinstance(parent, (list, tuple)):
        for i, v in enumerate(parent):
            if v is child:
                return f"[{i}]"
    if isinstance(parent, types.FunctionType):
        if parent.__globals__ is child:
            return ".__globals__"
        if parent.__closure__ and child in parent.__closure__:
            return f".__closure__[{parent.__closure__.index(child)}]"
    if isinstance(parent, types.CellType):
        return ".cell_contents"
    d = getattr(parent, "__dict__", None)
    if isinstance(d, (dict, types.MappingProxyType)):
        for k, v in d.items():
            if v is child:
                return f".{k}"
    for name in dir(type(parent)):
        try:
            if getattr(parent, name) is child:
                return f".{name}"
        except Exception:
            continue
    return " -> "


def _short_repr(value, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 5] + "...)"


def _is_module_dict(d) -> bool:
    return "__name__" in d and "__builtins__" in d or "__spec__" in d


def type_name(obj) -> str:
    cls = type(obj)
    mod = getattr(cls, "__module__", "builtins")
    return cls.__qualname__ if mod == "builtins" else f"{mod}.{cls.__qualname__}"


def stats(planner: Planner, heap: Heap, limit: int = 15) -> None:
    by_type: dict[str, list] = {}
    largest = []
    getsizeof = sys.getsizeof
    for oid, obj in planner.nodes.items():
        try:
            size = getsizeof(obj)
        except Exception:
            size = 0
        name = type_name(obj)
        entry = by_type.get(name)
        if entry is None:
            by_type[name] = [1, size]
        else:
            entry[0] += 1
            entry[1] += size
        largest.append((size, oid))
    largest.sort(reverse=True)
    heap.count = len(planner.nodes)
    heap.by_type = by_type
    heap.largest = [(planner.path_to(oid), type_name(planner.nodes[oid]), size)
                    for size, oid in largest[:limit]]
