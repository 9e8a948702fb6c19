"""Run the program as ``__main__`` up to its snapshot point, then write the image.

This runs inside the snapshotting interpreter started by :mod:`amber._boot` with ``-S``: the
baseline of the base set is taken first, then ``site`` runs as it would have, then the program.
"""

from __future__ import annotations

import os
import sys
import time
import types

import amber
from amber.capture.interpreter import Baseline
from amber.capture.registrations import RegistrationRecorder
from amber.errors import CaptureError, UsageError


def main(argv: list, baseline: Baseline, imports) -> None:
    """``_boot.py snapshot IMAGE (-m MODULE | SCRIPT) [--reimport PKG]... -- ARGS``"""
    try:
        image_path, is_module, target, reimport, args = _parse(argv)
        run_snapshot(image_path, target, args, is_module, reimport, baseline, imports)
    except (UsageError, CaptureError) as e:
        print(f"amber: error: {e}", file=sys.stderr)
        _flush()
        os._exit(2)


def _parse(argv: list):
    image_path, mode, target = argv[0], argv[1], argv[2]
    reimport = []
    i = 3
    while argv[i] != "--":
        reimport.append(argv[i + 1])
        i += 2
    return image_path, mode == "-m", target, reimport, argv[i + 1:]


def run_snapshot(image_path: str, target: str, args: list, is_module: bool, reimport: list,
                 baseline: Baseline, imports) -> None:
    registrations = RegistrationRecorder(imports.importing)
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
    try:
        exec(split.first, main.__dict__)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
        print(f"amber: error: the program exited (code {code}) before its snapshot point; no image "
              f"was written", file=sys.stderr)
        _flush()
        os._exit(code or 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        print("amber: error: the program raised before its snapshot point; no image was written",
              file=sys.stderr)
        _flush()
        os._exit(1)
    startup_seconds = time.perf_counter() - started
    amber._state["mode"] = None
    # Take Amber's hooks out first (the base set's state must not show them), then freeze what
    # the program did before Amber's capture side imports anything more.
    imports.stop()
    registrations.stop()
    modules = {name: mod for name, mod in list(sys.modules.items())
               if mod is not None and not _is_amber_machinery(name)}
    replay = baseline.replay()
    environ_changes = baseline.environ_changes()
    if split.kind == "end":
        print("amber: note: no snapshot point found (no amber.snapshot() and no "
              "`if __name__ == \"__main__\":`): captured the end of the script; nothing is left to run "
              "after restore", file=sys.stderr)
    _flush()
    from amber.capture.image_writer import write_snapshot

    point = {"kind": split.kind, "line": split.line, "script": filename,
             "module": target if is_module else "", "argv0": sys.argv[0]}
    try:
        write_snapshot(image_path, modules, main, split.rest, baseline, imports, replay, environ_changes,
                       registrations, reimport, point, startup_seconds)
    except CaptureError as e:
        print(f"amber: error: {e}", file=sys.stderr)
        _flush()
        os._exit(2)
    _flush()
    os._exit(0)


def _is_amber_machinery(name: str) -> bool:
    """Amber's capture side is not part of the program (its restore side is in the base set)."""
    return name.startswith(("amber.capture", "amber.cli", "amber.inspector"))


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
