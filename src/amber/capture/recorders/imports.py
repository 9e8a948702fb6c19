"""Watch every import while the program runs up to its snapshot point.

For each module it records

* the order in which its import *started*: importing the modules held by reference again in
  that order at restore repeats the program's own import sequence, so circular imports between
  them resolve as they did (importing ``genericpath`` before ``os`` would not);
* its namespace right after its import finished: attribute identities, and a fingerprint of
  its containers. Comparing that with the namespace at the snapshot point tells which state the
  program changed *after* the import, as opposed to values that merely differ from process to
  process (addresses, process ids), which a fresh import sets anew and must never be replayed.

The hook wraps ``importlib._bootstrap._load_unlocked``, through which every import that runs a
loader passes (``import``, ``importlib.import_module``, ``__import__``); see
:func:`amber._compat.wrap_module_loading`.
"""

import sys

from amber import _compat
from amber._compat import ident
from amber.capture.world.fingerprint import fingerprint


class ImportRecorder:
    def __init__(self) -> None:
        self.order: list[str] = []  # module names, in the order their imports started
        self.stack: list[str] = []  # imports running now, innermost last
        self.after_import: dict[str, dict] = {}  # name -> {attr: (id, container fingerprint)}
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
        state = {}
        for attr, value in items:
            fp = None
            if type(value) in (list, dict, set):
                try:
                    fp = fingerprint(value)
                except Exception:
                    fp = None
            state[attr] = (ident(value), fp)
        self.after_import[name] = state

    def stop(self) -> None:
        self._undo()

    def changed_since_import(self, name: str, attrs) -> list:
        """Those of ``attrs`` that the program changed after ``name`` was imported."""
        mod = sys.modules.get(name)
        state = self.after_import.get(name)
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
