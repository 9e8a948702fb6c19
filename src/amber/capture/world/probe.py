"""Ask a fresh interpreter what importing the by-reference modules again will do.

Modules held by reference are imported again at restore, and whatever that import pulls in is
imported again too: it must not also be captured by value, or the restored process would hold
two copies of it. Rather than guess, Amber asks: a child interpreter started exactly as a
restore starts (``python -I -S`` with Amber's restore path loaded, the snapshot's ``sys.path``
and environment) imports each seed in turn and reports

* ``loaded``: for each seed, the modules that importing it added to ``sys.modules``;
* ``failed``: seeds whose import raised (they could not be restored either);
* ``fingerprints``: a summary of every loaded module's namespace as a fresh import leaves it,
  so the snapshotting side can tell which state the program changed after import (that state
  would be lost when the module is imported again; see :mod:`amber.capture.world.rules`).

The child side (:func:`child_main`) imports only the base set before the seeds, so that it
observes exactly what a restore would.
"""

import marshal
import sys

_ATOM_TYPES = (type(None), bool, int, float, complex, str, bytes)
_CONTAINERS = (list, tuple, dict, set, frozenset)


def fingerprint(value, depth: int = 3):
    """A marshal-able summary of ``value`` that is equal in two processes when the value is.

    Atoms compare by value, named objects (modules, classes, functions) by name, containers by
    their contents down to ``depth``; anything else only by type (Amber cannot compare it).
    """
    from _blake2 import blake2b

    cls = type(value)
    if cls in _ATOM_TYPES:
        text = repr(value) if cls is not str else value
        return ("a", cls.__name__, blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest())
    if cls is type(sys):
        return ("m", str(getattr(value, "__name__", "")))
    if cls in _CONTAINERS:
        if depth <= 0 or len(value) > 256:
            return ("c", cls.__name__, len(value))
        if cls is dict:
            items = [(fingerprint(k, 0), fingerprint(v, depth - 1)) for k, v in value.items()]
        elif cls in (set, frozenset):
            items = sorted(fingerprint(v, depth - 1) for v in value)
        else:
            items = [fingerprint(v, depth - 1) for v in value]
        return ("c", cls.__name__, tuple(items))
    qualname = getattr(value, "__qualname__", None) if isinstance(value, type) or callable(value) else None
    if isinstance(qualname, str):
        return ("n", str(getattr(value, "__module__", "")), qualname)
    return ("o", f"{cls.__module__}.{cls.__qualname__}")


def namespace_fingerprint(module) -> dict:
    try:
        items = list(vars(module).items())
    except TypeError:
        return {}
    out = {}
    for attr, value in items:
        if attr.startswith("__") and attr.endswith("__"):
            continue
        try:
            out[attr] = fingerprint(value)
        except Exception:  # a value whose repr or len raises: compare its type only
            out[attr] = ("o", type(value).__qualname__)
    return out


def child_main() -> None:
    """In the child: read the request from stdin, import the seeds, write the answer to stdout."""
    request = marshal.loads(sys.stdin.buffer.read())
    sys.path[:] = request["path"]
    loaded: dict = {}
    failed: dict = {}
    for seed in request["seeds"]:
        before = set(sys.modules)
        try:
            __import__(seed)
        except BaseException as e:  # noqa: BLE001 - any failure is reported, not raised
            failed[seed] = f"{type(e).__name__}: {e}"
        loaded[seed] = [name for name in sys.modules if name not in before]
    fingerprints = {}
    for names in loaded.values():
        for name in names:
            mod = sys.modules.get(name)
            if mod is not None:
                fingerprints[name] = namespace_fingerprint(mod)
    # Not stdout: the seeds may print while they import.
    with open(request["answer"], "wb") as f:
        f.write(marshal.dumps({"loaded": loaded, "failed": failed, "fingerprints": fingerprints}))


def probe_fresh_imports(seeds: list, path: list, boot: str) -> dict:
    """Run the child and return its answer; raise RuntimeError if it could not run.

    The child inherits this process's environment as the program left it, as a restore will.
    """
    import os
    import shutil
    import subprocess

    # Not tempfile: its names come from a generator it keeps, and TemporaryDirectory's finalizer
    # registers with atexit: state of the program's modules, which the capture must not change.
    tmp = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"amber-probe-{os.getpid()}-{os.urandom(8).hex()}")
    os.mkdir(tmp, 0o700)
    try:
        answer = os.path.join(tmp, "answer")
        request = marshal.dumps({"seeds": list(seeds), "path": list(path), "answer": answer})
        proc = subprocess.run([sys.executable, "-I", "-S", boot, "probe"], input=request,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
        if proc.returncode != 0 or not os.path.exists(answer):
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"the fresh-import probe failed: {tail[0]}")
        with open(answer, "rb") as f:
            return marshal.loads(f.read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
