"""Whether a cached image is still fresh: its recorded inputs, checked against the world now.

An image is **fresh** when every input it recorded (its ``inputs`` section, written by
:mod:`amber.capture.recorders.inputs`; schema ``INPUTS_SCHEMA`` of :mod:`amber.image.format`) is
unchanged: one ``stat`` per file and one keyed hash per environment variable. The same check
tells whether a failure marker still holds (``known_to_fail``).

On the restore path: imports only the base set.
"""

import marshal
import posix
from _blake2 import blake2b

from amber.image.format import INPUTS_SCHEMA, VARIABLE_DIGEST_SIZE
from amber.runcache.keys import secret_key
from amber.runcache.layout import failed_marker


def env_digest(key: bytes, name: str) -> bytes:
    """The keyed digest of variable ``name``'s value, or of its absence (never the value itself)."""
    value = posix.environ.get(name.encode("utf-8", "surrogateescape"))
    data = b"\0absent" if value is None else b"=" + value
    return blake2b(name.encode("utf-8", "surrogateescape") + data, key=key,
                   digest_size=VARIABLE_DIGEST_SIZE).digest()


def names_digest(key: bytes) -> bytes:
    """The keyed digest of the environment's variable names (a program that iterated it)."""
    return blake2b(b"\0".join(sorted(posix.environ)), key=key, digest_size=VARIABLE_DIGEST_SIZE).digest()


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


def known_to_fail(image: str, root: str) -> bool:
    """Whether a first run could not capture the program and the inputs it recorded in the failure
    marker beside ``image`` still hold: then later runs run cold instead of trying again."""
    try:
        with open(failed_marker(image), "rb") as f:
            inputs = marshal.loads(f.read())
    except (OSError, ValueError, EOFError, TypeError):
        return False
    if INPUTS_SCHEMA.problem(inputs) is not None:  # not a marker this Amber wrote: try again
        return False
    return stale_reason(inputs, secret_key(root)) is None
