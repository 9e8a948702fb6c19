"""Where a user's pools live and how one is found from its image.

One directory per user, private (mode 0700, this user's, not a symbolic link): ``$AMBER_POOL_DIR``
when set, else ``$XDG_RUNTIME_DIR/amber-pools`` when that variable names a private directory of
this user's, else ``/tmp/amber-pools-<uid>``. Nobody else can reach a socket inside it; the server checks its
peer's uid anyway (:mod:`amber.pool.server`), and the client the server's
(:mod:`amber.pool.client`): a directory planted by another user under ``/tmp`` is refused
before anything connects.

A pool is named by its image file's *identity*: device, inode, size, modification and change
times (a digest of them). An image written again (a rebuilt cache entry is a new file renamed
into place; one rewritten in place has new times) has another name, so a caller never reaches a
pool of an older image at that path; the old pool notices and starts again on the new file
(:mod:`amber.pool.server`). Per pool: ``NAME.sock`` (the socket), ``NAME.pool`` (its record:
image, pid, counts, for ``amber pool list``), ``NAME.log`` (what the detached server printed).

On the restore path (the client runs before a restore): imports only the base set.
"""

import posix
from _blake2 import blake2b

_S_IFMT, _S_IFDIR, _S_IFSOCK = 0o170000, 0o040000, 0o140000


def pool_dir() -> str:
    """This user's pool directory (not created, not checked: see :func:`unsafe`)."""
    uid = posix.geteuid()
    chosen = posix.environ.get(b"AMBER_POOL_DIR", b"").decode("utf-8", "surrogateescape")
    if chosen.startswith("/"):
        return chosen.rstrip("/") or "/"
    runtime = posix.environ.get(b"XDG_RUNTIME_DIR", b"").decode("utf-8", "surrogateescape")
    if runtime.startswith("/"):
        try:
            st = posix.stat(runtime)
            if st.st_uid == uid and st.st_mode & _S_IFMT == _S_IFDIR and not st.st_mode & 0o077:
                return runtime.rstrip("/") + "/amber-pools"
        except OSError:
            pass
    return f"/tmp/amber-pools-{uid}"


def unsafe(directory: str) -> "str | None":
    """Why ``directory`` must not be used (missing, not a directory, a symbolic link, another
    user's, reachable by others), or None."""
    try:
        st = posix.lstat(directory)
    except OSError as e:
        return f"{directory}: {e.strerror}"
    if st.st_mode & _S_IFMT != _S_IFDIR:
        return f"{directory} is not a directory"
    if st.st_uid != posix.geteuid():
        return f"{directory} belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o077:
        return f"{directory} can be reached by other users (mode {st.st_mode & 0o7777:o})"
    return None


def make_pool_dir() -> str:
    """This user's pool directory, made if missing; AmberError-free: OSError if it cannot be
    made or is unsafe (the message says why)."""
    directory = pool_dir()
    try:
        posix.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    reason = unsafe(directory)
    if reason is not None:
        raise OSError(reason)
    return directory


def identity(image: str) -> "tuple[int, int, int, int, int]":
    """The image file's identity (OSError if it cannot be seen)."""
    st = posix.stat(image)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def pool_name(ident: "tuple[int, ...]") -> str:
    return blake2b(repr(ident).encode(), digest_size=12).hexdigest()


def socket_path(directory: str, name: str) -> str:
    return f"{directory}/{name}.sock"


def record_path(directory: str, name: str) -> str:
    return f"{directory}/{name}.pool"


def log_path(directory: str, name: str) -> str:
    return f"{directory}/{name}.log"


def is_own_socket(path: str) -> bool:
    """Whether ``path`` is a socket of this user's (not followed if a symbolic link)."""
    try:
        st = posix.lstat(path)
    except OSError:
        return False
    return st.st_mode & _S_IFMT == _S_IFSOCK and st.st_uid == posix.geteuid()
