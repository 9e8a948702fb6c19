"""The pool's own instance start, measured the way the fork-from-parent peer is measured.

The ``pool`` contender of the suite is ``./IMAGE``: a caller interpreter starts (about 6 ms
here), connects and waits. The fork peer (``bench/peers/zygote.py``) has no caller process: the
benchmark itself sends the request. :class:`PoolSocket` does the same for a pool: this process
connects to the pool's socket, sends a request (:mod:`amber.pool.wire`) with a pipe as the
instance's standard output and error, reads the whole answer, then the exit status.
"""

from __future__ import annotations

import os
import socket
import sys
import time

import peers

from amber.pool import paths, wire


class PoolSocket:
    """One instance of the pool of ``image`` (whose directory is ``env["AMBER_POOL_DIR"]``) per
    :meth:`run`, as :class:`suite.Process` times a process: (ms to exit, stdout), ``answer_ms``."""

    def __init__(self, image: str, env: dict, cwd: str, answer_bytes: int) -> None:
        self.image, self.env, self.cwd, self.answer_bytes = image, env, cwd, answer_bytes
        self.answer_ms: float | None = None

    def run(self) -> tuple[float, str]:
        ident = paths.identity(self.image)
        sock_path = paths.socket_path(self.env["AMBER_POOL_DIR"], paths.pool_name(ident))
        request = wire.Request(identity=repr(ident), argv0=None, args=[], orig_argv=[],
                               environ=[(k.encode(), v.encode()) for k, v in self.env.items()],
                               cwd=os.fsencode(self.cwd), umask=0o022, ignored_signals=[], limits=[],
                               print_output=False, streams=7, stdio=[None, None, None], mode=wire.MAIN,
                               extra=0)
        data = wire.encode(request)
        t0 = time.perf_counter()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(sock_path)
            fds = b"".join(fd.to_bytes(4, sys.byteorder) for fd in (null, out_w, err_w))
            sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
            sock.sendall(data[sent:])
            for fd in (null, out_w, err_w):
                os.close(fd)
            try:
                got = peers._pump([out_r, err_r], [out_r, err_r], t0 + 600, (out_r, self.answer_bytes))
            finally:
                os.close(out_r)
                os.close(err_r)
            replies = b""
            while b"\nX" not in b"\n" + replies and b"\nK" not in b"\n" + replies:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                replies += chunk
        ms = (time.perf_counter() - t0) * 1000
        self.answer_ms = (peers.ANSWERED_AT[0] - t0) * 1000 if peers.ANSWERED_AT[0] else ms
        lines = replies.decode("ascii", "replace").split()
        if not lines or lines[-1] != "X0":
            raise RuntimeError(f"the pool's instance ended {lines}: {got[err_r].decode()[-300:]}")
        return ms, got[out_r].decode()
