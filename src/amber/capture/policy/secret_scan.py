"""Refuse to write secrets: scan every kind of memory an image would hold.

What is scanned, before anything is written:

* every str and bytes value (code constants included: they are inside the marshalled code,
  which is scanned as bytes; so are caches such as ``linecache``'s, which are captured strings);
* every buffer: ``bytearray``, ``array.array``, numpy arrays of text and bytes (``U``, ``S``,
  ``V``, one-byte integers and booleans), in band or in the mapped section. Arrays of wider
  numbers (floats, ``int64`` ...) are not: a program does not keep text in them, and scanning
  gigabytes of numbers would make every snapshot slow;
* every value kept under a name (dict items, attributes, class namespaces, variables set in
  ``os.environ`` during start-up).

What is looked for (:mod:`~amber.capture.policy.secret_forms` and
:mod:`~amber.capture.policy.secret_shapes` say exactly):

* the value of every ``amber.secret()`` and of every environment variable whose name looks
  secret (:data:`SECRET_WORDS`; values of 8 characters or more, not paths, flags or URLs without
  a password), in every form a program commonly derives: as is, escaped (percent, JSON,
  ``repr``, ``re.escape``, HTML), base64-encoded, UTF-16/32, and, for a value that is hex or
  base64, its decoded bytes and any 15 of them in a row;
* credentials by shape: PEM private keys with a body, cloud access key ids, JSON web tokens,
  passwords in URLs, ``name = value`` lines of ini/dotenv/YAML/JSON text under a secret's name;
* values kept under a secret's name (``password``, ``api_key``, ``token`` ...) that could be
  secrets (not paths, placeholders or words).

``--allow-secret NAME`` lets through the value of variable NAME in all its forms (and wherever
it appears: in a URL, under a name), the values kept under the name NAME, or every hit of one
shape (its tag, which each message names). A hit names the object's path and why, never the
value.

Cost: one regular expression of all the forms is searched in each value (its first character
set lets the search skip most positions), the shapes only where a cheap substring test passes.
"""

from __future__ import annotations

import os
import re
from pickle import PickleBuffer

from amber import secrecy
from amber.capture.policy import secret_forms, secret_shapes
from amber.capture.policy.secret_forms import MIN_LENGTH
from amber.capture.policy.secret_shapes import plausible, secret_name

# Compiled outside re's cache: the program's re._cache is captured, and must not hold what the
# scan looks for (nor lose the program's own entries).
_compile = re._compiler.compile  # type: ignore[attr-defined]

__all__ = ["SECRET_WORDS", "MIN_LENGTH", "SecretScanner"]

# Environment variables whose name contains one of these (upper-cased) are secret-looking.
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASS", "PWD", "CREDENTIAL",
                "PRIVATE", "AUTH")
# Numpy buffer formats (struct codes) of numbers wider than a byte: not scanned (module doc).
_NUMBER_CODES = frozenset("hHiIlLqQnNefdgZ")
_HINTS = _compile("|".join(re.escape(h) for h in secret_shapes.HINTS))
_BYTE_HINTS = _compile("|".join(re.escape(h) for h in secret_shapes.HINTS).encode("ascii"))
_BYTE_NAME_HINT = _compile(secret_shapes.SECRET_NAME_HINT.pattern.encode("ascii"))
# The same search, case-sensitive, in lower-cased bytes: bytes.lower() and re's IGNORECASE on
# bytes fold the same ASCII letters, and a search for lower-case letters alone skips ahead where
# one that ignores case cannot (7 times faster on the marshalled code a heap holds).
_LOWER_NAME_HINT = _compile(secret_shapes.SECRET_NAME_HINT.pattern.removeprefix("(?i)").encode("ascii"))
_LOWERED_MAX = 1 << 20  # larger buffers are searched in place, not copied


class SecretScanner:
    def __init__(self, allowed: set) -> None:
        self.allowed = set(allowed)
        values = secrecy.values()
        for name, value in os.environ.items():
            if any(word in name.upper() for word in SECRET_WORDS):
                values.setdefault(name, value)
        text: dict = {}  # needle -> (variable, how)
        data: dict = {}
        allowed_values = []
        for name, value in values.items():
            secret = value if secrecy.marked(name) else secret_forms.secret_value(value)
            if secret is None or len(secret) < MIN_LENGTH and not secrecy.marked(name):
                continue
            if name in self.allowed:
                allowed_values.append(secret)
                continue
            for t, how in secret_forms.text_forms(secret):
                text.setdefault(t, (name, how))
            for b, how in secret_forms.byte_forms(secret):
                data.setdefault(b, (name, how))
        self.allowed_values = tuple(allowed_values)
        self._text, self._data = text, data
        self._text_rx = _alternation(text)
        self._data_rx = _alternation(data)

    # == the three entry points ======================================================================
    def check(self, value, literal: bool = False, address=None) -> str | None:
        """Why ``value`` (a str or bytes) must not be written, or None. ``literal``: the value is
        what the program's author wrote, a docstring or code with its constants: the values of
        secrets and the shapes of keys are looked for, not the shapes a guess goes by (a password
        in a URL, ``name = value``), which documentation is full of (``scott:tiger@host``).
        ``address(n)``: whether ``n`` is the id() of an object the process holds (a value that is
        one is no secret: see ``secret_shapes.named_in_text``)."""
        if len(value) < MIN_LENGTH:
            return None
        if type(value) is bytes:
            return self._check_bytes(value, literal, address)
        if self._text_rx is not None:
            m = self._text_rx.search(value)
            if m is not None:
                return _says(*self._text[m.group()])
        return self._shapes(value, literal, address)

    def check_buffer(self, buffer) -> str | None:
        """Why a buffer (a bytearray, the ``PickleBuffer`` of an array) must not be written, or None."""
        try:
            view = memoryview(buffer)
            kind = view.format.strip("@=<>!0123456789")
            if kind and set(kind) <= _NUMBER_CODES:
                return None
            data = buffer if isinstance(buffer, (bytes, bytearray)) else (
                buffer.raw() if isinstance(buffer, PickleBuffer) else view.cast("B"))
        except (TypeError, ValueError, BufferError):
            return None
        if len(data) < MIN_LENGTH:
            return None
        return self._check_bytes(data)

    def check_named(self, name, value) -> str | None:
        """Why ``value`` kept under ``name`` (a key, an attribute) must not be written, or None."""
        if type(name) is not str or type(value) not in (str, bytes) or name in self.allowed:
            return None
        if not secret_name(name) or not plausible(value) or _spells(name, value):
            return None
        if type(value) is str and any(value in v for v in self.allowed_values):
            return None
        return f"is kept under the secret-looking name {name!r} (--allow-secret {name} if it is no secret)"

    # == internals ===================================================================================
    def _check_bytes(self, value, literal: bool = False, address=None) -> str | None:
        if self._data_rx is not None:
            m = self._data_rx.search(value)
            if m is not None:
                return _says(*self._data[m.group()])
        # A name before "=" or ":" matters only to a guess, never made of what the author wrote
        # (see _shapes): code and docstrings are not searched for one.
        if _BYTE_HINTS.search(value) or not literal and _names_a_secret(value):
            return self._shapes(bytes(value).decode("latin-1"), literal, address)
        return None

    def _shapes(self, value: str, literal: bool = False, address=None) -> str | None:
        if _HINTS.search(value):
            allowed = self.allowed | _GUESSED if literal else self.allowed
            found = secret_shapes.shape(value, allowed, self.allowed_values)
            if found is not None:
                what, tag = found
                return f"contains {what} (--allow-secret {tag} if it is none)"
        if literal:
            return None
        named = secret_shapes.named_in_text(value, self.allowed, self.allowed_values, address)
        if named is not None:
            return (f"contains a value under the secret-looking name {named[0]!r} "
                    f"(--allow-secret {named[0]} if it is no secret)")
        return None


def _names_a_secret(value) -> bool:
    """Does ``value`` (bytes-like) hold a secret's name right before "=" or ":"?"""
    if type(value) in (bytes, bytearray) and len(value) <= _LOWERED_MAX:
        return _LOWER_NAME_HINT.search(value.lower()) is not None
    return _BYTE_NAME_HINT.search(value) is not None


_GUESSED = frozenset({secret_shapes.TAG_URL})  # shapes not looked for in what the author wrote


def _spells(name: str, value) -> bool:
    """Whether ``value`` is ``name`` itself in another case or separator (celery's
    ``_TO_NEW_KEY['S3_SECRET_ACCESS_KEY'] = 's3_secret_access_key'``): a table of names."""
    if type(value) is bytes:
        value = value.decode("latin-1")
    return "".join(filter(str.isalnum, name)).lower() == "".join(filter(str.isalnum, value)).lower()


def _alternation(needles: dict):
    """One compiled search for all ``needles`` (longest first), or None when there are none."""
    if not needles:
        return None
    ordered = sorted(needles, key=len, reverse=True)
    bar = b"|" if isinstance(ordered[0], bytes) else "|"
    return _compile(bar.join(re.escape(n) for n in ordered))


def _says(name: str, how: str) -> str:
    kind = "secret" if secrecy.marked(name) else "secret-looking"
    return f"contains the value of the {kind} environment variable {name} ({how})"
