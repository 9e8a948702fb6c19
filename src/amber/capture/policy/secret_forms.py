"""The forms a program commonly derives from a secret value, each searched for by the scan.

For a value ``v`` (the text of an environment variable or an ``amber.secret``):

* ``v`` as is, and escaped: percent-encoded (``quote``, ``quote_plus``), JSON (ASCII and not),
  ``repr``, ``re.escape``, HTML;
* base64 of ``v`` (standard and URL-safe, at any alignment: the part every encoding of a text
  containing ``v`` must contain);
* ``v`` in UTF-16 and UTF-32 (either byte order: a numpy ``U`` array, ``array('u')``,
  ``v.encode("utf-16")``), searched in bytes and buffers;
* when ``v`` is itself hex or base64 (a key handed over as text): the decoded bytes, and every
  run of 15 of them or more (``key[:16]``, ``key[16:]``: any such run contains one of the 8-byte
  pieces at offsets 0, 8, 16, ... which are searched), and the decoded bytes encoded the other
  way (hex of a base64 key, base64 of a hex key).

Values of variables named like a key that are paths, URLs without a password or flags are no
secrets: see :func:`amber.capture.policy.secret_shapes.is_path` and :func:`secret_value`.
"""

from __future__ import annotations

import _codecs
import base64
import binascii
import json
import re

# Imported with this module, before the program's state is described and captured, not when a
# value is first scanned: their imports compile patterns into the program's re._cache.
from html import escape
from urllib.parse import quote, quote_plus

from amber.capture.policy.secret_shapes import _URL, credential_url_password, is_path

# Compiled outside re's cache: the program's re._cache is captured, and must not hold what the
# scan looks for (nor lose the program's own entries).
_compile = re._compiler.compile  # type: ignore[attr-defined]

MIN_LENGTH = 8
PIECE = 8  # decoded bytes are searched for in pieces of this many bytes
_HEX = _compile(r"^(?:[0-9a-fA-F]{2}){8,}$")
_B64 = _compile(r"^[A-Za-z0-9+/_-]{16,}={0,2}$")
_FLAGS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled"})


def secret_value(value: str) -> str | None:
    """The part of an environment variable's value that is a secret: the password of a URL that
    has one, None for paths, URLs without a password, flags and short values."""
    if len(value) < MIN_LENGTH or value.strip().lower() in _FLAGS or is_path(value):
        return None
    if _URL.match(value):
        password = credential_url_password(value)
        return password if password is not None and len(password) >= 4 else None
    return value


def text_forms(value: str) -> list:
    """(text, how) for every str form of ``value`` (see the module doc)."""
    forms = [(value, "as is")]
    raw = value.encode("utf-8", "surrogateescape")
    forms += [(f, "base64-encoded") for f in base64_forms(raw)]
    for f in (quote(value, safe=""), quote(value), quote_plus(value)):
        forms.append((f, "percent-encoded"))
    for f in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]):
        forms.append((f, "escaped"))
    forms.append((re.escape(value), "regex-escaped"))
    forms.append((escape(value), "HTML-escaped"))
    for decoded, how in decoded_forms(value):
        if how.startswith("hex"):
            forms += [(f, f"{how}, base64-encoded") for f in base64_forms(decoded)]
        else:
            forms += [(decoded.hex(), f"{how}, as hex"), (decoded.hex().upper(), f"{how}, as hex")]
    if _HEX.match(value):
        forms += [(value.lower(), "as is"), (value.upper(), "as is")]
    return _unique(forms, MIN_LENGTH)


_WIDE_CODECS = (("utf-16-le", _codecs.utf_16_le_encode), ("utf-16-be", _codecs.utf_16_be_encode),
                ("utf-32-le", _codecs.utf_32_le_encode), ("utf-32-be", _codecs.utf_32_be_encode))


def byte_forms(value: str) -> list:
    """(bytes, how): the str forms in UTF-8, ``value`` in UTF-16/32, and the decoded bytes."""
    forms = [(t.encode("utf-8", "surrogateescape"), how) for t, how in text_forms(value)]
    # The codecs' C functions, not str.encode: that would import encodings.utf_16_le and the
    # like into the program's sys.modules (and its encodings package) while it is captured.
    for codec, encode in _WIDE_CODECS:
        try:
            enc = encode(value)[0]
        except UnicodeEncodeError:
            continue
        # Trimmed of the zero bytes at the ends: for ASCII the two byte orders are then the same
        # bytes, and no form starts with the zeros that fill most buffers.
        forms.append((enc.strip(b"\0"), codec[:6].upper()))
    for decoded, how in decoded_forms(value):
        forms.append((decoded, how))
        for i in range(0, len(decoded) - PIECE + 1, PIECE):
            piece = decoded[i:i + PIECE]
            if len(set(piece)) >= 5:
                forms.append((piece, f"{how}, in part"))
    return _unique(forms, PIECE)


def decoded_forms(value: str) -> list:
    """(bytes, how) when ``value`` is hex or base64 text of at least 8 bytes."""
    out = []
    if _HEX.match(value):
        out.append((bytes.fromhex(value), "hex-decoded"))
    if _B64.match(value):
        text = value.rstrip("=")
        text += "=" * (-len(text) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(text.encode("ascii"))
            except (binascii.Error, ValueError):
                continue
            if len(decoded) >= MIN_LENGTH:
                out.append((decoded, "base64-decoded"))
    return _unique(out, MIN_LENGTH)


def base64_forms(value: bytes) -> list:
    """Every run of base64 characters that encoding ``value`` at any offset must contain."""
    out = []
    for k in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            enc = encode(b"\0" * k + value)
            start, end = -(-4 * k // 3), (4 * (k + len(value))) // 3
            if end - start >= MIN_LENGTH:
                out.append(enc[start:end].decode("ascii"))
    return out


def _unique(forms: list, min_length: int) -> list:
    seen: set = set()
    out = []
    for text, how in forms:
        if len(text) >= min_length and text not in seen:
            seen.add(text)
            out.append((text, how))
    return out
