"""``amber keygen`` and ``amber trust``: Ed25519 keys for images that travel between machines.

``amber keygen`` writes ``<config>/ed25519.key`` (the private key, mode 0600: images made on this
machine are signed with it from now on) and ``<config>/ed25519.pub`` (the public key, hex, to
hand to the machines that restore them: ``HEX amber-ed25519-public``, see :func:`public_line`).
``amber trust PUBLIC_KEY`` makes this machine restore images signed by that key; it takes only
such a file, never a secret (the HMAC key, 64 hex digits as well, or a private key), which it
would copy where every user can read it. Both first check that the key directory is this user's
(:mod:`amber.commands.paths`). Layout and verification: :mod:`amber.image.signing`.
"""

from __future__ import annotations

import argparse
import os

from amber._files import write_atomically
from amber.commands.paths import check_key_home, key_home, key_path
from amber.errors import AmberError, UsageError, describe_os_error, output
from amber.image import signing

__all__ = ["keygen_arguments", "keygen", "trust_arguments", "trust", "read_public_key", "public_line",
           "is_ed25519_point", "PUBLIC_TAG"]

PUBLIC_TAG = "amber-ed25519-public"  # the second word of a .pub file (see public_line)
_MAX_KEY_FILE = 4096  # a public key file is one short line; /dev/zero is not one


def keygen_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber keygen``'s command line (see :mod:`amber.commands.cli`)."""
    try:
        private, public = signing.private_key_path(), signing.public_key_path()
    except UnicodeDecodeError:  # keygen itself says so in one line
        private, public = "<config>/ed25519.key", "<config>/ed25519.pub"
    parser.epilog = (f"Writes {private} (mode 0600) and {public} (the directory <config> is "
                     f"$XDG_CONFIG_HOME/amber, default ~/.config/amber). Needs the cryptography package.")
    parser.add_argument("--force", action="store_true", help="replace an existing key pair")


def keygen(opts: argparse.Namespace) -> int:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise UsageError("amber keygen needs the cryptography package: pip install 'amber-snapshot[sign]'") \
            from None
    check_key_home(key_home())
    private_path, public_path = key_path(signing.private_key_path), key_path(signing.public_key_path)
    if os.path.lexists(private_path) and not opts.force:
        raise UsageError(f"{private_path} exists already (--force replaces it; images it signed then need "
                         f"--insecure or the old public key)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    _write(private_path, pem, 0o600)
    _write(public_path, public_line(public), 0o644)
    output(f"private key {private_path} (mode 0600): images made here are signed with it\n"
           f"public key  {public_path} (id {signing.key_id(public).hex()}): on each machine that restores "
           f"them, run `amber trust {public_path}`\n")
    return 0


def public_line(raw: bytes) -> bytes:
    """A public key file's content: the key in hex, then :data:`PUBLIC_TAG` (what tells it from
    the HMAC secret key, 64 hex digits too); :func:`amber.image.signing.trusted_public_key` reads
    the first word."""
    return f"{raw.hex()} {PUBLIC_TAG}\n".encode()


def _write(path: str, data: bytes, mode: int) -> None:
    try:
        write_atomically(path, data, mode)
    except OSError as e:
        raise AmberError(f"cannot write {describe_os_error(e)}") from None


def trust_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber trust``'s command line (see :mod:`amber.commands.cli`)."""
    parser.add_argument("public_key", metavar="PUBLIC_KEY",
                        help="the .pub file `amber keygen` wrote on the machine that makes the images")


def trust(opts: argparse.Namespace) -> int:
    path = opts.public_key
    raw = read_public_key(path)
    key_home()
    check_key_home(key_path(signing.trusted_dir))
    kid = signing.key_id(raw)
    _write(key_path(lambda: signing.trusted_key_path(kid)), public_line(raw), 0o644)
    output(f"trusted Ed25519 key {kid.hex()}: images it signed are restored here\n")
    return 0


def read_public_key(path: str) -> bytes:
    """The raw Ed25519 public key in ``path``, a file as ``amber keygen`` writes it; anything else
    is refused with one line: above all a secret (the HMAC key, which is 64 hex digits too, or a
    private key), which ``amber trust`` would otherwise copy where every user can read it."""
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_KEY_FILE + 1)
    except OSError as e:
        raise UsageError(f"cannot read {describe_os_error(e)}") from None
    if b"PRIVATE KEY" in data:
        raise UsageError(f"{path} is a private key: trust the .pub file beside it (a private key never "
                         f"leaves the machine that signs)")
    if _is_local_secret(path, data):
        raise UsageError(f"{path} is this machine's HMAC secret key, not a public key: trust the "
                         f"ed25519.pub that `amber keygen` writes")
    words = data.split() if len(data) <= _MAX_KEY_FILE else []
    if len(words) != 2 or words[1] != PUBLIC_TAG.encode():
        raise UsageError(f"{path} is not an Amber public key (expected the .pub file `amber keygen` writes: "
                         f"64 hex digits and {PUBLIC_TAG!r}; 64 hex digits alone are what an HMAC secret "
                         f"key looks like)")
    try:
        raw = bytes.fromhex(words[0].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raw = b""
    if len(raw) != 32 or not is_ed25519_point(raw):
        raise UsageError(f"{path} is not an Ed25519 public key (its 64 hex digits are not a point of the "
                         f"curve)")
    return raw


def _is_local_secret(path: str, data: bytes) -> bool:
    """``path`` is, or holds, this machine's HMAC key (the file, or ``$AMBER_KEY``)."""
    for secret_path in (key_path(signing.key_file), key_path(signing.private_key_path)):
        try:
            if os.path.samefile(path, secret_path):
                return True
        except (OSError, ValueError):
            pass
    key_path(signing.key_file)  # one line if the variables that name it do not decode
    key, _where, _created = signing.load_key()
    words = data.split()
    return key is not None and bool(words) and words[0] == key.strip()


# Ed25519's curve, for the one check a public key allows: it is the encoding of a point (RFC 8032,
# 5.1.3). Random bytes, such as a secret key, fail it half of the time.
_P = 2 ** 255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def is_ed25519_point(raw: bytes) -> bool:
    """Whether the 32 bytes ``raw`` decode to a point of Ed25519's curve (either sign of x; not
    the two points with x = 0, which no key pair has)."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if y >= _P:
        return False
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    if x2 == 0:
        return False  # x = 0: (0, 1) and (0, -1), points of small order
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    return (x * x - x2) % _P == 0
