"""A web server's workers from one image (issue 14), with real HTTP requests on the loopback.

* uvicorn: the restored program opens the listening socket and starts its workers with
  ``amber.multiprocessing.get_context()``: each is a restore of the image, serving the app that
  start-up built, with random state of its own;
* gunicorn: the restored program is the arbiter; its workers are forks, and
  ``post_fork = amber.multiprocessing.after_fork`` reseeds what a restore would have fresh
  (without it, numpy's global generator would give every worker the same numbers).

Each test reads the first answer of two different workers and compares them; the same program
run cold answers the same way.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import AMBER

pytest.importorskip("numpy")

APP = '''
import os, random, sys
import amber, amber.multiprocessing
import numpy
import keeps_a_generator  # a library with a generator of its own, imported again at restore
amber.reimport("keeps_a_generator")
TABLE = {i: i * i for i in range(50_000)}  # what start-up built


def answer():
    return (f"{os.getpid()} {numpy.random.random()} {random.random()} {keeps_a_generator.RNG.random()} "
            f"{len(TABLE)} {amber.is_restored()}")
'''
LIBRARY = "import random\nRNG = random.Random()  # seeded from the OS at import\n"

UVICORN = APP + '''
import socket
import uvicorn


async def app(scope, receive, send):
    body = answer().encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def serve(sock):
    uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(64)
    ctx = amber.multiprocessing.get_context()
    workers = [ctx.Process(target=serve, args=(sock,)) for _ in range(2)]
    for w in workers:
        w.start()
    print("serving", flush=True)
    for w in workers:
        w.join()
'''

GUNICORN = APP + '''
from gunicorn.app.base import BaseApplication


def app(environ, start_response):
    body = answer().encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]


class Served(BaseApplication):
    def __init__(self, application, options):
        self.application, self.options = application, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def post_fork(server, worker):
    amber.multiprocessing.after_fork()


if __name__ == "__main__":
    print("serving", flush=True)
    Served(app, {"bind": f"127.0.0.1:{sys.argv[1]}", "workers": 2, "post_fork": post_fork,
                 "loglevel": "warning"}).run()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_answers(cmd, cwd, port, workers=2):
    """{pid: first answer} of ``workers`` different workers of the server ``cmd`` starts."""
    server = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert server.stdout.readline() == "serving\n", server.stderr.read()
        first: dict = {}
        deadline = time.monotonic() + 60
        while len(first) < workers and time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/")
                pid, rest = conn.getresponse().read().decode().split(" ", 1)
                conn.close()
                first.setdefault(pid, rest)
            except (ConnectionError, OSError):
                time.sleep(0.05)
        return first
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _check(first: dict, restored: bool, library_fresh: bool = True) -> None:
    assert len(first) == 2, first
    (numpy_a, random_a, lib_a, size_a, restored_a), (numpy_b, random_b, lib_b, size_b, restored_b) = (
        answer.split() for answer in first.values())
    assert numpy_a != numpy_b and random_a != random_b  # no two workers draw the same numbers
    assert (lib_a != lib_b) == library_fresh, (lib_a, lib_b)
    assert size_a == size_b == "50000" and restored_a == restored_b == str(restored)


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_workers_serve_from_one_image_with_their_own_entropy(program, server):
    pytest.importorskip(server)
    p = program(UVICORN if server == "uvicorn" else GUNICORN)
    (p.dir / "keeps_a_generator.py").write_text(LIBRARY)
    p.snapshot()
    port = _free_port()
    _check(_first_answers([*AMBER, "restore", str(p.image), str(port)], p.dir, port), restored=True)
    port = _free_port()
    # Cold, uvicorn's spawn workers import the library afresh; gunicorn's forks share its
    # generator: a process that was not restored knows no modules imported again (see after_fork).
    _check(_first_answers([sys.executable, str(p.script), str(port)], p.dir, port), restored=False,
           library_fresh=server == "uvicorn")
