"""Callbacks the program hands to the interpreter, which keeps them where Python cannot list them.

``atexit.register``, ``codecs.register`` (codec search functions), ``codecs.register_error``
(error handlers: ``'x'.encode('ascii', errors='mine')``), ``os.register_at_fork`` and
``sys.addaudithook`` store their callbacks inside the interpreter (and ``threading._register_atexit``,
which ``concurrent.futures`` calls, in ``threading``, a module imported again at restore), so Amber
records the calls while the program runs to its snapshot point and makes them again at restore,
in the same order
(:func:`amber.restore.rebuild.replay_registrations`). ``atexit.unregister`` and
``codecs.unregister`` remove recorded calls; a later ``register_error`` of the same name
replaces an earlier one, as in the interpreter.

A call made while a module was being imported is left out when that module is imported again at
restore: its import makes the call again (``logging`` registers its ``shutdown``, ``encodings.idna``
nothing twice). Calls made by Amber's own code (its recorders' audit hook) are not the program's.

Each call is kept as (the registering function, found by name at restore, its arguments), so
the restore side makes it again without knowing the kinds.
"""

import sys

from amber.capture.reduce.recipes import Global, named

ATEXIT = named("atexit", "register")
CODEC = named("_codecs", "register")
ERROR_HANDLER = named("_codecs", "register_error")
AT_FORK = named("posix", "register_at_fork")
THREADING_EXIT = named("threading", "_register_atexit")
AUDIT_HOOK = named("sys", "addaudithook")


class RegistrationRecorder:
    def __init__(self, importing) -> None:
        """``importing()`` names the module whose import is running, if any."""
        self.calls: list = []  # (register, args, kwargs, module being imported or None)
        self._importing = importing
        self._install()

    def resume(self) -> None:
        """Record again after :meth:`stop` (what was recorded stays)."""
        self._install()

    def _install(self) -> None:
        import _codecs
        import atexit
        import posix

        self._undo: list = []
        calls = self.calls
        importing = self._importing

        def record(register: Global):
            def wrap(original):
                def recording(*args, **kwargs):
                    result = original(*args, **kwargs)
                    caller = sys._getframe(1).f_globals.get("__name__")
                    if caller == "amber" or isinstance(caller, str) and caller.startswith("amber."):
                        return result
                    if register is ERROR_HANDLER:  # one handler per name: the last one counts
                        calls[:] = [c for c in calls if not (c[0] is ERROR_HANDLER and c[1][:1] == args[:1])]
                    calls.append((register, args, kwargs, importing()))
                    return result

                recording.__doc__ = original.__doc__
                recording.__name__ = getattr(original, "__name__", "register")
                return recording
            return wrap

        def forget(register: Global):
            def wrap(original):
                def unregistering(func):
                    calls[:] = [c for c in calls if not (c[0] is register and c[1][:1] == (func,))]
                    return original(func)

                unregistering.__doc__ = original.__doc__
                return unregistering
            return wrap

        self._patch(atexit, "register", record(ATEXIT))
        self._patch(atexit, "unregister", forget(ATEXIT))
        self._patch(_codecs, "register", record(CODEC), also=("codecs",))
        self._patch(_codecs, "register_error", record(ERROR_HANDLER), also=("codecs",))
        self._patch(sys, "addaudithook", record(AUDIT_HOOK))
        if hasattr(_codecs, "unregister"):
            self._patch(_codecs, "unregister", forget(CODEC), also=("codecs",))
        if hasattr(posix, "register_at_fork"):
            self._patch(posix, "register_at_fork", record(AT_FORK), also=("os",))

        def threading_imported(name: str) -> None:
            threading = sys.modules.get("threading")
            if name == "threading" and threading is not None and hasattr(threading, "_register_atexit"):
                self._patch(threading, "_register_atexit", record(THREADING_EXIT))

        from amber.capture.recorders.entropy import _watch_imports

        self._unwatch = _watch_imports(threading_imported)
        if "threading" in sys.modules:
            threading_imported("threading")

    def _patch(self, module, name: str, make, also=()) -> None:
        original = getattr(module, name)
        replacement = make(original)
        holders = [module] + [sys.modules[m] for m in also if m in sys.modules]
        for holder in holders:
            setattr(holder, name, replacement)
        # Modules imported later (os copies posix's functions) are put right in stop().
        self._undo.append((name, original, replacement, (module.__name__, *also)))

    def stop(self) -> None:
        """Undo the patches (at the snapshot point, before Amber's own capture code runs)."""
        self._unwatch()
        for name, original, replacement, holders in self._undo:
            for holder in holders:
                mod = sys.modules.get(holder)
                if mod is not None and getattr(mod, name, None) is replacement:
                    setattr(mod, name, original)

    def kept(self, by_ref) -> tuple:
        """The calls to make again at restore, in order; ``by_ref(module)`` says whether a
        module is imported again (then the calls its import made are left out)."""
        return tuple((register, args, kwargs) for register, args, kwargs, module in self.calls
                     if module is None or not by_ref(module))
