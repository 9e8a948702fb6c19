"""The peers of the benchmark: the tools a user would pick instead of Amber to skip start-up.

This module owns how each peer is set up, timed, checked and torn down; the suite driver owns
which apps run, how often, the cold baseline and the table. A peer takes one benchmark app
(``bench/apps/<name>.py``: start-up work at module top level, then ``def main()`` that prints the
first useful output, called from an ``if __name__ == "__main__":`` block) and runs its ``main()``
without redoing the start-up. One trial, in milliseconds, is:

``zygote``        fork from a pre-loaded parent (gunicorn ``--preload``, multiprocessing forkserver).
                  prepare: a parent runs the start-up, calls ``gc.freeze()`` and waits on a Unix
                  socket. trial: request sent (with a stdout and a stderr pipe, SCM_RIGHTS) -> the
                  parent forks, the child runs ``main()``, flushes and ``os._exit``s -> all output
                  read (EOF) and the exit status, reaped by the parent, received.
``dill_session``  prepare: a process runs the start-up and ``dill.dump_module()``. trial: a fresh
                  ``python`` started -> ``dill.load_module()``, the restored ``main()``, exit ->
                  the process has exited.
``criu``          prepare: a process (own session, stdio on pipes) runs the start-up and parks in a
                  read of stdin; ``criu dump`` takes it (and ends it). trial: ``criu restore``
                  started, with new pipes in place of the old stdio and one byte waiting on stdin
                  -> the restored process runs ``main()`` and exits -> all output read and
                  ``criu restore`` (which waits for it) has exited. ``build_criu()`` provides a
                  criu >= 4.1, the first that works on this kernel (see ``bench/setup_criu.sh``).

The dill and CRIU copies end with a normal interpreter exit, as the cold run does (for sympy that
finalization is ~80 ms); ``fast_exit=True`` makes them flush and ``os._exit`` like the zygote's
child. ``extra["exit"]`` says which.

The start-up is the app's module body run as ``__main__`` (``__file__``, ``sys.argv`` and
``sys.path[0]`` as with ``python app.py``) minus its top-level ``if __name__ == "__main__":``
block; ``main()`` is then called directly. Whatever the start-up prints is captured by
``prepare()`` and must be how the cold output begins; each trial must print the rest, exactly.
``prepare()`` ends with one unmeasured trial, so an app a peer cannot carry through (dill cannot
pickle it, CRIU cannot dump or restore it, the output differs) raises Unavailable there, with a
one-line reason for the table; ``trial()`` raises TrialFailed (OutputMismatch for wrong output).

``extra`` after prepare(): ``prepare_ms`` (start-up + dump, wall), ``startup_ms`` (the start-up
inside the helper), ``exit``; zygote: ``parent_rss_bytes``; dill: ``dump_ms``, ``image_bytes``
(the session file), ``dill_version``; CRIU: ``dump_ms`` (``criu dump``, wall), ``image_bytes``
(the image directory), ``criu_version``, ``criu`` (binary path).

Use::

    peer = criu(app, python, expected=cold_stdout, env=env)   # or zygote(...), dill_session(...)
    try:
        peer.prepare()                              # may raise Unavailable: str(e) for the table
        times = [peer.trial() for _ in range(n)]    # ms each; TrialFailed / OutputMismatch
        print(peer.extra)
    finally:
        peer.close()                                # also: ``with criu(...) as peer:``

Every factory takes keywords ``cwd`` (default: the app's directory), ``timeout_s`` (per trial)
and ``prepare_timeout_s``; ``dill_session`` and ``criu`` also ``fast_exit``; ``dill_session``
``install`` (default True: ``pip install dill`` into the interpreter's environment if it is
missing, see ``ensure_dill``); ``criu`` ``criu_bin`` and ``build_timeout_s``. Helper processes
run with the given interpreter and environment as they are (the caller removes
``PYTHONDONTWRITEBYTECODE``); every wait has a timeout, and close() (also called on errors) ends
every process a peer started and deletes its files. Trials of one peer must be sequential (a CRIU
restore needs the dumped process's PID free). ``python bench/peers.py APP [PEER ...]`` tries the
peers on one app by hand.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from typing import Protocol, runtime_checkable

__all__ = [
    "Unavailable", "TrialFailed", "OutputMismatch", "Peer", "zygote", "dill_session", "criu",
    "build_criu", "ensure_dill", "PEERS",
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP_CRIU = os.path.join(ROOT, "bench", "setup_criu.sh")
PREPARE_TIMEOUT_S = 300.0
TRIAL_TIMEOUT_S = 120.0
_MARK = "AMBER-BENCH-UNAVAILABLE: "  # a helper's one-line reason for Unavailable, on its stderr
_DONE = "AMBER-BENCH-MAIN-RETURNED\n"  # a restored CRIU copy's main() returned, on its stderr


class Unavailable(Exception):
    """This peer cannot run this app here; str(e) is the one-line reason shown in the table."""


class TrialFailed(RuntimeError):
    """A trial did not complete: non-zero exit, timeout, or a broken peer process."""


class OutputMismatch(TrialFailed):
    """A trial completed but printed something else than the cold run."""


@runtime_checkable
class Peer(Protocol):
    """One way to start an app's ``main()`` without redoing its start-up."""

    name: str
    extra: dict

    def prepare(self) -> None:
        """One-time work (start the parent, dump the session or process). May raise Unavailable."""

    def trial(self) -> float:
        """One measured run, in milliseconds; checks the output against the cold run's."""

    def close(self) -> None:
        """Stop everything this peer started and delete its files. Safe to call twice."""


# --------------------------------------------------------------------------------------------
# Code run inside the helper interpreters. It is passed with ``python -c`` and executed in its
# own namespace, so that ``__main__`` holds nothing but what the app itself defines.

_BOOT = "exec(__import__('sys').argv[1], {'__name__': '__amber_bench_peer__'})"

_STARTUP = r'''
import ast, os, sys, time

def _fail(msg):
    sys.stderr.write(MARK + " ".join(str(msg).split())[:300] + "\n")
    sys.stderr.flush()
    os._exit(3)

def _is_main_guard(node):
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    t = node.test
    if len(t.ops) != 1 or not isinstance(t.ops[0], ast.Eq):
        return False
    sides = [t.left, t.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1

def startup(app):
    """Run the app's module body as __main__, without its main guard; return (main, ms)."""
    t0 = time.perf_counter()
    with open(app, "rb") as f:
        tree = ast.parse(f.read(), app)
    body = [n for n in tree.body if not _is_main_guard(n)]
    if len(body) == len(tree.body):
        _fail("app has no top-level `if __name__ == '__main__':` block")
    tree.body = body
    code = compile(tree, app, "exec")
    sys.argv[:] = [app]
    sys.path[0] = os.path.dirname(app)
    g = sys.modules["__main__"].__dict__
    g["__file__"] = app
    try:
        exec(code, g)
    except BaseException as e:
        import traceback
        traceback.print_exc()
        _fail("app start-up failed: %s: %s" % (type(e).__name__, e))
    main = g.get("main")
    if not callable(main):
        _fail("app defines no main()")
    sys.stdout.flush()
    sys.stderr.flush()
    return main, (time.perf_counter() - t0) * 1000
'''.replace("MARK", repr(_MARK))

# argv: app, socket fd. Loads the app, freezes the GC, then forks one child per request.
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
_DILL_DUMP = _STARTUP + r'''
import json
app, path, meta = sys.argv[2:5]
main, startup_ms = startup(app)
try:
    import dill
except ImportError as e:
    _fail("dill is not installed: %s" % e)
t0 = time.perf_counter()
try:
    dill.dump_module(path)
except BaseException as e:
    _fail("dill.dump_module failed: %s: %s" % (type(e).__name__, e))
dump_ms = (time.perf_counter() - t0) * 1000
with open(meta, "w") as f:
    json.dump({"startup_ms": startup_ms, "dump_ms": dump_ms, "dill_version": dill.__version__}, f)
'''

# argv: app, session path, exit style. A fresh interpreter: dill.load_module(), then the restored
# main().
_DILL_LOAD = r'''
import os, sys
app, path, fast_exit = sys.argv[2], sys.argv[3], sys.argv[4] == "fast"
sys.argv[:] = [app]
sys.path[0] = os.path.dirname(app)
import dill
try:
    dill.load_module(path)
except BaseException as e:
    why = "dill.load_module failed: %s: %s" % (type(e).__name__, e)
    sys.stderr.write(MARK + " ".join(why.split())[:300] + "\n")
    sys.stderr.flush()
    os._exit(3)
sys.modules["__main__"].main()
if fast_exit:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
'''.replace("MARK", repr(_MARK))

# argv: app, ready fd, exit style. Runs the start-up, says so on the ready pipe, then parks in a read of
# stdin. CRIU dumps it there; a restored copy gets a stdin pipe that already holds one byte, so
# the read returns and the copy runs main() and exits. `criu restore` reaps the restored process
# without reporting its exit status, so the copy marks a main() that returned on its stderr.
_CRIU_PARK = _STARTUP + r'''
import json
app, ready, fast_exit = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "fast"
main, startup_ms = startup(app)
os.write(ready, json.dumps({"startup_ms": startup_ms}).encode())
os.close(ready)
while not os.read(0, 1):
    _fail("stdin closed while parked")
try:
    main()
except SystemExit as e:
    if e.code not in (None, 0):
        raise
except BaseException:
    import traceback
    traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)
sys.stdout.flush()
sys.stderr.flush()
os.write(2, DONE.encode())
if fast_exit:
    os._exit(0)
'''.replace("DONE", repr(_DONE))


# --------------------------------------------------------------------------------------------
# Helpers for the caller's side.


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _reason(stderr: str) -> str | None:
    """The helper's one-line Unavailable reason, if it printed one."""
    for line in stderr.splitlines():
        if line.startswith(_MARK):
            return line[len(_MARK):].strip()
    return None


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return _one_line(lines[-1]) if lines else "(no stderr)"


ANSWERED_AT = [0.0]  # perf_counter() when the last _pump with ``answer`` had received it


def _pump(fds: list[int], until_eof: list[int], deadline: float,
          answer: tuple[int, int] | None = None) -> dict[int, bytes]:
    """Read all of ``fds`` until each of ``until_eof`` is at EOF. Raises TimeoutError. Closes nothing.

    ``answer`` = (fd, n): note in ANSWERED_AT when ``fd`` has delivered ``n`` bytes (the app's
    whole answer: the time to answer excludes the interpreter's exit)."""
    bufs = {fd: bytearray() for fd in fds}
    waiting = set(until_eof)
    ANSWERED_AT[0] = 0.0
    with selectors.DefaultSelector() as sel:
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
        while waiting:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError
            for key, _ in sel.select(left):
                fd = key.fd
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    bufs[fd] += chunk
                    if answer and fd == answer[0] and not ANSWERED_AT[0] and len(bufs[fd]) >= answer[1]:
                        ANSWERED_AT[0] = time.perf_counter()
                else:
                    sel.unregister(fd)
                    waiting.discard(fd)
    return {fd: bytes(b) for fd, b in bufs.items()}


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _check(name: str, expected: str, prefix: str, out: str) -> None:
    want = expected[len(prefix):] if expected.startswith(prefix) else None
    if want is None:
        raise OutputMismatch(f"{name}: start-up printed {prefix[:80]!r}, not how the cold output starts")
    if out != want:
        got_lines, want_lines = out.splitlines(), want.splitlines()
        for i in range(max(len(got_lines), len(want_lines))):
            g = got_lines[i] if i < len(got_lines) else "<missing>"
            w = want_lines[i] if i < len(want_lines) else "<missing>"
            if g != w:
                raise OutputMismatch(f"{name}: output line {i + 1} is {g[:80]!r}, cold run: {w[:80]!r}")
        raise OutputMismatch(f"{name}: output differs from the cold run in whitespace only ({out[-40:]!r})")


def _kill_group(proc: subprocess.Popen | None) -> None:
    """SIGKILL a child started with start_new_session=True, and its process group; reap it."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            try:
                proc.kill()
            except ProcessLookupError:
                pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _tree_bytes(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _rss_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class _Base:
    """What the three peers share: arguments, scratch directory, context manager."""

    name = "?"

    def __init__(self, app: str, python: str, expected: str, env: dict, *, cwd: str | None = None,
                 timeout_s: float = TRIAL_TIMEOUT_S, prepare_timeout_s: float = PREPARE_TIMEOUT_S) -> None:
        self.app = os.path.abspath(app)
        self.python = python
        self.expected = expected
        self.env = dict(env)
        self.cwd = cwd or os.path.dirname(self.app)
        self.timeout_s = timeout_s
        self.prepare_timeout_s = prepare_timeout_s
        self.extra: dict = {}
        self.prefix = ""  # what the start-up printed, captured by prepare()
        self.answer_ms: float | None = None  # the last trial's time until the whole answer was read
        self._tmp: str | None = None
        self._prepared = False

    def _answer_bytes(self) -> int:
        """Bytes of stdout a trial prints: the cold output minus what the start-up printed."""
        return len(self.expected.encode()) - len(self.prefix.encode())

    def _exit_style(self, fast_exit: bool) -> str:
        self.extra["exit"] = "os._exit after flush" if fast_exit else "normal interpreter exit"
        return "fast" if fast_exit else "normal"

    def _scratch(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix=f"amber-bench-{self.__class__.__name__.strip('_').lower()}-")
        return self._tmp

    def _remove_scratch(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _cmd(self, source: str, *args: str) -> list[str]:
        return [self.python, "-c", _BOOT, source, self.app, *args]

    def _need_prepared(self) -> None:
        if not self._prepared:
            raise TrialFailed(f"{self.name}: trial() before a successful prepare()")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{self.name} peer for {os.path.basename(self.app)}>"


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
        self._prepared = True
        # One unmeasured child, so that an app this peer cannot run is reported as Unavailable.
        try:
            self.trial()
        except TrialFailed as e:
            self.close()
            raise Unavailable(str(e).removeprefix(f"{self.name}: ")) from None

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


# --------------------------------------------------------------------------------------------
# dill.dump_module / dill.load_module


def ensure_dill(python: str, env: dict | None = None, timeout_s: float = 180) -> str:
    """dill's version in ``python``'s environment, ``pip install``-ing it there first if missing."""
    probe = [python, "-c", "import dill; print(dill.__version__)"]
    try:
        p = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            pip = subprocess.run([python, "-m", "pip", "install", "-q", "dill"], env=env, capture_output=True,
                                 text=True, timeout=timeout_s)
            if pip.returncode != 0:
                raise Unavailable(f"dill missing, pip install dill failed: {_last_line(pip.stderr)}")
            p = subprocess.run(probe, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise Unavailable("checking for / installing dill timed out") from None
    if p.returncode != 0:
        raise Unavailable(f"dill does not import: {_last_line(p.stderr)}")
    return p.stdout.strip()


class _Dill(_Base):
    name = "dill load_module"

    def __init__(self, *a, fast_exit: bool = False, install: bool = True, **kw) -> None:
        super().__init__(*a, **kw)
        self._exit = self._exit_style(fast_exit)
        self.install = install

    def prepare(self) -> None:
        if self.install:
            ensure_dill(self.python, self.env)
        tmp = self._scratch()
        path, meta = os.path.join(tmp, "session.pkl"), os.path.join(tmp, "meta.json")
        t0 = time.perf_counter()
        try:
            p = subprocess.run(self._cmd(_DILL_DUMP, path, meta), env=self.env, cwd=self.cwd,
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=self.prepare_timeout_s,
                               start_new_session=True)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"dill dump did not finish within {self.prepare_timeout_s:.0f} s") from None
        prepare_ms = (time.perf_counter() - t0) * 1000
        stderr = _decode(p.stderr)
        if p.returncode != 0 or not os.path.exists(meta):
            raise Unavailable(_reason(stderr) or f"dump process exited {p.returncode}: {_last_line(stderr)}")
        self.prefix = _decode(p.stdout)
        with open(meta) as f:
            info = json.load(f)
        self.extra.update(prepare_ms=round(prepare_ms, 1), startup_ms=round(info["startup_ms"], 1),
                          dump_ms=round(info["dump_ms"], 1), image_bytes=os.path.getsize(path),
                          dill_version=info["dill_version"])
        self._path = path
        self._prepared = True
        # One unmeasured load, so that a session dill cannot load is reported as Unavailable.
        try:
            self.trial()
        except TrialFailed as e:
            self._prepared = False
            raise Unavailable(str(e).removeprefix(f"{self.name}: ")) from None

    def trial(self) -> float:
        self._need_prepared()
        t0 = time.perf_counter()
        p = subprocess.Popen(self._cmd(_DILL_LOAD, self._path, self._exit), env=self.env, cwd=self.cwd,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
            data = _pump([out_fd, err_fd], [out_fd, err_fd], t0 + self.timeout_s,
                         (out_fd, self._answer_bytes()))
            p.wait(timeout=max(0.1, t0 + self.timeout_s - time.perf_counter()))
        except (TimeoutError, subprocess.TimeoutExpired):
            _kill_group(p)
            raise TrialFailed(f"{self.name}: no exit within {self.timeout_s:.0f} s") from None
        finally:
            p.stdout.close()
            p.stderr.close()
        ms = (time.perf_counter() - t0) * 1000
        self.answer_ms = (ANSWERED_AT[0] - t0) * 1000 if ANSWERED_AT[0] else None
        stderr = _decode(data[err_fd])
        if p.returncode != 0:
            why = _reason(stderr) or f"exited with {p.returncode}: {_last_line(stderr)}"
            raise TrialFailed(f"{self.name}: {why}")
        _check(self.name, self.expected, self.prefix, _decode(data[out_fd]))
        return ms

    def close(self) -> None:
        self._prepared = False
        self._remove_scratch()


# --------------------------------------------------------------------------------------------
# CRIU


def _criu_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "amber-bench", "criu")


def _criu_version(binary: str) -> str | None:
    """'4.1.1' if ``binary --version`` runs, else None."""
    try:
        p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    for line in p.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def _new_enough(version: str) -> bool:
    try:
        parts = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        return False
    return parts >= (4, 1)


_checked: dict[str, str] = {}  # binary -> "" if `criu check` passed, else the reason


def _criu_check(binary: str) -> None:
    if binary not in _checked:
        try:
            p = subprocess.run([binary, "check"], capture_output=True, text=True, timeout=60)
            ok = p.returncode == 0
            text = p.stdout + p.stderr
        except (OSError, subprocess.TimeoutExpired) as e:
            ok, text = False, repr(e)
        errors = [ln for ln in text.splitlines() if "Error" in ln]
        _checked[binary] = "" if ok else f"`criu check` failed: {_one_line((errors or [text])[-1], 200)}"
    if _checked[binary]:
        raise Unavailable(_checked[binary])


def build_criu(timeout_s: int = 300) -> str:
    """Path to a criu (>= 4.1) that passes ``criu check`` here, building it if need be.

    Tried in order: ``$AMBER_BENCH_CRIU``; the cached build (``~/.cache/amber-bench/criu/criu``,
    or ``$XDG_CACHE_HOME/...``), which ``bench/setup_criu.sh`` returns at once when it is there;
    a ``criu`` on PATH that is new enough; else ``bench/setup_criu.sh`` builds 4.1.x from Debian
    trixie's source package into the cache (needs root, about a minute), time-boxed to
    ``timeout_s``. Raises Unavailable with a one-line reason when none can be had.
    """
    if sys.platform != "linux":
        raise Unavailable("CRIU runs on Linux only")
    if os.geteuid() != 0:
        raise Unavailable("CRIU needs root here (criu dump/restore of another process)")
    override = os.environ.get("AMBER_BENCH_CRIU")
    if override:
        if not _criu_version(override):
            raise Unavailable(f"AMBER_BENCH_CRIU={override} does not run")
        _criu_check(override)
        return override
    cached = os.path.join(_criu_cache_dir(), "criu")
    system = shutil.which("criu")
    if not os.path.exists(cached) and system:
        version = _criu_version(system)
        if version and _new_enough(version):
            _criu_check(system)
            return system
    log = os.path.join(tempfile.gettempdir(), "amber-bench-setup-criu.log")
    with open(log, "wb") as f:
        build = subprocess.Popen(["bash", SETUP_CRIU, _criu_cache_dir()], stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        code = build.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(build)  # bash and what it runs (apt-get, make)
        raise Unavailable(f"building criu took over {timeout_s} s (log: {log})") from None
    except BaseException:
        _kill_group(build)
        raise
    text = _read(log)
    if code != 0:
        lines = [ln for ln in text.splitlines() if ln.startswith("setup_criu:")]
        raise Unavailable(_one_line(lines[-1] if lines else _last_line(text), 200) + f" (log: {log})")
    if not _criu_version(cached):
        raise Unavailable(f"criu build produced no working binary (log: {log})")
    _criu_check(cached)
    return cached


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _criu_errors(log_path: str) -> str:
    try:
        with open(log_path, errors="replace") as f:
            text = f.read()
    except OSError:
        return "(no log)"
    # criu logs a harmless "Can't setup RLIMIT_NOFILE" error on every run here; skip it.
    errors = [ln for ln in text.splitlines() if "Error" in ln and "RLIMIT_NOFILE" not in ln]
    return _one_line((errors or text.splitlines() or ["(empty log)"])[0], 200)


class _Criu(_Base):
    name = "CRIU restore"

    def __init__(self, *a, criu_bin: str | None = None, build_timeout_s: int = 300, fast_exit: bool = False,
                 **kw) -> None:
        super().__init__(*a, **kw)
        self._exit = self._exit_style(fast_exit)
        self.criu_bin = criu_bin
        self.build_timeout_s = build_timeout_s
        self._parked: subprocess.Popen | None = None
        self._restore: subprocess.Popen | None = None
        self._pid = 0
        self._pipes: dict[int, int] = {}  # fd number in the dumped process -> pipe inode

    def prepare(self) -> None:
        binary = self.criu_bin or build_criu(self.build_timeout_s)
        self.criu_bin = binary
        tmp = self._scratch()
        self._images = os.path.join(tmp, "images")
        self._work = os.path.join(tmp, "work")
        os.makedirs(self._images)
        os.makedirs(self._work)
        # The parked process gets pipes for stdin, stdout and stderr; CRIU records their inodes,
        # and each restore plugs fresh pipes in their place with --inherit-fd.
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ready_r, ready_w = os.pipe()
        self._pipes = {0: os.fstat(in_r).st_ino, 1: os.fstat(out_w).st_ino, 2: os.fstat(err_w).st_ino}
        try:
            t0 = time.perf_counter()
            try:
                self._parked = subprocess.Popen(
                    self._cmd(_CRIU_PARK, str(ready_w), self._exit), env=self.env, cwd=self.cwd,
                    stdin=in_r, stdout=out_w, stderr=err_w, pass_fds=[ready_w], start_new_session=True)
            finally:
                _close(in_r, out_w, err_w, ready_w)
                in_r = out_w = err_w = ready_w = -1
            try:
                data = _pump([out_r, err_r, ready_r], [ready_r], time.perf_counter() + self.prepare_timeout_s)
            except TimeoutError:
                raise Unavailable(f"start-up did not finish within {self.prepare_timeout_s:.0f} s") from None
            startup_wall_ms = (time.perf_counter() - t0) * 1000
            if not data[ready_r]:
                rest = _pump([out_r, err_r], [out_r, err_r], time.perf_counter() + 10)
                stderr = _decode(data[err_r] + rest[err_r])
                raise Unavailable(_reason(stderr) or f"parked process exited: {_last_line(stderr)}")
            self.prefix = _decode(data[out_r])
            info = json.loads(data[ready_r])
            self._pid = self._parked.pid
            log = os.path.join(self._work, "dump.log")
            t1 = time.perf_counter()
            try:
                cmd = [binary, "dump", "-t", str(self._pid), "-D", self._images, "-W", self._work, "-o", log]
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=self.prepare_timeout_s)
            except subprocess.TimeoutExpired:
                raise Unavailable(f"criu dump did not finish within {self.prepare_timeout_s:.0f} s") from None
            dump_ms = (time.perf_counter() - t1) * 1000
            if p.returncode != 0:
                raise Unavailable(f"criu dump failed: {_criu_errors(log)}")
            try:
                self._parked.wait(timeout=10)  # criu kills the dumped process; reap it so its PID is free
            except subprocess.TimeoutExpired:
                raise Unavailable("the dumped process did not exit after criu dump") from None
            self._parked = None
        except BaseException:
            self.close()
            raise
        finally:
            _close(in_r, in_w, out_r, out_w, err_r, err_w, ready_r, ready_w)
        self.extra.update(prepare_ms=round(startup_wall_ms + dump_ms, 1),
                          startup_ms=round(info["startup_ms"], 1), dump_ms=round(dump_ms, 1),
                          image_bytes=_tree_bytes(self._images), criu_version=_criu_version(binary),
                          criu=binary)
        self._prepared = True
        # One unmeasured restore, so that an image CRIU cannot restore is reported as Unavailable.
        try:
            self.trial()
        except TrialFailed as e:
            self.close()
            raise Unavailable(str(e).removeprefix(f"{self.name}: ")) from None

    def _pid_taken(self) -> bool:
        return os.path.exists(f"/proc/{self._pid}")

    def trial(self) -> float:
        self._need_prepared()
        assert self.criu_bin
        if self._pid_taken():
            raise TrialFailed(f"{self.name}: PID {self._pid} of the dumped process is in use, cannot restore")
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        os.write(in_w, b"g")  # what the parked read() returns once restored
        _close(in_w)
        mine = [in_r, out_w, err_w]  # the restored fds 0, 1, 2
        log = os.path.join(self._work, "restore.log")
        cmd = [self.criu_bin, "restore", "-D", self._images, "-W", self._work, "-o", log]
        for fd, ino in self._pipes.items():
            cmd += ["--inherit-fd", f"fd[{mine[fd]}]:pipe:[{ino}]"]
        deadline = time.perf_counter() + self.timeout_s
        try:
            t0 = time.perf_counter()
            try:
                self._restore = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL, pass_fds=mine,
                                                 start_new_session=True)
            finally:
                _close(*mine)
                mine = []
            data = _pump([out_r, err_r], [out_r, err_r], deadline, (out_r, self._answer_bytes()))
            self.answer_ms = (ANSWERED_AT[0] - t0) * 1000 if ANSWERED_AT[0] else None
            code = self._restore.wait(timeout=max(0.1, deadline - time.perf_counter()))
            ms = (time.perf_counter() - t0) * 1000
        except (TimeoutError, subprocess.TimeoutExpired):
            self._kill_restored()
            raise TrialFailed(f"{self.name}: no exit within {self.timeout_s:.0f} s") from None
        finally:
            _close(*mine, out_r, err_r)
        self._restore = None
        out, err = _decode(data[out_r]), _decode(data[err_r])
        if code != 0:
            why = _criu_errors(log) if "Restoring FAILED" in _read(log) else _last_line(err)
            raise TrialFailed(f"{self.name}: criu restore exited with {code}: {why}")
        if _DONE not in err:
            raise TrialFailed(f"{self.name}: the restored main() did not return: {_last_line(err)}")
        _check(self.name, self.expected, self.prefix, out)
        return ms

    def _kill_restored(self) -> None:
        """Kill a running `criu restore` and the process it restored (same PID as the dumped one)."""
        _kill_group(self._restore)
        self._restore = None
        if self._pid and self._pid_taken():
            try:
                with open(f"/proc/{self._pid}/cmdline", "rb") as f:
                    ours = _BOOT.encode() in f.read()
                if ours:
                    os.kill(self._pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass

    def close(self) -> None:
        self._prepared = False
        _kill_group(self._parked)
        self._parked = None
        self._kill_restored()
        self._remove_scratch()


# --------------------------------------------------------------------------------------------
# The factories the driver calls.


def zygote(app: str, python: str, expected: str, env: dict, **kw) -> Peer:
    """Fork from a pre-loaded parent (gunicorn --preload / forkserver style); see the module doc."""
    return _Zygote(app, python, expected, env, **kw)


def dill_session(app: str, python: str, expected: str, env: dict, **kw) -> Peer:
    """dill.dump_module() after start-up, dill.load_module() + main() in a fresh interpreter per trial."""
    return _Dill(app, python, expected, env, **kw)


def criu(app: str, python: str, expected: str, env: dict, **kw) -> Peer:
    """CRIU dump of the process parked after start-up; ``criu restore`` + main() per trial.

    Extra keywords: ``criu_bin`` (else build_criu() is called by prepare()), ``build_timeout_s``.
    """
    return _Criu(app, python, expected, env, **kw)


PEERS = {"zygote": zygote, "dill": dill_session, "criu": criu}


def _demo() -> None:
    import argparse
    import statistics

    parser = argparse.ArgumentParser(description="Try the peers on one app by hand.")
    parser.add_argument("app")
    parser.add_argument("peers", nargs="*", help=f"some of {sorted(PEERS)} (default: all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--fast-exit", action="store_true", help="dill and CRIU copies end with os._exit")
    args = parser.parse_intermixed_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    app = os.path.abspath(args.app)
    cold = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        p = subprocess.run([args.python, app], env=env, cwd=os.path.dirname(app), capture_output=True,
                           text=True, timeout=TRIAL_TIMEOUT_S)
        cold.append((time.perf_counter() - t0) * 1000)
    if p.returncode != 0:
        raise SystemExit(f"cold run failed: {p.stderr}")
    print(f"{'cold':30s} median {statistics.median(cold):8.1f} ms")
    for key in args.peers or list(PEERS):
        kw = {"fast_exit": True} if args.fast_exit and key != "zygote" else {}
        with PEERS[key](app, args.python, p.stdout, env, **kw) as peer:
            try:
                peer.prepare()
            except Unavailable as e:
                print(f"{peer.name:30s} unavailable: {e}")
                continue
            times = [peer.trial() for _ in range(args.runs)]
            print(f"{peer.name:30s} median {statistics.median(times):8.1f} ms  "
                  f"min {min(times):7.1f}  max {max(times):7.1f}  {peer.extra}")


if __name__ == "__main__":
    _demo()
