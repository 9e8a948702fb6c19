"""Plan the heap: walk the object graph once, reduce every object to a recipe, classify what must
wait; the result is a :class:`HeapPlan`, which :mod:`amber.capture.compile.compiler` compiles.

Walk
    Breadth-first from the roots, so that the path reported for an object that cannot be
    captured is a shortest one. Every object gets a recipe (:mod:`amber.capture.reduce.reducers`);
    every offender is collected, so one failed snapshot lists them all. Weak references are
    reduced last: their referents are kept only if something else holds them strongly.

    Every str and bytes written is shown to the secret scan.

Classify
    Which makes must wait for the late stage (their own, or through what they need).

Nothing recurses on the graph's depth: a linked list of a million nodes is fine.
"""

from __future__ import annotations

import os
import sys
import types
import weakref
from collections import deque
from itertools import compress
from operator import not_

from amber._compat import ident, is_python_class
from amber.capture.policy.secret_forms import MIN_LENGTH
from amber.capture.reduce import recipes as R
from amber.capture.reduce.recipes import ATOMS, LEAF_MAKES, Global, Offender, Recipe

# Weak proxies wait, as weak references do, until what is held strongly is known.
_PROXIES = (weakref.ProxyType, weakref.CallableProxyType)
_INLINE = ATOMS | {Global}  # written where used: never a node
_TEXT = frozenset({str, bytes})  # shown to the secret scan


_UNREAD = object()


def _docstring_of(obj):
    """The docstring ``obj`` keeps (a module's, a class's, a property's, or a namespace dict's
    ``"__doc__"`` item), read where it is stored: never through ``getattr``, which runs a class's
    ``__doc__`` property (sympy's lazy functions import their module from it) or a lazy proxy's
    ``__class__``."""
    kind = type(obj)
    if kind is dict:
        return obj.get("__doc__")
    if kind is property:
        return obj.__doc__
    if issubclass(kind, (types.ModuleType, type)):
        try:
            return object.__getattribute__(obj, "__dict__").get("__doc__")
        except (AttributeError, TypeError):
            return None
    return None

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from amber.capture.policy.secret_scan import SecretScanner
    from amber.capture.reduce.reducers import Reducers



class HeapPlan:
    """The walked graph: every object with its recipe, how the walk reached it (for paths in
    messages), what cannot be captured, and which makes wait for the late stage."""

    def __init__(self, global_name: Callable[[Any], tuple[str, str] | None]) -> None:
        """``global_name(obj)`` says whether an object is found by name at restore
        (:meth:`amber.capture.world.rules.World.global_name`)."""
        self.nodes: dict[int, object] = {}
        self.recipes: dict[int, Recipe] = {}
        # What each recipe refers to that is a node (its refs without the atoms), in order.
        self.children: dict[int, list] = {}
        self.parent: dict[int, int | None] = {}
        self.root_label: dict[int, str] = {}
        self.offenders: dict[int, Offender] = {}
        self.late: dict[int, bool] = {}
        # (id of the holder, value, why, whether it is what the author wrote: see Planner._add)
        self.secret_hits: list[tuple[int, object, str, bool]] = []
        self._global_name = global_name
        self._hash_code_types: dict[type, bool] = {}

    def hash_by_code(self, key: Any) -> bool:
        """Does hashing ``key`` run Python code of the program (so it must wait for stage D)?"""
        cls = type(key)
        if cls in ATOMS or cls is complex:
            return False
        if cls is tuple or cls is frozenset:
            return any(self.hash_by_code(x) for x in key)
        if issubclass(cls, (type, types.FunctionType, types.ModuleType)):  # type(): proxies lie
            return False
        if self.late.get(ident(key)):
            return True
        if issubclass(cls, weakref.ref):
            target = key()
            return target is not None and self.hash_by_code(target)
        recipe = self.recipes.get(ident(key))
        if recipe is not None and type(recipe.make) in (R.ByName, R.ModuleByName):
            return False  # found by name: complete as soon as it exists
        known = self._hash_code_types.get(cls)
        if known is None:
            # A __hash__ written in Python reads the key's state (Enum's reads _name_), which is
            # set only when the key is filled; a C __hash__ of a by-value class may too (it
            # delegates to __eq__'s fields only in Python), so only the identity hash is safe.
            hash_fn = getattr(cls, "__hash__", None)
            known = hash_fn is not object.__hash__ and (
                hasattr(hash_fn, "__code__") or self._global_name(cls) is None)
            self._hash_code_types[cls] = known
        return known

    # == reporting ==================================================================================
    def path_to_value(self, holder: int, value: object) -> str:
        return self.path_to(holder) + _edge_label(self.nodes[holder], value)

    def path_to(self, oid: int) -> str:
        chain = []
        cur: int | None = oid
        while cur is not None:
            chain.append(cur)
            cur = self.parent.get(cur)
        chain.reverse()
        out = self.root_label.get(chain[0], "?")
        for parent_id, child_id in zip(chain, chain[1:], strict=False):
            out += _edge_label(self.nodes[parent_id], self.nodes[child_id])
        return out


class Planner:
    """Walks the graph from the roots with ``reducers`` and classifies it into a :class:`HeapPlan`."""

    def __init__(self, reducers: Reducers, scanner: SecretScanner | None = None) -> None:
        self.reducers = reducers
        self.scanner = scanner  # every str and bytes written is checked
        self.plan = HeapPlan(reducers.world.global_name)
        reducers.path_of = lambda obj: self.plan.path_to(ident(obj))  # for messages a restore may give
        self._scanned: set[int] = set()

    def run(self, roots: list[tuple[str, object]]) -> HeapPlan:
        """Walk and classify; the plan lists offenders rather than raising."""
        self.walk(roots)
        self.classify()
        return self.plan

    # == walk =======================================================================================
    def walk(self, roots: list[tuple[str, object]]) -> None:
        """``roots`` is a list of (label, object); labels start the paths in error messages."""
        plan = self.plan
        queue: deque = deque()
        weak: list = []
        for label, obj in roots:
            if type(obj) in ATOMS or isinstance(obj, Global) or ident(obj) in plan.nodes:
                continue
            plan.nodes[ident(obj)] = obj
            plan.parent[ident(obj)] = None
            plan.root_label[ident(obj)] = label
            queue.append(obj)
        while True:
            while queue:
                obj = queue.popleft()
                kind = type(obj)
                if (kind in _PROXIES or issubclass(kind, weakref.ref)) and ident(obj) not in plan.recipes:
                    weak.append(obj)
                    continue
                self._add(obj, self._reduce(obj), queue)
            if not weak:
                break
            # Referents that nothing holds strongly are gone at restore, as after a collection.
            self.reducers.strong_ids = dict(plan.nodes)
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
        plan = self.plan
        oid = ident(obj)
        if isinstance(recipe, Offender):
            plan.offenders[oid] = recipe
            return
        plan.recipes[oid] = recipe
        refs = list(recipe.refs())
        # Sorted by kind in C (most of a heap's edges are atoms, written inline).
        kinds = list(map(type, refs))
        kids = plan.children[oid] = list(compress(refs, map(not_, map(_INLINE.__contains__, kinds))))
        nodes = plan.nodes
        parent = plan.parent
        for child in kids:
            cid = ident(child)
            if cid not in nodes:
                nodes[cid] = child
                parent[cid] = oid
                queue.append(child)
        if self.scanner is not None and len(kids) < len(refs):
            self._scan(obj, oid, recipe, compress(refs, map(_TEXT.__contains__, kinds)))

    def _scan(self, obj, oid: int, recipe: Recipe, texts) -> None:
        """Show the secret scan each str and bytes value a recipe writes, once per value."""
        scanned = self._scanned
        check = self.scanner.check  # type: ignore[union-attr]
        code = type(recipe.make) is R.CodeObject
        doc: Any = _UNREAD
        for child in texts:
            if len(child) < MIN_LENGTH:
                continue  # too short to hold a secret: check() says so without looking
            cid = ident(child)
            if cid in scanned:
                continue
            scanned.add(cid)
            # Code (its constants) and docstrings are what the author wrote.
            if not code and doc is _UNREAD:
                doc = _docstring_of(obj)
            literal = code or doc is child
            why = check(child, literal)
            if why is not None:
                self.plan.secret_hits.append((oid, child, why, literal))

    # == classification ===========================================================================
    def classify(self) -> None:
        """Mark every object whose make must wait for stage D (its own, or through what it needs)."""
        plan = self.plan
        late = plan.late
        recipes = plan.recipes
        for oid in recipes:
            if oid in late:
                continue
            r = recipes[oid]
            if type(r.make) in LEAF_MAKES:  # needs nothing made: late only by its own make
                late[oid] = r.late
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
                        if not flag and type(r.make) is R.FrozensetOf:
                            flag = any(plan.hash_by_code(x) for x in r.make.items)
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


def _edge_label(parent, child) -> str:
    """How ``parent`` refers to ``child``, written as Python would access it (judged by the
    real type: a proxy's ``__class__`` may claim a dict's)."""
    kind = type(parent)
    if issubclass(kind, types.ModuleType):
        return ""
    if issubclass(kind, dict):
        label = _dict_edge(parent, child)
        if label is not None:
            return label
    if issubclass(kind, (list, tuple)):
        for i, v in enumerate(parent):
            if v is child:
                return f"[{i}]"
    return _attribute_edge(parent, child)


def _dict_edge(parent: dict, child) -> str | None:
    for k, v in parent.items():
        if v is child:
            if isinstance(k, str) and k.isidentifier() and _is_module_dict(parent):
                return f".{k}"
            return f"[{_short_repr(k)}]"
        if k is child:
            return f" (key {_short_repr(k)})"
    return None


def _attribute_edge(parent, child) -> str:
    if type(parent) is types.FunctionType:
        if parent.__globals__ is child:
            return ".__globals__"
        if parent.__closure__ and child in parent.__closure__:
            return f".__closure__[{parent.__closure__.index(child)}]"
    if type(parent) is types.CellType:
        return ".cell_contents"
    try:  # the real instance dict, not what a __dict__ property or proxy answers
        d = object.__getattribute__(parent, "__dict__")
    except (AttributeError, TypeError):
        d = None
    if isinstance(d, (dict, types.MappingProxyType)):
        for k, v in d.items():
            if v is child:
                return f".{k}"
    if type(parent) is child:
        return ".__class__"
    for name in dir(type(parent)):
        if name in _MADE_ON_READ and isinstance(parent, type) or _runs_code(type(parent), name):
            continue
        try:
            if getattr(parent, name) is child:
                return f".{name}"
        except Exception:
            continue
    return " -> "


# Read through getattr on a class, these store what they answer (3.12+: an empty dict into its
# namespace), which would change the program's state while a path is named. (A function's are
# read by its reducer anyway.)
_MADE_ON_READ = frozenset({"__annotations__"})


def _runs_code(cls: type, name: str) -> bool:
    """Whether reading ``name`` on an instance of ``cls`` would run the program's code (a
    property, a descriptor of a Python class): a path is named without running any."""
    for klass in type.__dict__["__mro__"].__get__(cls):
        found = type.__dict__["__dict__"].__get__(klass).get(name, _ABSENT)
        if found is not _ABSENT:
            kind = type(found)
            return isinstance(found, property) or is_python_class(kind) and hasattr(kind, "__get__")
    return False


_ABSENT = object()


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
    mod = mod if isinstance(mod, str) else "?"  # a class's own __module__ property (a proxy's)
    return cls.__qualname__ if mod == "builtins" else f"{mod}.{cls.__qualname__}"


class HeapStats:
    """What ``amber inspect`` shows of a heap: counts and bytes by type and by the root (module)
    through which the walk first reached each object, and the largest objects with their paths."""

    def __init__(self, plan: HeapPlan, limit: int = 15) -> None:
        by_type: dict[str, list] = {}
        by_root: dict[str, list] = {}
        owner: dict[int, str] = dict(plan.root_label)
        largest = []
        getsizeof = sys.getsizeof
        names: dict[int, str] = {}  # ident(type) -> its name, read once per type
        for oid, obj in plan.nodes.items():  # in walk order: a parent comes before its children
            try:
                size = getsizeof(obj)
            except Exception:
                size = 0
            cls = type(obj)
            name = names.get(ident(cls))
            if name is None:
                name = names[ident(cls)] = type_name(obj)
            for table, key in ((by_type, name), (by_root, self._owner(plan, owner, oid))):
                entry = table.get(key)
                if entry is None:
                    table[key] = [1, size]
                else:
                    entry[0] += 1
                    entry[1] += size
            largest.append((size, oid))
        largest.sort(reverse=True)
        self.count = len(plan.nodes)
        self.by_type = {k: tuple(v) for k, v in by_type.items()}
        self.by_module = {k: tuple(v) for k, v in by_root.items()}
        self.largest = [(plan.path_to(oid), type_name(plan.nodes[oid]), size)
                        for size, oid in largest[:limit]]

    @staticmethod
    def _owner(plan: HeapPlan, owner: dict[int, str], oid: int) -> str:
        root = owner.get(oid)
        if root is None:
            parent = plan.parent.get(oid)
            root = owner[oid] = owner.get(parent, "?") if parent is not None else "?"
        return root
