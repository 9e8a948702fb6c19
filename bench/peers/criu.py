"""CRIU: dump the started process, restore it (as root); builds CRIU 4.1 when asked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from .common import (
    _BOOT,
    _DONE,
    _STARTUP,
    ANSWERED_AT,
    SETUP_CRIU,
    TrialFailed,
    Unavailable,
    _Base,
    _check,
    _close,
    _decode,
    _kill_group,
    _last_line,
    _one_line,
    _pump,
    _reason,
    _tree_bytes,
)

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
        self._first_trial(close=True)

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
