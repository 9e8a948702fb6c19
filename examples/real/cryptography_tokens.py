"""Keys and a self-signed certificate made at start-up with cryptography (Ed25519 from a fixed
seed, Fernet from a fixed key, HMAC); the main block signs, verifies and decrypts. Needs: cryptography."""
import base64
import datetime
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"demo signing seed").digest())
VERIFY_KEY = SIGNING_KEY.public_key()
FERNET = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"demo fernet key").digest()))
MAC_KEY = b"0123456789abcdef0123456789abcdef"

name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "amber.test"),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")])
CERT = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(VERIFY_KEY)
        .serial_number(1001).not_valid_before(datetime.datetime(2024, 1, 1))
        .not_valid_after(datetime.datetime(2034, 1, 1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("amber.test")]), critical=False)
        .sign(SIGNING_KEY, None))


def mac(message: bytes) -> str:
    h = hmac.HMAC(MAC_KEY, hashes.SHA256())
    h.update(message)
    return h.finalize().hex()[:32]


if __name__ == "__main__":
    message = b"transfer 100 to alice"
    sig = SIGNING_KEY.sign(message)
    print(sig.hex()[:32], len(sig))
    VERIFY_KEY.verify(sig, message)
    try:
        VERIFY_KEY.verify(sig, message + b"0")
    except InvalidSignature:
        print("tampered message rejected")
    raw = VERIFY_KEY.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    print("public", raw.hex()[:32])
    token = FERNET.encrypt(b"session=42")
    print(FERNET.decrypt(token), FERNET.extract_timestamp(token) > 0)
    try:
        FERNET.decrypt(token[:-4] + b"AAAA")
    except InvalidToken:
        print("bad token rejected")
    print("mac", mac(message))
    print(CERT.subject.rfc4514_string(), CERT.serial_number, CERT.not_valid_after_utc.year)
    print(hashlib.sha256(CERT.public_bytes(serialization.Encoding.DER)).hexdigest()[:32])
    print(CERT.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))
