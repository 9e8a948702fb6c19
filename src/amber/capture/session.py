"""Run the program as ``__main__`` up to its snapshot point, then write the image.

This runs inside the snapshotting interpreter started by :mod:`amber._boot` with ``-S``: the
baseline of the base set is taken first, then ``site`` runs as it would have, then the program.
"""

from __future__ import annotations

import marshal
import os
import sys
import time
import types

import amber
from amber import lifecycle
from amber._files import write_atomically
from amber.capture.recorders.baseline import Baseline
from amber.capture.recorders.entropy import EntropyRecorder
from amber.capture.recorders.registrations import RegistrationRecorder
from amber.errors import CaptureError, UsageError

_options: dict = {"allowed": [], "strict": False, "lazy_code": False}  # --allow-secret, --strict, --lazy-code


class RunBuild:
    """``amber run``'s first run: run the program normally, writing an image into the cache at
    its snapshot point (unless ``build`` is off), and keep going."""

    def __init__(self, root: str, entry: str) -> None:
        self.root = root
        self.entry = entry
        self.build = True
        self.verbose = False

    def say(self, message: str) -> None:
        if self.verbose:
            print(f"amber: {message}", file=sys.stderr)


def main(argv: list, baseline: Baseline, imports) -> None:
    """``_boot.py snapshot IMAGE (-m MODULE | -s SCRIPT) [--reimport PKG]...
    [--run ROOT ENTRY [--no-build] [--verbose]] -- ARGS``"""
    try:
        image_path, is_module, target, reimport, run, args = _parse(argv)
        run_snapshot(image_path, target, args, is_module, reimport, baseline, imports, run)
    except (UsageError, CaptureError) as e:
        print(f"amber: error: {e}", file=sys.stderr)
        _flush()
        os._exit(2)


def _parse(argv: list):
    image_path, mode, target = argv[0], argv[1], argv[2]
    reimport = []
    allowed: list = []
    run = None
    i = 3
    while argv[i] != "--":
        if argv[i] == "--reimport":
            reimport.append(argv[i + 1])
            i += 2
        elif argv[i] == "--strict":
            _options["strict"] = True
            i += 1
        elif argv[i] == "--lazy-code":
            _options["lazy_code"] = True
            i += 1
        elif argv[i] == "--allow-secret":
            allowed.append(argv[i + 1])
            i += 2
        elif argv[i] == "--run":
            run = RunBuild(argv[i + 1], argv[i + 2])
            i += 3
        elif argv[i] == "--no-build":
            run.build = False
            i += 1
        elif argv[i] == "--verbose":
            run.verbose = True
            i += 1
        else:  # pragma: no cover - only amber's own command line starts this
            raise UsageError(f"unknown boot option {argv[i]!r}")
    _options["allowed"] = allowed
    return image_path, mode == "-m", target, reimport, run, argv[i + 1:]


def run_snapshot(image_path: str, target: str, args: list, is_module: bool, reimport: list,
                 baseline: Baseline, imports, run: RunBuild | None = None) -> None:
    registrations = RegistrationRecorder(imports.importing)
    entropy = EntropyRecorder(imports.importing)
    inputs = None
    if run is not None:
        from amber.capture.recorders.inputs import InputRecorder

        inputs = InputRecorder()
    import site

    site.main()
    from amber.capture import mainsplit

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = sys.modules["builtins"]
    if is_module:
        import importlib.util

        sys.path[0] = os.getcwd()
        spec = _module_spec(target)
        source = spec.loader.get_source(spec.name)
        filename = spec.origin
        main.__spec__ = spec
        main.__file__ = spec.origin
        main.__loader__ = spec.loader
        main.__package__ = spec.parent
        del importlib
    else:
        filename = os.path.abspath(target)
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError as e:
            raise UsageError(f"cannot open script {target!r}: {e.strerror}") from None
        sys.path[0] = os.path.dirname(filename)
        main.__file__ = target
        main.__cached__ = None
        from _frozen_importlib_external import SourceFileLoader

        main.__loader__ = SourceFileLoader("__main__", filename)
    sys.argv = [filename if is_module else target, *args]
    split = mainsplit.split_source(source, filename)
    sys.modules["__main__"] = main
    amber._state["mode"] = "snapshotting"
    started = time.perf_counter()
    if run is not None:
        amber._state["mode"] = None  # a normal run that happens to build an image
    try:
        exec(split.first, main.__dict__)
    except SystemExit as e:
        if run is not None:
            raise
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
        print(f"amber: error: the program exited (code {code}) before its snapshot point; no image "
              f"was written", file=sys.stderr)
        _flush()
        os._exit(code or 1)
    except BaseException as e:
        if run is not None:
            _program_failed(e)
        import traceback

        traceback.print_exc()
        print("amber: error: the program raised before its snapshot point; no image was written",
              file=sys.stderr)
        _flush()
        os._exit(1)
    startup_seconds = time.perf_counter() - started
    amber._state["mode"] = None
    hooks_failed = _run_before_snapshot(run)
    # Take Amber's hooks out first (the base set's state must not show them), then freeze what
    # the program did before Amber's capture side imports anything more.
    imports.stop()
    registrations.stop()
    entropy.stop()
    if inputs is not None:
        inputs.stop()
    modules = {name: mod for name, mod in list(sys.modules.items())
               if mod is not None and not _is_amber_machinery(name)}
    replay = baseline.replay()
    environ_changes = baseline.environ_changes()
    if run is not None:
        if hooks_failed:
            run.build = False
        _build_and_continue(run, inputs, split, main, target, args, is_module, reimport, baseline, imports,
                            modules, replay, environ_changes, registrations, filename, startup_seconds,
                            entropy)
        return
    if split.kind == "end":
        print("amber: note: no snapshot point found (no amber.snapshot() and no "
              "`if __name__ == \"__main__\":`): captured the end of the script; nothing is left to run "
              "after restore", file=sys.stderr)
    _flush()
    from amber.capture.pipeline import write_snapshot

    point = {"kind": split.kind, "line": split.line, "script": filename,
             "module": target if is_module else "", "argv0": sys.argv[0]}
    try:
        write_snapshot(image_path, modules, main, split.rest, baseline, imports, replay, environ_changes,
                       registrations, reimport, point, startup_seconds, allowed_secrets=_options["allowed"],
                       entropy=entropy, strict=_options["strict"], lazy_code=_options["lazy_code"])
    except CaptureError as e:
        print(f"amber: error: {e}", file=sys.stderr)
        _flush()
        os._exit(2)
    _flush()
    os._exit(0)


def _build_and_continue(run: RunBuild, inputs, split, main, target, args, is_module, reimport, baseline,
                        imports, modules, replay, environ_changes, registrations, filename,
                        startup_seconds, entropy=None) -> None:
    """``amber run``'s first run: write the image (under the cache's lock), then run the rest."""
    if split.kind == "end":
        run.say("the script has no snapshot point (no amber.snapshot(), no main guard): no image")
    elif run.build:
        _build(run, inputs, split, main, target, args, is_module, reimport, baseline, imports, modules,
               replay, environ_changes, registrations, filename, startup_seconds, entropy)
    if split.kind != "end":
        # Both paths behave alike: the first run goes on as a restored process would.
        try:
            lifecycle.run_after_restore()
        except lifecycle.HookErrors as e:
            print(f"amber: error: {e}", file=sys.stderr)
            _flush()
            os._exit(1)
    _flush()
    exec(split.rest, main.__dict__)


def _build(run, inputs, split, main, target, args, is_module, reimport, baseline, imports, modules, replay,
           environ_changes, registrations, filename, startup_seconds, entropy=None) -> None:
    from amber.capture.pipeline import write_snapshot
    from amber.runcache import eviction as cache
    from amber.runcache import freshness

    key_args = amber._state.get("startup_args")
    os.makedirs(run.entry, exist_ok=True)
    image_path = os.path.join(run.entry, freshness.args_key(args, key_args) + ".amber")
    lock = _lock(os.path.join(run.entry, "build.lock"))
    if lock is None:
        run.say("another process is building this image; running without one")
        return
    try:
        secret = freshness.secret_key(run.root, create=True)
        files = inputs.files(modules, exclude_under=run.root.rstrip(os.sep) + os.sep)
        env, env_names = inputs.environment(secret)
        recorded = {"files": files, "env": env, "env_names": env_names}
        shown = args if key_args is None else args[:key_args]
        point = {"kind": split.kind, "line": split.line, "script": filename,
                 "module": target if is_module else "", "argv0": sys.argv[0]}
        try:
            write_snapshot(image_path, modules, main, split.rest, baseline, imports, replay, environ_changes,
                           registrations, reimport, point, startup_seconds, inputs=recorded,
                           run_info={"target": target, "args": list(shown), "key_args": key_args},
                           quiet=not run.verbose, allowed_secrets=_options["allowed"],
                           entropy=entropy, strict=_options["strict"])
        except CaptureError as e:
            first = str(e).splitlines()
            print(f"amber: warning: no image was built, the program runs without one: {first[0]}"
                  + (f" ({first[1].strip()} ...)" if len(first) > 1 else ""), file=sys.stderr)
            write_atomically(image_path[:-len(".amber")] + ".failed", marshal.dumps(recorded))
            return
        cache.write_program_info(run.entry, target, key_args)
        run.say(f"built {image_path} ({len(files)} files, {len(env)} variables watched)")
        cache.evict(run.root, cache.cap(), keep=image_path)
    finally:
        _unlock(lock)


def _run_before_snapshot(run: RunBuild | None) -> bool:
    """Run the before-snapshot hooks; on failure, no image: ``amber snapshot`` stops, ``amber run``
    goes on without building (the hooks' after_restore undid what they did)."""
    from amber import builtin_handlers

    builtin_handlers.install()
    try:
        lifecycle.run_before_snapshot()
    except lifecycle.HookErrors as e:
        if run is None:
            print(f"amber: error: {e}; no image was written", file=sys.stderr)
            _flush()
            os._exit(2)
        print(f"amber: warning: {e}; no image was built", file=sys.stderr)
        return True
    return False


def _lock(path: str):
    """Create ``path`` exclusively; a lock left by a process that is gone is taken over."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            return path
        except FileExistsError:
            try:
                with open(path) as f:
                    pid = int(f.read() or 0)
                os.kill(pid, 0)
                if time.time() - os.stat(path).st_mtime < 600:
                    return None
            except (OSError, ValueError):
                pass
            try:
                os.unlink(path)
            except OSError:
                return None
    return None


def _unlock(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _program_failed(error: BaseException) -> None:
    """Under ``amber run`` a failing start-up is the program's own failure, shown as Python would."""
    tb = error.__traceback__
    error = error.with_traceback(tb.tb_next if tb is not None else None)  # from the program's frame
    sys.excepthook(type(error), error, error.__traceback__)
    _flush()
    os._exit(1)


def _is_amber_machinery(name: str) -> bool:
    """Amber's capture side is not part of the program (its restore side is in the base set)."""
    return name.startswith(("amber.capture", "amber.commands"))


def _module_spec(name: str):
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as e:
        raise UsageError(f"cannot find module {name!r}: {e}") from None
    if spec is None:
        raise UsageError(f"no module named {name!r}")
    if spec.submodule_search_locations is not None:
        return _module_spec(name + ".__main__")
    if spec.loader is None or not hasattr(spec.loader, "get_source"):
        raise UsageError(f"module {name!r} has no Python source to run")
    return spec


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
