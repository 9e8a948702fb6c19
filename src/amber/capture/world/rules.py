"""Which modules are captured by value and which are held by reference (imported again).

The rule, in one sentence: *a module is imported again at restore when it cannot be captured by
value, or when importing such a module again would import it anyway.* In detail:

1. **The base set** is held by reference: every module the restoring interpreter has before it
   reads the image (its own start-up under ``-I -S`` plus Amber's restore path). Submodules of a
   base-set package loaded later (``collections.abc``, ``encodings.idna``) are imported again.
2. **Seeds** cannot be captured by value:

   * extension and builtin modules (``.so``/``.pyd``): their state lives in C;
   * modules that define a class whose metaclass is implemented in C (``ctypes``): such a class
     cannot be made without running that metaclass again;
   * modules whose state describes the running process: ``os`` (``os.environ``), ``threading``
     (the main-thread object), ``random`` (its seed), ``tempfile``, ``multiprocessing.process``;
   * packages the program or the user asked for (``amber.reimport()``, ``--reimport``).
3. **The closure**: a fresh interpreter started as a restore starts imports everything a restore
   imports again (the seeds, the other modules of base-set packages) and reports what each
   import pulled in (:mod:`amber.capture.world.probe`). All of that is imported again at
   restore, so none of it may also be captured by value: *anything a module held by reference
   imports in a fresh interpreter is held by reference too.* This is how the Python parts that
   an extension uses while it initialises (``copyreg`` for ``_pickle``, ``numbers`` for
   ``_decimal``, a package's ``__init__`` for its ``.so``) end up on the same side as it, and
   ``stringprep`` beside ``encodings.idna``. (What a module imported again imports later, inside
   a function, finds the captured copy in ``sys.modules``: the heap is in place by then.)
4. **Whole packages**: a package with any module imported again is imported again whole, so a
   package's modules never mix captured and fresh state. A package whose extension only sits
   beside pure-Python modules that do not import it (``pydantic`` beside ``pydantic_core``) is
   not entangled and stays captured by value. The modules a package brings in this way are
   imported in the probe too, and rule 3 applies to them, until nothing new is added.

Everything else reachable from ``sys.modules`` and ``__main__`` is captured by value.

State the program set on a module that is imported again (an attribute rebound, a registry
filled, ``pd.set_option``) would be lost: it is detected by comparing the module's namespace at
the snapshot point with what a fresh import leaves (the probe's fingerprints) *and* with the
namespace right after the module's own import (:mod:`amber.capture.recorders.imports`: what
differs only from process to process is never replayed). Rebound attributes are set again and
changed containers refilled at restore, and a note says so (``amber inspect`` lists them). The
same holds for the namespaces of the classes and functions such a module defines (its
*members*): an attribute the program set on one (``threading.Thread.x = 1``,
``json.dumps.cache = {}``, ``MutableMapping.__subclasshook__ = classmethod(f)``, a method
replaced) is set again, one it removed is removed again; this covers the base set's classes too
(``collections.Counter.__repr__``). The state of a module describing the process
(``threading``...) is the restoring process's own, except the functions and classes the program
put into it (``threading.excepthook = hook``) and its members' namespaces.

*State inside the objects such a module owns* (its module-level and class-level instances, one
level into them: ``logging.root``, ``logging.Logger.manager``) is set again the same way, in
place on the fresh import's own objects (:mod:`amber.capture.world.owned`). A module attribute
rebound since the import to an object (kind ``"o"``) is set again when a fresh import has no
object of that type there (``asyncio.set_event_loop_policy(MyPolicy())``, the default policy
``get_event_loop_policy()`` made, where a fresh import has None); one of the type a fresh import
has there too is the fresh import's (a cache another module's import filled). Objects such a
module holds elsewhere (a closure, a logger in no namespace) are reached through their class's
reduce protocol; one that is a lookup by name (``Logger`` reduces to ``getLogger(name)``) is the
fresh process's object with the program's state set on it
(:meth:`amber.capture.reduce.instances.InstanceReducer._found_by_lookup`).
"""

from __future__ import annotations

import enum
import sys
import types

from amber._compat import c_metaclass, ident, is_python_class, known_type_key
from amber.capture.reduce.recipes import ATOMS, named
from amber.capture.world.fingerprint import (
    LAZY_CLASS_ATTRS,
    REFILLED,
    member_items,
    namespace_fingerprint,
    safe_fingerprint,
)
from amber.capture.world.owned import OwnedInstances, refill_step
from amber.restore.loader import START_UP

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Modules whose state describes the running process rather than the program: each restored
# process imports them afresh (its own environment, main thread, random seed, temporary names,
# multiprocessing authentication key).
PER_PROCESS_MODULES = ("os", "threading", "random", "tempfile", "multiprocessing.process")
# Dunder attributes of a module that other modules take as they are, so found by name: the
# builtins' import hooks, and the public-names list a re-exporting module imports
# (collections.abc: ``from _collections_abc import __all__``). Every other dunder is the
# module's own (its spec, loader, path, name, file, doc).
_SHARED_DUNDERS = ("__import__", "__build_class__", "__all__")
_NAMED_KINDS = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
                types.WrapperDescriptorType, types.ClassMethodDescriptorType)


class Reason(enum.Enum):
    """Why a module is imported again at restore instead of captured by value (the rule's cases)."""

    AMBER = "Amber itself"
    BASE_SET = "base set"
    IN_BASE_PACKAGE = "part of the base-set package {}"
    ASKED = "asked to (reimport)"
    PER_PROCESS = "describes the running process"
    START_UP = "the interpreter's start-up (imported again, it puts site's names into builtins)"
    EXTENSION = "extension module"
    C_METACLASS = "defines {} with a metaclass implemented in C ({})"
    NAMES_C_TYPE = "gives a C type its only name ({} = {})"
    IMPORTED_BY_SEED = "imported by {} when that is imported again"
    IN_PACKAGE = "part of the package {}, which is imported again"


class ByRef:
    """One module's verdict: the rule that sends it to be imported again, with its particulars."""

    __slots__ = ("reason", "details")

    def __init__(self, reason: Reason, *details: str) -> None:
        self.reason = reason
        self.details = details

    def __str__(self) -> str:  # what ``amber inspect`` shows
        return self.reason.value.format(*self.details)

    def __repr__(self) -> str:
        return f"ByRef({self.reason.name}, {str(self)!r})"


_module_dict = vars(types.ModuleType)["__dict__"].__get__


def module_namespace(mod) -> dict:
    """A module's own dict, read past its class: a lazy module's ``__getattr__`` (PEP 562, or a
    ``ModuleType`` subclass's) must never run because Amber looked at it, nor a ``__dict__``
    property of such a subclass answer."""
    try:
        return _module_dict(mod)
    except TypeError:  # not a module after all
        return {}


def is_extension(mod: types.ModuleType) -> bool:
    ns = module_namespace(mod)  # never getattr: a missing __file__ would run a lazy __getattr__
    spec = ns.get("__spec__")
    loader = getattr(spec, "loader", None) if spec is not None else ns.get("__loader__")
    name = type(loader).__name__ if loader is not None else ""
    if name in ("ExtensionFileLoader", "BuiltinImporter"):
        return True
    if isinstance(loader, type) and loader.__name__ == "BuiltinImporter":
        return True
    file = ns.get("__file__")
    if not isinstance(file, str):
        return ns.get("__name__") in sys.builtin_module_names
    return file.endswith((".so", ".pyd", ".dylib"))


def _top(name: str) -> str:
    return name.partition(".")[0]


class World:
    """The by-reference side of the heap, and the reverse index used to find objects by name."""

    def __init__(self, modules: dict, base: set, baseline: dict, reimport: set, imports, probe) -> None:
        """``base`` names the base set; ``baseline`` maps base-set modules to {attribute: id(value)}
        at start-up; ``imports`` is the :class:`~amber.capture.recorders.imports.ImportRecorder`;
        ``probe`` answers as :class:`amber.capture.world.probe.FreshImportProbe` does: ``probe(names)``
        imports them in one fresh interpreter, ``probe.describe(names, members)`` fingerprints
        what those imports left."""
        self.base = base
        self.imports = imports
        self._ranks = {n: i for i, n in enumerate(reversed(imports.order))}
        self._ranks = {n: len(self._ranks) - 1 - i for n, i in self._ranks.items()}  # first start wins
        self.baseline = baseline
        self.modules = modules  # name -> module, in sys.modules order at the snapshot point
        self.by_ref: dict[str, ByRef] = {}  # module name -> why it is imported again
        self.failed: dict[str, str] = {}  # seed -> why it cannot be imported again
        self.changed: dict[str, list] = {}  # module imported again -> attributes the program changed
        # module imported again -> [(member, its name, attribute, "set" or "del")] the program changed
        self.changed_members: dict[str, list] = {}
        self.owned = OwnedInstances(imports)  # what the program changed in instances they own
        self.notes: list[str] = []
        self._classify(reimport, probe)
        self.names: dict[int, tuple[str, str]] = {}
        self._types_by_instance: dict | None = None
        self._registered: dict | None = None
        self._index()

    # == which modules are imported again ===========================================================
    def _classify(self, reimport: set, probe) -> None:
        by_ref = self.by_ref
        base = self.base
        base_tops = {_top(name) for name in base}
        for name in self.modules:
            if name == "amber" or name.startswith("amber."):
                by_ref[name] = ByRef(Reason.AMBER)
            elif name in base:
                by_ref[name] = ByRef(Reason.BASE_SET)
            elif _top(name) in base_tops and name != "__main__":
                by_ref[name] = ByRef(Reason.IN_BASE_PACKAGE, _top(name))
        # Names under which the main module is also registered (multiprocessing's __mp_main__)
        # are captured with it, never imported again.
        main = self.modules.get("__main__")
        self.main_names = {name for name, mod in self.modules.items() if mod is main and main is not None}
        seeds = self._seeds(reimport)
        for seed, why in seeds.items():
            by_ref.setdefault(seed, why)
        fresh = self._close_over_fresh_imports(probe)
        candidates = self._member_candidates()
        owned = self.owned.candidates(
            [n for n in self.by_ref if n in self.modules and n not in self.main_names
             and self.by_ref[n].reason not in (Reason.AMBER, Reason.PER_PROCESS)], self._import_rank)
        described = self._described(fresh)
        if described or candidates or owned:
            names = described + [name for name in [*candidates, *owned] if name not in described]
            names = list(dict.fromkeys(names))
            asked = {name: [*candidates.get(name, ()), *owned.get(name, ())]
                     for name in {*candidates, *owned}}
            answer = probe.describe(names, asked)
            self._compare_with_fresh(answer["modules"])
            self._compare_members_with_fresh(candidates, answer["members"])
            self.owned.compare_with_fresh(owned, answer["members"])
        self._note_changes()

    def _close_over_fresh_imports(self, probe) -> set:
        """Rule 3 and 4 to their fixed point: everything a restore imports again (the seeds, the
        base-set packages' other modules, whole packages) is imported in the probe, in the
        program's import order; what those imports add is imported again too, and so is the rest
        of its package, which is imported in turn, until nothing new is to be imported. Returns
        the names the fresh interpreter holds."""
        by_ref = self.by_ref
        fresh: set = set()
        while True:
            batch = [name for name in self.import_order() if name not in fresh]
            if not batch:
                return fresh
            answer = probe(batch)
            self.failed.update(answer["failed"])
            fresh.update(batch)
            for name in batch:
                for added in answer["loaded"].get(name, ()):
                    fresh.add(added)
                    if added in self.modules and added not in self.main_names:
                        by_ref.setdefault(added, ByRef(Reason.IMPORTED_BY_SEED, name))
            tops = {_top(name) for name, why in by_ref.items() if why.reason is not Reason.AMBER}
            for name in self.modules:
                if name not in by_ref and name not in self.main_names and _top(name) in tops:
                    by_ref[name] = ByRef(Reason.IN_PACKAGE, _top(name))

    def _described(self, fresh: set) -> list:
        """The modules imported again whose fresh state is compared with the program's."""
        return [name for name in self.import_order() if name in fresh]

    def _seeds(self, reimport: set) -> dict[str, ByRef]:
        """The modules that cannot be captured by value (rule 2), with why."""
        seeds: dict[str, ByRef] = {}
        for name, mod in self.modules.items():
            if name in self.by_ref or name in self.main_names:
                continue
            if _top(name) in reimport or name in reimport:
                seeds[name] = ByRef(Reason.ASKED)
            elif name in PER_PROCESS_MODULES:
                seeds[name] = ByRef(Reason.PER_PROCESS)
            elif name == START_UP:
                # site: imported again, a restore makes what it puts into builtins (quit, help...)
                # before the modules imported after it, as a cold start has them.
                seeds[name] = ByRef(Reason.START_UP)
            elif is_extension(mod):
                seeds[name] = ByRef(Reason.EXTENSION)
            else:
                why = _c_metaclass_reason(name, mod)
                if why:
                    seeds[name] = why
        seeds.update(self._unnamed_c_type_holders(seeds))
        return seeds

    def _unnamed_c_type_holders(self, seeds: dict) -> dict[str, ByRef]:
        """C types that no module exports under their own name (``types.CellType``) are found
        by the name a module gives them; the first module imported that gives one a name the
        base set does not is imported again, so that the name exists at restore."""
        named = set()
        for name in self.by_ref:
            for value in _values(self.modules.get(name)):
                if issubclass(type(value), type):
                    named.add(ident(value))
        out: dict[str, ByRef] = {}
        for name in sorted(self.modules, key=self._import_rank):
            if name in self.by_ref or name in seeds or name in self.main_names:
                continue
            for attr, value in _items(self.modules[name]):
                if issubclass(type(value), type) and ident(value) not in named and _is_unnamed_c_type(value):
                    named.add(ident(value))
                    out.setdefault(name, ByRef(Reason.NAMES_C_TYPE, attr, _qualified(value)))
        return out

    def _compare_with_fresh(self, fresh: dict) -> None:
        """Find state the program set on modules that a fresh import would not reproduce."""
        # A container a module holds that is a base-set module's own (copy.dispatch_table is
        # copyreg's) is set again with the base set, as it was at the snapshot point; here it
        # would be read as the capture side's own imports left it (re registers re.Pattern).
        base_containers = {ident(value) for base in self.base for value in _values(self.modules.get(base))
                           if type(value) in REFILLED}
        for name, fresh_ns in fresh.items():
            mod = self.modules.get(name)
            if mod is None or name not in self.by_ref or name in self.base:
                continue
            ours = namespace_fingerprint(mod)
            if self.by_ref[name].reason is Reason.PER_PROCESS:
                # Its state is the restoring process's own; the functions and classes the
                # program put into it (threading.excepthook, a monkeypatch) are the program's.
                ours = {attr: fp for attr, fp in ours.items() if fp[0] == "n"}
            # Changed by the program: differs from a fresh import *and* from this process's own
            # state right after the import (values that differ from process to process, such
            # as addresses, are set anew by the fresh import and must never be replayed). An
            # object (kind "o") counts when it was rebound since the import to something a
            # fresh import does not have there (asyncio.set_event_loop_policy(MyPolicy()) where
            # a fresh import has None); one of the type a fresh import has there too is the
            # fresh import's own (a cache another import filled: certifi's _CACERT_CTX).
            if name in self.imports.after_import:
                diff = [attr for attr, fp in ours.items() if fresh_ns.get(attr) != fp]
                diff = self.imports.changed_since_import(name, diff)
            else:
                diff = [attr for attr, fp in ours.items() if fresh_ns.get(attr) != fp and fp[0] != "o"]
            namespace = module_namespace(mod)
            diff = [attr for attr in diff if ident(namespace.get(attr)) not in base_containers
                    and not self.bound_by_the_capture(mod, attr, namespace.get(attr))]
            if diff:
                self.changed[name] = diff

    def bound_by_the_capture(self, package, attr, value) -> bool:
        """Is ``package.attr`` a submodule that the import system bound there after the snapshot
        point, when Amber's capture side imported it (``urllib.parse`` on the program's
        ``urllib``, ``collections.abc`` on its ``collections``)? It is not the program's: a cold
        process has no such attribute, and the module is not in the image."""
        if type(value) is not types.ModuleType or type(attr) is not str:
            return False
        name = module_namespace(package).get("__name__")
        full = f"{name}.{attr}" if isinstance(name, str) else ""
        return sys.modules.get(full) is value and full not in self.modules

    def _member_candidates(self) -> dict:
        """{module: {member name: (member, [attributes changed since the import])}} for the
        classes and functions of modules imported again (the base set and the modules describing
        the process included: ``collections.abc.MutableMapping``, ``threading.Thread``), each
        member once, under the module it names as its own."""
        out: dict = {}
        seen: set = set()
        names = sorted((n for n in self.by_ref if n in self.modules and n not in self.main_names
                        and self.by_ref[n].reason is not Reason.AMBER),
                       key=lambda n: (getattr(self.modules[n], "__name__", None) != n, self._import_rank(n)))
        for name in names:
            for member_name, (member, changes) in self.imports.members_changed_since_import(name).items():
                if ident(member) in seen:
                    continue
                seen.add(ident(member))
                changes = {a: how for a, how in changes.items() if not _lazy_attr(member, a)}
                if changes:
                    out.setdefault(name, {})[member_name] = (member, changes)
        return out

    def _compare_members_with_fresh(self, candidates: dict, fresh: dict) -> None:
        """Attributes the program set on (or removed from) classes and functions of modules
        imported again, that their fresh import does not set: each is set (or removed) again."""
        for name, found in candidates.items():
            fresh_members = fresh.get(name, {})
            steps: list = []
            for member_name, (member, changes) in found.items():
                if member_name not in fresh_members:
                    continue  # the fresh import defines no such member: nothing to set it on
                fresh_ns = fresh_members[member_name]
                ours = dict(member_items(member))
                for attr, how in changes.items():
                    if how == "removed":
                        if attr in fresh_ns:
                            steps.append((member, member_name, attr, "del"))
                    elif attr in ours and fresh_ns.get(attr) != safe_fingerprint(ours[attr]):
                        steps.append((member, member_name, attr, "set" if how == "rebound" else "refill"))
            if steps:
                self.changed_members[name] = steps

    def _note_changes(self) -> None:
        """One note per module imported again whose state the program changed (``amber inspect``);
        what the interpreter's start-up changed (site's ``USER_SITE``...) is set again unnoted."""
        for name in dict.fromkeys([*self.changed, *self.changed_members, *self.owned.changed]):
            attrs = self.imports.changed_since_start_up(name, self.changed.get(name, ()))
            attrs += [f"{member_name}.{attr}" + (" (removed)" if how == "del" else "")
                      for _member, member_name, attr, how in self.changed_members.get(name, ())]
            attrs += self.owned.notes(name)
            if attrs:
                self.notes.append(f"{name}: {', '.join(attrs)}")

    @property
    def changed_instances(self) -> dict:
        """{module imported again: [(instance it owns, its path, attribute, how)]}: see
        :mod:`amber.capture.world.owned`."""
        return self.owned.changed

    # == finding objects by name ===================================================================
    def _index(self) -> None:
        names = self.names
        set_members = {(ident(member), attr) for changes in self.changed_members.values()
                       for member, _name, attr, how in changes if how == "set"}
        for modname in self.by_ref:
            mod = self.modules.get(modname)
            if mod is None:
                continue
            if module_namespace(mod).get("__name__") == modname:
                names[ident(mod)] = (modname, "")
            try:
                items = list(vars(mod).items())
            except TypeError:
                continue
            # A base-set module is found at restore as start-up left it: attributes the program
            # set or rebound later are captured by value and set again (amber.capture.recorders.baseline).
            at_start = self.baseline.get(modname)
            rebound = self._rebound(modname)
            for attr, value in items:
                if at_start is not None and at_start.get(attr) != ident(value) or attr in rebound:
                    continue
                # (registered now, or at the snapshot point: the capture puts a quiet copy of
                # warnings in sys.modules, amber.capture.pipeline._QuietWarnings)
                is_module = issubclass(type(value), types.ModuleType)
                if is_module and sys.modules.get(value.__name__) is not value \
                        and self.modules.get(value.__name__) is not value:
                    # A submodule an extension made without registering it (PyO3's pattern):
                    # found again as this attribute.
                    names.setdefault(ident(value), (modname, attr))
                    continue
                if type(value) in ATOMS or issubclass(type(value), types.ModuleType) or \
                        attr.startswith("__") and attr.endswith("__") and attr not in _SHARED_DUNDERS:
                    continue
                self._name(value, modname, attr)
                # Objects kept on a module's own classes (defaults, registries, descriptors), but
                # not those the program set there: they are captured and set again.
                if _own_module(value) == modname and issubclass(type(value), type) and \
                        value.__qualname__ == attr:
                    for key, member in list(value.__dict__.items()):
                        if type(member) not in ATOMS and not (key.startswith("__") and key.endswith("__")) \
                                and (ident(value), key) not in set_members:
                            names.setdefault(ident(member), (modname, f"{attr}.{key}"))
        self.owned.index(names)
        # Objects every interpreter has under a stable name though no module exports them.
        for owner in (object, type):
            names.setdefault(ident(owner.__new__), ("builtins", f"{owner.__name__}.__new__"))

    def _name(self, value, modname: str, attr: str) -> None:
        key = ident(value)
        prev = self.names.get(key)
        # Prefer the module an object says it belongs to (collections.OrderedDict, not some
        # module that imported it).
        if prev is None or (_own_module(value) == modname and _own_module(value) != prev[0]):
            self.names[key] = (modname, attr)

    def _rebound(self, modname: str) -> set:
        """Attributes of a module imported again that must be captured by value and set again:
        rebound ones. Containers changed in place stay found by name and are refilled."""
        changed = self.changed.get(modname)
        if not changed:
            return set()
        mod = self.modules[modname]
        return {attr for attr in changed if type(getattr(mod, attr, None)) not in REFILLED}

    def replay_steps(self) -> list[tuple[Any, tuple]]:
        """(callable, args) steps that put back what the program changed on modules that are
        imported again: the values are captured by value with the rest of the heap."""
        steps: list[tuple[Any, tuple]] = []
        for modname, attrs in self.changed.items():
            mod = self.modules[modname]
            rebound = self._rebound(modname)
            for attr in attrs:
                value = getattr(mod, attr, None)
                if attr in rebound:
                    steps.append((named("builtins", "setattr"), (mod, attr, value)))
                else:
                    steps.append(refill_step(value))
        for changes in self.changed_members.values():
            for member, _name, attr, how in changes:
                if how == "del":
                    steps.append((named("builtins", "delattr"), (member, attr)))
                    continue
                value = dict(member_items(member))[attr]
                if how == "refill":
                    steps.append(refill_step(value))
                else:
                    steps.append((named("builtins", "setattr"), (member, attr, value)))
        return steps + self.owned.steps()

    def _import_rank(self, name: str) -> int:
        return self._ranks.get(name, len(self._ranks))

    def import_order(self) -> list:
        """The modules a restore imports again before it rebuilds the heap, in the order their
        imports first started (see :mod:`amber.capture.recorders.imports`); the base set is already there."""
        names = [n for n in self.by_ref if n not in self.base and n in self.modules
                 and self.by_ref[n].reason is not Reason.AMBER]
        return sorted(names, key=self._import_rank)

    def registered_name(self, mod) -> str | None:
        """The name ``mod`` is registered under in sys.modules (None if it is not)."""
        if self._registered is None:
            self._registered = {}
            for name, m in self.modules.items():
                self._registered.setdefault(ident(m), name)
        return self._registered.get(ident(mod))

    def is_by_ref_module(self, name: str) -> bool:
        return name in self.by_ref

    def global_name(self, obj) -> tuple[str, str] | None:
        """Where ``obj`` can be found by name at restore, or None if it must be captured by value."""
        hit = self.names.get(ident(obj))
        if hit is not None:
            return hit if hit[1] else None
        if not issubclass(type(obj), _NAMED_KINDS):  # type(): a proxy may claim a function's class
            return None
        modname = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(modname, str) and isinstance(qualname, str) and "<locals>" not in qualname:
            # The module itself, or the nearest registered package of an unregistered extension
            # submodule (pydantic_core._pydantic_core._schema_gather): the rest is attributes.
            head, rest = modname, qualname
            while head not in self.by_ref and "." in head and head not in sys.modules:
                head, _, tail = head.rpartition(".")
                rest = f"{tail}.{rest}"
            if head in self.by_ref and self.found_at(head, rest) is obj:
                return (head, rest)
        if issubclass(type(obj), type):
            return self._type_of_named_instance(obj)
        return None

    def found_at(self, modname: str, qualname: str):
        """What ``modname.qualname`` is in this process (None if nothing), looked up where the
        values are stored: a module's dict, a class's namespace, never ``getattr`` (a lazy
        module's ``__getattr__`` or a metaclass property would run). A name an object *claims*
        (its ``__module__``/``__qualname__``, what its ``__reduce__`` returns) is trusted only
        when it finds that very object here: C types and singletons are exported under other
        names than they claim (``_csv.reader`` is a function, the type is ``_csv.Reader``)."""
        target: Any = self.modules.get(modname) or sys.modules.get(modname)
        for part in qualname.split("."):
            if target is None:
                return None
            if issubclass(type(target), types.ModuleType):
                target = module_namespace(target).get(part)
            elif issubclass(type(target), type):
                target = next((vars(k)[part] for k in target.__mro__ if part in vars(k)), None)
                if type(target) is staticmethod:  # what attribute lookup hands out: the function
                    target = target.__func__
            else:
                return None
        return target

    def exported_elsewhere(self, cls: type) -> tuple[str, str] | None:
        """Where an extension module imported after the snapshot point (by Amber's capture, or by
        the program's code that capture ran: a ``__reduce__`` that imports) exports the C type
        ``cls``, found by identity: the module its ``__module__`` names first, then any other.
        Such a module is no part of the program's state; the restore imports it by name
        (``_contextvars.ContextVar``, held by a module that did ``from contextvars import ...``)."""
        claimed = type.__getattribute__(cls, "__module__")
        names = [claimed] if isinstance(claimed, str) else []
        names += [n for n in list(sys.modules) if n != claimed]
        for name in names:
            mod = sys.modules.get(name)
            if mod is None or name in self.modules or not is_extension(mod):
                continue
            namespace = module_namespace(mod)
            qualname = type.__getattribute__(cls, "__qualname__")
            if namespace.get(qualname) is cls:
                return (name, qualname)
            for attr, value in list(namespace.items()):
                if value is cls and isinstance(attr, str) and attr.isidentifier():
                    return (name, attr)
        return None

    def _type_of_named_instance(self, cls: type) -> tuple[str, str] | None:
        """A type no module exports (``_ctypes.PyCStructType``, ``functools.KeyWrapper``) is
        still found as the ``__class__`` of an object that is found by name."""
        table = self._types_by_instance
        if table is None:
            table = self._types_by_instance = {}
            objects = {ident(v): v for mod in (self.modules.get(m) for m in self.by_ref) if mod is not None
                       for v in _values(mod)}
            for oid, (modname, attr) in self.names.items():
                value = objects.get(oid)
                if value is not None and attr:
                    table.setdefault(type(value), (modname, f"{attr}.__class__"))
        return table.get(cls)


def _lazy_attr(member, attr: str) -> bool:
    """What the interpreter or copyreg added on first use (see LAZY_CLASS_ATTRS)."""
    if attr not in LAZY_CLASS_ATTRS:
        return False
    value = dict(member_items(member)).get(attr)
    return attr == "__slotnames__" or type(value) is dict and not value


def _values(mod) -> list:
    return [value for _attr, value in _items(mod)]


def _qualified(cls) -> str:
    module, name = getattr(cls, "__module__", None), getattr(cls, "__qualname__", None)
    name = name if isinstance(name, str) else getattr(cls, "__name__", "?")
    return f"{module}.{name}" if isinstance(module, str) else name


def _items(mod) -> list:
    return list(module_namespace(mod).items()) if mod is not None else []


def _is_unnamed_c_type(cls) -> bool:
    """A C type no module exports under its own name, so a module that names it must be
    imported again; never one a restore re-derives from the heap (``type(...)``:
    ``amber._compat.UNEXPORTED_TYPES``), which needs no module to name it."""
    if is_python_class(cls) or known_type_key(cls) is not None:
        return False
    target = sys.modules.get(getattr(cls, "__module__", None) or "")
    for part in str(getattr(cls, "__qualname__", "")).split("."):
        target = getattr(target, part, None)
    return target is not cls


def _own_module(value) -> object:
    """The ``__module__`` a class or function says it belongs to; None for anything else, whose
    attributes are never read (a lazy proxy's ``__getattr__`` or ``__class__`` runs the
    program's code: celery's ``current_app`` proxies make ``app.amqp`` when asked)."""
    if issubclass(type(value), type):
        return type.__getattribute__(value, "__module__")
    if type(value) in _NAMED_KINDS:
        return getattr(value, "__module__", None)
    return None


def _c_metaclass_reason(name: str, mod) -> ByRef | None:
    # Kinds by type(value), never isinstance: isinstance asks a proxy's __class__ (see _own_module).
    for attr, value in _items(mod):
        if issubclass(type(value), type) and getattr(value, "__module__", None) == name:
            meta = c_metaclass(type(value))
            if meta is not None:
                return ByRef(Reason.C_METACLASS, attr, _qualified(meta))
    return None


