"""dill's session dump: dill.dump_module after start-up, dill.load_module in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import time

from .common import (
    _MARK,
    _STARTUP,
    ANSWERED_AT,
    TrialFailed,
    Unavailable,
    _Base,
    _check,
    _decode,
    _kill_group,
    _last_line,
    _pump,
    _reason,
)

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
        self._first_trial(close=False)

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
