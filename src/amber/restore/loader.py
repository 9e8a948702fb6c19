"""Restore a process from an image: the whole restore path.

The restoring interpreter is started as ``python -I -S amber/_boot.py restore OPTIONS ARGS``
(:class:`amber.options.RestoreOptions`, encoded once by the ``amber`` command):
isolated (no ``PYTHON*`` variables, no user site, no script directory on ``sys.path``) and
without ``site``, so every restore starts from the same **base set** of modules:

* what the interpreter loads before any code runs (``sys``, ``builtins``, ``_io``, ``io``,
  ``abc``, ``codecs``, ``encodings``, ``posix``, ``time``, ``_frozen_importlib``...);
* what this path needs: ``_pickle`` and the modules it imports while initialising (``copyreg``,
  ``_compat_pickle``; not ``functools``, see :func:`_import_unpickler`), ``marshal``, ``gc``,
  ``_blake2``, ``_weakref``, and Amber's own ``amber``, ``amber.errors``, ``amber.image.format``,
  ``amber.restore.loader`` and ``amber.restore.rebuild``.

``amber inspect --base-set`` prints the exact list for this interpreter. The snapshotting side
imports the same set before taking its baseline, so modules of the base set are held by
reference; everything else comes from the image.

Steps (the garbage collector is off from the boot until the program resumes: everything a
restore allocates is kept, so a collection would only walk it): verify the signature and the
header; start checking the heap's digest on a second thread; map the large buffers
(copy-on-write, see :mod:`amber.image.format`) and start checking their digest on every core,
unless this very file passed that check before (:mod:`amber.image.remembered`); apply the
environment changes the program made during start-up over this process's environment, and
``sys.path``; import the modules held by reference again, in the order the program first
imported them; wait for both checks; run the heap
program with the C unpickler; put ``sys.modules`` in the order the program had; set
``sys.argv``; honour the run-time ``PYTHON*`` variables the isolated interpreter ignored; make
the atexit, codec and at-fork registrations again; turn the collector on, unless start-up had
turned it off; run the after-restore hooks (:mod:`amber.lifecycle`); resume ``__main__`` after
the snapshot point.
"""

import gc
import posix
import sys

from amber import lifecycle
from amber.errors import AmberError, ImageError
from amber.image import format as fmt
from amber.options import RestoreOptions
from amber.restore import rebuild  # noqa: F401 (the heap program calls into it by name)
from amber.state import RESTORED, RESTORING, STATE


def _import_unpickler():
    """The C unpickler, imported without ``functools``. Its initialisation takes one thing from
    ``functools``, ``partial``, which is ``_functools.partial`` (the object ``functools`` exports);
    importing ``functools`` itself would pull in ``collections``, ``operator``, ``keyword``,
    ``reprlib`` and ``types``: half of a trivial restore's own time. A stand-in lends it that very
    object for the import and is gone before anything else runs; the program's own ``import
    functools`` loads the real module, which hands out the same ``partial``. Both sides of a
    snapshot import it this way, so their base sets stay the same."""
    if "_pickle" in sys.modules or "functools" in sys.modules:
        import _pickle

        return _pickle
    import _functools  # type: ignore[import-not-found]

    lender = type(sys)("functools")
    lender.partial = _functools.partial
    sys.modules["functools"] = lender
    try:
        import _pickle
    finally:
        if sys.modules.get("functools") is lender:
            del sys.modules["functools"]
    return _pickle


_pickle = _import_unpickler()


def main(argv: list) -> None:
    """``_boot.py restore <RestoreOptions>``; an :class:`AmberError` is reported by the process's
    entry point (:func:`amber.errors.entry_point`)."""
    restore(RestoreOptions.decode(argv))


def restore(options: RestoreOptions) -> None:
    """Restore the image ``options`` names and resume the program in this process."""
    resume(load(options.image, options.insecure, options.verify_buffers), options.args, debug=options.debug)


def load(path: str, insecure: bool = False, verify_buffers: bool = False) -> dict:
    return load_image(fmt.read_image(path, insecure=insecure), verify_buffers)


def load_image(image, verify_buffers: bool = False) -> dict:
    path = image.path
    prelude = image.decode(fmt.PRELUDE)  # checked (fmt.PRELUDE_SCHEMA), as every record a restore decodes
    heap_when_checked = image.section_checked_meanwhile(fmt.HEAP)
    # Mapped, not read (see amber.image.format), and checked on every core meanwhile unless this
    # very file passed the check before; verify_buffers (--verify-buffers) checks it anyway.
    buffers_when_checked = image.buffers_checked_meanwhile(recheck=verify_buffers)
    apply_environ(prelude["environ"])
    sys.path[:] = prelude["path"]
    sys.prefix, sys.exec_prefix, home = prelude["prefix"]
    sys._home = home or None  # type: ignore[attr-defined]
    check_distributions(prelude["distributions"], path)
    import_again(prelude["imports"])
    heap = heap_when_checked()
    buffers = buffers_when_checked()
    lazy_section, lazy_table = image.lazy_code()
    if lazy_table:
        from amber.restore import lazy

        lazy.attach(lazy_section, lazy_table, path)
    image.close()
    STATE.set_image(path if path.startswith("/") else posix.getcwd().rstrip("/") + "/" + path)
    STATE.enter(RESTORING)
    gc.disable()  # the heap is rebuilt, not churned (the boot turned it off already; resume turns it on)
    try:
        return _pickle.loads(heap, buffers=buffers)
    except AmberError:
        raise
    except Exception as e:
        raise AmberError(f"{path}: restore failed while rebuilding the heap: {type(e).__name__}: {e}") from e


def check_distributions(recorded: list, path: str) -> None:
    """The distributions whose modules are imported again must be the versions the snapshot
    had: their metadata directory is there (one ``stat`` each), or one of the same name and
    version is on ``sys.path``. Otherwise the heap would be rebuilt against other classes."""
    for name, version, metadata in recorded:
        try:
            posix.stat(metadata)
            continue
        except OSError:
            pass
        now = installed_version(name)
        if now == version:
            continue
        here = f"this environment has {name} {now}" if now else f"{name} is not installed here"
        raise ImageError(f"{path} was made with {name} {version}; {here} (its modules are imported "
                         "again at restore): take the snapshot again")


def installed_version(name: str) -> str | None:
    """The version of the distribution ``name`` on ``sys.path``, from its metadata directory's
    name (``name-1.2.dist-info``), or None."""
    want = _normalized(name)
    for entry in sys.path:
        try:
            names = posix.listdir(entry or ".")
        except OSError:
            continue
        for found in names:
            if found.endswith((".dist-info", ".egg-info")):
                stem = found.rsplit(".", 1)[0]
                dist, _, version = stem.partition("-")
                if _normalized(dist) == want:
                    return version.split("-")[0] or "(unknown version)"
    return None


def _normalized(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def import_again(names: list) -> None:
    """Import the modules held by reference, in the order the program first imported them."""
    modules = sys.modules
    for name in names:
        if name in modules:
            continue
        try:
            __import__(name)
            start_up_again(name)
        except Exception as e:
            raise AmberError(f"importing {name} again failed: {type(e).__name__}: {e}") from e


# The interpreter's start-up module: the snapshot ran it (Amber's -S only defers it), a restore
# and the fresh-import probe (-I -S) import it again (amber.capture.world.rules.START_UP).
START_UP = "site"


def start_up_again(name: str) -> None:
    """Once ``site`` is imported again, what the interpreter's start-up does with it before the
    program runs and a restore's ``-S`` leaves out: put ``quit``, ``exit``, ``copyright``,
    ``credits``, ``license`` and ``help`` into builtins. The modules imported after it read them
    as they are imported (torch.fx.graph copies builtins' namespace, dill takes ``type(exit)``),
    as in a cold start; what the program left there is set again with the heap, over these.
    (``sys.path``, the rest of site's work, comes from the image's prelude.)"""
    if name != START_UP:
        return
    site = sys.modules[name]
    site.setquit()
    site.setcopyright()
    site.sethelper()


def apply_environ(changes: dict) -> None:
    environ = posix.environ
    for key, value in changes.items():
        if value is None:
            environ.pop(key, None)
            posix.unsetenv(key)
        else:
            environ[key] = value
            posix.putenv(key, value)


def resume(manifest: dict, args: list, argv0: str | None = None, before_hooks=None,
           debug: bool = False) -> None:
    """Put the process as the program left it at its snapshot point and run the rest of
    ``__main__``. ``argv0``: ``sys.argv[0]`` as this run spells the script (``amber run``), else
    the snapshot's; ``before_hooks``: called once everything Amber restores is in place, before
    the program's after-restore hooks (``amber run`` prints start-up's output again there);
    ``debug``: under pdb (:mod:`amber.restore.debug`)."""
    settle(manifest, args, argv0)
    resumed = None
    if manifest.get("stack"):  # a snapshot inside functions: they go on from amber.snapshot()
        from amber.restore import stack

        resumed = stack.prepare(manifest["stack"], manifest["main"].__dict__)  # (ImageError: Amber's)
    if before_hooks is not None:
        before_hooks()
    lifecycle.install(manifest["lifecycle"])
    lifecycle.run_after_restore()  # HookErrors: exit code 1, from the entry point
    STATE.mark_resumed()  # from here on, what the program raises is its own
    if debug:
        from amber.restore import debug as under_pdb

        if resumed is not None:
            under_pdb.resume_stack_under_pdb(resumed, manifest["rest"], manifest["main"].__dict__)
        else:
            under_pdb.run_under_pdb(manifest["rest"], manifest["main"].__dict__)
        return
    if resumed is not None:
        resumed.run()
    exec(manifest["rest"], manifest["main"].__dict__)


def settle(manifest: dict, args: list, argv0: str | None = None) -> None:
    """Everything a restore puts in place after the heap, before the program's own hooks:
    ``sys.modules`` in the program's order, ``sys.argv``, the run-time variables, the
    registrations, the collector (a verification describes the state right here)."""
    modules = sys.modules
    order = manifest["order"]
    main = manifest.get("sys_main") or manifest["main"]  # what sys.modules["__main__"] was
    ordered = {}
    for name in order:
        mod = main if name == "__main__" else modules.get(name)
        if mod is not None:
            ordered[name] = mod
    for name, mod in list(modules.items()):
        if name not in ordered:
            ordered[name] = mod
    modules.clear()
    modules.update(ordered)
    sys.argv[:] = [manifest["argv0"] if argv0 is None else argv0, *args]
    honour_runtime_variables()
    STATE.enter(RESTORED)
    STATE.set_imported_again(tuple(manifest["by_ref"]))
    rebuild.replay_registrations(manifest["registrations"])
    settle_collector()


def settle_collector() -> None:
    """Everything the restore made (the modules imported again, the heap) goes to the oldest
    generation, where a cold start's start-up objects have ended up by the time it runs on:
    left in the youngest, where an allocation-counting collector puts new objects, the first
    collection after the collector is turned on would walk all of them (40 ms for a heap of
    40,000 objects with its 190 modules). They stay visible to ``gc.get_objects()`` and are
    collected as any old object is (frozen for good, they would not be)."""
    gc.freeze()
    gc.unfreeze()
    if rebuild.collector_enabled_at_snapshot():
        gc.enable()


def honour_runtime_variables() -> None:
    """The restore runs isolated (-I), which drops the ``PYTHON*`` variables that shape the
    program's run rather than its start-up; honour those here as python would have."""
    environ = posix.environ
    if environ.get(b"PYTHONDONTWRITEBYTECODE"):
        sys.dont_write_bytecode = True
    prefix = environ.get(b"PYTHONPYCACHEPREFIX")
    if prefix:
        sys.pycache_prefix = prefix.decode(sys.getfilesystemencoding(), "surrogateescape")
    if environ.get(b"PYTHONUNBUFFERED"):
        # As close to -u as an already-open stream allows: every line reaches the pipe at once.
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.reconfigure(line_buffering=True, write_through=True)  # type: ignore[union-attr]
    if environ.get(b"PYTHONFAULTHANDLER"):
        import faulthandler

        faulthandler.enable()

