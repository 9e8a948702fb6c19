"""What a secret looks like when the scan does not know its value: shapes, names, plausible values.

Three questions, each answered the same way wherever the scan asks it:

* **Is this name a secret's name?** (:func:`secret_name`) A dict key, an attribute, an ini,
  YAML or dotenv key, a variable set in ``os.environ``: split into words (``db_password``,
  ``apiKey``, ``X-Auth-Token``), it names a secret when a word is or ends with ``password``,
  ``passwd``, ``passphrase``, ``secret``, ``credential(s)``, ``apikey``, ``privatekey``,
  ``authtoken``... (``pwd``, ``pw`` and ``pass`` as whole words), or two words are ``api key``,
  ``private key``, ``secret key``, ``access key``, ``auth key``, ``signing key``,
  ``client secret``, ``access token``, ``auth token``... (``token`` alone names a lexer's token
  as often as a credential: it is not enough). A last word that says the value *refers* to
  the secret (``_file``, ``_path``, ``_dir``, ``_sock``, ``_url``, ``_name``, ``_id``, ``_type``,
  ``_env``, ...) makes it no secret's name.
* **Could this value be a secret?** (:func:`plausible`) Not a path (``/…``, ``~/…``, ``./…``,
  a file name such as ``server.pem``, a file that exists), not a URL without a password, not a
  placeholder (``<token>``, ``${TOKEN}``, ``%(pw)s``, ``xxxx``, ``YOUR_API_KEY``, ``changeme``),
  not letters that read as words (``password``, ``default``: shorter than 16; ``_auth_user_id``,
  ``IAmSensitiveBytes``: words of three letters or more on average), not
  code (``getpass()``, ``self.token``, ``os.environ["X"]``, ``package.module:Class``), not
  prose (white space), not an alphabet (16 characters or more in code-point order, such as the
  characters a URL's password may hold), 6 to 256 characters.
* **Is this a credential by its shape?** (:data:`SHAPES`) A PEM private key *with a key body*
  (40 base64 characters or more after the marker: a marker alone, as in a library's docstring,
  is no key), a cloud access key id (``AKIA…``; the documented examples ending in ``EXAMPLE``
  and ids of one repeated character are not), a JSON web token whose header decodes to JSON, a
  password in a URL (``scheme://user:password@host``, the password plausible as above), and a
  ``name = value`` line of ini, dotenv, YAML or JSON text whose name is a secret's name and
  whose value is plausible.

Each shape has a tag that ``--allow-secret TAG`` accepts to let its hits through.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote  # here, not when first used: see secret_forms

TYPE_CHECKING = False  # imported while the program's state is captured: nothing more at run time
if TYPE_CHECKING:
    from collections.abc import Callable

# Compiled outside re's cache: the program's re._cache is captured, and must not hold what the
# scan looks for (nor lose the program's own entries).
_compile = re._compiler.compile  # type: ignore[attr-defined]

TAG_PEM = "private-key"
TAG_KEY_ID = "cloud-key-id"
TAG_JWT = "json-web-token"
TAG_URL = "url-password"

# Words that name a secret (a word of the name is one of these or ends with one)...
_ENDINGS = ("password", "passwd", "passphrase", "secret", "credential", "credentials", "apikey",
            "privatekey", "secretkey", "accesskey", "authkey", "signingkey", "authtoken", "accesstoken",
            "apitoken", "refreshtoken", "bearertoken", "csrftoken")
_WHOLE = frozenset({"pwd", "pw", "pass", "pword"})
# ... or these two words in a row ...
_PAIRS = frozenset({("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"),
                    ("auth", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
                    ("client", "secret"), ("session", "key"), ("hmac", "key"), ("access", "token"),
                    ("auth", "token"), ("api", "token"), ("refresh", "token"), ("bearer", "token"),
                    ("id", "token"), ("session", "token"), ("csrf", "token"), ("oauth", "token"),
                    ("bot", "token"), ("personal", "token"), ("client", "token"), ("github", "token")})
# ... unless the last word says the value refers to the secret rather than being it.
_REFERS = frozenset({"file", "files", "path", "paths", "dir", "directory", "filename", "sock",
                     "socket", "fd", "url", "uri", "endpoint", "name", "names", "id", "ids", "type",
                     "types", "kind", "env", "var", "variable", "field", "fields", "len", "length",
                     "size", "count", "prefix", "suffix", "header", "param", "policy", "expiry",
                     "expires", "expiration", "ttl", "timeout", "cls", "class", "regex", "pattern",
                     "format", "fmt", "help", "prompt", "label", "mode", "required", "enabled",
                     "provider", "backend", "manager", "store", "storage", "location", "source"})
_WORD = _compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_name_cache: dict = {}


def secret_name(name: str) -> bool:
    """Whether ``name`` (a key, an attribute, a variable) names a secret (see the module doc)."""
    known = _name_cache.get(name)
    if known is None:
        known = _name_cache[name] = len(name) <= 80 and _secret_name(name)
    return known


def _secret_name(name: str) -> bool:
    words = [w.lower() for w in _WORD.findall(name)]
    if not words or words[-1] in _REFERS:
        return False
    for i, w in enumerate(words):
        if w in _WHOLE or w.endswith(_ENDINGS):
            return True
        if i and (words[i - 1], w) in _PAIRS:
            return True
    return False


# What every secret's name contains (a quick test before the words are looked at).
SECRET_WORD = _compile(r"(?i)pass|pwd|pw|secret|token|credential|key")
# A secret's name right before "=" or ":": what a ``name = value`` line must contain.
SECRET_NAME_HINT = _compile(r"(?i)(?:pass(?:word|wd|phrase)?|pwd|pw|secret|token|credentials?|key)"
                            r"[\"']?[ \t]*[=:]")

_PLACEHOLDER = _compile(
    r"""(?ix) ^(?: <[^>]*> | \$\{[^}]*\} | \$[A-Z_][A-Z0-9_]* | \{\{.*\}\} | \{[\w.]*\} | %\([^)]*\)s | %s
        | [*xX.#_-]+ | (?-i:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)
        | (?:your|my|the|some|dummy|fake|example|sample|test|placeholder|changeme|redacted|
             secret|token|password|none|null|nil|undefined)(?:[_-]?[A-Za-z]+)* )$""")
_CODE = _compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?$"
                 r"|^[A-Za-z_][\w.]*(?:\(.*\)|\[.*\])$|^[\[({].*[\])}]$")
_LETTERS = _compile(r"^_*[A-Za-z]+(?:[_.-]+[A-Za-z]+)*$")
_HUMP = _compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_PATHLIKE = _compile(r"^(?:[/~]|\.{1,2}/|[A-Za-z]:[\\/]|file:)"
                       r"|^[\w.-]+\.(?:pem|key|crt|cer|der|p12|pfx|jks|pub|gpg|asc|json|ya?ml|toml|ini|cfg|conf"
                       r"|env|txt|sock)$", re.I)
_URL = _compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_path(value: str) -> bool:
    """A file or socket path, or a file name: what a variable named like a key often holds."""
    if _PATHLIKE.search(value):
        return True
    if "/" in value and " " not in value and not value.endswith("=") and os.sep == "/":
        try:
            return os.path.exists(value)
        except (OSError, ValueError):
            return False
    return False


def plausible(value, min_length: int = 6) -> bool:
    """Whether ``value`` (a str or bytes kept under a secret's name) could be the secret itself."""
    if isinstance(value, bytes):
        return len(value) >= 8 and len(set(value)) >= 4 and not _looks_text(value)
    value = value.strip().strip("'\"")
    if not min_length <= len(value) <= 256 or any(c.isspace() for c in value):
        return False
    if is_path(value) or _PLACEHOLDER.match(value) or _CODE.match(value):
        return False
    if _URL.match(value):
        return credential_url_password(value) is not None
    if len(set(value)) < 4 or _alphabet(value):
        return False
    return not (_LETTERS.match(value) and (len(value) < 16 or _wordy(value)))


def _wordy(value: str) -> bool:
    """Letters that read as words (``_auth_user_id``, ``IAmSensitiveBytes``,
    ``not-a-secret-just-for-tests``): names and examples, not generated secrets, whose letters
    change case or break every one or two characters (``xKqPzLmWnRtYvBsQ``)."""
    words = _HUMP.findall(value)
    return bool(words) and sum(map(len, words)) / len(words) >= 3


def _alphabet(value: str) -> bool:
    """A character set written out in code-point order (``0123456789abcdef``, the characters a
    URL's user information may hold): 16 characters or more, each after the one before. A
    generated secret of 16 characters is in order once in some 10^13."""
    return len(value) >= 16 and all(a < b for a, b in zip(value, value[1:], strict=False))


def _looks_text(value: bytes) -> bool:
    """Bytes that are a printable, non-secret-looking text (then judged as text)."""
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return False
    return text.isprintable() and not plausible(text)


# == shapes ========================================================================================
_PEM = _compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                  r"(?:(?:\s|\\[rn])*(?:[A-Za-z-]+: [^\r\n\\]*))*"  # headers of an encrypted key
                  r"(?:(?:\s|\\[rn])*[A-Za-z0-9+/=]){40}")
_KEY_ID = _compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])([A-Z0-9]{16})(?![A-Z0-9])")
_JWT = _compile(r"(?<![\w-])(eyJ[A-Za-z0-9_-]{8,})\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_CRED_URL = _compile(r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}://([^\s/?#@:'\"<>\\]*):([^\s/?#@'\"<>\\]+)@"
                       r"[\w\[]")
_NAMED = _compile(
    r"""(?mx) (?: ^[ \t]*(?:export[ \t]+)? | ["'] | [?&;] )     # a line, a JSON key, a URL query
        ([A-Za-z_][\w.-]{0,60}) ["']? [ \t]* [=:] (?!//) [ \t]*   # (a URL's scheme is no name)
        ( "[^"\r\n]{1,256}" | '[^'\r\n]{1,256}'
        | [^\s"',;&#]{1,256} (?=[ \t]*(?:$|[,;&}\]#])) )   # unquoted: the whole value, not prose""")
_JWT_HEADER_KEYS = ('"alg"', '"typ"', '"kid"', '"enc"')
# The documented example credentials (AWS's key id and the JWT of jwt.io): no key.
_DOCUMENTED = ("EXAMPLE", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
HINTS = ("PRIVATE KEY", "AKIA", "ASIA", "ABIA", "ACCA", "A3T", "eyJ", "://")


def shape(value: str, allowed: set, allowed_values: tuple) -> tuple | None:
    """(what, tag) when ``value`` holds a credential by its shape (see the module doc)."""
    if TAG_PEM not in allowed and "PRIVATE KEY" in value and _PEM.search(value):
        return "a PEM private key", TAG_PEM
    if TAG_KEY_ID not in allowed and "A" in value:
        for m in _KEY_ID.finditer(value):
            body = m.group(1)
            if "EXAMPLE" not in m.group(0) and len(set(body)) > 4:
                return "a cloud access key id", TAG_KEY_ID
    if TAG_JWT not in allowed and "eyJ" in value:
        for m in _JWT.finditer(value):
            if _jwt_header(m.group(1)) and not any(d in m.group(0) for d in _DOCUMENTED):
                return "a JSON web token", TAG_JWT
    if TAG_URL not in allowed and "://" in value:
        for m in _CRED_URL.finditer(value):
            password = m.group(2)
            if plausible(_unquote(password)) and not _is_allowed_value(password, allowed_values):
                return "a password in a URL", TAG_URL
    return None


def named_in_text(value: str, allowed: set, allowed_values: tuple,
                  address: Callable[[int], bool] | None = None) -> tuple | None:
    """(name, hidden) for a ``name = value`` (ini, dotenv, YAML, JSON, URL query) whose name is a
    secret's name and whose value is plausible; None if there is none. ``address(n)``: whether
    ``n`` is the ``id()`` of an object the process holds; a value that is one (pydantic's
    ``module.APIKey:140...`` reference to a class) tells where an object is, not a secret."""
    if not SECRET_NAME_HINT.search(value):
        return None
    for m in _NAMED.finditer(value):
        name, found = m.group(1), m.group(2)
        if name in allowed or not secret_name(name.rsplit(".", 1)[-1]):
            continue
        found = found.strip("'\"")
        if address is not None and found.isdigit() and address(int(found)):
            continue
        if plausible(found) and not _is_allowed_value(found, allowed_values):
            return name, found
    return None


def credential_url_password(value: str) -> str | None:
    m = _CRED_URL.search(value)
    return _unquote(m.group(2)) if m else None


def _jwt_header(part: str) -> bool:
    import base64

    try:
        text = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return text.startswith("{") and any(k in text for k in _JWT_HEADER_KEYS)


def _unquote(text: str) -> str:
    if "%" not in text:
        return text
    return unquote(text)


def _is_allowed_value(value: str, allowed_values: tuple) -> bool:
    return any(value in v or v in value for v in allowed_values)
