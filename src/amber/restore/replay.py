"""Interpreter state a restore sets again for the program, outside the heap: the reconstructors
the heap program calls for it (see :mod:`amber.capture.recorders.baseline`): the program's
configuration, the settings kept in C that :mod:`amber.capture.recorders.settings` reads, and
the state of instances that modules imported again own (:mod:`amber.capture.world.owned`: an
attribute removed, a deque refilled).

**The interpreter's configuration is the program's.** A restore starts ``python -I -S`` so that
every restore begins from the same base set; that configuration is not the program's, and it is
what the restored process hands on: ``subprocess`` and ``multiprocessing`` give their children
the flags ``sys.flags``, ``sys.warnoptions`` and ``sys._xoptions`` describe
(``subprocess._args_from_interpreter_flags``, so a spawned child would start ``-I -S``, without
site-packages), and a subinterpreter copies its parent's C configuration (no ``site``, the
standard library alone on its ``sys.path``). The rule: *once the heap is rebuilt, the restoring
interpreter's configuration is the snapshotting program's*, as recorded when the snapshotting
interpreter started (its flags, with Amber's own ``-S`` taken back: ``site`` ran there; its
warning and ``-X`` options; the module search path it computed, which is what a subinterpreter
starts from, and on 3.13 the directory a subinterpreter puts first, the script's; 3.12 keeps that
directory outside the configuration, where nothing can set it, so there a subinterpreter of a
restored process has no script directory first on its ``sys.path``).

It is set with CPython's configuration API, the one way to change a running interpreter's
``PyConfig`` before 3.14 (``_testinternalcapi.set_config``, present wherever CPython's test
modules are built, as in python.org, pyenv and container builds), so ``sys.flags`` itself
changes and C code, children and subinterpreters all see it. That call also rebinds
``sys.path``, ``sys.argv`` and the like from the configuration: every ``sys`` attribute is put
back as it was, with the same objects, except those that describe the configuration
(``sys.flags``, changed in place, ``sys.warnoptions``, ``sys._xoptions``,
``sys.dont_write_bytecode``, ``sys.pycache_prefix``); settings the call resets
(``sys.set_int_max_str_digits``) are put back too. Where the module is missing (CPython built
with ``--disable-test-modules``) nothing was recorded and the restored interpreter keeps its own
configuration: its children and subinterpreters start isolated. (Not the configuration, so not
set: ``sys.orig_argv`` stays the restoring command's; the UTF-8 mode is fixed before any code
runs, and ``-I`` ignores ``PYTHONUTF8``.)

Imported by the heap program when an image names one of its functions: it imports nothing
else until then.
"""

import sys

TYPE_CHECKING = False  # typing is not in the base set: its names are for type checkers only
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# The configuration's fields that are the program's (when the interpreter has them): the
# flags of sys.flags, the options children are given, where bytecode goes, and the module
# search path a subinterpreter starts from.
PROGRAM_CONFIG_KEYS = (
    "isolated", "use_environment", "user_site_directory", "safe_path", "site_import", "write_bytecode",
    "optimization_level", "verbose", "quiet", "inspect", "interactive", "bytes_warning", "dev_mode",
    "warn_default_encoding", "parser_debug", "warnoptions", "xoptions", "pycache_prefix", "import_time",
    "code_debug_ranges", "int_max_str_digits", "module_search_paths", "module_search_paths_set", "sys_path_0",
)
# The sys attributes that describe the configuration: they take the program's values.
CONFIG_VIEWS = frozenset({"flags", "warnoptions", "_xoptions", "dont_write_bytecode", "pycache_prefix"})


def config_api():
    """CPython's configuration API (``get_config``, ``set_config``), or None; imported without
    leaving a trace in ``sys.modules`` (the program's ``sys.modules`` stays as it was)."""
    had = "_testinternalcapi" in sys.modules
    try:
        return __import__("_testinternalcapi")
    except ImportError:
        return None
    finally:
        if not had:
            sys.modules.pop("_testinternalcapi", None)


def apply_program_config(config: dict) -> None:
    """Give the restoring interpreter the program's configuration (see the module docstring)."""
    api = config_api()
    if api is None:  # the image was made where it exists; here it does not
        return
    current = api.get_config()
    wanted = dict(current)
    wanted.update({key: value for key, value in config.items() if key in current})
    before = dict(vars(sys))
    digits = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else None
    api.set_config(wanted)
    _put_back(before)
    if digits is not None:
        sys.set_int_max_str_digits(digits)


def _put_back(before: dict) -> None:
    """Every sys attribute the configuration call rebound goes back to its object; those that
    describe the configuration keep the new contents in it."""
    now = vars(sys)
    for key, old in before.items():
        new = now.get(key)
        if new is old:
            continue
        if key in CONFIG_VIEWS and type(old) is list and type(new) is list:
            old[:] = new
        elif key in CONFIG_VIEWS and type(old) is dict and type(new) is dict:
            old.clear()
            old.update(new)
        elif key in CONFIG_VIEWS:
            continue
        setattr(sys, key, old)


# == state of instances owned by modules imported again (amber.capture.world.owned) ===============

def forget(obj, attr: str) -> None:
    """Remove an attribute the program removed from an instance a module imported again owns,
    from the instance's real ``__dict__`` (no ``__delattr__`` of its class runs)."""
    from amber.restore import rebuild

    cls = type(obj)
    descriptor = rebuild._real_dict_descriptor(cls)
    namespace = descriptor.__get__(obj, cls) if descriptor is not None else None
    if type(namespace) is dict:
        namespace.pop(attr, None)
    else:
        object.__delattr__(obj, attr)


def set_deque(target, items: tuple) -> None:
    """Refill a deque of a module imported again (what a ``set_list`` is for a list)."""
    target.clear()
    target.extend(items)


# == interpreter settings kept in C (amber.capture.recorders.settings reads them) ==================

def apply_setting(name: str, value) -> None:
    """Set again one setting start-up changed (the names of amber.capture.recorders.settings)."""
    if name.startswith("locale:"):
        _set_locale(name.partition(":")[2], value)
    else:
        _SETTERS[name](value)


def _set_locale(category: str, value: str) -> None:
    had = "_locale" in sys.modules
    import _locale

    try:
        _locale.setlocale(getattr(_locale, category), value)
    finally:
        if not had:
            sys.modules.pop("_locale", None)


def _set_time_zone(_value) -> None:
    import time

    time.tzset()  # from the environment, which holds the program's TZ by now


def _set_socket_timeout(value) -> None:
    sys.modules["_socket"].setdefaulttimeout(value)


def _decimal_fields(ctx, state: tuple) -> None:
    mod = sys.modules["_decimal"]
    ctx.prec, ctx.rounding, ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp = state[:6]
    ctx.clear_flags()
    for name in state[6]:
        ctx.flags[getattr(mod, name)] = True
    ctx.clear_traps()
    for name in state[7]:
        ctx.traps[getattr(mod, name)] = True


def _set_decimal_context(state: tuple) -> None:
    mod = sys.modules["_decimal"]
    ctx = mod.Context()
    _decimal_fields(ctx, state)
    mod.setcontext(ctx)


def _set_decimal_default(state: tuple) -> None:
    _decimal_fields(sys.modules["_decimal"].DefaultContext, state)


def _set_faulthandler(enabled: bool) -> None:
    import faulthandler

    if enabled:
        faulthandler.enable()
    else:
        faulthandler.disable()


def _set_thread_stack_size(size: int) -> None:
    import _thread

    _thread.stack_size(size)


def _set_gc_debug(flags: int) -> None:
    import gc

    gc.set_debug(flags)


_SETTERS: "dict[str, Callable[[Any], None]]" = {
    "tz": _set_time_zone, "socket_timeout": _set_socket_timeout, "decimal_context": _set_decimal_context,
    "decimal_default": _set_decimal_default, "faulthandler": _set_faulthandler,
    "thread_stack_size": _set_thread_stack_size, "gc_debug": _set_gc_debug}
