"""Small files Amber writes (keys, cache metadata): whole or not at all, private by default.

On the restore path too (``amber run`` and signing keys), so it imports only the base set.
"""

import posix

AMBER_DIR = __file__.rpartition("/")[0] or "."
BOOT = AMBER_DIR + "/_boot.py"  # what the amber command re-executes the interpreter on (see amber._boot)


def write_atomically(path: str, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary file, then rename it to ``path``: readers never see a part."""
    tmp = f"{path}.{posix.getpid()}.tmp"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[posix.write(fd, view):]
    except BaseException:
        posix.close(fd)
        posix.unlink(tmp)
        raise
    posix.close(fd)
    posix.replace(tmp, path)
