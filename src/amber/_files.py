"""Small files Amber writes (keys, cache metadata): whole or not at all, private by default.

Every file is written to a temporary beside it first, then renamed over it (readers never see a
part). A temporary is created exclusively (``O_CREAT|O_EXCL|O_NOFOLLOW``: a planted file or
symlink makes the write fail rather than follow it) under an unpredictable name that says whose it
is: ``.<name>.<pid>.<random>.tmp``; a temporary whose writer died (SIGKILL) is found by that pid
and removed by the cache's sweep (:mod:`amber.runcache.eviction`).

On the restore path too (``amber run`` and signing keys), so it imports only the base set.
"""

import posix

AMBER_DIR = __file__.rpartition("/")[0] or "."
BOOT = AMBER_DIR + "/_boot.py"  # what the amber command re-executes the interpreter on (see amber._boot)
TEMP_SUFFIX = ".tmp"
_EXCLUSIVE = posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | getattr(posix, "O_NOFOLLOW", 0) | \
    getattr(posix, "O_CLOEXEC", 0)


_S_IFMT, _S_IFREG = 0o170000, 0o100000
_READ_ONLY = posix.O_RDONLY | getattr(posix, "O_NONBLOCK", 0) | getattr(posix, "O_CLOEXEC", 0)


def is_regular(path: str) -> bool:
    """Whether ``path`` is a regular file (not a FIFO, a device or a directory a read could
    block on or misread); False if it cannot be seen."""
    try:
        return posix.stat(path).st_mode & _S_IFMT == _S_IFREG
    except (OSError, ValueError):
        return False


def read_regular(path: str, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the regular file ``path``; None if it is missing, unreadable or
    not a regular file (opened without blocking: a FIFO planted there cannot hang the reader)."""
    try:
        fd = posix.open(path, _READ_ONLY)
    except (OSError, ValueError):
        return None
    try:
        if posix.fstat(fd).st_mode & _S_IFMT != _S_IFREG:
            return None
        chunks = []
        left = limit
        while left > 0:
            chunk = posix.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        posix.close(fd)


def temporary_name(path: str) -> str:
    """A fresh temporary beside ``path``: hidden, with the writer's pid and 64 random bits."""
    directory, _, name = path.rpartition("/")
    prefix = directory + "/" if directory or path.startswith("/") else ""
    return f"{prefix}.{name}.{posix.getpid()}.{posix.urandom(8).hex()}{TEMP_SUFFIX}"


def writer_pid(temporary: str) -> int | None:
    """The pid in a name made by :func:`temporary_name` (None for any other name)."""
    if not temporary.endswith(TEMP_SUFFIX):
        return None
    parts = temporary.rpartition("/")[2].split(".")
    # "", name..., pid, random, "tmp"
    if len(parts) < 5 or parts[0] != "" or not parts[-3].isdigit() or len(parts[-2]) != 16:
        return None
    return int(parts[-3])


def create_temporary(path: str, mode: int = 0o600) -> tuple:
    """(fd, name) of a new temporary beside ``path``, created exclusively."""
    for _ in range(8):
        tmp = temporary_name(path)
        try:
            return posix.open(tmp, _EXCLUSIVE, mode), tmp
        except FileExistsError:  # 64 random bits: only a planted name collides
            continue
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view):]


def _written_temporary(path: str, data: bytes, mode: int, durable: bool = True) -> str:
    fd, tmp = create_temporary(path, mode)
    try:
        _write_all(fd, data)
        if durable:
            posix.fsync(fd)
    except BaseException:
        posix.close(fd)
        _remove(tmp)
        raise
    posix.close(fd)
    return tmp


def _remove(path: str) -> None:
    try:
        posix.unlink(path)
    except OSError:
        pass


def write_atomically(path: str, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """Write ``data`` to an exclusive temporary, then rename it to ``path``: readers never see a
    part, and a symlink planted at ``path`` is replaced, never followed. ``durable``: synced to
    disk first (off for records that only describe a running process)."""
    tmp = _written_temporary(path, data, mode, durable)
    try:
        posix.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def create_once(path: str, data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` holding ``data`` unless it exists (True if this call made it). Whole or
    not at all, and atomic between concurrent creators: the temporary is hard-linked to ``path``,
    which fails if another creator got there first."""
    tmp = _written_temporary(path, data, mode)
    try:
        posix.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        _remove(tmp)
