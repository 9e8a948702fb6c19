"""``amber run``'s cache: where an image lives, and whether it is still fresh.

This module is on the restore path (``amber run`` decides and restores in one isolated
interpreter), so it imports only the base set.

Layout of the cache directory (``$AMBER_CACHE``, else the platform's user cache directory)::

    <cache>/key                     32 random bytes (mode 0600): keys the digests of variables
    <cache>/<program key>/program   marshal: {"target", "key_args"} for ``amber cache list``
    <cache>/<program key>/<args key>.amber   an image
    <cache>/<program key>/build.lock         held while an image is written

The **program key** covers the script's absolute path (or the module name and the working
directory), the interpreter (version and build, executable, bytecode magic, platform), Amber's
version, the ``PYTHON*`` variables that change what start-up imports, and the options that change
how the image is built (``--reimport``, ``--allow-secret``, ``--strict``). The **args key** covers
the command-line arguments, all of them unless the program said that start-up reads only the
first N (``amber.startup_args(N)``, remembered in ``program``).

An image is **fresh** when every input it recorded (:mod:`amber.capture.recorders.inputs`) is unchanged:
one ``stat`` per file and one keyed hash per environment variable.
"""

import marshal
import posix
import sys
from _blake2 import blake2b

import amber
from amber._files import write_atomically

_STARTUP_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
                      "PYTHONPLATLIBDIR")


def _join(*parts: str) -> str:
    return "/".join(p.rstrip("/") for p in parts[:-1]) + "/" + parts[-1] if len(parts) > 1 else parts[0]


def cache_root() -> str:
    env = posix.environ
    explicit = env.get(b"AMBER_CACHE")
    if explicit:
        return explicit.decode()
    if sys.platform == "win32":  # pragma: no cover
        base = env.get(b"LOCALAPPDATA", b"").decode() or "."
        return _join(base, "amber", "Cache")
    home = env.get(b"HOME", b"").decode() or "/tmp"
    if sys.platform == "darwin":  # pragma: no cover
        return _join(home, "Library", "Caches", "amber")
    xdg = env.get(b"XDG_CACHE_HOME", b"").decode()
    return _join(xdg or _join(home, ".cache"), "amber")


def _digest(value) -> str:
    return blake2b(marshal.dumps(value), digest_size=16).hexdigest()


def program_key(target: str, is_module: bool, cwd: str, build_flags: tuple = ()) -> str:
    from amber.image.format import interpreter_identity

    ident = interpreter_identity()
    env = posix.environ
    startup_env = tuple((name, env.get(name.encode(), b"")) for name in _STARTUP_VARIABLES)
    return _digest((amber.__version__, tuple(sorted((k, v) for k, v in ident.items())),
                    is_module, target, cwd if is_module else "", startup_env, build_flags))


def args_key(args: list, key_args) -> str:
    return _digest(tuple(args if key_args is None else args[:key_args]))


def read_program(entry_dir: str) -> dict:
    try:
        with open(_join(entry_dir, "program"), "rb") as f:
            info = marshal.loads(f.read())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError, EOFError, TypeError):
        return {}


def secret_key(root: str, create: bool = False) -> bytes | None:
    """The key of the variable digests; made (mode 0600) only by a build."""
    path = _join(root, "key")
    try:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) == 32:
            return key
    except OSError:
        pass
    if not create:
        return None
    key = posix.urandom(32)
    write_atomically(path, key)
    return key


def env_digest(key: bytes, name: str) -> bytes:
    value = posix.environ.get(name.encode("utf-8", "surrogateescape"))
    data = b"\0absent" if value is None else b"=" + value
    return blake2b(name.encode("utf-8", "surrogateescape") + data, key=key, digest_size=16).digest()


def names_digest(key: bytes) -> bytes:
    return blake2b(b"\0".join(sorted(posix.environ)), key=key, digest_size=16).digest()


def stale_reason(inputs: dict, key: bytes | None) -> str | None:
    """Why an image's recorded inputs no longer hold, or None if they all do."""
    for path, size, mtime in inputs["files"]:
        try:
            st = posix.stat(path)
        except OSError:
            if size != -1:
                return f"{path} is gone"
            continue
        if size == -1:
            return f"{path} appeared"
        if st.st_size != size or st.st_mtime_ns != mtime:
            return f"{path} changed"
    if inputs["env"] or inputs["env_names"] is not None:
        if key is None:
            return "the cache key is gone"
        for name, digest in inputs["env"]:
            if env_digest(key, name) != digest:
                return f"environment variable {name} changed"
        if inputs["env_names"] is not None and names_digest(key) != inputs["env_names"]:
            return "the set of environment variables changed (the program iterated the environment)"
    return None
