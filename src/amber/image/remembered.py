"""Checks of the large buffers, remembered per file: verified once per file identity.

Hashing the buffers section costs about 1 s per GB on one core (BLAKE2b), which is what mapping
it instead of reading it saves. So a restore checks it (:meth:`amber.image.format.Image.
buffers_checked_meanwhile`) and, when the check passes, remembers it for that very file: a keyed
record (``amber.runcache.keys.seal``, the cache's key) of the file's identity as ``fstat`` gave it
on the descriptor the restore read and maps, with the section's place and digest::

    <cache>/verified/<device>-<inode>     (device, inode, size, mtime_ns, ctime_ns,
                                           offset, length, digest of the buffers section)

A later restore of the same file, unchanged, finds the record and maps the buffers unread. Any
write to the file changes its ctime (which no system call can set back), a copy or a replacement
is another inode: either way the record no longer matches and the check runs again.

Remembered only when it is sound:

* the file is written by no one but this user and root (``format.writable_by_others``); an image
  others could write is read into private memory and checked on every restore;
* the file's ctime is more than ``RACY_NS`` older than the start of the check: a write in the
  same tick of a coarse file-system clock as the last one would leave ctime unchanged (git's
  "racy clean" problem); such a file is checked again next time, and remembered then;
* the cache directory is safe (``amber.runcache.layout.unsafe_reason``: no one else can write it
  or any directory above it). Without a usable cache, every restore checks.

Nothing here can make a restore fail: a record that cannot be read or written is no record.
On the restore path: imports only the base set (and Amber's ``runcache`` modules, which do too).
"""

import posix

DIRECTORY = "verified"
KIND = b"buffers-checked"  # the keyed record's kind (its MAC's personalisation)
RACY_NS = 2_000_000_000  # file systems with timestamps of 1 s or 2 s (ext3, FAT) included
LIMIT = 256  # records kept; the oldest go first


class Check:
    """The remembered check of the buffers section ``entry`` (offset, length, digest) of the
    file whose ``fstat`` is ``st``."""

    def __init__(self, st, entry: tuple) -> None:
        self.identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, *entry)
        self.ctime_ns = st.st_ctime_ns
        self.name = f"{st.st_dev:x}-{st.st_ino:x}"

    def holds(self) -> bool:
        """Whether a check of this file, as it is now, passed before."""
        try:
            from amber.runcache import keys

            place = _place()
            if place is None:
                return False
            root, directory = place
            key = keys.secret_key(root)
            if key is None:
                return False
            return keys.read_sealed(f"{directory}/{self.name}", key, KIND) == self.identity
        except (OSError, ValueError):
            return False

    def remember(self, started_ns: int) -> bool:
        """Remember that the check that started at ``started_ns`` passed (True if it was)."""
        if self.ctime_ns >= started_ns - RACY_NS:
            return False
        try:
            from amber._files import write_atomically
            from amber.runcache import keys, layout

            place = _place()
            if place is None:
                return False
            root, directory = place
            layout.make_private_dirs(directory)
            key = keys.secret_key(root, create=True)
            if key is None:
                return False
            write_atomically(f"{directory}/{self.name}", keys.seal(key, KIND, self.identity))
            _prune(directory)
            return True
        except (OSError, ValueError):
            return False


def _place() -> tuple | None:
    """(cache root, the records' directory), or None when there is no cache to trust."""
    from amber.runcache import layout

    root = layout.cache_root()
    if root is None:
        return None
    directory = layout.join(root, DIRECTORY)
    return None if layout.unsafe_reason(directory) is not None else (root, directory)


def _prune(directory: str) -> None:
    """Keep the ``LIMIT`` most recently written records."""
    names = posix.listdir(directory)
    if len(names) <= LIMIT:
        return
    dated = []
    for name in names:
        try:
            dated.append((posix.lstat(f"{directory}/{name}").st_mtime_ns, name))
        except OSError:
            continue
    dated.sort()
    for _mtime, name in dated[:len(dated) - LIMIT]:
        try:
            posix.unlink(f"{directory}/{name}")
        except OSError:
            pass
