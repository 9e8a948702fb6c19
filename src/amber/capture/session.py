"""Run the program as ``__main__`` up to its snapshot point, then write the image.

This runs inside the snapshotting interpreter started by :mod:`amber._boot` with ``-S``: the
baseline of the base set is taken first, then ``site`` runs as it would have, then the program.
What to do comes as one :class:`amber.options.SnapshotOptions` (``amber snapshot``, or ``amber
run``'s first run); an :class:`~amber.errors.AmberError` that escapes is reported by the entry
point (:func:`amber.errors.entry_point`), which leaves by ``os._exit`` as every exit here does.
"""

import os
import sys
import time

from amber import lifecycle
from amber.capture.recorders.baseline import Baseline, registries_now
from amber.capture.recorders.entropy import EntropyRecorder
from amber.capture.recorders.registrations import RegistrationRecorder
from amber.capture.recorders.tls import TLSRecorder
from amber.errors import (
    CaptureError,
    UsageError,
    describe_error,
    entry_point,
    error,
    flush_streams,
    note,
    say,
    warn,
)
from amber.options import SnapshotOptions
from amber.runcache import timings
from amber.state import PLAIN, SNAPSHOTTING, STATE

# This module runs before the program does: it imports nothing the program did not ask for
# (no typing, no __future__), so the names below are for type checkers only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from amber.capture.mainsplit import Split
    from amber.capture.pipeline import SnapshotRequest
    from amber.capture.recorders.imports import ImportRecorder
    from amber.capture.recorders.inputs import InputRecorder
    from amber.capture.stack import CapturedStack
else:
    ModuleType = type(sys)  # not types.ModuleType: `types` is no module of the base set on 3.13


def main(argv: list, baseline: Baseline, imports: "ImportRecorder") -> None:
    """``_boot.py snapshot <SnapshotOptions>``."""
    run_snapshot(SnapshotOptions.decode(argv), baseline, imports)


class Startup:
    """What running the program to its snapshot point left behind, frozen at that point: the
    ``__main__`` module and the code after the point, the recorders' findings, ``sys.modules``
    (without Amber's capture side) and the base set's changed state."""

    def __init__(self, options: SnapshotOptions, baseline: Baseline, recorders: "Recorders",
                 main: "ModuleType", split: "Split", filename: str, startup_seconds: float,
                 cold_seconds: float | None = None, stack: "RunningStack | None" = None,
                 imported_by_amber: "set | None" = None) -> None:
        self.options = options
        self.baseline = baseline
        self.recorders = recorders
        self.main = main
        self.split = split
        self.startup_seconds = startup_seconds
        self.cold_seconds = cold_seconds  # amber run: from its start to here (amber.runcache.timings)
        by_program = recorders.imports.started_by_program()
        aside = imported_by_amber or set()  # (at a snapshot inside functions: see StackPoint)
        self.modules = {name: mod for name, mod in list(sys.modules.items())
                        if mod is not None and not _is_amber_machinery(name) and name not in aside
                        and not _amber_aside(name, baseline.restore_path, by_program)}
        self.replay = baseline.replay(recorders.imports.after_start_up)
        self.abc_registries = registries_now(self.modules)  # (what ABC.register calls the program made)
        self.environ_changes = baseline.environ_changes()
        self.point = {"kind": split.kind, "line": split.line, "script": filename,
                      "module": options.target if options.is_module else "", "argv0": sys.argv[0]}
        self.stack = stack
        if stack is not None:
            self.point.update(kind="stack", line=stack.line, frames=stack.described)

    def request(self, image_path: str, **run_only: "Any") -> "SnapshotRequest":
        """The pipeline's request for writing ``image_path``; ``run_only``: amber run's extras."""
        from amber.capture.pipeline import SnapshotRequest

        return SnapshotRequest(image_path, self, **run_only)


class Recorders:
    """The recorders that watch start-up, installed before ``site`` runs and stopped at the
    snapshot point, before Amber's capture side imports anything more."""

    def __init__(self, imports: "ImportRecorder", for_run: bool) -> None:
        self.imports = imports
        self.registrations = RegistrationRecorder(imports.importing)
        self.entropy = EntropyRecorder(imports.importing)
        self.tls = TLSRecorder()
        # What start-up depends on matters only to amber run's cache.
        self.inputs = _input_recorder() if for_run else None

    def stop(self) -> None:
        # Amber's hooks come out first: the base set's state must not show them.
        self.imports.stop()
        self.registrations.stop()
        self.entropy.stop()
        self.tls.stop()
        if self.inputs is not None:
            self.inputs.stop()

    def resume(self) -> None:
        """Watch again after :meth:`stop`, for the rest of a run that takes checkpoints (what
        start-up depended on, ``inputs``, matters only up to the snapshot point)."""
        self.imports.resume()
        self.registrations.resume()
        self.entropy.resume()
        self.tls.resume()


def _input_recorder() -> "InputRecorder":
    from amber.capture.recorders.inputs import InputRecorder

    return InputRecorder()


class RunningStack:
    """The snapshot point inside functions: the frames' records (:mod:`amber.capture.stack`),
    the generators whose frames they are, the heap's roots for what they hold, the main
    script's line its frame waits at, and the frames described for people (``amber inspect``)."""

    def __init__(self, captured: "CapturedStack") -> None:
        from amber.capture import stack

        frames = captured.frames
        self.records = captured.records
        self.generators = captured.generators
        self.roots = stack.roots(frames, captured.records)
        self.line = frames[-1].f_lineno
        self.described = stack.frame_descriptions(frames[0])


class StackPoint:
    """What ``amber.snapshot()`` calls while the program runs to its snapshot point
    (``STATE.point_hook``): the first call reached below the main script's top level is the
    snapshot point, with the stack that called it. ``amber snapshot`` writes the image there and
    leaves; ``amber run`` builds the image (in the background where it can) and returns to the
    program, which goes on as a restored one would."""

    def __init__(self, options: SnapshotOptions, baseline: Baseline, recorders: "Recorders",
                 main: "ModuleType", split: "Split", filename: str) -> None:
        self.options, self.baseline, self.recorders = options, baseline, recorders
        self.main, self.split, self.filename = main, split, filename
        self.started = time.perf_counter()
        self.taken = False
        self.modules_before: set = set()

    def __call__(self, call_frame) -> None:
        STATE.set_point_hook(None)  # the first call reached is the point; later ones do nothing
        # What Amber imports from here on to read the stack (dis, its own capture side) is not
        # the program's: a cold run does not have it in sys.modules.
        self.modules_before = set(sys.modules)
        if self.options.for_run:
            self._take(call_frame)
            return
        try:  # nothing Amber raises here may reach the program's code: it could catch it
            entry_point(lambda: self._take(call_frame), leave=os._exit)
        except BaseException as e:
            error(f"cannot write the image ({describe_error(e)}); no image was written")
        flush_streams()
        os._exit(2)

    def _take(self, call_frame) -> None:
        from amber.capture import stack

        options = self.options
        try:
            captured = stack.capture(call_frame, (self.split.first,))
        except stack.Refusal as e:
            if not options.for_run:
                raise UsageError(f"{e}; no image was written") from None
            say(f"no image: {e}", verbose=options.verbose)
            return
        imported_by_amber = set(sys.modules) - self.modules_before
        running = RunningStack(captured)
        startup_seconds = time.perf_counter() - self.started
        cold_seconds = None if options.started is None else timings.now() - options.started
        STATE.enter(PLAIN)
        hooks_failed = run_before_snapshot(options)
        self.recorders.stop()
        startup = Startup(options, self.baseline, self.recorders, self.main, self.split, self.filename,
                          startup_seconds, cold_seconds, stack=running, imported_by_amber=imported_by_amber)
        self.taken = True
        if not options.for_run:
            _snapshot_and_exit(startup)
        _build_and_continue(startup, build=options.build and not hooks_failed and not self.split.checkpoints,
                            go_on=False)


def run_snapshot(options: SnapshotOptions, baseline: Baseline, imports: "ImportRecorder") -> None:
    """The snapshotting interpreter's whole job: run the program to its snapshot point, then
    write the image and leave (``amber snapshot``), or build it and go on (``amber run``).

    Under ``amber run`` nothing Amber does may make the program fail: until the program's code
    starts, any failure hands over to a cold run (:func:`amber.restore.run.cold_exec`); after it,
    a failure to build is one warning and the program goes on."""
    try:
        recorders = Recorders(imports, options.for_run)
        import site

        imports.program_starts()
        site.main()
        for started in (site.__name__, "builtins"):  # what main() changed there is not the program's
            imports.record_start_up(started)
        main, split, filename = _prepare_main(options)
    except Exception as e:
        if not options.for_run:
            raise
        _run_cold(options, f"{e}" if isinstance(e, UsageError) else f"{type(e).__name__}: {e}")
    point = StackPoint(options, baseline, recorders, main, split, filename)
    from amber.capture import checkpoint

    if split.checkpoints:  # (its whole run is watched: amber.capture.checkpoint)
        STATE.set_checkpoint_hook(checkpoint.Checkpoints(options, baseline, recorders, main, split, filename))
    else:
        STATE.set_checkpoint_hook(checkpoint.NotWatched())
    startup_seconds = _run_to_snapshot_point(options, main, split, point)
    if point.taken:  # (amber run: the image was built inside the program's frames, which went on)
        exec(split.rest, main.__dict__)
        return
    if split.nested_line and not options.for_run:
        raise UsageError(f"the program ran to the end of {filename} without calling amber.snapshot() "
                         f"(line {split.nested_line}); no image was written")
    cold_seconds = None if options.started is None else timings.now() - options.started
    hooks_failed = run_before_snapshot(options)
    recorders.stop()
    startup = Startup(options, baseline, recorders, main, split, filename, startup_seconds, cold_seconds)
    if options.for_run:
        _build_and_continue(startup, build=options.build and not hooks_failed and not split.checkpoints)
    else:
        _snapshot_and_exit(startup)


def _run_cold(options: SnapshotOptions, reason: str) -> None:
    from amber.restore.run import cold_exec

    warn(f"cannot run the program under Amber ({reason}); running it without Amber")
    cold_exec(options.target, options.is_module, options.args, dict(os.environ))


def _prepare_main(options: SnapshotOptions) -> "tuple[ModuleType, Split, str]":
    """A fresh ``__main__`` for the script or module, ``sys.path[0]`` and ``sys.argv`` as python
    sets them, and the script split at its snapshot point."""
    from amber.capture import mainsplit

    target = options.target
    main = ModuleType("__main__")
    main.__dict__["__builtins__"] = sys.modules["builtins"]
    # amber._boot took its own directory off sys.path: the program's goes first, as python puts
    # it (unless -P / PYTHONSAFEPATH), before the PYTHONPATH entries.
    if options.is_module:
        if not sys.flags.safe_path:
            sys.path.insert(0, os.getcwd())
        spec = _module_spec(target)
        source = spec.loader.get_source(spec.name)
        filename = spec.origin
        main.__spec__ = spec
        main.__file__ = spec.origin
        main.__loader__ = spec.loader
        main.__package__ = spec.parent
    else:
        # As python has it: joined to the working directory, not normalised (./app.py stays so).
        filename = target if os.path.isabs(target) else os.path.join(os.getcwd(), target)
        try:
            with open(filename, "rb") as f:
                source = f.read()
        except OSError as e:
            raise UsageError(f"cannot open script {target!r}: {e.strerror}") from None
        if not sys.flags.safe_path:  # the directory of the script, symbolic links resolved, as python does
            sys.path.insert(0, os.path.dirname(os.path.realpath(filename)))
        main.__file__ = filename  # absolute, as python has made it since 3.9
        main.__dict__["__cached__"] = None
        from _frozen_importlib_external import SourceFileLoader

        main.__loader__ = SourceFileLoader("__main__", filename)
    sys.argv = [filename if options.is_module else target, *options.args]
    split = mainsplit.split_source(source, filename)
    sys.modules["__main__"] = main
    return main, split, filename


def _run_to_snapshot_point(options: SnapshotOptions, main: "ModuleType", split: "Split",
                           point: StackPoint) -> float:
    """Run the part before the snapshot point; return how long it took. A program that exits or
    raises first leaves the process as it would have, with no image. An ``amber.snapshot()``
    reached inside functions is the snapshot point there (``point``)."""
    # Under amber run this is a normal run that happens to build an image.
    STATE.enter(PLAIN if options.for_run else SNAPSHOTTING)
    STATE.set_point_hook(point)
    started = time.perf_counter()
    try:
        exec(split.first, main.__dict__)
    except SystemExit as e:
        if options.for_run:
            raise
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)
        error(f"the program exited (code {code}) before its snapshot point; no image was written")
        flush_streams()
        os._exit(code or 1)
    except KeyboardInterrupt as e:
        if options.for_run:
            _program_failed(e)
        error("interrupted; no image was written")
        flush_streams()
        os._exit(130)
    except BaseException as e:
        if options.for_run:
            _program_failed(e)
        import traceback

        traceback.print_exc()
        error("the program raised before its snapshot point; no image was written")
        flush_streams()
        os._exit(1)
    finally:
        STATE.set_point_hook(None)
    STATE.enter(PLAIN)
    return time.perf_counter() - started


def _snapshot_and_exit(startup: Startup) -> None:
    """``amber snapshot``: write the image and leave by ``os._exit`` (start-up's atexit handlers
    and finalizers must not destroy state the image refers to)."""
    from amber.capture.pipeline import write_snapshot

    if startup.point["kind"] == "end":
        note("no snapshot point found (no amber.snapshot() and no `if __name__ == \"__main__\":`): "
             "captured the end of the script; nothing is left to run after restore")
    flush_streams()
    try:
        write_snapshot(startup.request(startup.options.image, leaves=True))  # CaptureError: one line, exit 2
    except KeyboardInterrupt:
        error("interrupted; no image was written")  # the writer removed its temporary
        flush_streams()
        os._exit(130)
    flush_streams()
    os._exit(0)


def _build_and_continue(startup: Startup, build: bool, go_on: bool = True) -> None:
    """``amber run``'s first run: write the image (under the cache's lock), then run the rest
    (``go_on``; else return into the program's frames, which go on from the snapshot point)."""
    run = startup.options
    if startup.point["kind"] == "end":
        say("the script has no snapshot point (no amber.snapshot(), no main guard): no image",
            verbose=run.verbose)
    elif build and not run.wait and _can_build_in_the_background():
        _build_in_the_background(startup)
    elif build:
        _build(startup)
    if startup.recorders.inputs is not None:
        startup.recorders.inputs.after_capture()
    if startup.split.checkpoints:  # its checkpoints capture what the rest of its run does too
        startup.recorders.resume()
    if startup.point["kind"] != "end":
        # Both paths behave alike: the first run goes on as a restored process would (HookErrors:
        # one line and exit code 1, from the entry point).
        lifecycle.run_after_restore()
    flush_streams()
    STATE.mark_resumed()  # from here on, what the program raises is its own
    if go_on:
        exec(startup.split.rest, startup.main.__dict__)


BUILD_SECONDS_LIMIT = 900  # a background build still running then is ended (a capture that hung)


def _can_build_in_the_background() -> bool:
    """Whether a fork can write the image while the program goes on: where there is ``fork``, and
    no other Python thread runs (a fork keeps only the calling thread: locks another one held would
    stay held in the child; and the capture refuses running threads anyway). Threads of C libraries
    (BLAS pools) are no obstacle: the capture does not call into them, and such libraries make
    themselves fork-safe (``pthread_atfork``)."""
    threading = sys.modules.get("threading")
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


def _build_in_the_background(startup: Startup) -> None:
    """``amber run``'s first run does not wait for its image: at the snapshot point the process
    forks, and a detached grandchild (its own session, no terminal, the standard descriptors on
    /dev/null, so that nobody waits for it and it writes none of the program's output) captures
    the state the fork froze, writes and verifies the image, and leaves with ``os._exit`` (no
    atexit handler or finaliser of the program runs twice). The program goes on at once; what the
    build says goes into the cache (the image, or a no-image marker with its reason for later runs'
    ``-v``). Nothing buffered is inherited, nor what at-fork handlers change
    (:mod:`amber.capture.detached`)."""
    from amber.capture.detached import fork_writer

    failed, done = fork_writer(lambda: _build(startup, leaves=True), keep_stderr=False,
                               seconds_limit=BUILD_SECONDS_LIMIT)
    if done is not None:
        os.close(done)  # (nobody waits for the build)
    if failed is not None:
        say(f"cannot fork a background build ({failed.strerror}); building in this process",
            verbose=startup.options.verbose)
        _build(startup)
        return
    say("building the image in the background", verbose=startup.options.verbose)


def _build(startup: Startup, leaves: bool = False) -> None:
    """Write the image into the cache entry, with what start-up depended on. Never makes the
    program fail: a program that cannot be captured, or whose start-up depended on what cannot be
    watched, leaves a no-image marker instead (later runs skip the attempt while its inputs hold);
    any other trouble (a full disk, an unwritable cache, a bug in Amber) is one warning."""
    try:
        _build_image(startup, leaves)
    except CaptureError as e:
        warn(f"no image was built, the program runs without one: {_gist(e)}")
    except Exception as e:
        warn(f"no image was built, the program runs without one ({describe_error(e)})")


def _gist(error: Exception) -> str:
    """An error in one line: its first line, and the first offender of a capture error."""
    lines = str(error).splitlines()
    if not isinstance(error, CaptureError) or not lines:
        return describe_error(error)
    return lines[0] + (f" ({lines[1].strip()} ...)" if len(lines) > 1 else "")


def _build_image(startup: Startup, leaves: bool) -> None:
    from amber.capture.pipeline import write_snapshot
    from amber.runcache import build, keys, layout

    run = startup.options
    inputs, root, entry = startup.recorders.inputs, run.root, run.entry
    assert inputs is not None and root is not None and entry is not None  # as for every amber run
    key_args = STATE.startup_args
    layout.make_private_dirs(entry)
    image_path = layout.image_path(entry, keys.args_key(run.args, key_args))
    lock = build.BuildLock(entry)
    if not lock.acquire():
        say("another process is building this image; running without one", verbose=run.verbose)
        return
    try:
        secret = keys.secret_key(root, create=True)
        assert secret is not None  # made when missing
        recorded = inputs.record(startup.modules, secret, run.program,
                                 exclude_under=root.rstrip(os.sep) + os.sep)
        recorded["cold_seconds"] = startup.cold_seconds
        if recorded["output"]:  # printed again by every restore: kept in the image, so scanned
            from amber.capture.policy.secret_scan import SecretScanner

            scanner = SecretScanner(set(run.allowed_secrets))
            if any(scanner.check(text) for _fd, text in recorded["output"]):
                inputs.unwatchable.append("printed what looks like a secret")
        if inputs.unwatchable:
            why = f"start-up {inputs.unwatchable[0]}, which cannot be watched for changes"
            say(f"no image: {why}", verbose=run.verbose)
            build.record_failure(image_path, secret, recorded, why)
            return
        shown = run.args if key_args is None else run.args[:key_args]
        target = run.target if run.is_module else os.path.abspath(run.target)
        run_info = {"target": target, "args": list(shown), "key_args": key_args}
        try:
            write_snapshot(startup.request(image_path, quiet=not run.verbose, inputs=recorded,
                                           run_info=run_info, leaves=leaves))
        except OSError:
            raise  # the disk or the cache, not the program: the next run tries again
        except Exception as e:  # the same program fails the same way: later runs do not try again
            build.record_failure(image_path, secret, recorded, _gist(e))
            raise
        watched = f"{len(recorded['watched'])} paths, {len(recorded['env'])} variables watched"
        say(f"built {image_path} ({watched})", verbose=run.verbose)
        build.record_built(root, entry, image_path, secret, target, key_args)
    finally:
        lock.release()


def run_before_snapshot(options: SnapshotOptions) -> bool:
    """Run the before-snapshot hooks; on failure, no image: ``amber snapshot`` stops, ``amber run``
    goes on without building (the hooks' after_restore undid what they did)."""
    from amber import builtin_handlers

    builtin_handlers.install()
    try:
        lifecycle.run_before_snapshot()
    except lifecycle.HookErrors as e:
        if not options.for_run:
            raise CaptureError(f"{e}; no image was written") from e
        warn(f"{e}; no image was built")
        return True
    return False


def _program_failed(error: BaseException) -> None:
    """Under ``amber run`` a failing start-up is the program's own failure, shown as Python would."""
    tb = error.__traceback__
    error = error.with_traceback(tb.tb_next if tb is not None else None)  # from the program's frame
    sys.excepthook(type(error), error, error.__traceback__)
    flush_streams()
    if isinstance(error, KeyboardInterrupt):  # as python leaves: killed by SIGINT (a shell shows 130)
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(1)


def _is_amber_machinery(name: str) -> bool:
    """Amber's capture side is not part of the program (its restore side is in the base set)."""
    return name.startswith(("amber.capture", "amber.commands"))


def _amber_aside(name: str, restore_path: set, by_program: set) -> bool:
    """One of Amber's modules that Amber imported for itself (the run cache's, the recorders'
    helpers) and the program did not: not in the restored ``sys.modules``, as it is not in a
    cold run's. What the heap calls in it is imported when the heap needs it."""
    return name.startswith("amber.") and name not in restore_path and name not in by_program


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
    # Frozen and built-in modules (os.path, __hello__) have no source file to split at a
    # snapshot point; neither has a module found only as bytecode.
    if spec.loader is None or not hasattr(spec.loader, "get_source") or not spec.has_location \
            or not isinstance(spec.origin, str) or not spec.origin.endswith(".py"):
        raise UsageError(f"module {name!r} has no Python source file to run")
    return spec
