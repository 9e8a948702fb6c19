"""State the program changed inside the instances that modules imported again own.

A module owns the instances of Python classes in its namespace (``logging.root``), in its own
classes' namespaces (``logging.Logger.manager``) and one level into those instances
(``DEFAULTS.sub``): :func:`amber.capture.world.fingerprint.owned_instances`. A restore imports
such a module again, so these objects come back as a fresh import makes them; what the program
did to them during start-up (``logging.basicConfig()`` filling ``root.handlers``,
``getLogger("app")`` adding to ``Logger.manager.loggerDict``, ``lib.DEFAULTS.timeout = 5``) is
set again, in place, on the fresh import's own object, found by its path.

The rule: *an attribute of an owned instance is set again (refilled, removed again) when the
program changed it since the module's import (the import recorder's record,
:mod:`amber.capture.recorders.imports`) and a fresh import does not leave it so (the probe's
fingerprint of the instance at the same path)*. Values set during the import (a pid, an
address) never count: the fresh import sets its own; nor does an attribute rebound to an object
of the type the fresh import has there too (an object is compared by its type only: it is the
fresh import's, as a cache another import filled would be). The instances of the modules
describing the process (the main thread) are the restoring process's own and never counted.

An instance is left as a fresh import makes it when part of its state could have changed
where the recorder does not look (an instance no record follows, a bytearray, a subclass of a
container): setting the rest again would break what holds its parts together (a cache's dict
refilled beside its order kept in a structure left fresh). Containers are refilled in place:
lists, dicts, sets, deques, OrderedDicts and defaultdicts.

The owned instances whose state is set again, and those values of their attributes that are
still what the import left (``Logger.manager.loggerDict``, refilled in place), are found by
path at restore (:meth:`OwnedInstances.index`): the refill fills the module's own container,
and the program's references to it are references to it.
"""

from __future__ import annotations

import types
from _collections import deque

from amber._compat import ident
from amber.capture.reduce.recipes import ATOMS, reconstructor
from amber.capture.world.fingerprint import (
    REFILLED,
    member_items,
    owned_instance,
    plain_entry,
    safe_fingerprint,
)
from amber.restore import rebuild, replay


class OwnedInstances:
    """What the program changed in owned instances: found, compared with a fresh import, named,
    and turned into replay steps."""

    def __init__(self, imports) -> None:
        """``imports`` is the :class:`~amber.capture.recorders.imports.ImportRecorder`."""
        self.imports = imports
        # module imported again -> [(instance it owns, its path, attribute, "set", "refill" or "del")]
        self.changed: dict[str, list] = {}
        self._fresh_keys: dict = {}  # (module, path) -> the attributes of a fresh import's instance

    def candidates(self, modules: list, rank) -> dict:
        """{module: {path: (instance, {attribute: how it changed since the import})}} for the
        instances ``modules`` own, each once: under its shortest path, in the module that
        defines its class if that is one, else in the first imported (``rank(name)``); with the
        changes every module's record saw (a module imported after the program changed an
        instance saw no change to it)."""
        best: dict = {}  # ident -> (rank, module, path, instance, changes)
        for name in modules:
            for path, (obj, changes) in self.imports.instances_changed_since_import(name).items():
                order = (path.count("."), type(obj).__module__ != name, rank(name))
                known = best.get(ident(obj))
                if known is not None:
                    merged = {**changes, **known[4]}
                    merged.update({a: "rebound" for a, how in changes.items() if how == "rebound"})
                    if known[0] <= order:
                        best[ident(obj)] = (*known[:4], merged)
                        continue
                    changes = merged
                best[ident(obj)] = (order, name, path, obj, changes)
        out: dict = {}
        for _order, name, path, obj, changes in sorted(best.values(), key=lambda entry: entry[0]):
            out.setdefault(name, {})[path] = (obj, changes)
        return out

    def compare_with_fresh(self, candidates: dict, fresh: dict) -> None:
        """Keep the changes a fresh import does not reproduce (``fresh``: {module: {path:
        {attribute: fingerprint}}}, the probe's answer)."""
        recorded = {record[0] for records in self.imports.instances_after_import.values()
                    for record in records.values()} if candidates else set()
        complete: dict = {}  # ident -> whether the recorder follows all of the instance's state
        for name, found in candidates.items():
            fresh_paths = fresh.get(name, {})
            steps: list = []
            for path, (obj, changes) in found.items():
                if path not in fresh_paths:
                    continue  # a fresh import owns no such instance: nothing to set it on
                if not _followed(obj, recorded, complete):
                    continue  # part of its state changes unseen: setting the rest would break it
                fresh_ns = fresh_paths[path]
                self._fresh_keys[(name, path)] = set(fresh_ns)
                ours = dict(member_items(obj))
                for attr, how in changes.items():
                    if how == "removed":
                        if attr in fresh_ns:
                            steps.append((obj, path, attr, "del"))
                        continue
                    if attr not in ours:
                        continue
                    fp = safe_fingerprint(ours[attr])
                    if fresh_ns.get(attr) != fp:
                        steps.append((obj, path, attr, "set" if how == "rebound" else "refill"))
            if steps:
                self.changed[name] = steps

    def notes(self, name: str) -> list:
        """``path.attribute`` of each change to ``name``'s instances (``amber inspect``)."""
        return [f"{path}.{attr}" + (" (removed)" if how == "del" else "")
                for _obj, path, attr, how in self.changed.get(name, ())]

    def index(self, names: dict) -> None:
        """Add to ``names`` (ident -> (module, path)) the instances whose state is set again, and
        the values of their attributes that are still those the import left, except those the
        program rebound (captured and set again)."""
        rebound = {(ident(obj), attr) for steps in self.changed.values()
                   for obj, _path, attr, how in steps if how == "set"}
        for modname, steps in self.changed.items():
            done: set = set()
            for obj, path, _attr, _how in steps:
                if ident(obj) in done:
                    continue
                done.add(ident(obj))
                names.setdefault(ident(obj), (modname, path))
                kept = self.imports.unchanged_instance_attrs(modname, path, obj) & \
                    self._fresh_keys.get((modname, path), set())
                cls = type(obj)
                for key, value in member_items(obj):
                    if key in kept and (ident(obj), key) not in rebound and type(value) not in ATOMS \
                            and not issubclass(type(value), types.ModuleType) and key.isidentifier() \
                            and plain_entry(cls, key):
                        names.setdefault(ident(value), (modname, f"{path}.{key}"))

    def steps(self) -> list:
        """(callable, args) steps that set the changes again; the values are captured with the
        heap (or found by name), and written into the instance's real ``__dict__``: no
        ``__setattr__``, ``__delattr__`` or property of its class runs."""
        out: list = []
        for changes in self.changed.values():
            for obj, _path, attr, how in changes:
                if how == "del":
                    out.append((reconstructor(replay.forget), (obj, attr)))
                    continue
                value = dict(member_items(obj))[attr]
                if how == "refill":
                    out.append(refill_step(value))
                else:
                    out.append((reconstructor(rebuild.patch), (obj, "dict", attr, value)))
        return out


def refill_step(container) -> tuple:
    """The step that gives a container of a module imported again (a list, dict, set, deque,
    OrderedDict or defaultdict: :data:`amber.capture.world.fingerprint.REFILLED`) the contents
    the program left in it, in place; its contents as a tuple, complete once it exists."""
    kind = type(container)
    if kind is list:
        refill = reconstructor(rebuild.set_list)
    elif kind is set:
        refill = reconstructor(rebuild.set_set)
    elif kind is deque:
        refill = reconstructor(replay.set_deque)
    else:  # a dict, OrderedDict or defaultdict
        refill = reconstructor(rebuild.set_dict)
    items = tuple(dict.items(container)) if isinstance(container, dict) else tuple(container)
    return (refill, (container, items))


def _followed(obj, recorded: set, known: dict) -> bool:
    """Does the import recorder see every change the program can make in place to ``obj``'s
    state: is each attribute an atom, a named object, a container refilled in place, a C object
    (taken as a fresh import makes it: a lock, a compiled pattern), or an instance some module's
    record follows whose own state is followed in turn? Not an instance no record follows, a
    bytearray, a subclass of a container. ``known`` caches the answers (cycles count as followed)."""
    key = ident(obj)
    if key in known:
        return known[key]
    known[key] = True
    for _attr, value in member_items(obj):
        cls = type(value)
        if cls in REFILLED:
            continue
        unseen = cls is bytearray or issubclass(cls, (list, dict, set))
        if not unseen and owned_instance(value):
            unseen = ident(value) not in recorded or not _followed(value, recorded, known)
        if unseen:
            known[key] = False
            break
    return known[key]
