"""Image authentication: who may make images this machine restores.

Every image carries, right after the signed part of its prefix (see ``PREFIX`` in
:mod:`amber.image.format`, which places this block), a signature block over that part and the
header (the header holds a digest of every section, so the whole file is covered). Its layout
(``BLOCK``; offsets within the block)::

    offset  size  field
    0       1     scheme: 0 unsigned, 1 HMAC-SHA256, 2 Ed25519
    1       8     key_id: the first 8 bytes of BLAKE2b-256 of the key
    9       1     length: the signature's length in bytes
    10      64    signature: zero-padded
    74      6     zero: reserved

A restore verifies the block *before* it decodes anything in the header, then each section's
digest before using that section.

Keys. ``<config>`` is ``$XDG_CONFIG_HOME/amber`` or ``~/.config/amber``; the path of every key
file is one function here (``private_key_path``, ``public_key_path``, ``trusted_key_path``,
``key_file``), which :mod:`amber.commands.keys` uses too.

* **Ed25519** (for images that travel between machines; needs the ``cryptography`` package,
  ``pip install amber-snapshot[sign]``): ``amber keygen`` writes ``<config>/ed25519.key``
  (private, 0600) and ``<config>/ed25519.pub``. When the private key exists, images are signed
  with it. A machine restores an Ed25519-signed image only if it trusts the public key: its own,
  or one added with ``amber trust PUBLIC_KEY`` (kept in ``<config>/trusted/``). Verifiers hold
  no secret, so they cannot forge images.
* **HMAC-SHA256** (a shared secret, the default): ``$AMBER_KEY`` (its UTF-8 bytes), else the file
  ``$AMBER_KEY_FILE``, else ``<config>/hmac.key``. ``amber snapshot`` (and ``amber run``'s
  builds) create that file, mode 0600, the first time no key exists, and say so.

A restore never creates a key. ``--insecure`` restores an image without checking who made it.

On the restore path: imports only the base set and ``_sha256`` (and ``cryptography`` to check an
Ed25519 signature).
"""

import posix
from _blake2 import blake2b
from _operator import _compare_digest  # hmac.compare_digest itself; hmac is not in the base set

from amber._files import write_atomically
from amber.errors import AmberError, ImageError
from amber.image.schema import Layout

try:
    from _sha256 import sha256  # type: ignore[import-not-found]  # 3.11
except ImportError:  # pragma: no cover - 3.12+
    from _sha2 import sha256  # type: ignore[import-not-found]

UNSIGNED, HMAC_SHA256, ED25519 = 0, 1, 2
BLOCK = Layout("signature block", (
    ("scheme", 1, "int", f"{UNSIGNED} unsigned, {HMAC_SHA256} HMAC-SHA256, {ED25519} Ed25519"),
    ("key_id", 8, "hex", "the first 8 bytes of BLAKE2b-256 of the key"),
    ("length", 1, "int", "the signature's length in bytes"),
    ("signature", 64, "hex", "zero-padded"),
    ("zero", 6, "hex", "reserved"),
))
_SCHEME, _KEY_ID, _LENGTH, _SIGNATURE = BLOCK["scheme"], BLOCK["key_id"], BLOCK["length"], BLOCK["signature"]


MIN_KEY_LENGTH = 16


def config_dir() -> str:
    """``$XDG_CONFIG_HOME/amber``, else ``$HOME/.config/amber``; with neither set there is no key
    directory (never a shared fallback such as ``/tmp``)."""
    env = posix.environ
    xdg = env.get(b"XDG_CONFIG_HOME", b"").decode("utf-8", "surrogateescape")
    if not xdg.startswith("/"):
        xdg = ""  # the XDG rule: a relative value is ignored (it would follow the working directory)
    home = env.get(b"HOME", b"").decode("utf-8", "surrogateescape")
    if not xdg and not home:
        raise AmberError("neither HOME nor XDG_CONFIG_HOME is set: no directory for signing keys "
                         "(set one, or AMBER_KEY_FILE)")
    return (xdg or home.rstrip("/") + "/.config").rstrip("/") + "/amber"


def key_file() -> str:
    """The HMAC key's file: ``$AMBER_KEY_FILE``, else ``<config>/hmac.key``."""
    explicit = posix.environ.get(b"AMBER_KEY_FILE")
    return explicit.decode("utf-8", "surrogateescape") if explicit else config_dir() + "/hmac.key"


def private_key_path() -> str:
    """This machine's Ed25519 private key (``amber keygen``): images made here are signed with it."""
    return config_dir() + "/ed25519.key"


def public_key_path() -> str:
    """This machine's Ed25519 public key, hex: trusted here, handed to the machines that restore."""
    return config_dir() + "/ed25519.pub"


def trusted_dir() -> str:
    """Where ``amber trust`` keeps the public keys of other machines."""
    return config_dir() + "/trusted"


def trusted_key_path(kid: bytes) -> str:
    """The trusted public key with id ``kid``."""
    return f"{trusted_dir()}/{kid.hex()}.pub"


def load_key(create: bool = False) -> tuple:
    """(key bytes or None, where it came from, whether it was just created)."""
    env_key = posix.environ.get(b"AMBER_KEY")
    if env_key:
        if len(env_key) < MIN_KEY_LENGTH:  # a guessable key signs images anyone can forge
            raise AmberError(f"AMBER_KEY is {len(env_key)} bytes long; an HMAC key needs {MIN_KEY_LENGTH} or "
                             "more (amber keygen, or 32 random bytes in hex)")
        return env_key, "AMBER_KEY", False
    path = key_file()
    try:
        with open(path, "rb") as f:
            key = f.read().strip()
        if key:
            return key, path, False
    except OSError:
        pass
    if not create:
        return None, path, False
    directory = path.rsplit("/", 1)[0]
    _makedirs(directory)
    key = posix.urandom(32).hex().encode()
    write_atomically(path, key + b"\n")
    return key, path, True


def _makedirs(path: str) -> None:
    parts = path.split("/")
    for i in range(2, len(parts) + 1):
        d = "/".join(parts[:i])
        if d:
            try:
                posix.mkdir(d, 0o700)
            except FileExistsError:
                pass


def key_id(key: bytes) -> bytes:
    return blake2b(key, digest_size=32).digest()[:8]


def hmac_sha256(key: bytes, message) -> bytes:
    if len(key) > 64:
        key = sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = sha256(bytes(b ^ 0x36 for b in key))
    inner.update(message)
    outer = sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def signer():
    """(scheme, key id, sign(message) -> signature, where the key is, just created) for a snapshot:
    the Ed25519 key if there is one, else the HMAC key (made now if there is none)."""
    private = read_private_key()
    if private is not None:
        with _import_system_names_kept():
            from cryptography.hazmat.primitives import serialization

        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return ED25519, key_id(public), private.sign, private_key_path(), False
    key, where, created = load_key(create=True)
    return HMAC_SHA256, key_id(key), (lambda message: hmac_sha256(key, message)), where, created


def read_private_key():
    try:
        with open(private_key_path(), "rb") as f:
            pem = f.read()
    except OSError:
        return None
    with _import_system_names_kept():
        from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


class _import_system_names_kept:
    """Around Amber's own import of ``cryptography`` in the program's process (a snapshot's or a
    checkpoint's writer signing with Ed25519): ``import importlib``, which it does, renames the
    interpreter's frozen import system (``_frozen_importlib.__name__`` becomes
    ``importlib._bootstrap``); a program that never imported importlib has them as they were,
    and the verification would find Amber's renaming in its state. Put back as they were."""

    _MODULES = ("_frozen_importlib", "_frozen_importlib_external")
    _NAMES = ("__name__", "__package__", "__file__")

    def __enter__(self) -> None:
        import sys

        self.had_importlib = "importlib" in sys.modules
        self.saved = {name: {attr: vars(mod)[attr] for attr in self._NAMES if attr in vars(mod)}
                      for name, mod in ((n, sys.modules.get(n)) for n in self._MODULES) if mod is not None}

    def __exit__(self, *exc) -> None:
        import sys

        if self.had_importlib:
            return
        for name, attrs in self.saved.items():
            namespace = vars(sys.modules[name])
            for attr in self._NAMES:
                if attr in attrs:
                    namespace[attr] = attrs[attr]
                else:
                    namespace.pop(attr, None)


def sign_block(signature: tuple | None, signed: bytes) -> bytes:
    """The signature block for ``signed``; ``signature`` is (scheme, key id, sign) or None."""
    if signature is None:
        return BLOCK.pack(scheme=UNSIGNED)
    scheme, kid, sign = signature
    sig = sign(signed)
    return BLOCK.pack(scheme=scheme, key_id=kid, length=len(sig), signature=sig)


def trusted_public_key(kid: bytes) -> bytes | None:
    """The raw Ed25519 public key with this id that this machine trusts, if any."""
    for path in (trusted_key_path(kid), public_key_path()):
        try:
            with open(path) as f:
                raw = bytes.fromhex(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if key_id(raw) == kid:
            return raw
    return None


def verify(path: str, block, message: bytes, insecure: bool) -> None:
    """Check the signature ``block`` over ``message`` (the signed prefix and the header)."""
    if insecure:
        return
    scheme = block[_SCHEME.start]
    if scheme == UNSIGNED:
        raise ImageError(f"{path}: image is not signed; restore only images you trust (--insecure "
                         f"restores it anyway)")
    kid = bytes(block[_KEY_ID])
    length = block[_LENGTH.start]
    sig = bytes(block[_SIGNATURE][:length])
    if scheme == ED25519:
        _verify_ed25519(path, kid, sig, message)
        return
    if scheme != HMAC_SHA256:
        raise ImageError(f"{path}: image is signed with an unknown scheme ({scheme})")
    key, where, _ = load_key()
    if key is None:
        raise ImageError(f"{path}: image is signed by key {kid.hex()}, and this machine has no key "
                         f"(set AMBER_KEY to that key, or --insecure)")
    if key_id(key) != kid:
        raise ImageError(f"{path}: image is signed by key {kid.hex()}, not by this machine's key "
                         f"{key_id(key).hex()} ({where}); set AMBER_KEY to the key that made it, or "
                         f"--insecure")
    # In constant time: how long a comparison takes must not tell a forger how much of a MAC is right.
    if length != 32 or not _compare_digest(hmac_sha256(key, message), sig):
        raise ImageError(f"{path}: image is damaged or forged (its signature does not match)")


def _cryptography():
    """Import what checks Ed25519 signatures. A restore runs without ``site`` and takes
    ``sys.path`` from the image only once it is verified, so this interpreter's own
    site-packages are looked in for the moment of the import."""
    import sys

    saved = list(sys.path)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    # Without site, 3.12+ do not set sys.prefix to a virtual environment: find its root too.
    venv = sys.executable.rsplit("/", 2)[0]
    prefixes = (venv, sys.prefix, sys.exec_prefix, sys.base_prefix)
    for prefix in dict.fromkeys(prefixes):
        for lib in ("lib", "lib64"):
            sys.path.append(f"{prefix}/{lib}/{version}/site-packages")
        sys.path.append(f"{prefix}/Lib/site-packages")
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    finally:
        sys.path[:] = saved
    return InvalidSignature, Ed25519PublicKey


def _verify_ed25519(path: str, kid: bytes, signature: bytes, message: bytes) -> None:
    raw = trusted_public_key(kid)
    if raw is None:
        raise ImageError(f"{path}: image is signed by Ed25519 key {kid.hex()}, which this machine does not "
                         f"trust; trust it with `amber trust PUBLIC_KEY` (the .pub file of the machine that "
                         f"made it), or --insecure")
    try:
        InvalidSignature, Ed25519PublicKey = _cryptography()
    except ImportError:
        raise ImageError(f"{path}: image is signed with Ed25519, which needs the cryptography package "
                         f"(pip install 'amber-snapshot[sign]')") from None
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise ImageError(f"{path}: image is damaged or forged (its signature does not match)") from None

