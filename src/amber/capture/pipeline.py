"""Turn the state at the snapshot point into an image file: a short list of named steps.

:func:`write_snapshot` takes a :class:`SnapshotRequest` (what the session recorded while the
program ran) and runs the stages in order, each with a typed result:

1. ``decide_world``: which modules are imported again (:class:`~amber.capture.world.rules.World`);
2. ``gather_roots``: the heap's roots, the manifest and the calls the program makes around them
   (:class:`HeapRoots`);
3. ``plan_heap``: walk and reduce the graph, scan it for secrets, list what cannot be captured
   (:class:`~amber.capture.compile.planner.HeapPlan`);
4. ``check_randomness``: random state that every restored process would repeat;
5. ``compile_heap``: the pickle program (:class:`~amber.capture.compile.compiler.CompiledHeap`);
6. ``write_image_file``: header, sections, signature (:mod:`amber.image.format`);
7. unless ``--no-verify``: before the image appears under its name, a fresh process restores it
   and its state is compared with this one's, described between steps 1 and 2
   (:mod:`amber.verify`). Where they differ, the modules the differences are in are imported
   again at restore (as ``--reimport`` would) and everything runs once more; a second
   difference is an error.

Any step may raise :class:`~amber.errors.CaptureError`: nothing is written then.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pickle import PickleBuffer
from types import FunctionType, ModuleType

import amber
from amber import lifecycle
from amber._compat import ident, ident_of_address
from amber._files import BOOT
from amber.capture import distributions
from amber.capture.compile.compiler import CompiledHeap, HeapCompiler, Unplannable
from amber.capture.compile.planner import HeapPlan, HeapStats, Planner, type_name
from amber.capture.policy.public_text import PublicText
from amber.capture.policy.secret_scan import SecretScanner
from amber.capture.recorders.baseline import class_dict
from amber.capture.reduce import recipes as R
from amber.capture.reduce.recipes import reconstructor
from amber.capture.reduce.reducers import Reducers
from amber.capture.world.rules import PER_PROCESS_MODULES, World, is_extension
from amber.errors import CaptureError, note, warn
from amber.errors import hint as hint_line
from amber.image import format as fmt
from amber.image import records, writer
from amber.restore import rebuild
from amber.state import STATE

# Imported while the program's state is captured: no typing at run time (importing it registers
# its types in copyreg.dispatch_table, state of the program's base set); its names are for mypy.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from amber.capture.compile.compiler import Step
    from amber.capture.session import Startup


class SnapshotRequest:
    """What the pipeline is asked to write: the program's state at the snapshot point
    (:class:`~amber.capture.session.Startup`, with the options it ran under), the image file,
    and, for ``amber run``'s cache, what start-up depended on."""

    def __init__(self, path: str, startup: Startup, quiet: bool = False, inputs: dict | None = None,
                 run_info: dict | None = None, leaves: bool = False, checkpoint: bool = False) -> None:
        self.path = path  # the image file to write
        self.startup = startup
        self.options = startup.options  # --reimport, --allow-secret, --strict, --lazy-code
        self.quiet = quiet  # no notes (amber run without -v)
        self.inputs = inputs  # amber run: what start-up depended on (the inputs section)
        self.run_info = run_info  # amber run: the header's "run" record
        # The process leaves by os._exit once the image is written (the collector stays off).
        self.leaves = leaves
        # amber.checkpoint(): the state is the computation's own, random generators included,
        # which a restore of it goes on with as an uninterrupted run would (no warning).
        self.checkpoint = checkpoint


class HeapRoots:
    """What the heap is made of: labelled roots (labels start the paths in messages), the
    manifest the program returns, and the calls of stage C (``registration``) and stage E
    (``late``, needing the complete heap)."""

    def __init__(self, roots: list[tuple[str, object]], manifest: dict, registration: list[Step],
                 late: list[Step], by_value: list[tuple[str, ModuleType]]) -> None:
        self.roots = roots
        self.manifest = manifest
        self.registration = registration
        self.late = late
        self.by_value = by_value  # the modules captured by value, in sys.modules order


def write_snapshot(request: SnapshotRequest) -> None:
    """Plan, compile, write and verify the image ``request.path``; raise CaptureError if it
    cannot be."""
    from amber.verify.check import VerificationFailed, modules_involved

    try:
        _write_once(request)
        return
    except VerificationFailed as e:
        if os.environ.get("AMBER_DEBUG"):
            note(str(e))
        again = sorted(modules_involved(e.found, e.by_value - {"__main__"}) - set(request.options.reimport))
        if not again:
            raise
        if not request.quiet:
            note(f"the restored state differed in {', '.join(again)}: importing it again at restore "
                 f"and verifying once more")
        request.options.reimport = [*request.options.reimport, *again]
        first = e
    try:
        _write_once(request)
    except CaptureError as e:
        if isinstance(e, VerificationFailed) and e.found:
            raise
        # Those modules cannot be imported again after all: the first difference is the answer.
        raise first from e


def _write_once(request: SnapshotRequest) -> None:
    started = time.perf_counter()
    kept = _keep_seeded_generators()
    # The capture allocates millions of objects it keeps (recipes, pairs, the program's bytes):
    # the collector would only walk them, again and again (a quarter of the planning time on a
    # heap of a million values). It finds nothing the capture reads: the graph is what is
    # reachable, and the program's state was recorded before (Startup).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with _QuietWarnings():
            world = decide_world(request)
            live = _describe_live(request, world)
            roots = gather_roots(request, world)
            reducers = Reducers(world, always_doc=request.options.lazy_code)
            if request.startup.stack is not None:
                reducers.on_stack.update(ident(gen) for gen in request.startup.stack.generators)
            plan = plan_heap(request, reducers, roots)
            check_randomness(request, plan, reducers, world)
            _note_dropped_tracebacks(request, plan, reducers)
            heap = compile_heap(plan, world, roots, request.options.lazy_code)
            write_image_file(request, world, roots, plan, heap, reducers, started, live)
    finally:
        # Not when the process leaves: the collector's first pass would walk, as young, every
        # object the capture made (0.3 s on the example, a tenth of its capture).
        if collecting and not request.leaves:
            gc.enable()
        lifecycle._hooks[:] = [h for h in lifecycle._hooks if not any(h is k for k in kept)]


def _describe_live(request: SnapshotRequest, world: World):
    """The state a restore must rebuild, described before the capture touches anything."""
    if not request.options.verify:
        return None
    from amber.verify.check import describe_live

    by_ref = {name for name in request.startup.modules if name in world.by_ref}
    try:
        live = describe_live(request.startup.modules, by_ref, _unchanged_since_import(request))
    except Exception as e:  # a bug of the verifier's: said, and the image is written unverified
        if os.environ.get("AMBER_DEBUG"):
            raise
        warn(f"cannot verify the image ({type(e).__name__}: {e}); it is written without verification")
        return None
    if live.imports_run:
        raise CaptureError(_imports_run_report(live.imports_run))
    return live


def _imports_run_report(found: list) -> str:
    """An object whose own ``__reduce__`` imports modules (a lazy proxy that evaluates itself:
    celery's ``current_app`` attributes) changes the program's state when it is captured: what
    the image would hold is not the state at the snapshot point, so no image is written."""
    lines = [f"capturing {len(found)} object(s) ran the program's code, which changed its state "
             f"(imported modules); no image was written:"]
    for path, modules in found[:20]:
        shown = ", ".join(modules[:4]) + (f" and {len(modules) - 4} more" if len(modules) > 4 else "")
        lines.append(f"  {path}: its __reduce__ imported {shown}")
    lines.append("      hint: evaluate it before the snapshot point (use the object, so that what it "
                 "imports and makes exists), or make it with amber.transient(obj, factory)")
    return "\n".join(lines)


def _keep_seeded_generators() -> list:
    """The global generators start-up seeded on purpose get their state back after their module
    is imported again: an after-restore hook of Amber's priority, so before the program's own
    (see :mod:`amber.capture.recorders.entropy`). Returns the hooks, removed once the image is
    written: the running process has that state already."""
    from amber.capture.recorders.entropy import seeded_globals

    hooks = []
    for _what, setter, state in seeded_globals():
        lifecycle.after_restore(setter, state, priority=lifecycle.BUILTIN_PRIORITY)
        hooks.append(lifecycle.registered()[-1])
    return hooks


class _QuietWarnings:
    """No warning while Amber looks at the program's objects: they would be attributed to Amber
    (deprecated attributes read, ``__reduce__`` of deprecated objects), and under ``-W error``
    they would stop the capture. The interpreter reads its filters from
    ``sys.modules["warnings"].filters`` at each warning, so for the capture that entry is a copy
    of the module whose filters ignore everything; the program's own ``warnings`` module (which
    may be captured by value, and whose state is compared with what a fresh import leaves) is
    not touched, and is put back afterwards."""

    def __init__(self) -> None:
        self.real: Any = None
        self.quiet: Any = None

    def __enter__(self) -> None:
        real: Any = sys.modules.get("warnings")
        if real is None:
            import warnings as real
        quiet = ModuleType("warnings")
        quiet.__dict__.update(real.__dict__)
        quiet.__dict__["filters"] = [("ignore", None, Warning, None, 0), *real.filters]
        # The copy's functions work on the copy's filters: catch_warnings() (which takes
        # sys.modules["warnings"], the copy) puts back the copy's list, so a filter that code run
        # during the capture adds inside one (a __reduce__ calling subprocess: os.get_exec_path's
        # simplefilter) must go to that list, not stay in the program's for good.
        for name, value in real.__dict__.items():
            if type(value) is FunctionType and value.__globals__ is real.__dict__:
                quiet.__dict__[name] = FunctionType(value.__code__, quiet.__dict__, value.__name__,
                                                    value.__defaults__, value.__closure__)
                quiet.__dict__[name].__kwdefaults__ = value.__kwdefaults__
        self.real, self.quiet = real, quiet
        sys.modules["warnings"] = quiet
        real._filters_mutated()

    def __exit__(self, *exc: object) -> None:
        if self.real is not None and sys.modules.get("warnings") is self.quiet:
            sys.modules["warnings"] = self.real
            self.real._filters_mutated()


def decide_world(request: SnapshotRequest) -> World:
    from amber._files import BOOT
    from amber.capture.world.probe import FreshImportProbe

    baseline = request.startup.baseline
    start_ids = {name: ids for name, (_mod, ids, _copies) in baseline.modules.items()}
    reimport = set(request.options.reimport) | STATE.reimport
    with FreshImportProbe(sys.path, BOOT) as probe:
        world = World(request.startup.modules, baseline.names, start_ids, reimport,
                      request.startup.recorders.imports, probe)
    if world.failed:
        raise CaptureError(_failed_report(world.failed))
    if world.notes and not request.quiet:
        note(f"the program changed state of {len(world.notes)} module(s) that are imported again at "
             f"restore; Amber sets it again after the import (amber inspect lists it)")
    return world


def _unchanged_since_import(request: SnapshotRequest):
    """``(module, name) -> bool``: is that value still the one the module's import left (or, for
    the base set, the one the baseline saw)? From the import recorder's record."""
    recorder = request.startup.recorders.imports
    baseline = request.startup.baseline.modules
    modules = request.startup.modules

    def unchanged(module: str, name: str) -> bool:
        holder = modules[module]
        if "." in name:  # "Cls.attr": an attribute of a class or function the module defines
            member, _, attr = name.partition(".")
            value = getattr(vars(holder).get(member), "__dict__", {}).get(attr)
        else:
            value = holder.__dict__.get(name)
            if module in PER_PROCESS_MODULES and not callable(value):
                # A module describing the running process keeps the restoring process's own
                # state (tempfile.tempdir, cached by gettempdir), as the world's rule says; only
                # the functions and classes the program put into it are set again.
                return True
        known = recorder.unchanged_since_import(module, name, value)
        if known is not None:
            return known
        base = baseline.get(module)  # the base set: imported before the recorder, seen by the baseline
        return base is not None and "." not in name and base[1].get(name) == ident(value) and \
            type(value) not in (list, dict, set)

    return unchanged


def gather_roots(request: SnapshotRequest, world: World) -> HeapRoots:
    modules = request.startup.modules
    by_value = [(name, mod) for name, mod in modules.items() if name not in world.by_ref]
    early, late = request.startup.replay
    # A class of a module imported again is registered on its ABCs again by that import.
    late = [(fn, (abc_cls, tuple(c for c in added if not world.is_by_ref_module(c.__module__))))
            for fn, (abc_cls, added) in late]
    late = [(fn, args) for fn, args in late if args[1]]
    late += _registrations_on_reimported_abcs(modules, world, {ident(args[0]) for _fn, args in late},
                                              request.startup.abc_registries)
    early = early + world.replay_steps()
    manifest = records.MANIFEST_SCHEMA.build(  # the heap program returns this very dict
        main=request.startup.main,
        rest=request.startup.split.rest,
        order=tuple(modules),
        registrations=request.startup.recorders.registrations.kept(world.is_by_ref_module),
        lifecycle=lifecycle.registered(),
        by_ref=tuple(name for name in modules if name in world.by_ref),
        argv0=request.startup.point["argv0"],
        # A program may put a module of its own there (IPython's InteractiveShell does): set again.
        sys_main=modules.get("__main__") if modules.get("__main__") is not request.startup.main else None,
        stack=() if request.startup.stack is None else request.startup.stack.records,
    )
    registration = [(reconstructor(rebuild.register_modules), (tuple(by_value), _attached(modules, world))),
                    *early]
    roots: list[tuple[str, object]] = [("__main__", request.startup.main)]
    roots += [(name, mod) for name, mod in modules.items() if name != "__main__"]
    roots += [("<replay>", args) for _func, args in registration + late]
    if request.startup.stack is not None:  # (what the frames hold, named by frame and variable)
        roots += request.startup.stack.roots
    roots += [("<amber manifest>", manifest)]
    return HeapRoots(roots, manifest, registration, late, by_value)


def _attached(modules: dict, world: World) -> tuple:
    """The modules captured by value that are, at the snapshot point, the attribute of their
    package of their own name, where the package is imported again (the import left it so)."""
    out = []
    for name, mod in modules.items():
        parent, _, child = name.rpartition(".")
        package = modules.get(parent) if parent else None
        if package is not None and name not in world.by_ref and parent in world.by_ref and \
                getattr(package, "__dict__", {}).get(child) is mod:
            out.append(name)
    return tuple(out)


def plan_heap(request: SnapshotRequest, reducers: Reducers, roots: HeapRoots) -> HeapPlan:
    scanner = SecretScanner(set(request.options.allowed_secrets))
    plan = Planner(reducers, scanner).run(roots.roots)
    secret_lines = _secret_report(plan, request.startup.environ_changes, scanner, request.startup.modules)
    if plan.offenders or secret_lines:
        raise CaptureError(_offender_report(plan, secret_lines))
    return plan


def _note_dropped_tracebacks(request: SnapshotRequest, plan: HeapPlan, reducers: Reducers) -> None:
    """One note for the exceptions the image holds without their traceback (its frames are not
    captured): ``traceback.print_exception`` of one after restore prints no frame."""
    dropped = reducers.instances.tracebacks_dropped
    if dropped and not request.quiet:
        first = ", ".join(plan.path_to(oid) for oid in dropped[:3])
        more = f" and {len(dropped) - 3} more" if len(dropped) > 3 else ""
        note(f"{len(dropped)} exception(s) are restored without their traceback (frames of finished "
             f"calls are not captured): {first}{more}")
    copies = reducers.set_iterators
    if copies and not request.quiet:
        first = ", ".join(plan.path_to(oid) for oid in copies[:3])
        more = f" and {len(copies) - 3} more" if len(copies) > 3 else ""
        note(f"{len(copies)} set iterator(s) are restored over a copy of what they had left (they do not "
             f"see the set change after the restore): {first}{more}")


def check_randomness(request: SnapshotRequest, plan: HeapPlan, reducers: Reducers, world: World) -> None:
    if request.checkpoint:
        return
    repeats = [f"{plan.path_to(oid)} is {kind}: every restored process repeats its numbers"
               for oid, kind in reducers.instances.generators]
    if request.startup.recorders.entropy is not None:
        repeats += request.startup.recorders.entropy.warnings(world.is_by_ref_module)
    if not repeats:
        return
    hint = ("reseed it in an amber.after_restore hook, or amber.keep_state(obj) if it is seeded on "
            "purpose; draw random bytes after the snapshot point")
    # amber run stands for a cold run, where nothing repeats: such an image is never made.
    if request.options.strict or request.options.for_run:
        why = "--strict" if request.options.strict else "amber run builds no such image"
        raise CaptureError("\n".join([f"{len(repeats)} source(s) of randomness would repeat in every "
                                      f"restored process ({why}); no image was written:",
                                      *(f"  {w}" for w in repeats), f"      hint: {hint}"]))
    for w in repeats:
        warn(w)
    hint_line(hint)


def compile_heap(plan: HeapPlan, world: World, roots: HeapRoots, lazy_code: bool) -> CompiledHeap:
    try:
        return HeapCompiler(plan, world.names, lazy_code).compile(roots.manifest, roots.registration,
                                                                  roots.late)
    except Unplannable as e:
        if os.environ.get("AMBER_DEBUG"):
            raise
        where = plan.path_to(ident(e.obj)) if ident(e.obj) in plan.nodes else "?"
        raise CaptureError(f"cannot capture {where} -> {type_name(e.obj)}: {e.why or 'no recipe'}") from None


def write_image_file(request: SnapshotRequest, world: World, roots: HeapRoots, plan: HeapPlan,
                     heap: CompiledHeap, reducers: Reducers, started: float, live=None) -> None:
    modules = request.startup.modules
    env = request.startup.environ_changes
    by_value = roots.by_value
    program = heap.program
    stats = HeapStats(plan)
    stats_blob = records.STATS_SCHEMA.encode(
        objects=stats.count,
        by_type=stats.by_type,
        largest=stats.largest,
        by_module=stats.by_module,
        modules_by_value=[name for name, _ in by_value],
        modules_by_ref={name: str(world.by_ref[name]) for name in modules if name in world.by_ref},
        startup_seconds=request.startup.startup_seconds,
        capture_seconds=time.perf_counter() - started,
        environ_changed=sorted(k.decode("utf-8", "replace") for k in env),
        replayed=world.notes,
        hash_memos_kept=sorted(reducers.hash_memos.unresettable),
    )
    extensions = []
    for name, mod in modules.items():
        if is_extension(mod):
            file = getattr(mod, "__file__", None)
            st = None
            if file:
                try:
                    st = os.stat(file)
                except OSError:
                    st = None
            extensions.append((name, file or "", st.st_size if st else 0, st.st_mtime_ns if st else 0))
    header = {
        "amber": amber.__version__,
        "created": time.time(),
        "python": fmt.interpreter_identity(),
        "extensions": extensions,
        "snapshot_point": request.startup.point,
    }
    imports = world.import_order()
    prefix = [sys.prefix, sys.exec_prefix, getattr(sys, "_home", None) or ""]
    prelude = fmt.PRELUDE_SCHEMA.encode(environ=env, path=list(sys.path), prefix=prefix, imports=imports,
                                        distributions=distributions.of_modules(imports))
    # Each section is aligned as records.SECTIONS declares.
    sections: list = [(fmt.PRELUDE, prelude), (fmt.HEAP, program), (fmt.STATS, stats_blob)]
    if request.inputs is not None and request.run_info is not None:  # amber run's images
        sections.append((fmt.INPUTS, fmt.INPUTS_SCHEMA.encode(**request.inputs)))
        header["run"] = records.RUN_SCHEMA.build(**request.run_info)
    if heap.lazy_blobs:
        table, pos = [], 0
        for blob in heap.lazy_blobs:
            table.append((pos, len(blob), fmt.digest(blob)))
            pos += len(blob)
        header[fmt.LAZY_CODE] = table
        sections.append((fmt.LAZY_CODE, b"".join(heap.lazy_blobs)))
    if heap.buffers:
        views = [memoryview(data).cast("B") for data, _readonly in heap.buffers]
        offsets, length = writer.lay_out_buffers([v.nbytes for v in views])
        header[fmt.BUFFERS] = [(off, v.nbytes, bool(ro)) for off, v, (_, ro)
                               in zip(offsets, views, heap.buffers, strict=True)]
        mapped = writer.Pieces(length, list(zip(offsets, views, strict=True)))
        sections.append((fmt.BUFFERS, mapped))
    from amber.image import signing

    scheme, kid, sign, where, created = signing.signer()
    if created:
        note(f"created a signing key in {where} (mode 0600): images made here restore where this key is "
             f"(for other machines: amber keygen, then amber trust there)")
    header["key_id"] = f"{'ed25519' if scheme == signing.ED25519 else 'hmac'}:{kid.hex()}"
    check = None
    if live is not None:
        from amber.verify.check import check_image

        def check(written: str) -> None:
            check_image(written, live, request.startup.options.args)

    # amber snapshot's images are programs (./app.amber ARGS); amber run's are restored by amber run.
    launch = None if request.options.for_run else writer.launch_line(sys.executable, BOOT)
    writer.write_image(request.path, header, sections, (scheme, kid, sign), before_publish=check,
                       launch=launch or b"")


def _registrations_on_reimported_abcs(modules, world, done: set, at_snapshot: dict) -> list:
    """``ABC.register(cls)`` calls the program made on ABCs of modules imported again (outside
    the base set, whose registries the Baseline follows): ``numbers.Real.register(Float)``.
    Importing the ABC's module again registers only what imports do; the classes captured by
    value were registered by the program, so they are registered again after the heap. The
    registries are read as they were at the snapshot point (``at_snapshot``): what Amber's
    capture side registered since by importing for itself is not the program's."""
    out = []
    for name, mod in modules.items():
        if name not in world.by_ref:
            continue
        for value in list(getattr(mod, "__dict__", {}).values()):
            is_abc = issubclass(type(value), type) and "_abc_impl" in class_dict(value)
            if not is_abc or ident(value) in done:
                continue
            if world.global_name(value) is None:  # captured by value: its registry goes with it
                continue
            done.add(ident(value))
            registered = at_snapshot.get(ident(value), (value, ()))[1]
            added = tuple(c for c in registered if not world.is_by_ref_module(c.__module__))
            if added:
                out.append((reconstructor(rebuild.register_abc), (value, added)))
    return out


def _failed_report(failed: dict) -> str:
    lines = [f"{len(failed)} module(s) held by reference cannot be imported again in a fresh "
             f"interpreter, so a restore could not either; no image was written:"]
    for name, why in failed.items():
        lines.append(f"  {name}: {why}")
    lines.append("      hint: import it in a way that works under `python -I` with the same sys.path "
                 "and environment, or stop importing it before the snapshot point")
    return "\n".join(lines)


def _secret_report(plan: HeapPlan, env: dict, scanner: SecretScanner, modules: dict) -> list:
    """One line for each secret the image would hold: the planner's hits in str and bytes
    values, then buffers and values kept under secret-looking names (the plan's recipes), then
    variables set in ``os.environ`` during start-up. A guess (a name, a shape) about a constant
    or whole lines of a published file is dropped (:mod:`~amber.capture.policy.public_text`)."""
    lines: list = []
    hit: set = set()
    public = PublicText(plan, modules)
    nodes = plan.nodes

    def address(n: int) -> bool:
        return ident_of_address(n) in nodes

    held: list = []  # (holder, value, reason): what the image would hold
    guesses: list = []  # the indexes in held of the guesses (no literal check would refuse them)
    for holder, value, reason, literal in plan.secret_hits:
        if not literal:  # judged again, now that the whole heap is known
            why = scanner.check(value, False, address)
            if why is not None and public.holds(holder, value):
                why = scanner.check(value, True)
            if why is None:
                continue
            if scanner.check(value, True) is None:
                guesses.append(len(held))
            reason = why
        held.append((holder, value, reason))
    # A guess about whole lines of a published file (a copy of its source text) is dropped too;
    # the files are read once for all of them.
    source_lines = public.lines_of([held[i][1] for i in guesses])
    dropped = {guesses[k] for k in source_lines}
    for i, (holder, value, reason) in enumerate(held):
        if i not in dropped:
            hit.add(ident(value))
            lines.append(f"  {plan.path_to_value(holder, value)} -> {type(value).__name__}: {reason}")
    _recipe_hits(plan, scanner, hit, lines, public)
    for name, value in env.items():
        if value is None:
            continue
        text = name.decode("utf-8", "replace")
        found = scanner.check(value) or scanner.check_named(text, value.decode("utf-8", "surrogateescape"))
        if found is not None:
            lines.append(f"  os.environ[{text!r}] (set during start-up): {found}")
    if lines:
        lines.append("      hint: read secrets with amber.secret(NAME) and derive values from them after "
                     "restore (an amber.after_restore hook), or make an object holding one with "
                     "amber.transient(obj, factory); --allow-secret NAME if it is no secret")
    return lines


def _recipe_hits(plan: HeapPlan, scanner: SecretScanner, hit: set, lines: list, public: PublicText) -> None:
    """Lines for the buffers and the values kept under names that the plan's recipes write."""
    named = _named_value_check(scanner, hit, public)
    for oid, recipe in plan.recipes.items():
        make: Any = recipe.make
        kind: type = type(make)
        if kind in _BUFFER_MAKES:
            obj = plan.nodes[oid]
            why = scanner.check_buffer(obj)
            if why is not None:
                owner = plan.parent.get(oid) if isinstance(obj, PickleBuffer) else None
                if owner is None:  # an array's buffer is reported as the array
                    owner = oid
                lines.append(f"  {plan.path_to(owner)} -> {type_name(plan.nodes[owner])}: {why}")
        elif kind is R.Call:
            for arg in make.args:
                if type(arg) is R.Inline and type(arg.value) is dict:
                    named(plan, oid, arg.value.items(), lines)
        fills: Any = recipe.fills
        for fill in fills:
            kind = type(fill)
            if kind in _KEYED_FILLS:
                named(plan, oid, fill.pairs, lines)
            elif kind is R.Build or kind is R.InstanceState:
                if fill.attrs:
                    named(plan, oid, fill.attrs, lines)
                if fill.slots:
                    named(plan, oid, fill.slots, lines)


_BUFFER_MAKES = (R.BytesOf, R.BytearrayOf, R.MappedBuffer)
_KEYED_FILLS = frozenset({R.SetItems, R.ReduceSetItems, R.BaseUpdate, R.ClassState})


def _named_value_check(scanner: SecretScanner, hit: set, public: PublicText):
    """The check of what a recipe keeps under names (dict items, attributes and slots, class
    namespaces): a line for each value kept under a secret's name that could be a secret, unless
    it is a constant of a published file. Names already judged plain are set aside in C (a heap
    holds millions of pairs, few names)."""
    from operator import itemgetter

    from amber.capture.policy.secret_shapes import SECRET_WORD, secret_name

    first = itemgetter(0)
    text = (str, bytes)
    plain: set = set()
    hint = SECRET_WORD.search

    def named(plan: HeapPlan, oid: int, pairs, lines: list) -> None:
        try:
            unknown = set(map(first, pairs))
        except TypeError:
            return
        unknown -= plain
        for name in unknown:
            if type(name) is not str or not hint(name) or not secret_name(name):
                plain.add(name)
                continue
            for key, value in pairs:
                if key != name or type(value) not in text or ident(value) in hit:
                    continue
                why = scanner.check_named(name, value)
                if why is not None and not public.holds(oid, value):
                    hit.add(ident(value))
                    lines.append(f"  {plan.path_to_value(oid, value)} -> {type(value).__name__}: {why}")

    return named


def _offender_report(plan: HeapPlan, secret_lines: list) -> str:
    count = len(plan.offenders) + max(len(secret_lines) - 1, 0)
    lines = [f"cannot capture {count} object(s); no image was written:", *secret_lines]
    for oid, off in list(plan.offenders.items())[:50]:
        obj = plan.nodes[oid]
        lines.append(f"  {plan.path_to(oid)} -> {type_name(obj)}: {off.reason}")
        lines.append(f"      hint: {off.hint}")
    if len(plan.offenders) > 50:
        lines.append(f"  ... and {len(plan.offenders) - 50} more")
    return "\n".join(lines)
