"""Interpreter settings kept in C, outside every module's namespace: a table of getters.

A program's start-up may set process-wide state that no module attribute shows and that a
fresh import does not give back: the C library's locale (``locale.setlocale``), its time zone
(``time.tzset()`` after ``TZ`` changed: the environment comes back, the C library's zone only
with another ``tzset``), ``socket.setdefaulttimeout``, ``decimal``'s current and default
contexts, ``faulthandler.enable()``, ``threading.stack_size()``, ``gc.set_debug()``. Each row
here reads one such setting; the baseline reads them all when the snapshotting interpreter
starts and again at the snapshot point, and each one that changed is set again at restore by
:func:`amber.restore.replay.apply_setting` (of the same name). A row whose module was not loaded
at the start compares with the value its first import gives. Reading never changes anything:
``decimal``'s context is looked up among the context variables, never created.

Set again elsewhere (:mod:`amber.capture.recorders.baseline`): the recursion limit, the switch
interval, the int-to-str digit limit, gc thresholds, umask, working directory, signal handlers,
warnings filters (``warnings.simplefilter``), ``time.tzname`` and the like; the environment
before everything (:mod:`amber.restore.loader`).
"""

import sys

NOTHING = ("nothing",)  # the setting cannot be read here (its module is not loaded)
_LOCALE_CATEGORIES = ("LC_CTYPE", "LC_COLLATE", "LC_TIME", "LC_MONETARY", "LC_NUMERIC", "LC_MESSAGES")
# decimal's context as its first import makes it: prec, rounding, Emin, Emax, capitals, clamp,
# flags set, traps set.
DECIMAL_FRESH = (28, "ROUND_HALF_EVEN", -999999, 999999, 1, 0, (), ("DivisionByZero", "InvalidOperation",
                                                                   "Overflow"))


def read_settings() -> dict:
    """{name: value} of every setting of the table, NOTHING where it cannot be read now."""
    out = {"tz": _time_zone(), "socket_timeout": _socket_timeout(), "decimal_context": _decimal_current(),
           "decimal_default": _decimal_default(), "faulthandler": _faulthandler(),
           "thread_stack_size": _thread_stack_size(), "gc_debug": _gc_debug()}
    out.update(_locales())
    return out


# What each setting is when its module is first imported (a restore that imports it again).
FRESH = {"socket_timeout": None, "decimal_context": DECIMAL_FRESH, "decimal_default": DECIMAL_FRESH,
         "faulthandler": False}


def changed_settings(start: dict, now: dict) -> list:
    """(name, value) of the settings that differ at the snapshot point from the start (or, for a
    module loaded since, from what its first import gives)."""
    out = []
    for name, value in now.items():
        before = start.get(name, NOTHING)
        if before is NOTHING:
            before = FRESH.get(name, NOTHING)
        if value is not NOTHING and before is not NOTHING and value != before:
            out.append((name, value))
    return out


def _time_zone():
    import time

    return (tuple(time.tzname), time.timezone, time.altzone, time.daylight)


def _locales() -> dict:
    had = "_locale" in sys.modules
    try:
        import _locale
    except ImportError:
        return {}
    finally:
        if not had:
            sys.modules.pop("_locale", None)
    out = {}
    for category in _LOCALE_CATEGORIES:
        number = getattr(_locale, category, None)
        if number is not None:
            try:
                out[f"locale:{category}"] = _locale.setlocale(number, None)
            except Exception:  # _locale.Error: no such category here
                continue
    return out


def _socket_timeout():
    mod = sys.modules.get("_socket")
    return NOTHING if mod is None else mod.getdefaulttimeout()


def _decimal_state(ctx) -> tuple:
    return (ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp,
            tuple(sorted(k.__name__ for k, v in ctx.flags.items() if v)),
            tuple(sorted(k.__name__ for k, v in ctx.traps.items() if v)))


def _decimal_current():
    """The main thread's current decimal context, as a tuple; NOTHING when decimal is not loaded,
    and the fresh state when no context was made yet (looked up, never created)."""
    mod = sys.modules.get("_decimal")
    if mod is None:
        return NOTHING
    import _contextvars

    for var, value in _contextvars.copy_context().items():
        if var.name == "decimal_context" and isinstance(value, mod.Context):
            return _decimal_state(value)
    return DECIMAL_FRESH


def _decimal_default():
    mod = sys.modules.get("_decimal")
    return NOTHING if mod is None else _decimal_state(mod.DefaultContext)


def _faulthandler():
    mod = sys.modules.get("faulthandler")
    return NOTHING if mod is None else mod.is_enabled()


def _thread_stack_size():
    import _thread

    return _thread.stack_size()


def _gc_debug():
    import gc

    return gc.get_debug()
