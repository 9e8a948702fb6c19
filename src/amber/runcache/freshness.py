"""Whether a cached image is still fresh: its recorded inputs, checked against the world now.

An image is **fresh** when it was made for this program and every input it recorded (its
``inputs`` section, written by :mod:`amber.capture.recorders.inputs`; schema ``INPUTS_SCHEMA`` of
:mod:`amber.image.format`) still holds:

* a file read (``WATCH_CONTENT``): one ``stat``; size, mtime, ctime, inode and device must all be
  as recorded (ctime cannot be set back by a user: an edit that restores size and mtime still
  changes it; a file replaced by rename has another inode);
* an existence check (``WATCH_KIND``): present or absent, of the same type, permissions and
  owner (``os.access`` and ``shutil.which`` depend on them);
* a directory listed (``WATCH_LISTING``) or searched by imports (``WATCH_SEARCHED``): one ``stat``
  first; only if it changed, the listing itself, whose names and entry types (for a searched
  directory, only the names a module, package or distribution could have) must digest as
  recorded;
* a symbolic link read (``WATCH_LINK``: ``os.readlink``, so ``os.path.realpath``): its target;
* the working directory, if start-up depended on it;
* environment variables: one keyed hash each (the key is the cache's secret key).

The same check tells whether a no-image marker still holds (``known_to_fail``).

On the restore path: imports only the base set.
"""

import posix
from _blake2 import blake2b

from amber.image.format import (
    DIGEST_SIZE,
    INPUTS_SCHEMA,
    VARIABLE_DIGEST_SIZE,
    WATCH_CONTENT,
    WATCH_KIND,
    WATCH_LINK,
    WATCH_LISTING,
    WATCH_SEARCHED,
)
from amber.runcache.keys import NO_IMAGE_KIND, read_sealed
from amber.runcache.layout import failed_marker

# The name endings the import system (and importlib.metadata) gives meaning to; a name without a
# dot can be a package. Anything else in a searched directory (logs, pid files) is not an input.
_MODULE_ENDINGS = (".py", ".pyc", ".pyw", ".so", ".pyd", ".zip", ".egg")
_METADATA_ENDINGS = (".pth", ".egg-link", ".dist-info", ".egg-info")


def env_digest(key: bytes, name: str) -> bytes:
    """The keyed digest of variable ``name``'s value, or of its absence (never the value itself)."""
    raw = name.encode("utf-8", "surrogateescape")
    value = posix.environ.get(raw)
    data = b"\0absent" if value is None else b"=" + value
    return blake2b(raw + data, key=key, digest_size=VARIABLE_DIGEST_SIZE).digest()


def names_digest(key: bytes) -> bytes:
    """The keyed digest of the environment's variable names (a program that iterated it)."""
    return blake2b(b"\0".join(sorted(posix.environ)), key=key, digest_size=VARIABLE_DIGEST_SIZE).digest()


def stamp(path: str, how: int) -> list:
    """What is watched of ``path`` now ([] if it is absent or cannot be seen)."""
    try:
        st = posix.stat(path)
    except (OSError, ValueError):
        return []
    if how == WATCH_CONTENT:
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]
    if how == WATCH_KIND:  # type and permissions (os.access asks them), and the owner
        return [st.st_mode, st.st_uid, st.st_gid]
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _link_stamp(path: str) -> list:
    try:
        posix.readlink(path)
        return [1]
    except (OSError, ValueError):
        return []


def listing_digest(path: str, how: int) -> bytes | None:
    """The digest of a directory's names and entry types (for WATCH_SEARCHED, of the names a
    module could have), or of a link's target (WATCH_LINK)."""
    try:
        if how == WATCH_LINK:
            target = posix.readlink(path).encode("utf-8", "surrogateescape")
            return blake2b(target, digest_size=DIGEST_SIZE).digest()
        if how == WATCH_SEARCHED:
            names = [n for n in posix.listdir(path) if _could_be_imported(n)]
        else:  # a file that became a directory of the same name is another listing (DirEntry.is_dir)
            with posix.scandir(path) as entries:
                names = [f"{e.name}/" if e.is_dir() else f"{e.name}@" if e.is_symlink() else e.name
                         for e in entries]
    except (OSError, ValueError):
        return None
    joined = "\0".join(sorted(names)).encode("utf-8", "surrogateescape")
    return blake2b(joined, digest_size=DIGEST_SIZE).digest()


def _could_be_imported(name: str) -> bool:
    if name.endswith(_METADATA_ENDINGS):
        return True  # what importlib.metadata and site read
    stem, dot, _ = name.partition(".")
    return stem.isidentifier() and name != "__pycache__" and (not dot or name.endswith(_MODULE_ENDINGS))


def _path_changed(path: str, how: int, recorded: list, names: bytes | None) -> str | None:
    if how == WATCH_LINK:
        if _link_stamp(path) != recorded or (recorded and listing_digest(path, how) != names):
            return f"the link {path} changed"
        return None
    now = stamp(path, how)
    if now == recorded:
        return None
    if not recorded:
        return f"{path} appeared"
    if not now:
        return f"{path} is gone"
    if how in (WATCH_LISTING, WATCH_SEARCHED):
        if names is not None and listing_digest(path, how) == names:
            return None  # touched, but the names that matter are the same
        return f"the entries of {path} changed"
    if how == WATCH_KIND:
        return f"{path} changed type, permissions or owner"
    return f"{path} changed"


def stale_reason(inputs: dict, key: bytes | None, program: str) -> str | None:
    """Why an image's recorded inputs no longer hold, or None if they all do."""
    if inputs["program"] != program:
        return "the image was made for another program"
    for path, how, recorded, names in inputs["watched"]:
        reason = _path_changed(path, how, recorded, names)
        if reason is not None:
            return reason
    if inputs["cwd"] is not None:
        try:
            cwd = posix.getcwd()
        except OSError:
            cwd = None
        if cwd != inputs["cwd"]:
            return "the working directory changed (start-up depended on it)"
    if inputs["env"] or inputs["env_names"] is not None:
        if key is None:
            return "the cache key is gone"
        for name, digest in inputs["env"]:
            if env_digest(key, name) != digest:
                return f"environment variable {name} changed"
        if inputs["env_names"] is not None and names_digest(key) != inputs["env_names"]:
            return "the set of environment variables changed (the program iterated the environment)"
    return None


def known_to_fail(image: str, key: bytes | None, program: str) -> str | None:
    """Why no image can be built, if a run built none (the program could not be captured, or
    start-up depended on what cannot be watched) and the inputs it recorded in the no-image
    marker beside ``image`` still hold: then later runs run cold instead of trying again. None:
    try to build."""
    inputs = read_sealed(failed_marker(image), key, NO_IMAGE_KIND)
    if not isinstance(inputs, dict) or INPUTS_SCHEMA.problem(inputs) is not None:
        return None  # none, damaged, or not one this cache sealed: try again
    if stale_reason(inputs, key, program) is not None:
        return None
    return inputs.get("no_image") or "a first run built none"


__all__ = ["env_digest", "names_digest", "stamp", "listing_digest", "stale_reason", "known_to_fail",
           "WATCH_CONTENT", "WATCH_KIND", "WATCH_LISTING", "WATCH_SEARCHED", "WATCH_LINK"]
