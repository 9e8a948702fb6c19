"""Refuse to write secrets: scan every string and bytes value an image would hold.

Checked, before anything is written (code constants included: they are inside the marshalled
code, which is scanned as bytes; so are caches such as ``linecache``'s, which are captured
strings):

* the value of every ``amber.secret()`` and of every environment variable whose name looks
  secret (KEY, TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL, PRIVATE, AUTH) and whose value is
  at least 8 characters long, also base64-encoded (standard and URL-safe, at any alignment)
  and percent-encoded;
* well-known credential shapes: PEM private keys, cloud access key ids, JSON web tokens.

``--allow-secret NAME`` exempts one variable. A hit names the object's path, the variable (or
the shape) and how it was encoded.
"""

from __future__ import annotations

import base64
import os
import re
from urllib.parse import quote, quote_plus

from amber import secrecy

SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE", "AUTH")
MIN_LENGTH = 8

# (what, substrings one of which it must contain, pattern)
_SHAPES = [
    ("a PEM private key", ("PRIVATE KEY",), re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
    ("a cloud access key id", ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
     re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b")),
    ("a JSON web token", ("eyJ",),
     re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
]


def _base64_forms(value: bytes) -> list:
    """Every run of base64 characters that encoding ``value`` at any offset must contain."""
    out = []
    for k in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            enc = encode(b"\0" * k + value)
            start, end = -(-4 * k // 3), (4 * (k + len(value))) // 3
            if end - start >= MIN_LENGTH:
                out.append(enc[start:end].decode("ascii"))
    return out


class SecretScanner:
    def __init__(self, allowed: set) -> None:
        values = secrecy.values()
        for name, value in os.environ.items():
            if any(word in name.upper() for word in SECRET_WORDS) and len(value) >= MIN_LENGTH:
                values.setdefault(name, value)
        self.needles: list = []  # (text, variable, how)
        for name, value in values.items():
            if name in allowed or len(value) < MIN_LENGTH:
                continue
            raw = value.encode("utf-8", "surrogateescape")
            forms = [(value, "as is")] + [(f, "base64-encoded") for f in _base64_forms(raw)]
            for f in {quote(value, safe=""), quote_plus(value)} - {value}:
                forms.append((f, "percent-encoded"))
            for text, how in forms:
                self.needles.append((text, name, how))
        self.byte_needles = [(t.encode("utf-8", "surrogateescape"), n, h) for t, n, h in self.needles]

    def check(self, value) -> str | None:
        """Why ``value`` (a str or bytes) must not be written, or None."""
        if type(value) is bytes:
            if len(value) < MIN_LENGTH:
                return None
            for needle, name, how in self.byte_needles:
                if needle in value:
                    return _says(name, how)
            if b"PRIVATE KEY" in value or b"eyJ" in value or b"AKIA" in value or b"ASIA" in value:
                return self.check(value.decode("latin-1"))
            return None
        if len(value) < MIN_LENGTH:
            return None
        for needle, name, how in self.needles:
            if needle in value:
                return _says(name, how)
        for what, hints, pattern in _SHAPES:
            if any(h in value for h in hints) and pattern.search(value):
                return f"contains {what}"
        return None


def _says(name: str, how: str) -> str:
    kind = "secret" if secrecy.marked(name) else "secret-looking"
    return f"contains the value of the {kind} environment variable {name} ({how})"
