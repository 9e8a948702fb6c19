"""SSL contexts made during start-up, restored in fresh processes and used against real TLS servers.

The servers run in this test process on 127.0.0.1 with a throwaway CA made here (``cryptography``);
each program makes its contexts before its snapshot point and connects after it, and what a
restored process gets (a response, or the very same verification error) must be what a cold run
gets. See ``amber.capture.reduce.tls`` for what is rebuilt and what is read again from files.
"""

import datetime
import http.server
import ipaddress
import os
import ssl
import threading

import pytest
from conftest import AMBER, run

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402


# == a throwaway PKI ==================================================================================
def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, *, ca=False, sans=(), usage=None):
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    # Python 3.13's default contexts verify strictly (VERIFY_X509_STRICT): key identifiers needed.
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ca:
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if usage:
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write_pem(path, *parts):
    path.write_bytes(b"".join(parts))
    return str(path)


def _key_pem(key, password=None):
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


class PKI:
    """A CA, a server certificate for localhost and 127.0.0.1, a client certificate (and an
    unrelated CA), written to files under ``root``."""

    def __init__(self, root):
        root.mkdir()
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert("Amber Test CA", ca_key, "Amber Test CA", ca_key, ca=True)
        self.ca = _write_pem(root / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
        other_key = ec.generate_private_key(ec.SECP256R1())
        other = _cert("Other CA", other_key, "Other CA", other_key, ca=True)
        self.other_ca = _write_pem(root / "other-ca.pem", other.public_bytes(serialization.Encoding.PEM))
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _cert("localhost", server_key, "Amber Test CA", ca_key,
                       sans=(x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
                       usage=ExtendedKeyUsageOID.SERVER_AUTH)
        self.server_cert = _write_pem(root / "server.pem", server.public_bytes(serialization.Encoding.PEM))
        self.server_key = _write_pem(root / "server.key", _key_pem(server_key))
        self.client_key_obj = ec.generate_private_key(ec.SECP256R1())
        client = _cert("amber-client", self.client_key_obj, "Amber Test CA", ca_key,
                       usage=ExtendedKeyUsageOID.CLIENT_AUTH)
        self.client_cert = _write_pem(root / "client.pem", client.public_bytes(serialization.Encoding.PEM))
        self.client_key = _write_pem(root / "client.key", _key_pem(self.client_key_obj))
        self.client_key_encrypted = _write_pem(root / "client-enc.key",
                                               _key_pem(self.client_key_obj, b"correct horse battery"))

    def key_forms(self):
        """The client's private key as it could appear in an image: DER, the PEM body's lines."""
        der = self.client_key_obj.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())
        lines = [line for line in open(self.client_key, "rb").read().splitlines() if not line.startswith(b"-----")]
        raw = self.client_key_obj.private_numbers().private_value.to_bytes(32, "big")
        return [der, raw, *lines]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        peer = self.connection.getpeercert()
        who = dict(x[0] for x in peer["subject"])["commonName"] if peer else "anonymous"
        alpn = self.connection.selected_alpn_protocol()
        body = f"hello {who} {self.connection.version()} alpn={alpn}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, pki, require_client_cert):
        super().__init__(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki.server_cert, pki.server_key)
        ctx.load_verify_locations(pki.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        self.ctx = ctx

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(10)
        try:
            return self.ctx.wrap_socket(sock, server_side=True), addr
        except (ssl.SSLError, OSError):
            sock.close()
            raise

    def handle_error(self, request, client_address):
        pass  # failed handshakes are what some tests want


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(tmp_path_factory.mktemp("tls") / "pki")


@pytest.fixture(scope="module")
def servers(pki):
    made = [Server(pki, require_client_cert=False), Server(pki, require_client_cert=True)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in made]
    for t in threads:
        t.start()
    yield tuple(s.server_address[1] for s in made)
    for s in made:
        s.shutdown()
        s.server_close()


# == programs =========================================================================================
# The contexts are made at start-up; after the snapshot point each is used for one real request,
# and one line per case says what came of it.
CLIENTS = '''
import http.client, os, ssl, sys
import requests, urllib3

CA, CERT, KEY = {ca!r}, {cert!r}, {key!r}
for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests lets them override session.verify
    os.environ.pop(name, None)
PORT, PORT_CLIENT_CERT = {port}, {port_cc}

DEFAULT = ssl.create_default_context(cafile=CA)                                  # (a)
SESSION = requests.Session()                                                      # (b)
SESSION.verify = CA
POOL = urllib3.PoolManager(ssl_context=ssl.create_default_context(cafile=CA))
HTTPS = http.client.HTTPSConnection("localhost", PORT, context=ssl.create_default_context(cafile=CA))  # (c)
CLIENT = ssl.create_default_context(cafile=CA)                                    # (d)
CLIENT.load_cert_chain(CERT, KEY)
NO_CLIENT_CERT = ssl.create_default_context(cafile=CA)
WRONG_HOST = ssl.create_default_context(cafile=CA)                                # (e)
NO_VERIFY = ssl.create_default_context()                                          # (f)
NO_VERIFY.check_hostname = False
NO_VERIFY.verify_mode = ssl.CERT_NONE
NO_CA = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)                                   # trusts nothing
SYSTEM_CA = ssl.create_default_context()                                          # the system's CAs only
TUNED = ssl.create_default_context(cafile=CA)
TUNED.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
TUNED.maximum_version = ssl.TLSVersion.TLSv1_2
TUNED.set_alpn_protocols(["h2", "http/1.1"])
TUNED.options |= ssl.OP_NO_COMPRESSION

def get(ctx, port=PORT, host="localhost"):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                s.sendall(b"GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                return "ok " + data.split(b"\\r\\n\\r\\n", 1)[1].decode() + f" cipher={{s.cipher()[0]}}"
    except Exception as e:
        return f"{{type(e).__name__}}: {{getattr(e, 'verify_message', None) or getattr(e, 'reason', None) or e}}"

def fetch(what):
    try:
        return "ok " + what()
    except Exception as e:
        return f"{{type(e).__name__}}: {{e}}"

def https_connection():
    HTTPS.request("GET", "/")
    return HTTPS.getresponse().read().decode()

if __name__ == "__main__":
    print("a default context, cafile:", get(DEFAULT))
    print("b requests session, verify=CA:", fetch(lambda: SESSION.get(f"https://localhost:{{PORT}}/").text))
    print("b urllib3 pool, ssl_context:", fetch(lambda: POOL.request("GET", f"https://localhost:{{PORT}}/").data.decode()))
    print("c http.client.HTTPSConnection:", fetch(https_connection))
    print("d client certificate:", get(CLIENT, PORT_CLIENT_CERT))
    anonymous = get(NO_CLIENT_CERT, PORT_CLIENT_CERT)  # TLS 1.3: an alert or an EOF, as timing has it
    print("d no client certificate:", anonymous if anonymous.startswith("ok") else "refused")
    print("e wrong host name:", get(WRONG_HOST, host="wrong.example"))
    print("f CERT_NONE:", get(NO_VERIFY, host="wrong.example"))
    print("no CA loaded:", get(NO_CA))
    print("system CAs only:", get(SYSTEM_CA))
    print("ciphers, version, ALPN:", get(TUNED), TUNED.options & ssl.OP_NO_COMPRESSION != 0)
    print("class as made:", sorted(k for k in vars(ssl.SSLContext) if not k.startswith("__")))
'''


# One request over a context: the body, or the error's kind and message.
GET = '''
import socket as _socket, ssl as _ssl
def get(ctx, port, host="localhost"):
    try:
        with _socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                return data.split(b"\\r\\n\\r\\n", 1)[1].decode()
    except _ssl.SSLCertVerificationError as e:
        return f"refused: {e.verify_message}"
    except OSError as e:
        return f"{type(e).__name__}"
'''


def _program(program, source):
    import textwrap

    return program(GET + textwrap.dedent(source))


def _clients(program, pki, servers, key=None):
    return program(CLIENTS.format(ca=pki.ca, cert=pki.client_cert, key=key or pki.client_key,
                                  port=servers[0], port_cc=servers[1]))


def test_contexts_made_at_start_up_work_after_restore(program, pki, servers):
    p = _clients(program, pki, servers)
    cold = p.cold(check=True).stdout
    lines = dict(line.split(": ", 1) for line in cold.splitlines())
    # The cold run is what the test expects, so that the comparison below means something.
    assert lines["a default context, cafile"].startswith("ok hello anonymous TLSv1.3")
    assert lines["b requests session, verify=CA"].startswith("ok hello anonymous")
    assert lines["b urllib3 pool, ssl_context"].startswith("ok hello anonymous")
    assert lines["c http.client.HTTPSConnection"].startswith("ok hello anonymous")
    assert lines["d client certificate"].startswith("ok hello amber-client")
    assert lines["d no client certificate"] == "refused"
    assert lines["e wrong host name"].startswith("SSLCertVerificationError: Hostname mismatch")
    assert lines["f CERT_NONE"].startswith("ok hello anonymous")
    assert lines["no CA loaded"].startswith("SSLCertVerificationError: ")
    assert lines["system CAs only"].startswith("SSLCertVerificationError: ")
    assert lines["ciphers, version, ALPN"] == \
        "ok hello anonymous TLSv1.2 alpn=http/1.1 cipher=ECDHE-ECDSA-AES128-GCM-SHA256 True"
    p.snapshot()
    assert p.restore().stdout == cold
    # No byte of the client's private key is in the image; its path is (the grep can see).
    image = p.image.read_bytes()
    assert pki.client_key.encode() in image
    for form in pki.key_forms():
        assert form not in image


def test_amber_run_first_and_restored_runs(program, pki, servers, tmp_path):
    """amber run: the first run goes on in the process that wrote the image (the class put back
    at the snapshot point), the second restores; both print what a cold run prints."""
    p = _clients(program, pki, servers)
    cold = p.cold(check=True).stdout
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    first = run([*AMBER, "run", "--wait", "-v", str(p.script)], cwd=p.dir, env=env, check=True)
    assert "built" in first.stderr, first.stderr
    assert first.stdout == cold
    second = run([*AMBER, "run", "--wait", "-v", str(p.script)], cwd=p.dir, env=env, check=True)
    assert "built" not in second.stderr and second.stdout == cold


def test_files_are_read_again_at_restore(program, pki, servers, tmp_path):
    """The CA file and the key are inputs of the restore: a missing key is one line naming the
    context and the file; a CA file replaced by another CA is trusted as a cold run trusts it."""
    key = tmp_path / "moved.key"
    key.write_bytes(open(pki.client_key, "rb").read())
    ca = tmp_path / "ca-copy.pem"
    ca.write_bytes(open(pki.ca, "rb").read())
    p = _program(program, f'''
        import ssl
        CLIENT = ssl.create_default_context(cafile={str(ca)!r})
        CLIENT.load_cert_chain({pki.client_cert!r}, {str(key)!r})
        if __name__ == "__main__":
            print(get(CLIENT, {servers[1]}))
    ''')
    p.snapshot()
    assert p.restore().stdout.startswith("hello amber-client")
    key.unlink()
    r = p.restore(check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"amber: error: __main__.CLIENT (ssl.SSLContext): its certificate chain is read "
                               f"again from {pki.client_cert} and {key} at restore, and {key} is missing here: ")
    key.write_bytes(open(pki.client_key, "rb").read())
    ca.write_bytes(open(pki.other_ca, "rb").read())  # rotated: the server's CA is no longer trusted
    cold = p.cold(check=True).stdout
    assert cold.startswith("refused: ")
    assert p.restore().stdout == cold


def test_key_password(program, pki, servers):
    """A password given as a value would be written into the image: refused with the context's
    path. As amber.secret it is read from the restoring environment."""
    p = program(f'''
        import ssl
        CTX = ssl.create_default_context(cafile={pki.ca!r})
        CTX.load_cert_chain({pki.client_cert!r}, {pki.client_key_encrypted!r}, password="correct horse battery")
        if __name__ == "__main__":
            print("loaded")
    ''')
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists()
    assert "__main__.CTX -> ssl.SSLContext: an ssl.SSLContext whose private key's password was given as a value" \
        in r.stderr, r.stderr
    assert "amber.secret" in r.stderr
    p = _program(program, f'''
        import amber, ssl
        CTX = ssl.create_default_context(cafile={pki.ca!r})
        CTX.load_cert_chain({pki.client_cert!r}, {pki.client_key_encrypted!r}, password=amber.secret("KEY_PASSWORD"))
        if __name__ == "__main__":
            print(get(CTX, {servers[1]}).split()[:2])
    ''')
    env = {"KEY_PASSWORD": "correct horse battery"}
    p.snapshot(env=env)
    assert b"correct horse battery" not in p.image.read_bytes()
    assert p.restore(env=env).stdout == "['hello', 'amber-client']\n"
    r = p.restore(env={"KEY_PASSWORD": "wrong"}, check=False)
    assert r.returncode == 2 and r.stderr.startswith("amber: error: __main__.CTX (ssl.SSLContext): its certificate chain")
    # A function that returns it is the program's code: called again at restore, once the heap is whole.
    p = _program(program, f'''
        import os, ssl
        def password():
            return os.environ["KEY_PASSWORD"]
        CTX = ssl.create_default_context(cafile={pki.ca!r})
        CTX.load_cert_chain({pki.client_cert!r}, {pki.client_key_encrypted!r}, password=password)
        if __name__ == "__main__":
            print(get(CTX, {servers[1]}).split()[:2])
    ''')
    p.snapshot(env=env)
    assert p.restore(env=env).stdout == "['hello', 'amber-client']\n"


def test_configuration_amber_cannot_see_is_refused(program, pki):
    """Calls made on the C base directly leave state the recorder never saw: the trial rebuild
    differs from the original, and the context is refused with its path (fail closed)."""
    p = program(f'''
        import _ssl, ssl
        CIPHERS = ssl.create_default_context(cafile={pki.ca!r})
        _ssl._SSLContext.set_ciphers(CIPHERS, "ECDHE-ECDSA-AES128-GCM-SHA256")
        TRUST = ssl.create_default_context()
        _ssl._SSLContext.load_verify_locations(TRUST, {pki.ca!r})
        if __name__ == "__main__":
            pass
    ''')
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists()
    assert "__main__.CIPHERS -> ssl.SSLContext: an ssl.SSLContext configured in a way Amber did not see (its ciphers)" \
        in r.stderr, r.stderr
    assert "__main__.TRUST -> ssl.SSLContext: an ssl.SSLContext configured in a way Amber did not see (its CA " \
        "certificates)" in r.stderr, r.stderr


def test_settings_callbacks_and_subclass(program, pki, tmp_path):
    """What is read back: every setting, the SNI and message callbacks, attributes of a subclass
    (whose own methods never run at restore), identity shared between holders."""
    p = program(f'''
        import ssl
        class Tracked(ssl.SSLContext):
            def load_verify_locations(self, *args, **kwargs):
                print("the program's override ran")
                return super().load_verify_locations(*args, **kwargs)
        def on_sni(sock, name, ctx):
            return None
        SERVER = Tracked(ssl.PROTOCOL_TLS_SERVER)
        SERVER.load_verify_locations({pki.ca!r})
        SERVER.sni_callback = on_sni
        SERVER.num_tickets = 5
        SERVER.verify_flags |= ssl.VERIFY_X509_STRICT
        SERVER.minimum_version = ssl.TLSVersion.TLSv1_2
        SERVER.post_handshake_auth = True
        SERVER.hostname_checks_common_name = True
        SERVER.label = "mine"
        SERVER._msg_callback = print
        SERVER.keylog_filename = {str(tmp_path / "keys.log")!r}
        HOLDERS = [SERVER, {{"ctx": SERVER}}]
        def legacy(sock, name, ctx):
            return None
        LEGACY = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        LEGACY.set_servername_callback(legacy)   # a closure over the context itself
        def describe(c):
            return (type(c).__name__, c.protocol, c.verify_mode, c.check_hostname, c.verify_flags, c.options,
                    c.minimum_version, c.maximum_version, c.post_handshake_auth, c.hostname_checks_common_name,
                    c.num_tickets, c.security_level, c.sni_callback is on_sni, c._msg_callback is print,
                    c.label, len(c.get_ca_certs()), c.cert_store_stats(), c.keylog_filename)
        if __name__ == "__main__":
            print(describe(SERVER))
            print(LEGACY.sni_callback.__closure__[0].cell_contents is LEGACY or
                  LEGACY.sni_callback.__closure__[1].cell_contents is LEGACY)
            print(HOLDERS[0] is SERVER and HOLDERS[1]["ctx"] is SERVER)
    ''')
    cold = p.cold(check=True).stdout
    assert "True, True, 'mine', 1" in cold and cold.endswith("keys.log')\nTrue\nTrue\n"), cold
    p.snapshot()
    restored = p.restore().stdout
    assert restored == cold.replace("the program's override ran\n", "", 1) == cold[len("the program's override ran\n"):]
    assert "override" not in restored


@pytest.mark.skipif(not os.path.isdir("/etc/ssl/certs"), reason="needs a CA directory")
def test_default_paths_and_a_ca_directory(program, pki, servers, tmp_path):
    """A CA directory and the default verify paths are read lazily by OpenSSL: they are loaded
    again at restore, never more."""
    capath = tmp_path / "capath"
    capath.mkdir()
    import subprocess
    subprocess.run(["openssl", "rehash", str(capath)], check=False)
    (capath / "ca.pem").write_bytes(open(pki.ca, "rb").read())
    rehash = subprocess.run(["openssl", "rehash", str(capath)], capture_output=True)
    if rehash.returncode != 0:
        pytest.skip("no openssl rehash")
    p = _program(program, f'''
        import ssl, sys
        DIR = ssl.create_default_context(capath={str(capath)!r})
        DEFAULTS = ssl.create_default_context()
        DEFAULTS.load_verify_locations({pki.ca!r})
        BEFORE = len(DIR.get_ca_certs())
        WARM = get(DIR, {servers[0]})  # the lookup adds the directory's CA to the context's store
        AFTER = len(DIR.get_ca_certs())
        print("CA certificates before and after a lookup:", BEFORE, AFTER, file=sys.stderr)
        if __name__ == "__main__":
            print(get(DIR, {servers[0]}), "/", get(DEFAULTS, {servers[0]}), len(DEFAULTS.get_ca_certs()) > 1)
    ''')
    cold = p.cold(check=True).stdout
    assert cold.count("hello anonymous") == 2 and cold.endswith("True\n")
    snap = p.snapshot()  # the context holds a CA its recipe does not load: explained by its directory
    assert "CA certificates before and after a lookup: 0 1" in snap.stderr
    assert p.restore().stdout == cold
    for entry in capath.iterdir():
        entry.unlink()
    r = p.restore()  # the directory is read when a certificate is looked up: a cold run fails too
    assert r.stdout == p.cold(check=True).stdout
    assert r.stdout.startswith("refused: ") and " / hello anonymous" in r.stdout
