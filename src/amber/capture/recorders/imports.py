"""Watch every import while the program runs up to its snapshot point.

For each module it records

* the order in which its import *started*: importing the modules held by reference again in
  that order at restore repeats the program's own import sequence, so circular imports between
  them resolve as they did (importing ``genericpath`` before ``os`` would not);
* its namespace right after its import finished: attribute identities, and a fingerprint of
  its containers. Comparing that with the namespace at the snapshot point tells which state the
  program changed *after* the import, as opposed to values that merely differ from process to
  process (addresses, process ids), which a fresh import sets anew and must never be replayed;
* the same for the namespaces of its *members*, the classes and functions it defines under
  their own name (:func:`amber.capture.world.fingerprint.own_members`): ``Thread.x = 1`` or a
  method replaced on a class of a module imported again is found the same way. The modules
  loaded before the recorder starts (the base set) are recorded as they are then;
* the same for the real ``__dict__`` of the *instances it owns*, the instances of Python classes
  in its namespace, in its classes' namespaces, and one level into those instances
  (:func:`amber.capture.world.fingerprint.owned_instances`: ``logging.root``,
  ``logging.Logger.manager``): ``logging.basicConfig()`` filling ``root.handlers`` is a change
  since the import, a pid the import stored is not. Instances are recorded by path and identity
  (the type's too), never held: a recorder that kept them alive would change what the program's
  weak references see.

The hook wraps ``importlib._bootstrap._load_unlocked``, through which every import that runs a
loader passes (``import``, ``importlib.import_module``, ``__import__``); see
:func:`amber._compat.wrap_module_loading`.
"""

import sys

from amber import _compat
from amber._compat import ident
from amber.capture.world.fingerprint import (
    REFILLED,
    fingerprint,
    member_items,
    own_members,
    owned_instances,
    resolve,
)


class ImportRecorder:
    def __init__(self) -> None:
        self.order: list[str] = []  # module names, in the order their imports started
        self.program_from = 0  # where in order the program's imports (site's first) begin
        self.stack: list[str] = []  # imports running now, innermost last
        self.after_import: dict[str, dict] = {}  # name -> {attr: (id, container fingerprint)}
        # name -> {member: (the class or function, {attr: (id, container fingerprint)})}
        self.members_after_import: dict[str, dict] = {}
        # name -> {path of an owned instance: (its id, its type's id, {attr: (id, container fingerprint)})}
        self.instances_after_import: dict[str, dict] = {}
        self.after_start_up: dict[str, dict] = {}  # name -> as after_import, once site.main() ran
        for name, mod in list(sys.modules.items()):
            if mod is not None:
                self.members_after_import[name], self.instances_after_import[name] = _namespaces_state(mod)
        self._undo = _compat.wrap_module_loading(self._started, self._finished)

    def _started(self, name: str) -> None:
        self.order.append(name)
        self.stack.append(name)

    def importing(self) -> str | None:
        """The module whose import is running now, if any."""
        return self.stack[-1] if self.stack else None

    def _finished(self, name: str, ok: bool) -> None:
        if self.stack and self.stack[-1] == name:
            self.stack.pop()
        if not ok:
            return
        mod = sys.modules.get(name)
        if mod is None:
            return
        try:
            items = list(vars(mod).items())
        except TypeError:
            return
        # (dunder names are never compared: see namespace_fingerprint; __builtins__ alone, a
        # dict of 150 entries in every module, cost more than all the rest)
        self.after_import[name] = _state([(k, v) for k, v in items if not _dunder(k)])
        self.members_after_import[name], self.instances_after_import[name] = _namespaces_state(mod)

    def stop(self) -> None:
        self._undo()

    def resume(self) -> None:
        """Watch imports again after :meth:`stop` (what was recorded stays): a program that
        takes checkpoints is watched for its whole run (:mod:`amber.capture.checkpoint`)."""
        self.stack = []
        self._undo = _compat.wrap_module_loading(self._started, self._finished)

    def members_changed_since_import(self, name: str) -> dict:
        """{member name: (the member, {attribute: "rebound", "changed" (a list, dict or set
        changed in place) or "removed"})} for the classes and functions ``name`` defined when
        its import finished, where the program changed their namespaces since."""
        out: dict = {}
        for member_name, (member, before) in self.members_after_import.get(name, {}).items():
            changes = _changes(member, before)
            if changes:
                out[member_name] = (member, changes)
        return out

    def instances_changed_since_import(self, name: str) -> dict:
        """{path: (the instance, {attribute: "rebound", "changed" or "removed"})} for the
        instances module ``name`` owned when its import finished (the base set's: when the
        recorder started) that are still at their path, where the program changed their real
        ``__dict__`` since. An instance the path no longer reaches is not followed: the path was
        rebound, which the module's or its parent's record shows."""
        mod = sys.modules.get(name)
        out: dict = {}
        if mod is None:
            return out
        for path, (oid, tid, before) in self.instances_after_import.get(name, {}).items():
            obj = resolve(mod, path)
            if obj is None or ident(obj) != oid or ident(type(obj)) != tid:
                continue
            changes = _changes(obj, before)
            if changes:
                out[path] = (obj, changes)
        return out

    def unchanged_instance_attrs(self, name: str, path: str, obj) -> set:
        """The attributes of the instance at ``path`` of ``name`` that still hold the object its
        import left there (containers included, whatever their contents now)."""
        record = self.instances_after_import.get(name, {}).get(path)
        if record is None or record[0] != ident(obj):
            return set()
        before = record[2]
        return {attr for attr, value in member_items(obj)
                if attr in before and before[attr][0] == ident(value)}

    def unchanged_since_import(self, module: str, name: str, value: object) -> bool | None:
        """Is ``value`` still what ``module``'s import left under ``name`` (``"Cls.attr"``: an
        attribute of a class or function the module defines)? None when this recorder did not
        see that import."""
        if "." in name:
            member, _, attr = name.partition(".")
            known = self.members_after_import.get(module, {}).get(member)
            state = known[1] if known is not None else None
            if state is None and module not in self.members_after_import:
                return None
        else:
            state = self.after_import.get(module)
            if state is None:
                return None
            attr = name
        if state is None or attr not in state:
            return False
        oid, fp = state[attr]
        return ident(value) == oid and not _changed_in_place(value, fp)

    def program_starts(self) -> None:
        """From here on the imports are the program's (``site.main()``'s first): the ones before
        were Amber's own, made to watch the program."""
        self.program_from = len(self.order)

    def started_by_program(self) -> set:
        """The modules whose import the program (or its start-up) started."""
        return set(self.order[self.program_from:])

    def record_start_up(self, name: str) -> None:
        """The namespace of ``name`` once the interpreter's start-up is done with it (``site``
        after ``site.main()``): what it changed there is the start-up's, not the program's."""
        mod = sys.modules.get(name)
        if mod is not None:
            self.after_start_up[name] = _state([(k, v) for k, v in list(vars(mod).items()) if not _dunder(k)])

    def changed_since_start_up(self, name: str, attrs) -> list:
        """Those of ``attrs`` that the program changed after the start-up (all of them for a
        module the start-up did not record)."""
        if name not in self.after_start_up:
            return list(attrs)
        return _changed_since(sys.modules.get(name), self.after_start_up[name], attrs)

    def changed_since_import(self, name: str, attrs) -> list:
        """Those of ``attrs`` that the program changed after ``name`` was imported."""
        return _changed_since(sys.modules.get(name), self.after_import.get(name), attrs)


def _changed_since(mod, state: dict | None, attrs) -> list:
    """Those of ``attrs`` whose value in ``mod`` is not the one ``state`` recorded."""
    if mod is None or state is None:
        return []
    out = []
    for attr in attrs:
        if attr not in state:
            out.append(attr)
            continue
        value = getattr(mod, attr, None)
        oid, fp = state[attr]
        if ident(value) != oid:
            out.append(attr)
        elif fp is not None:
            try:
                if fingerprint(value) != fp:
                    out.append(attr)
            except Exception:
                continue
    return out


def _dunder(name) -> bool:
    return type(name) is str and name.startswith("__") and name.endswith("__")


def _state(items) -> dict:
    """{attr: (id, fingerprint of a container refilled in place (a list, dict, set, deque...),
    else None)}."""
    state = {}
    for attr, value in items:
        fp = None
        if type(value) in REFILLED:
            try:
                fp = fingerprint(value)
            except Exception:
                fp = None
        state[attr] = (ident(value), fp)
    return state


def _changes(owner, before: dict) -> dict:
    """{attribute: "rebound", "changed" or "removed"} of a namespace since ``before``."""
    changes = {}
    now = dict(member_items(owner))
    for attr, value in now.items():
        if attr not in before or ident(value) != before[attr][0]:
            changes[attr] = "rebound"
        elif _changed_in_place(value, before[attr][1]):
            changes[attr] = "changed"
    changes.update({attr: "removed" for attr in before if attr not in now})
    return changes


def _namespaces_state(mod) -> tuple:
    """(members' state, owned instances' state) of a module, as :class:`ImportRecorder` keeps them."""
    try:
        members = own_members(mod)
        members_state = {name: (member, _state(member_items(member))) for name, member in members.items()}
    except Exception:  # nothing the recorder does may make an import fail
        return {}, {}
    try:
        instances = {path: (ident(obj), ident(type(obj)), _state(member_items(obj)))
                     for path, obj in owned_instances(mod, members).items()}
    except Exception:
        instances = {}
    return members_state, instances


def _changed_in_place(value, fp) -> bool:
    if fp is None:
        return False
    try:
        return fingerprint(value) != fp
    except Exception:
        return False
