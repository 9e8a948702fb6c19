"""The cache's keys: which entry a run belongs to (program key), which image of it (args key),
and the secret key of the environment-variable digests.

The **program key** covers the script's absolute path (or the module name and the working
directory), the interpreter (version and build, executable, bytecode magic, platform), Amber's
version, the ``PYTHON*`` variables that change what start-up imports, and the options that change
how the image is built (``--reimport``, ``--allow-secret``, ``--strict``). The **args key** covers
the command-line arguments, all of them unless the program said that start-up reads only the
first N (``amber.startup_args(N)``, kept in the program record, :mod:`amber.runcache.layout`).
The **secret key** (``<cache>/key``, made by the first build) keys the digests of environment
variables, so an image records no value a reader could guess by hashing candidates.

On the restore path: imports only the base set.
"""

import marshal
import posix
from _blake2 import blake2b

import amber
from amber._files import write_atomically
from amber.runcache.layout import key_path

_STARTUP_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
                      "PYTHONPLATLIBDIR")
SECRET_KEY_SIZE = 32


def _digest(value) -> str:
    return blake2b(marshal.dumps(value), digest_size=16).hexdigest()


def program_key(target: str, is_module: bool, cwd: str, build_flags: tuple = ()) -> str:
    from amber.image.format import interpreter_identity

    ident = interpreter_identity()
    env = posix.environ
    startup_env = tuple((name, env.get(name.encode(), b"")) for name in _STARTUP_VARIABLES)
    return _digest((amber.__version__, tuple(sorted((k, v) for k, v in ident.items())),
                    is_module, target, cwd if is_module else "", startup_env, build_flags))


def args_key(args: list, key_args: int | None) -> str:
    return _digest(tuple(args if key_args is None else args[:key_args]))


def secret_key(root: str, create: bool = False) -> bytes | None:
    """The key of the variable digests; made (mode 0600) only by a build."""
    path = key_path(root)
    try:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) == SECRET_KEY_SIZE:
            return key
    except OSError:
        pass
    if not create:
        return None
    key = posix.urandom(SECRET_KEY_SIZE)
    write_atomically(path, key)
    return key
