"""What the peers share: errors, the Peer protocol, the start-up code helpers run, pipes and
process handling, and the base class (see the package's docstring)."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Protocol, runtime_checkable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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

    def _first_trial(self, close: bool = True) -> None:
        """One unmeasured trial at the end of prepare(), so that an app this peer cannot carry
        through is reported as Unavailable (one line) rather than failing every trial."""
        self._prepared = True
        try:
            self.trial()
        except TrialFailed as e:
            if close:
                self.close()
            else:
                self._prepared = False
            raise Unavailable(str(e).removeprefix(f"{self.name}: ")) from None

    def _need_prepared(self) -> None:
        if not self._prepared:
            raise TrialFailed(f"{self.name}: trial() before a successful prepare()")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{self.name} peer for {os.path.basename(self.app)}>"
