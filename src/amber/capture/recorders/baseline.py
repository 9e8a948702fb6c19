"""Interpreter state outside the heap: what start-up changed in modules held by reference.

A baseline is taken when the snapshotting interpreter starts, before ``site`` and the program
run. At the snapshot point the difference is turned into replay steps run at restore:

* attributes of base-set modules that the program rebound (``sys.excepthook``, ``builtins.help``
  from ``site``, ``sys.ps1``...) are set again;
* lists, dicts and sets held by those modules whose contents changed (``sys.path``,
  ``sys.meta_path``, ``sys.path_hooks``, ``warnings`` filters, ``copyreg.dispatch_table``) are
  refilled in place;
* virtual subclasses registered on ABCs of the base set (``Mapping.register(X)``) are registered
  again;
* the environment: variables the program set or removed are applied over the restoring process's
  environment before anything else (see the ``environ`` image section);
* recursion limit, gc thresholds, switch interval, int-to-str digit limit, signal handlers;
* settings kept in C that no namespace shows (the locale, the C library's time zone, socket's
  default timeout, decimal's contexts, faulthandler, the thread stack size, gc debug flags:
  :mod:`amber.capture.recorders.settings`);
* the interpreter's configuration: the snapshotting interpreter's own, as it started (its flags,
  warning and ``-X`` options, module search path; ``site_import`` on, since Amber's ``-S`` only
  defers ``site``), set again first so that ``sys.flags``, children and subinterpreters of a
  restored process see the program's, not the restore's ``-I -S``
  (:func:`amber.restore.replay.apply_program_config`).

Callbacks kept inside the interpreter (atexit, codec search, at-fork) are recorded by
:mod:`amber.capture.recorders.registrations`.
"""

import _signal
import gc
import sys

from amber._compat import ident
from amber.capture.recorders.settings import changed_settings, read_settings
from amber.capture.reduce.recipes import named, reconstructor
from amber.restore import rebuild, replay

# Attributes that describe this process, not the program's set-up: never replayed.
NEVER_REPLAY = {
    "sys": {"argv", "orig_argv", "modules", "path_importer_cache", "last_type", "last_value",
            "last_traceback", "last_exc", "__stdin__", "__stdout__", "__stderr__", "flags", "_git",
            "warnoptions", "_xoptions", "executable", "_base_executable", "base_prefix",
            "base_exec_prefix", "platlibdir", "_stdlib_dir"},
    "builtins": {"_", "__build_class__", "__import__"},
    "posix": {"environ"},
}
# What the import system sets on every module: never the program's state.
IMPORT_ATTRIBUTES = {"__loader__", "__spec__", "__cached__", "__path__", "__builtins__",
                     "__warningregistry__"}
# Modules of the import system itself: only their names are replayed (importlib's import renames
# _frozen_importlib "importlib._bootstrap"; a restore that captures importlib does not run that).
NAMES_ONLY = {"__name__", "__package__", "__file__"}
SKIP_MODULES = {"__main__", "_frozen_importlib", "_frozen_importlib_external", "zipimport", "amber"}


class Baseline:
    def __init__(self, restore_path: "set | None" = None) -> None:
        """``restore_path``: the modules a restore imports before it rebuilds the heap (the
        restore path's, :mod:`amber._boot`); by default, every module present now."""
        import posix

        self.environ = dict(posix.environ)
        # Every module present before the program runs is the base set, held by reference.
        self.names = set(sys.modules) - {"__main__"}
        self.restore_path = self.names if restore_path is None else restore_path - {"__main__"}
        self.modules = {}
        for name, mod in list(sys.modules.items()):
            if name.startswith("amber.") or name in ("__main__", "amber"):
                continue
            try:
                d = vars(mod)
            except TypeError:
                continue
            ids = {k: ident(v) for k, v in d.items()}
            copies = {k: _copy(v) for k, v in d.items() if type(v) in (list, dict, set)}
            self.modules[name] = (mod, ids, copies)
        self.abc_registries = _abc_registries(self.modules)
        self.settings = _settings()
        self.signals = _signals()
        self.config = program_config()
        self.c_settings = read_settings()

    def environ_changes(self) -> dict:
        import posix

        now = posix.environ
        changes: dict[bytes, bytes | None] = {k: v for k, v in now.items() if self.environ.get(k) != v}
        changes.update({k: None for k in self.environ if k not in now})
        return changes

    def _config_steps(self) -> list:
        if self.config is None:
            return []
        config = dict(self.config)
        if "sys_path_0" in config:
            config["sys_path_0"] = self._sys_path_0()
        return [(reconstructor(replay.apply_program_config), (config,))]

    def _sys_path_0(self) -> str | None:
        """The directory python puts first on the program's sys.path (amber.capture.session did
        so, as python does): the script's, the working directory for ``-m``, none under -P."""
        import posixpath

        main = sys.modules.get("__main__")
        if sys.flags.safe_path or main is None:
            return None
        if getattr(main, "__spec__", None) is not None:
            return self.settings.get("cwd")
        file = getattr(main, "__file__", None)
        return posixpath.dirname(posixpath.realpath(file)) if isinstance(file, str) else None

    def replay(self, started: dict | None = None) -> tuple:
        """(early steps, late steps, roots) to restore what start-up did to the base set.
        ``started``: {module: {attribute: ...}} once the interpreter's start-up (site) was done
        with it; an attribute it set that the program removed is removed again (a restore's
        start-up sets site's names in builtins again: amber.restore.loader.start_up_again)."""
        early: list = self._config_steps()  # first: the steps below set sys attributes on top of it
        late: list = []
        for name, (mod, ids, copies) in self.modules.items():
            if sys.modules.get(name) is not mod:
                continue
            if name in SKIP_MODULES:
                early += _renamed(mod, ids)
                continue
            early += _removed_since_start_up(mod, ids, (started or {}).get(name, ()))
            never = NEVER_REPLAY.get(name, ())
            for attr, value in list(vars(mod).items()):
                if attr in never or attr in IMPORT_ATTRIBUTES and name != "builtins":
                    continue
                if ids.get(attr) != ident(value):
                    early.append((named("builtins", "setattr"), (mod, attr, value)))
                elif attr in copies and _changed(copies[attr], value):
                    early.append((refill(value), (value, frozen_contents(value))))
        for cls, before in self.abc_registries.items():
            now = abc_registry(cls)
            added = tuple(c for c in now if ident(c) not in before)
            if added:
                late.append((reconstructor(rebuild.register_abc), (cls, added)))
        settings = _settings()
        for key, value in settings.items():
            if self.settings.get(key) != value:
                early.append((reconstructor(rebuild.apply_setting), (key, value)))
        for signum, handler in _signals().items():
            if self.signals.get(signum) is not handler:
                early.append((named("_signal", "signal"), (signum, handler)))
        for name, value in changed_settings(self.c_settings, read_settings()):
            early.append((reconstructor(replay.apply_setting), (name, value)))
        return early, late


def _removed_since_start_up(mod, ids: dict, started) -> list:
    """The steps that remove again what the start-up set on ``mod`` (``started``: its names once
    site was done) and the program removed: neither in the baseline's ``ids`` nor there now."""
    namespace = vars(mod)
    return [(named("builtins", "delattr"), (mod, attr)) for attr in started
            if attr not in namespace and attr not in ids]


def _renamed(mod, ids: dict) -> list:
    """The steps that give a module of the import system the names start-up gave it."""
    steps = []
    for attr in NAMES_ONLY:
        value = vars(mod).get(attr)
        if value is not None and ids.get(attr) != ident(value):
            steps.append((named("builtins", "setattr"), (mod, attr, value)))
    return steps


def program_config() -> dict | None:
    """The fields of this interpreter's configuration that are the program's
    (:data:`amber.restore.replay.PROGRAM_CONFIG_KEYS`), or None where CPython's configuration
    API is missing. Read before the program runs; ``_testinternalcapi`` is then forgotten, so the
    program's ``sys.modules`` is as it would be."""
    api = replay.config_api()
    if api is None:
        return None
    config = api.get_config()
    out = {key: config[key] for key in replay.PROGRAM_CONFIG_KEYS if key in config}
    out["site_import"] = 1  # the snapshot's -S is Amber's: site ran before the program
    return out


def _copy(v):
    return {list: list, dict: dict, set: set}[type(v)](v)


def refill(container):
    """The reconstructor that gives a list, dict or set of a module imported again the contents
    the program left in it."""
    return {list: reconstructor(rebuild.set_list), dict: reconstructor(rebuild.set_dict),
            set: reconstructor(rebuild.set_set)}[type(container)]


def frozen_contents(v) -> tuple:
    """Contents to refill a container with at restore, as a tuple (complete once it exists)."""
    return tuple(v.items()) if type(v) is dict else tuple(v)


def _changed(before, now) -> bool:
    if len(before) != len(now):
        return True
    if type(now) is list:
        return any(a is not b for a, b in zip(before, now, strict=True))
    if type(now) is dict:
        return any(k not in before or before[k] is not v for k, v in now.items())
    return before != now


def _abc_registries(modules) -> dict:
    """{ABC: identities of the classes registered on it} for the base set's ABCs, at start."""
    from _abc import _get_dump  # noqa: F401 (fails loudly if the interpreter lacks it)

    now = registries_now({name: mod for name, (mod, _ids, _copies) in modules.items()})
    return {abc: {ident(c) for c in registered} for abc, registered in now.values()}


def registries_now(modules: dict) -> dict:
    """{id(ABC): (the ABC, the classes registered on it)} for the ABCs that ``modules`` (name -> module)
    define, read now: at the snapshot point, before Amber's capture side imports anything
    (``weakref`` registers ``WeakSet`` on ``collections.abc.MutableSet`` as it is imported)."""
    out: dict = {}
    for mod in modules.values():
        try:
            values = list(vars(mod).values())
        except TypeError:
            continue
        for value in values:
            # type(), never isinstance(): that asks a proxy's __class__, which may run its code
            if issubclass(type(value), type) and ident(value) not in out \
                    and "_abc_impl" in class_dict(value):
                out[ident(value)] = (value, abc_registry(value))
    return out


class_dict = vars(type)["__dict__"].__get__  # a class's namespace, past a metaclass's own __dict__


def abc_registry(cls) -> tuple:
    """The classes registered on an ABC (``ABC.register``) that are alive."""
    from _abc import _get_dump

    return tuple(r() for r in _get_dump(cls)[0] if r() is not None)


def _settings() -> dict:
    out = {"recursionlimit": sys.getrecursionlimit(), "gc_threshold": gc.get_threshold(),
           "gc_enabled": gc.isenabled(), "switchinterval": sys.getswitchinterval(),
           "coroutine_origin_tracking_depth": sys.get_coroutine_origin_tracking_depth()}
    if hasattr(sys, "get_int_max_str_digits"):
        out["int_max_str_digits"] = sys.get_int_max_str_digits()
    tools = _monitoring_tools()
    if tools:
        out["monitoring"] = tools
    # Process state a start-up may set for what follows (os.umask for the files it creates,
    # os.chdir): a restore sets it again only if start-up changed it.
    import posix

    mask = posix.umask(0o022)
    posix.umask(mask)
    out["umask"] = mask
    try:
        out["cwd"] = posix.getcwd()
    except OSError:  # the working directory was removed
        pass
    return out


def _monitoring_tools() -> tuple:
    """The tools registered with ``sys.monitoring`` (3.12+): (id, name, global events,
    ((event, callback), ...)) each. A callback is read by registering None and putting it back,
    the one way the API gives it."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return ()
    events = [value for name, value in vars(monitoring.events).items()
              if name.isupper() and name != "NO_EVENTS" and isinstance(value, int)]
    tools = []
    for tool in range(6):
        name = monitoring.get_tool(tool)
        if name is None:
            continue
        callbacks = []
        for event in events:
            callback = monitoring.register_callback(tool, event, None)
            if callback is not None:
                monitoring.register_callback(tool, event, callback)
                callbacks.append((event, callback))
        tools.append((tool, name, monitoring.get_events(tool), tuple(callbacks)))
    return tuple(tools)


def _signals() -> dict:
    out = {}
    for signum in range(1, _signal.NSIG):
        try:
            out[signum] = _signal.getsignal(signum)
        except (ValueError, OSError):
            continue
    return out
