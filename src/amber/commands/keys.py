"""``amber keygen`` and ``amber trust``: Ed25519 keys for images that travel between machines.

``amber keygen`` writes ``<config>/ed25519.key`` (the private key, mode 0600: images made on this
machine are signed with it from now on) and ``<config>/ed25519.pub`` (the public key, hex, to
hand to the machines that restore them). ``amber trust PUBLIC_KEY`` makes this machine restore
images signed by that key. Layout and verification: :mod:`amber.image.signing`.
"""

from __future__ import annotations

import argparse
import os

from amber._files import write_atomically
from amber.errors import UsageError
from amber.image import signing

__all__ = ["keygen_arguments", "keygen", "trust_arguments", "trust"]


def keygen_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber keygen``'s command line (see :mod:`amber.commands.cli`)."""
    parser.epilog = (f"Writes {signing.private_key_path()} (mode 0600) and {signing.public_key_path()} "
                     f"(the directory is $XDG_CONFIG_HOME/amber, default ~/.config/amber). Needs the "
                     f"cryptography package.")
    parser.add_argument("--force", action="store_true", help="replace an existing key pair")


def keygen(opts: argparse.Namespace) -> int:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise UsageError("amber keygen needs the cryptography package: pip install 'amber-snapshot[sign]'") \
            from None
    private_path, public_path = signing.private_key_path(), signing.public_key_path()
    if os.path.exists(private_path) and not opts.force:
        raise UsageError(f"{private_path} exists already (--force replaces it; images it signed then need "
                         f"--insecure or the old public key)")
    os.makedirs(os.path.dirname(private_path), mode=0o700, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    write_atomically(private_path, pem, 0o600)
    write_atomically(public_path, public.hex().encode() + b"\n", 0o644)
    print(f"private key {private_path} (mode 0600): images made here are signed with it")
    print(f"public key  {public_path} (id {signing.key_id(public).hex()}): on each machine that restores "
          f"them, run `amber trust {public_path}`")
    return 0


def trust_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber trust``'s command line (see :mod:`amber.commands.cli`)."""
    parser.add_argument("public_key", metavar="PUBLIC_KEY",
                        help="the .pub file `amber keygen` wrote on the machine that makes the images")


def trust(opts: argparse.Namespace) -> int:
    path = opts.public_key
    try:
        with open(path) as f:
            raw = bytes.fromhex(f.read().split()[0])
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, IndexError):
        raise UsageError(f"{path} is not an Amber public key (expected 64 hex digits)") from None
    if len(raw) != 32:
        raise UsageError(f"{path} is not an Ed25519 public key (expected 32 bytes)")
    os.makedirs(signing.trusted_dir(), mode=0o700, exist_ok=True)
    kid = signing.key_id(raw)
    write_atomically(signing.trusted_key_path(kid), raw.hex().encode() + b"\n", 0o644)
    print(f"trusted Ed25519 key {kid.hex()}: images it signed are restored here")
    return 0
