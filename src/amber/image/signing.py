"""Image authentication: who may make images this machine restores.

Every image carries, right after its fixed prefix, a signature block over the prefix and the
header (the header holds a digest of every section, so the whole file is covered)::

    offset  size  field
    48      1     scheme: 0 unsigned, 1 HMAC-SHA256
    49      8     key id: the first 8 bytes of BLAKE2b-256 of the key
    57      1     signature length
    58      64    signature (zero-padded)
    122     6     zero

A restore verifies the block *before* it decodes anything in the header, then each section's
digest before using that section.

Keys (HMAC-SHA256, a shared secret): ``$AMBER_KEY`` (its UTF-8 bytes), else the file
``$AMBER_KEY_FILE``, else ``<config>/amber/hmac.key`` where ``<config>`` is
``$XDG_CONFIG_HOME`` or ``~/.config``. ``amber snapshot`` (and ``amber run``'s builds) create that
file, mode 0600, the first time none of these exists, and say so; a restore never creates a key.
An image from another machine is restored with that machine's key (``AMBER_KEY``), or with
``--insecure``.

On the restore path: imports only the base set and ``_sha256``.
"""

import posix
from _blake2 import blake2b

from amber.errors import ImageError

try:
    from _sha256 import sha256  # 3.11
except ImportError:  # pragma: no cover - 3.12+
    from _sha2 import sha256

BLOCK_OFFSET = 48
BLOCK_SIZE = 80
UNSIGNED, HMAC_SHA256 = 0, 1


def config_dir() -> str:
    env = posix.environ
    xdg = env.get(b"XDG_CONFIG_HOME", b"").decode()
    home = env.get(b"HOME", b"").decode() or "/tmp"
    return (xdg or home.rstrip("/") + "/.config").rstrip("/") + "/amber"


def key_file() -> str:
    explicit = posix.environ.get(b"AMBER_KEY_FILE")
    return explicit.decode() if explicit else config_dir() + "/hmac.key"


def load_key(create: bool = False) -> tuple:
    """(key bytes or None, where it came from, whether it was just created)."""
    env_key = posix.environ.get(b"AMBER_KEY")
    if env_key:
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
    tmp = f"{path}.{posix.getpid()}.tmp"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC, 0o600)
    try:
        posix.write(fd, key + b"\n")
    finally:
        posix.close(fd)
    posix.replace(tmp, path)
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


def sign_block(key: bytes | None, signed: bytes) -> bytes:
    if key is None:
        return bytes(BLOCK_SIZE)
    sig = hmac_sha256(key, signed)
    block = bytes([HMAC_SHA256]) + key_id(key) + bytes([len(sig)]) + sig.ljust(64, b"\0")
    return block.ljust(BLOCK_SIZE, b"\0")


def verify(path: str, data, signed_end: int, insecure: bool) -> None:
    """Check the signature block of ``data`` over ``data[:48] + data[128:signed_end]``."""
    if insecure:
        return
    block = data[BLOCK_OFFSET:BLOCK_OFFSET + BLOCK_SIZE]
    scheme = block[0]
    if scheme == UNSIGNED:
        raise ImageError(f"{path}: image is not signed; restore only images you trust (--insecure "
                         f"restores it anyway)")
    if scheme != HMAC_SHA256:
        raise ImageError(f"{path}: image is signed with an unknown scheme ({scheme})")
    kid = bytes(block[1:9])
    key, where, _ = load_key()
    if key is None:
        raise ImageError(f"{path}: image is signed by key {kid.hex()}, and this machine has no key "
                         f"(set AMBER_KEY to that key, or --insecure)")
    if key_id(key) != kid:
        raise ImageError(f"{path}: image is signed by key {kid.hex()}, not by this machine's key "
                         f"{key_id(key).hex()} ({where}); set AMBER_KEY to the key that made it, or "
                         f"--insecure")
    length = block[9]
    message = bytes(data[:BLOCK_OFFSET]) + bytes(data[BLOCK_OFFSET + BLOCK_SIZE:signed_end])
    if length != 32 or hmac_sha256(key, message) != bytes(block[10:10 + length]):
        raise ImageError(f"{path}: image is damaged or forged (its signature does not match)")

