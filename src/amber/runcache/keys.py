"""The cache's keys and keyed records: which entry a run belongs to (program key), which image
of it (args key), the secret key, and the records sealed with it.

The **program key** covers the script's absolute path (or the module name and the working
directory), the interpreter (version and build, executable, bytecode magic, platform), Amber's
version, the ``PYTHON*`` variables that change what start-up imports, and the options that change
how the image is built (``--reimport``, ``--allow-secret``, ``--strict``). The **args key** covers
the command-line arguments, all of them unless the program said that start-up reads only the
first N (``amber.startup_args(N)``, kept in the program record), and which of the standard
streams are terminals. Both are BLAKE2b digests of a
canonical encoding (:func:`canonical`): the same values give the same key in every interpreter
(``marshal`` does not promise that: its bytes depend on interning and reference counts).

The **secret key** (``<cache>/key``, 32 random bytes, mode 0600, created once, atomically, by the
first build) keys the digests of environment variables, so an image records no value a reader
could guess by hashing candidates, and seals the cache's own records (the program record, the
no-image markers): a **keyed record** is ``RECORD_MAGIC``, a 32-byte keyed BLAKE2b of the rest,
then the record's ``marshal`` bytes, which are decoded only once the digest matched, then checked
for their shape. A damaged or hand-edited record reads as absent.

On the restore path: imports only the base set.
"""

import marshal
import posix
from _blake2 import blake2b

import amber
from amber._files import create_once, read_regular, write_atomically
from amber.runcache.layout import failed_marker, key_path, program_record_path

_STARTUP_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONNOUSERSITE", "PYTHONUSERBASE",
                      "PYTHONPLATLIBDIR")
SECRET_KEY_SIZE = 32
PROGRAM_KIND = b"program"  # the kinds of keyed record (each keys its own MACs)
NO_IMAGE_KIND = b"no-image"
RECORD_MAGIC = b"amber-record-1\n"
_MAC_SIZE = 32


def canonical(value: object) -> bytes:
    """One byte string per value, the same in every interpreter: None, bools, ints, str, bytes,
    tuples and lists of them, and dicts (their items sorted by the key's encoding)."""
    out: list[bytes] = []
    _encode(value, out)
    return b"".join(out)


def _encode(value: object, out: list) -> None:
    if value is None or value is True or value is False:
        out.append(b"N" if value is None else b"T" if value else b"F")
    elif type(value) is int:
        out.append(b"i%d;" % value)
    elif type(value) is str:
        data = value.encode("utf-8", "surrogatepass")
        out.append(b"s%d:" % len(data) + data)
    elif type(value) is bytes:
        out.append(b"b%d:" % len(value) + value)
    elif isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        out.append(b"(%d:" % len(value))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict) and type(value) is dict:
        items = sorted((canonical(k), canonical(v)) for k, v in value.items())
        out.append(b"{%d:" % len(items) + b"".join(k + v for k, v in items))
    else:
        raise TypeError(f"no canonical encoding for {type(value).__name__}")


def _digest(value: object) -> str:
    return blake2b(canonical(value), digest_size=16).hexdigest()


def program_key(target: str, is_module: bool, cwd: str, build_flags: tuple = ()) -> str:
    from amber.image.format import interpreter_identity

    env = posix.environ
    startup_env = tuple((name, env.get(name.encode(), b"")) for name in _STARTUP_VARIABLES)
    return _digest((amber.__version__, interpreter_identity(), is_module, target, cwd if is_module else "",
                    startup_env, build_flags))


def args_key(args: list, key_args: int | None) -> str:
    """The arguments in the key, and whether each standard stream is a terminal (start-up that
    asks ``isatty()`` picks colours or prompts: a terminal and a pipe get images of their own)."""
    return _digest((tuple(args if key_args is None else args[:key_args]), terminals()))


def terminals() -> tuple:
    """Whether standard input, output and error are terminals."""
    out = []
    for fd in (0, 1, 2):
        try:
            out.append(posix.isatty(fd))
        except OSError:
            out.append(False)
    return tuple(out)


def secret_key(root: str, create: bool = False) -> bytes | None:
    """The cache's secret key; made (mode 0600) only by a build, once: concurrent first builds
    all end up with the key of whichever created the file first."""
    path = key_path(root)
    key = _read_key(path)
    if key is not None or not create:
        return key
    if not create_once(path, posix.urandom(SECRET_KEY_SIZE)):
        key = _read_key(path)
        if key is not None:
            return key
        write_atomically(path, posix.urandom(SECRET_KEY_SIZE))  # the file there is not a key: replace it
    return _read_key(path)


def _read_key(path: str) -> bytes | None:
    key = read_regular(path, SECRET_KEY_SIZE + 1)
    return key if key is not None and len(key) == SECRET_KEY_SIZE else None


def _mac(key: bytes, kind: bytes, payload: bytes) -> bytes:
    return blake2b(payload, key=key, person=kind[:16], digest_size=_MAC_SIZE).digest()


def seal(key: bytes, kind: bytes, value: object) -> bytes:
    """The keyed record of ``value`` (of a kind: b"program", b"no-image"...)."""
    payload = marshal.dumps(value)  # type: ignore[arg-type]
    return RECORD_MAGIC + _mac(key, kind, payload) + payload


def unseal(key: bytes | None, kind: bytes, data: bytes) -> object | None:
    """The value of a keyed record, or None if it is not one this cache's key sealed."""
    head = len(RECORD_MAGIC)
    if key is None or len(data) < head + _MAC_SIZE or not data.startswith(RECORD_MAGIC):
        return None
    mac, payload = data[head:head + _MAC_SIZE], data[head + _MAC_SIZE:]
    if _mac(key, kind, payload) != mac:
        return None
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError):  # pragma: no cover - sealed by this cache's key
        return None


def read_sealed(path: str, key: bytes | None, kind: bytes) -> object | None:
    """The value of the keyed record at ``path`` (None: missing, unreadable, damaged, forged)."""
    if key is None:
        return None
    data = read_regular(path, 1 << 24)
    return None if data is None else unseal(key, kind, data)


def read_program(entry: str, key: bytes | None) -> dict:
    """The program record of ``entry``: {"target", "key_args"}, or {} if there is none to trust."""
    info = read_sealed(program_record_path(entry), key, PROGRAM_KIND)
    if type(info) is not dict or type(info.get("target")) is not str:
        return {}
    key_args = info.get("key_args")
    if key_args is not None and (type(key_args) is not int or key_args < 0):
        return {}
    return info


def write_program(entry: str, key: bytes, target: str, key_args: int | None) -> None:
    """Remember what the entry is for (``amber cache list``) and how many arguments start-up reads
    (``amber.startup_args``: the args key covers only those). The entry directory exists."""
    record = seal(key, PROGRAM_KIND, {"target": target, "key_args": key_args})
    write_atomically(program_record_path(entry), record)


def write_no_image_marker(image: str, key: bytes, inputs: dict) -> bool:
    """Leave the no-image marker beside ``image``: its inputs, sealed (read back by
    :func:`amber.runcache.freshness.known_to_fail`). Best effort: False if it could not be
    written, which only means the next run tries again."""
    try:
        write_atomically(failed_marker(image), seal(key, NO_IMAGE_KIND, inputs))
        return True
    except OSError:
        return False
