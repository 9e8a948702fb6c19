"""Turn the state at the snapshot point into an image file (plan, compile, write)."""

from __future__ import annotations

import marshal
import sys
import time

import amber
from amber import lifecycle
from amber._compat import ident
from amber.capture.compile.compiler import _Unplannable
from amber.capture.compile.planner import Heap, Planner, stats, type_name
from amber.capture.policy.secret_scan import SecretScanner
from amber.capture.recorders.baseline import abc_registry
from amber.capture.reduce.recipes import REBUILD, _global
from amber.capture.reduce.reducers import Reducers
from amber.capture.world.rules import World, is_extension
from amber.errors import CaptureError
from amber.image import format as fmt


def write_snapshot(path, modules, main, rest_code, baseline, imports, replay, env, registrations, reimport,
                   point, startup_seconds, inputs=None, run_info=None, quiet=False,
                   allowed_secrets=(), entropy=None, strict=False, lazy_code=False) -> None:
    started = time.perf_counter()
    world = World(modules, baseline.names,
                  {name: ids for name, (_mod, ids, _copies) in baseline.modules.items()},
                  set(reimport) | set(amber._state["reimport"]), imports, _probe)
    if world.failed:
        raise CaptureError(_failed_report(world.failed))
    if world.notes and not quiet:
        print(f"amber: note: the program changed state of {len(world.notes)} module(s) that are imported "
              f"again at restore; Amber sets it again after the import (amber inspect lists it)",
              file=sys.stderr)
    module_dicts: dict = {}
    reducers = Reducers(world, module_dicts)
    reducers.always_doc = lazy_code  # a stub's constants do not carry the docstring
    planner = Planner(reducers)
    planner.lazy_code = lazy_code

    by_value = [(name, mod) for name, mod in modules.items() if name not in world.by_ref]
    early, late = replay
    # A class of a module imported again is registered on its ABCs again by that import.
    late = [(fn, (abc_cls, tuple(c for c in added if not world.is_by_ref_module(c.__module__))))
            for fn, (abc_cls, added) in late]
    late = [(fn, args) for fn, args in late if args[1]]
    late += _registrations_on_reimported_abcs(modules, world, {ident(args[0]) for _fn, args in late})
    early = early + [(_global("builtins", "setattr") if fn == "setattr" else _global(REBUILD, fn), args)
                     for fn, args in world.replay_steps()]
    manifest = {
        "main": main,
        "rest": rest_code,
        "order": tuple(modules),
        "registrations": registrations.kept(world.is_by_ref_module),
        "lifecycle": lifecycle.registered(),
        "by_ref": tuple(name for name in modules if name in world.by_ref),
        "argv0": point["argv0"],
    }
    roots = [("__main__", main)]
    roots += [(name, mod) for name, mod in modules.items() if name != "__main__"]
    registration = [(_global(REBUILD, "register_modules"), (tuple(by_value),))]
    roots += [("<replay>", args) for _func, args in registration + early + late]
    roots += [("<amber manifest>", manifest)]
    planner.scanner = SecretScanner(set(allowed_secrets))
    planner.walk(roots)
    secret_lines = _secret_report(planner, env, planner.scanner)
    if planner.offenders or secret_lines:
        raise CaptureError(_offender_report(planner, secret_lines))
    repeats = [f"{planner.path_to(oid)} is {kind}: every restored process repeats its numbers"
               for oid, kind in reducers.generators]
    repeats += entropy.warnings(world.is_by_ref_module) if entropy is not None else []
    if repeats:
        hint = ("reseed it in an amber.after_restore hook, or amber.keep_state(obj) if it is seeded on "
                "purpose; draw random bytes after the snapshot point")
        if strict:
            raise CaptureError("\n".join([f"{len(repeats)} source(s) of randomness would repeat in every "
                                          f"restored process (--strict); no image was written:",
                                          *(f"  {w}" for w in repeats), f"      hint: {hint}"]))
        for w in repeats:
            print(f"amber: warning: {w}", file=sys.stderr)
        print(f"amber: hint: {hint}", file=sys.stderr)
    planner.classify()
    try:
        program = planner.compile(manifest, registration, early)
    except _Unplannable as e:
        import os
        if os.environ.get("AMBER_DEBUG"):
            raise
        where = planner.path_to(ident(e.obj)) if ident(e.obj) in planner.nodes else "?"
        raise CaptureError(f"cannot capture {where} -> {type_name(e.obj)}: {e.why or 'no recipe'}") from None
    # Late replay steps (ABC registrations) need the complete heap: append them before STOP.
    if late:
        program = _append_late(planner, program, late)

    heap = Heap()
    stats(planner, heap)
    by_module = _by_module(planner, modules, world)
    stats_blob = marshal.dumps({
        "objects": heap.count,
        "by_type": {k: tuple(v) for k, v in heap.by_type.items()},
        "largest": heap.largest,
        "by_module": by_module,
        "modules_by_value": [name for name, _ in by_value],
        "modules_by_ref": {name: world.by_ref[name] for name in modules if name in world.by_ref},
        "startup_seconds": startup_seconds,
        "capture_seconds": time.perf_counter() - started,
        "environ_changed": sorted(k.decode("utf-8", "replace") for k in env),
        "replayed": world.notes,
        "hash_memos_kept": sorted(reducers.hash_memos.unresettable),
    })
    extensions = []
    for name, mod in modules.items():
        if is_extension(mod):
            file = getattr(mod, "__file__", None)
            st = None
            if file:
                try:
                    import os

                    st = os.stat(file)
                except OSError:
                    st = None
            extensions.append((name, file or "", st.st_size if st else 0, st.st_mtime_ns if st else 0))
    header = {
        "amber": amber.__version__,
        "created": time.time(),
        "python": fmt.interpreter_identity(),
        "extensions": extensions,
        "snapshot_point": point,
    }
    prelude = marshal.dumps({"environ": env, "path": list(sys.path), "imports": world.import_order()})
    sections = [("prelude", prelude, 8), ("heap", program, 8), ("stats", stats_blob, 8)]
    if inputs is not None:
        sections.append(("inputs", marshal.dumps(inputs), 8))
        header["run"] = run_info
    if planner.lazy_blobs:
        table, pos = [], 0
        for blob in planner.lazy_blobs:
            table.append((pos, len(blob), fmt.digest(blob)))
            pos += len(blob)
        header[fmt.LAZY_CODE] = table
        sections.append((fmt.LAZY_CODE, b"".join(planner.lazy_blobs), fmt.PAGE_SIZE))
    if planner.buffers:
        views = [memoryview(data).cast("B") for data, _readonly in planner.buffers]
        offsets, length = fmt.lay_out_buffers([v.nbytes for v in views])
        header["buffers"] = [(off, v.nbytes, bool(ro)) for off, v, (_, ro)
                             in zip(offsets, views, planner.buffers, strict=True)]
        mapped = fmt.Pieces(length, list(zip(offsets, views, strict=True)))
        sections.append((fmt.MAPPED, mapped, fmt.PAGE_SIZE))
    from amber.image import signing

    scheme, kid, sign, where, created = signing.signer()
    if created:
        print(f"amber: note: created a signing key in {where} (mode 0600): images made here restore where "
              f"this key is (for other machines: amber keygen, then amber trust there)", file=sys.stderr)
    header["key_id"] = f"{'ed25519' if scheme == signing.ED25519 else 'hmac'}:{kid.hex()}"
    fmt.write_image(path, header, sections, (scheme, kid, sign))


def _registrations_on_reimported_abcs(modules, world, done: set) -> list:
    """``ABC.register(cls)`` calls the program made on ABCs of modules imported again (outside
    the base set, whose registries the Baseline follows): ``numbers.Real.register(Float)``.
    Importing the ABC's module again registers only what imports do; the classes captured by
    value were registered by the program, so they are registered again after the heap."""
    out = []
    for name, mod in modules.items():
        if name not in world.by_ref:
            continue
        for value in list(getattr(mod, "__dict__", {}).values()):
            if not (isinstance(value, type) and "_abc_impl" in value.__dict__) or ident(value) in done:
                continue
            if value.__module__ != name:  # an ABC imported from elsewhere: done where it is defined
                continue
            done.add(ident(value))
            added = tuple(c for c in abc_registry(value) if not world.is_by_ref_module(c.__module__))
            if added:
                out.append((_global(REBUILD, "register_abc"), (value, added)))
    return out


def _probe(seeds: list) -> dict:
    from amber._files import BOOT as boot
    from amber.capture.world.probe import probe_fresh_imports

    try:
        return probe_fresh_imports(seeds, sys.path, boot)
    except RuntimeError as e:
        raise CaptureError(str(e)) from None


def _failed_report(failed: dict) -> str:
    lines = [f"{len(failed)} module(s) held by reference cannot be imported again in a fresh "
             f"interpreter, so a restore could not either; no image was written:"]
    for name, why in failed.items():
        lines.append(f"  {name}: {why}")
    lines.append("      hint: import it in a way that works under `python -I` with the same sys.path "
                 "and environment, or stop importing it before the snapshot point")
    return "\n".join(lines)


def _append_late(planner, program: bytes, late) -> bytes:
    # The program ends with the manifest push and STOP; re-emit those after the late steps.
    asm = planner.asm
    del asm.out[-1:]  # STOP
    asm.pop()  # the manifest pushed before STOP
    for func, args in late:
        planner.emit_call(func, args)
    planner.ref(planner.nodes[next(iter(k for k, v in planner.root_label.items()
                                        if v == "<amber manifest>"))])
    asm.stop()
    return bytes(asm.out)


def _by_module(planner, modules, world) -> dict:
    """Objects and bytes attributed to the module through which the walk first reached them."""
    owner: dict[int, str] = {}
    for oid, label in planner.root_label.items():
        owner[oid] = label
    counts: dict[str, list] = {}
    for oid, obj in planner.nodes.items():
        root = owner.get(oid)
        if root is None:
            parent = planner.parent.get(oid)
            root = owner.get(parent, "?") if parent is not None else "?"
            owner[oid] = root
        entry = counts.setdefault(root, [0, 0])
        entry[0] += 1
        try:
            entry[1] += sys.getsizeof(obj)
        except Exception:
            pass
    return {k: tuple(v) for k, v in counts.items()}


def _secret_report(planner, env: dict, scanner) -> list:
    lines = []
    for holder, value, why in planner.secret_hits:
        lines.append(f"  {planner.path_to_value(holder, value)} -> {type(value).__name__}: {why}")
    for name, value in env.items():
        why = scanner.check(value) if value is not None else None
        if why is not None:
            lines.append(f"  os.environ[{name.decode('utf-8', 'replace')!r}] (set during start-up): {why}")
    if lines:
        lines.append("      hint: read secrets with amber.secret(NAME) and derive values from them after "
                     "restore (an amber.after_restore hook); --allow-secret NAME if it is no secret")
    return lines


def _offender_report(planner, secret_lines=()) -> str:
    count = len(planner.offenders) + max(len(secret_lines) - 1, 0)
    lines = [f"cannot capture {count} object(s); no image was written:", *secret_lines]
    for oid, off in list(planner.offenders.items())[:50]:
        obj = planner.nodes[oid]
        lines.append(f"  {planner.path_to(oid)} -> {type_name(obj)}: {off.reason}")
        lines.append(f"      hint: {off.hint}")
    if len(planner.offenders) > 50:
        lines.append(f"  ... and {len(planner.offenders) - 50} more")
    return "\n".join(lines)
