"""Where ``amber run``'s cache keeps things: every path in it is made here, whether the cache may
be used at all, and the program record.

The cache directory is ``$AMBER_CACHE``, else the platform's user cache directory
(``$XDG_CACHE_HOME/amber`` or ``$HOME/.cache/amber`` on Linux). With none of these set there is
no cache (never a shared fallback such as ``/tmp``)::

    <cache>/key                               32 random bytes (0600): keys the variable digests and
                                              the records' MACs (amber.runcache.keys)
    <cache>/<program key>/                    one entry per program (amber.runcache.keys)
    <cache>/<program key>/program             the program record (a keyed record, see keys)
    <cache>/<program key>/<args key>.amber    an image (amber.image.format), with its inputs section
    <cache>/<program key>/<args key>.failed   the no-image marker: a keyed record of the inputs (the
                                              inputs schema of amber.image.format) of a run that
                                              built no image; while they hold, runs skip the attempt
    <cache>/<program key>/<args key>.times    the timings record: the first restores' times, sealed
                                              (amber.runcache.timings)
    <cache>/<program key>/<args key>.used     empty; its mtime is the image's last use (the image
                                              itself is never touched: a pool of it knows it by its
                                              times, amber.pool.paths)
    <cache>/<program key>/build.lock          held while an image is written: the builder's pid
    <cache>/verified/<dev>-<inode>            a remembered check of an image's buffers (a keyed
                                              record, amber.image.remembered)
    .../.<name>.<pid>.<random>.tmp            a file being written (amber._files)

**Who may write it.** Whoever can write a directory on the way to an image can make ``amber
run`` restore code of their choosing, so the cache is used only when :func:`unsafe_reason` finds
nothing: the cache directory and its entries are directories owned by this user and writable by
no one else, and every directory above them is owned by this user or root and is either writable
by no one else or sticky (``/tmp``: others cannot rename what is in it). Directories Amber creates
are mode 0700.

On the restore path (``amber run`` decides and restores in one isolated interpreter): imports only
the base set.
"""

import posix
import sys

IMAGE_SUFFIX = ".amber"
FAILED_SUFFIX = ".failed"
TIMINGS_SUFFIX = ".times"
USED_SUFFIX = ".used"
KEY_FILE = "key"
PROGRAM_RECORD = "program"
LOCK_FILE = "build.lock"
_S_IFMT, _S_IFDIR, _S_ISVTX = 0o170000, 0o040000, 0o1000
_OTHERS_WRITE = 0o022


def join(*parts: str) -> str:
    """``parts`` joined by "/" (posixpath is not in the base set)."""
    return "/".join(p.rstrip("/") for p in parts[:-1]) + "/" + parts[-1] if len(parts) > 1 else parts[0]


def cache_root() -> str | None:
    """The cache directory (absolute), or None when no variable says where it is."""
    env = posix.environ
    explicit = env.get(b"AMBER_CACHE")
    if explicit:
        return _absolute(explicit.decode("utf-8", "surrogateescape"))
    if sys.platform == "win32":  # pragma: no cover
        base = env.get(b"LOCALAPPDATA", b"").decode()
        return join(base, "amber", "Cache") if base else None
    home = env.get(b"HOME", b"").decode("utf-8", "surrogateescape")
    xdg = env.get(b"XDG_CACHE_HOME", b"").decode("utf-8", "surrogateescape")
    if sys.platform == "darwin" and home:  # pragma: no cover
        return _absolute(join(home, "Library", "Caches", "amber"))
    if xdg.startswith("/"):  # the XDG rule: a relative value is ignored
        return join(xdg, "amber")
    return _absolute(join(home, ".cache", "amber")) if home.startswith("/") else None


def _absolute(path: str) -> str:
    return path if path.startswith("/") else join(posix.getcwd(), path)


def unsafe_reason(directory: str, own: bool = True) -> str | None:
    """Why ``directory`` (absolute) must not be trusted, or None if no one else can write it or
    any directory above it. ``own``: the directory itself must be this user's (the cache and its
    entries); a missing directory is judged by what is above it (it would be created)."""
    uid = posix.geteuid()
    parts = [p for p in directory.split("/") if p]
    for depth in range(len(parts) + 1):
        path = "/" + "/".join(parts[:depth])
        try:
            st = posix.stat(path)
        except FileNotFoundError:
            return None  # the rest is created by this user, mode 0700
        except OSError as e:
            return f"{path}: {e.strerror}"
        last = depth == len(parts)
        if st.st_mode & _S_IFMT != _S_IFDIR:
            return f"{path} is not a directory"
        if last and own:
            if st.st_uid != uid:
                return f"{path} belongs to another user (uid {st.st_uid})"
            if st.st_mode & _OTHERS_WRITE:
                return f"{path} is writable by other users (mode {st.st_mode & 0o7777:o})"
        else:
            if st.st_uid not in (0, uid):
                return f"{path} belongs to another user (uid {st.st_uid})"
            if st.st_mode & _OTHERS_WRITE and not st.st_mode & _S_ISVTX:
                return f"{path} is writable by other users and not sticky (mode {st.st_mode & 0o7777:o})"
    return None


def make_private_dirs(directory: str) -> None:
    """Create ``directory`` and what is missing above it, mode 0700 (OSError if that fails)."""
    parts = [p for p in directory.split("/") if p]
    for depth in range(1, len(parts) + 1):
        path = "/" + "/".join(parts[:depth])
        try:
            posix.mkdir(path, 0o700)
        except FileExistsError:
            pass


def key_path(root: str) -> str:
    return join(root, KEY_FILE)


def entry_dir(root: str, program_key: str) -> str:
    """The directory of one program's images."""
    return join(root, program_key)


def image_path(entry: str, args_key: str) -> str:
    return join(entry, args_key + IMAGE_SUFFIX)


def failed_marker(image: str) -> str:
    """The no-image marker beside the image at path ``image``."""
    return image.removesuffix(IMAGE_SUFFIX) + FAILED_SUFFIX


def timings_record(image: str) -> str:
    """The timings record beside the image at path ``image`` (:mod:`amber.runcache.timings`)."""
    return image.removesuffix(IMAGE_SUFFIX) + TIMINGS_SUFFIX


def used_marker(image: str) -> str:
    """The last-use marker beside the image at path ``image``."""
    return image.removesuffix(IMAGE_SUFFIX) + USED_SUFFIX


def mark_used(image: str) -> None:
    """The image was used now (for the cache's eviction); best effort."""
    marker = used_marker(image)
    try:
        posix.utime(marker)
    except FileNotFoundError:
        try:
            posix.close(posix.open(marker, posix.O_WRONLY | posix.O_CREAT | getattr(posix, "O_NOFOLLOW", 0)
                                   | getattr(posix, "O_CLOEXEC", 0), 0o600))
        except OSError:
            pass
    except OSError:
        pass


def last_used(image: str, modified: float) -> float:
    """When the image at path ``image`` (modified at ``modified``) was last used."""
    try:
        return max(modified, posix.stat(used_marker(image)).st_mtime)
    except OSError:
        return modified


def lock_path(entry: str) -> str:
    return join(entry, LOCK_FILE)


def program_record_path(entry: str) -> str:
    return join(entry, PROGRAM_RECORD)


def remove(path: str) -> bool:
    """Remove a file of the cache; False if it could not be removed (never raises)."""
    try:
        posix.unlink(path)
        return True
    except FileNotFoundError:
        return True
    except IsADirectoryError:  # (an empty directory where a file belongs)
        try:
            posix.rmdir(path)
            return True
        except OSError:
            return False
    except OSError:
        return False
