"""Secrets: values the application marks as secret never reach an image.

``amber.secret(NAME)`` returns the value of environment variable NAME as a :class:`SecretStr`
(a ``str``). An image records the *name* wherever the object is referenced, and the restored
process reads the variable from its own environment; if it is missing there, the restore fails
naming it. Values *derived* from a secret (concatenated, encoded) are plain strings: the
snapshot-time scan (:mod:`amber.capture.policy.secret_scan`) finds them and refuses to write the image.

This module is on the restore path: it imports only the base set.
"""

import posix

from amber.errors import AmberError

__all__ = ["SecretStr", "secret", "read", "values", "marked"]

_values: dict = {}  # name -> value, for the snapshot-time scan


class SecretStr(str):
    """The value of an environment variable marked secret; ``variable`` is its name."""

    variable: str

    def __repr__(self) -> str:
        return f"<amber secret {self.variable}>"


def secret(name: str) -> str:
    """The value of environment variable ``name``, never written to an image (see module doc)."""
    value = read(name)
    _values[name] = str(value)
    return value


def values() -> dict:
    """name -> value of every variable read through ``amber.secret`` so far (for the scan)."""
    return dict(_values)


def marked(name: str) -> bool:
    """Whether the program read variable ``name`` through ``amber.secret``."""
    return name in _values


def read(name: str) -> SecretStr:
    if not isinstance(name, str) or not name:
        raise TypeError("amber.secret() takes the name of an environment variable")
    raw = posix.environ.get(name.encode("utf-8", "surrogateescape"))
    if raw is None:
        raise AmberError(f"the secret environment variable {name} is not set")
    value = SecretStr(raw.decode("utf-8", "surrogateescape"))
    value.variable = name
    return value
