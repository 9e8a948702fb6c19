"""Fork from a pre-loaded parent: what gunicorn --preload and multiprocessing's forkserver do."""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import time

from .common import (
    _STARTUP,
    ANSWERED_AT,
    TrialFailed,
    Unavailable,
    _Base,
    _check,
    _close,
    _decode,
    _kill_group,
    _last_line,
    _pump,
    _reason,
    _rss_bytes,
)

_ZYGOTE = _STARTUP + r'''
import gc, json, socket, struct, traceback
app, sock = sys.argv[2], socket.socket(fileno=int(sys.argv[3]))
main, startup_ms = startup(app)
gc.freeze()
sock.sendall(json.dumps({"startup_ms": startup_ms}).encode() + b"\n")
while True:
    try:
        msg, fds, _, _ = socket.recv_fds(sock, 16, 2)
    except OSError:
        break
    if not msg:
        break
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            sock.close()
            os.dup2(fds[0], 1)
            os.dup2(fds[1], 2)
            os.close(fds[0])
            os.close(fds[1])
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            code = 1
        os._exit(code)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    try:
        sock.sendall(struct.pack("!i", os.waitstatus_to_exitcode(status)))
    except OSError:
        break
'''

# argv: app, session path, meta path. Runs the start-up, then dill.dump_module().
# --------------------------------------------------------------------------------------------
# fork from a pre-loaded parent


class _Zygote(_Base):
    name = "fork from pre-loaded parent"

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._exit_style(True)  # a forked child must not run the parent's atexit handlers

    def prepare(self) -> None:
        tmp = self._scratch()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_path, err_path = os.path.join(tmp, "parent.out"), os.path.join(tmp, "parent.err")
        t0 = time.perf_counter()
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self._proc = subprocess.Popen(
                self._cmd(_ZYGOTE, str(theirs.fileno())), env=self.env, cwd=self.cwd,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=[theirs.fileno()],
                start_new_session=True)
        theirs.close()
        self._sock = ours
        ours.settimeout(self.prepare_timeout_s)
        try:
            line = ours.makefile("rb").readline()
        except TimeoutError:
            self.close()
            raise Unavailable(f"pre-loaded parent not ready after {self.prepare_timeout_s:.0f} s") from None
        prepare_ms = (time.perf_counter() - t0) * 1000
        if not line:
            self._proc.wait(timeout=10)
            with open(err_path, errors="replace") as f:
                stderr = f.read()
            self.close()
            raise Unavailable(_reason(stderr) or f"pre-loaded parent exited: {_last_line(stderr)}")
        with open(out_path, "rb") as f:
            self.prefix = _decode(f.read())
        info = json.loads(line)
        self.extra.update(prepare_ms=round(prepare_ms, 1), startup_ms=round(info["startup_ms"], 1),
                          parent_rss_bytes=_rss_bytes(self._proc.pid))
        self._first_trial(close=True)

    def trial(self) -> float:
        self._need_prepared()
        assert self._sock is not None
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        deadline = time.perf_counter() + self.timeout_s
        self._sock.settimeout(self.timeout_s)
        try:
            t0 = time.perf_counter()
            socket.send_fds(self._sock, [b"r"], [out_w, err_w])
            _close(out_w, err_w)
            out_w = err_w = -1
            data = _pump([out_r, err_r], [out_r, err_r], deadline, (out_r, self._answer_bytes()))
            self.answer_ms = (ANSWERED_AT[0] - t0) * 1000 if ANSWERED_AT[0] else None
            status = b""
            while len(status) < 4:
                chunk = self._sock.recv(4 - len(status))
                if not chunk:
                    raise OSError("the pre-loaded parent died")
                status += chunk
            ms = (time.perf_counter() - t0) * 1000
        except (TimeoutError, OSError) as e:
            _kill_group(self._proc)  # the parent's state is unknown now: it and its child go
            self.close()
            what = f"no answer within {self.timeout_s:.0f} s" if isinstance(e, TimeoutError) else str(e)
            raise TrialFailed(f"{self.name}: {what}") from None
        finally:
            _close(out_r, out_w, err_r, err_w)
        (code,) = struct.unpack("!i", status)
        out, err = _decode(data[out_r]), _decode(data[err_r])
        if code != 0:
            raise TrialFailed(f"{self.name}: child exited with {code}: {_last_line(err)}")
        _check(self.name, self.expected, self.prefix, out)
        return ms

    def close(self) -> None:
        self._prepared = False
        if self._sock is not None:
            self._sock.close()  # the parent exits on EOF
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _kill_group(self._proc)
            self._proc = None
        self._remove_scratch()
