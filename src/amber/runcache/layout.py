"""Where ``amber run``'s cache keeps things: every path in it is made here, and the program record.

The cache directory is ``$AMBER_CACHE``, else the platform's user cache directory
(``$XDG_CACHE_HOME/amber`` or ``~/.cache/amber`` on Linux)::

    <cache>/key                               32 random bytes (0600): the key of the variable digests
    <cache>/<program key>/                    one entry per program (amber.runcache.keys)
    <cache>/<program key>/program             the program record: marshal {"target", "key_args"}
    <cache>/<program key>/<args key>.amber    an image (amber.image.format), with its inputs section
    <cache>/<program key>/<args key>.failed   the failure marker: marshal of the inputs (the inputs
                                              schema of amber.image.format) of a run that could not
                                              be captured; while they hold, runs skip the attempt
    <cache>/<program key>/build.lock          held while an image is written: the builder's pid

On the restore path (``amber run`` decides and restores in one isolated interpreter): imports only
the base set.
"""

import marshal
import posix
import sys

from amber._files import write_atomically

IMAGE_SUFFIX = ".amber"
FAILED_SUFFIX = ".failed"
KEY_FILE = "key"
PROGRAM_RECORD = "program"
LOCK_FILE = "build.lock"


def join(*parts: str) -> str:
    """``parts`` joined by "/" (posixpath is not in the base set)."""
    return "/".join(p.rstrip("/") for p in parts[:-1]) + "/" + parts[-1] if len(parts) > 1 else parts[0]


def cache_root() -> str:
    env = posix.environ
    explicit = env.get(b"AMBER_CACHE")
    if explicit:
        return explicit.decode()
    if sys.platform == "win32":  # pragma: no cover
        base = env.get(b"LOCALAPPDATA", b"").decode() or "."
        return join(base, "amber", "Cache")
    home = env.get(b"HOME", b"").decode() or "/tmp"
    if sys.platform == "darwin":  # pragma: no cover
        return join(home, "Library", "Caches", "amber")
    xdg = env.get(b"XDG_CACHE_HOME", b"").decode()
    return join(xdg or join(home, ".cache"), "amber")


def key_path(root: str) -> str:
    return join(root, KEY_FILE)


def entry_dir(root: str, program_key: str) -> str:
    """The directory of one program's images."""
    return join(root, program_key)


def image_path(entry: str, args_key: str) -> str:
    return join(entry, args_key + IMAGE_SUFFIX)


def failed_marker(image: str) -> str:
    """The failure marker beside the image at path ``image``."""
    return image.removesuffix(IMAGE_SUFFIX) + FAILED_SUFFIX


def lock_path(entry: str) -> str:
    return join(entry, LOCK_FILE)


def read_program(entry: str) -> dict:
    """The program record of ``entry`` ({} when there is none or it cannot be read)."""
    try:
        with open(join(entry, PROGRAM_RECORD), "rb") as f:
            info = marshal.loads(f.read())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError, EOFError, TypeError):
        return {}


def write_program(entry: str, target: str, key_args: int | None) -> None:
    """Remember what the entry is for (``amber cache list``) and how many arguments start-up reads
    (``amber.startup_args``: the args key covers only those). The entry directory exists."""
    write_atomically(join(entry, PROGRAM_RECORD), marshal.dumps({"target": target, "key_args": key_args}))
