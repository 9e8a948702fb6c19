"""The lifecycle API, secrets and fresh entropy, each checked in fresh processes."""

import base64
import os

HOOKS = '''
import amber, sys
LOG = []
def note(what):
    print(what, flush=True)

@amber.before_snapshot
def b1(): note("before b1 (p0, first)")
@amber.before_snapshot(priority=5)
def b2(): note("before b2 (p5)")
amber.before_snapshot(note, "before b3 (p0, last)")
@amber.after_restore
def a1(): note("after a1 (p0, first)")
amber.after_restore(note, "after a2 (p0, last)")
@amber.after_restore(priority=5)
def a3(): note("after a3 (p5)")
class Pool(amber.Resource):
    def before_snapshot(self): note("resource before")
    def after_restore(self): note("resource after")
amber.register(Pool(), priority=2)
if __name__ == "__main__":
    note(f"main restored={amber.is_restored()}")
'''


def test_hook_order_and_priorities(program):
    p = program(HOOKS)
    snap = p.snapshot()
    assert snap.stdout.splitlines() == ["before b3 (p0, last)", "before b1 (p0, first)", "resource before",
                                        "before b2 (p5)"]
    assert p.restore().stdout.splitlines() == ["after a3 (p5)", "resource after", "after a1 (p0, first)",
                                               "after a2 (p0, last)", "main restored=True"]
    assert p.cold().stdout == "main restored=False\n"  # under plain python no hook runs


def test_hooks_that_raise(program):
    p = program('''
        import amber
        class Conn(amber.Resource):
            def __init__(self): self.open = True
            def before_snapshot(self): self.open = False; print("closed")
            def after_restore(self): self.open = True; print("reopened")
        CONN = amber.register(Conn())
        @amber.before_snapshot
        def broken(): raise RuntimeError("cannot flush")
        @amber.before_snapshot
        def also_broken(): raise ValueError("second")
        if __name__ == "__main__":
            pass
    ''')
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists()
    assert r.stderr.startswith("amber: error: 2 before-snapshot hook(s) failed")
    assert r.stderr.endswith("; no image was written\n") and r.stderr.count("\n") == 1, r.stderr
    assert "__main__.broken raised RuntimeError: cannot flush" in r.stderr
    assert "__main__.also_broken raised ValueError: second" in r.stderr
    assert r.stdout == "closed\nreopened\n"  # every hook ran; the resource was put back
    p = program('''
        import amber
        @amber.after_restore
        def first(): raise KeyError("gone")
        @amber.after_restore
        def second(): print("second ran")
        if __name__ == "__main__":
            print("main")
    ''')
    p.snapshot()
    r = p.restore(check=False)
    assert r.returncode == 1 and r.stdout == "second ran\n"
    assert r.stderr.startswith("amber: error: 1 after-restore hook(s) failed: __main__.first raised KeyError")
    assert r.stderr.count("\n") == 1, r.stderr


def test_hooks_that_raise_under_amber_run(program, tmp_path):
    """amber run's first run: a before-snapshot failure builds no image and runs on; an after-restore
    failure is exit code 1 with one line, as in a restored process, and the rest does not run."""
    from conftest import AMBER, run

    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    p = program('''
        import amber, sys
        @amber.before_snapshot
        def broken(): raise RuntimeError("cannot flush")
        if __name__ == "__main__":
            print("main")
    ''')
    r = run([*AMBER, "run", "--wait", str(p.script)], cwd=p.dir, env=env)
    assert (r.returncode, r.stdout) == (0, "main\n"), r.stderr
    assert r.stderr == ("amber: warning: 1 before-snapshot hook(s) failed: __main__.broken raised "
                        "RuntimeError: cannot flush; no image was built\n")
    p = program('''
        import amber
        @amber.after_restore
        def first(): raise KeyError("gone")
        if __name__ == "__main__":
            print("main")
    ''', name="after.py")
    for how in ("amber: built", "amber: restoring"):  # the first run builds, the second restores: alike
        r = run([*AMBER, "run", "--wait", "-v", str(p.script)], cwd=p.dir, env=env)
        assert (r.returncode, r.stdout) == (1, ""), r.stderr
        said, error = r.stderr.splitlines()[-2:]
        assert said.startswith(how), r.stderr
        assert error == "amber: error: 1 after-restore hook(s) failed: __main__.first raised KeyError: 'gone'"


def test_transient_objects(program):
    p = program('''
        import amber, socket, itertools
        MADE = itertools.count()
        class Client:
            def __init__(self):
                self.sock = socket.socket()
                self.serial = next(MADE)
        def fresh_client():
            print("factory called")
            return Client()
        CLIENT = amber.transient(Client(), fresh_client)
        HOLDERS = {"a": CLIENT, "b": [CLIENT]}
        if __name__ == "__main__":
            print(CLIENT is HOLDERS["a"] is HOLDERS["b"][0], CLIENT.serial, CLIENT.sock.fileno() >= 0)
    ''')
    p.snapshot()
    assert p.restore().stdout == "factory called\nTrue 1 True\n"


def test_secret_is_read_from_the_restoring_environment(program):
    p = program('''
        import amber
        TOKEN = amber.secret("API_TOKEN")
        CONFIG = {"token": TOKEN, "name": "svc"}
        if __name__ == "__main__":
            print(CONFIG["token"], CONFIG["token"] is TOKEN, type(TOKEN).__name__)
    ''')
    p.snapshot(env={"API_TOKEN": "snapshot-time-value-123"})
    data = p.image.read_bytes()
    assert b"snapshot-time-value-123" not in data
    assert base64.b64encode(b"snapshot-time-value-123")[:12] not in data
    assert os.stat(p.image).st_mode & 0o777 == 0o700  # an executable image: its owner's alone
    assert p.restore(env={"API_TOKEN": "restore-time-value"}).stdout == "restore-time-value True SecretStr\n"
    import subprocess

    from conftest import AMBER

    without = {k: v for k, v in os.environ.items() if k != "API_TOKEN"}
    r = subprocess.run([*AMBER, "restore", str(p.image)], cwd=p.dir, env=without, capture_output=True,
                       text=True)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "amber: error: the secret environment variable API_TOKEN is not set"]


def test_derived_and_encoded_secrets_are_refused(program):
    p = program('''
        import amber, base64, os
        TOKEN = amber.secret("API_TOKEN")
        HEADERS = {"Authorization": "Bearer " + TOKEN}
        ENCODED = [base64.b64encode(("user:" + TOKEN).encode())]
        DB = {"url": "postgres://u:" + os.environ["SERVICE_PASSWORD"] + "@host/db"}
        PEM = ("-----BEGIN RSA PRIVATE KEY-----\\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw"
               "\\n-----END RSA PRIVATE KEY-----")  # a marker alone is not a key: it has a body
        if __name__ == "__main__":
            pass
    ''')
    env = {"API_TOKEN": "tok-1234567890abcdef", "SERVICE_PASSWORD": "hunter2-but-longer"}
    r = p.snapshot(check=False, env=env)
    assert r.returncode == 2 and not p.image.exists(), r.stderr
    err = r.stderr
    assert "__main__.HEADERS['Authorization'] -> str: contains the value of the secret environment " \
           "variable API_TOKEN (as is)" in err
    assert "__main__.ENCODED[0] -> bytes: contains the value of the secret environment variable API_TOKEN " \
           "(base64-encoded)" in err
    assert "__main__.DB['url'] -> str: contains the value of the secret-looking environment variable " \
           "SERVICE_PASSWORD" in err
    assert "__main__.PEM -> str: contains a PEM private key" in err
    assert "hunter2" not in err and "tok-1234" not in err
    from conftest import AMBER, run

    r = run([*AMBER, "snapshot", "--allow-secret", "SERVICE_PASSWORD", "-o", str(p.image), str(p.script)],
            cwd=p.dir, env=env)
    assert "SERVICE_PASSWORD" not in r.stderr and "API_TOKEN" in r.stderr


def test_each_restore_has_fresh_entropy(program):
    p = program('''
        import random, tempfile, os
        START = random.random()
        if __name__ == "__main__":
            print(random.random(), next(tempfile._get_candidate_names()))
    ''')
    p.snapshot()
    outs = {p.restore().stdout for _ in range(3)}
    assert len(outs) == 3


def test_log_files_are_closed_and_reopened(program, tmp_path):
    log = tmp_path / "app.log"
    p = program(f'''
        import logging
        logging.basicConfig(filename={str(log)!r}, filemode="a", level=logging.INFO, format="%(message)s")
        logging.info("start-up")
        if __name__ == "__main__":
            logging.info("after the snapshot point")
    ''')
    p.snapshot()
    assert log.read_text() == "start-up\n"
    p.restore()
    assert log.read_text() == "start-up\nafter the snapshot point\n"
    from conftest import AMBER, run

    log.write_text("")
    run([*AMBER, "run", "--wait", str(p.script)], env={"AMBER_CACHE": str(tmp_path / "cache")}, check=True)
    assert log.read_text() == "start-up\nafter the snapshot point\n"


def test_idle_http_connections_are_dropped(program, tmp_path):
    import http.server
    import threading

    import pytest

    pytest.importorskip("urllib3")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the connection stays in the client's pool

        def do_GET(self):
            body = b"pong"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        p = program(f'''
            import urllib3
            HTTP = urllib3.PoolManager()
            FIRST = HTTP.request("GET", {url!r}).data.decode()
            if __name__ == "__main__":
                print(FIRST, HTTP.request("GET", {url!r}).data.decode())
        ''')
        p.snapshot()
        assert p.restore().stdout == "pong pong\n"
    finally:
        server.shutdown()


def test_numpy_global_generator_is_fresh(program):
    import pytest

    pytest.importorskip("numpy")
    p = program('''
        import numpy as np
        START = np.random.random()
        if __name__ == "__main__":
            print(np.random.random())
    ''')
    p.snapshot()
    assert len({p.restore().stdout for _ in range(3)}) == 3
