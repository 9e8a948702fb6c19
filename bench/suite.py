"""Amber's benchmark suite: start-up of eleven apps, cold vs Amber vs the peers, side by side.

    python bench/suite.py [--quick] [--runs N] [--only APP,...] [--no-criu] [--no-history]

For each app in ``bench/apps/`` (sizes fixed in the apps; ``--quick`` shrinks the data app
from 512 MB to 64 MB and runs 3 times instead of 7), every way of starting it is measured as a
whole process started the way a user starts it, interleaved run by run after one warm-up run,
with medians and min/max:

* cold: ``python app.py`` (the venv's real interpreter, ``.pyc`` files written and warm);
* ``amber restore IMAGE`` and ``amber run app.py`` (cached), through the installed ``amber``, and
  ``./IMAGE`` (the image as a program: its launch line starts the restoring interpreter directly);
* ``pool``: ``./IMAGE`` while ``amber pool start IMAGE`` runs (an instance forked from the pool);
  ``pool, no caller``: the same instance requested from the benchmark process itself, as the
  fork peer is (``bench/pool_caller.py``: no caller interpreter);
* the peers (``bench/peers/``): a fork from a pre-loaded parent, dill's session dump, CRIU;
* the floor (:mod:`floor`): ``python -I -S -c pass`` (the restoring interpreter's start) plus the
  initialisation of the extension modules the image imports again, measured on its own; and,
  for comparison, ``python -c`` importing the modules the image imports again, Python parts
  included. Amber's share is ``amber restore`` minus the floor.

Each time runs from starting the process until its whole answer has been read (the answer is
checked against the cold run's; ``PYTHONUNBUFFERED=1`` so every line arrives when printed); a
second table gives the same runs until the process has exited, teardown included.
Also reported: image size next to the cold process's peak RSS
and CRIU's image, snapshot time, and the total PSS of 8 processes alive at once (Django,
FastAPI, sympy, the data app): cold, restored from one image, and instances of one pool.
Writes ``bench/results/RESULTS.md`` (``RESULTS-quick.md`` in quick mode), ``startup.png`` and
appends the medians to ``bench/results/HISTORY.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
sys.path.insert(0, BENCH)
import floor  # noqa: E402
import peers  # noqa: E402
import pool_caller  # noqa: E402

APPS = ["service", "django_project", "fastapi_app", "sympy_app", "numpy_data", "cli_tool", "sklearn_model",
        "torch_model", "scipy_app", "flask_app", "botocore_cli"]
LABELS = {"service": "1 pure-Python service", "django_project": "2 Django project",
          "fastapi_app": "3 FastAPI + pydantic", "sympy_app": "4 sympy workload",
          "numpy_data": "5 numpy/data app", "cli_tool": "6 CLI tool (click+rich)",
          "sklearn_model": "7 scikit-learn model fitted", "torch_model": "8 torch CNN loaded",
          "scipy_app": "9 scipy solvers", "flask_app": "10 Flask app", "botocore_cli": "11 cloud-SDK CLI"}
PSS_PROCESSES = 8
PSS_APPS = ("django_project", "fastapi_app", "sympy_app", "numpy_data")  # they can hold: AMBER_BENCH_HOLD


class Process:
    """One whole process, timed from its start until its whole answer has been read (the time
    to answer), and until it has exited."""

    def __init__(self, cmd: list, env: dict, cwd: str, answer_bytes: int = 0) -> None:
        self.cmd, self.env, self.cwd, self.answer_bytes = cmd, env, cwd, answer_bytes
        self.answer_ms: float | None = None

    def run(self) -> tuple[float, str]:
        """(milliseconds to exit, stdout); the time to answer goes to ``answer_ms``."""
        t0 = time.perf_counter()
        p = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        out_fd, err_fd = p.stdout.fileno(), p.stderr.fileno()
        try:
            data = peers._pump([out_fd, err_fd], [out_fd, err_fd], t0 + 600, (out_fd, self.answer_bytes))
            p.wait(timeout=60)
        finally:
            p.stdout.close()
            p.stderr.close()
        ms = (time.perf_counter() - t0) * 1000
        self.answer_ms = (peers.ANSWERED_AT[0] - t0) * 1000 if peers.ANSWERED_AT[0] else ms
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(self.cmd)} exited {p.returncode}: {data[err_fd].decode()[-400:]}")
        return ms, data[out_fd].decode()


def peak_rss(cmd: list, env: dict, cwd: str) -> int:
    """Peak RSS of one run, from the kernel's accounting of the child."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    _pid, _status, usage = os.wait4(p.pid, 0)
    p.returncode = 0
    return usage.ru_maxrss * 1024


def median_ms(xs: list) -> float:
    return statistics.median(xs) if xs else float("nan")


def measure_app(app: str, args, env: dict, amber: str, cache: str, work: str) -> dict:
    path = os.path.join(BENCH, "apps", f"{app}.py")
    py = sys.executable
    row: dict = {"app": app, "times": {}, "to_exit": {}, "notes": {}}
    cold = Process([py, path], env, work)
    _ms, expected = cold.run()  # writes the .pyc files (and the data app's data file)
    row["rss_cold"] = peak_rss([py, path], env, work)

    image = os.path.join(work, f"{app}.amber")
    t0 = time.perf_counter()
    snap = subprocess.run([amber, "snapshot", "-o", image, path], env=env, cwd=work, capture_output=True,
                          text=True)
    row["snapshot_ms"] = (time.perf_counter() - t0) * 1000
    if snap.returncode != 0:
        row["notes"]["amber"] = snap.stderr.strip().splitlines()[-1]
        return row
    row["image_bytes"] = os.path.getsize(image)
    # What the self-verification costs: the same snapshot without it (and a fresh process's
    # restore and comparison), into a file of its own.
    t0 = time.perf_counter()
    unverified = subprocess.run([amber, "snapshot", "--no-verify", "-o", image + ".unverified", path],
                                env=env, cwd=work, capture_output=True, text=True)
    if unverified.returncode == 0:
        row["snapshot_unverified_ms"] = (time.perf_counter() - t0) * 1000
    info = json.loads(subprocess.run([amber, "inspect", "--json", image], env=env, capture_output=True,
                                     text=True, check=True).stdout)
    row["mapped_bytes"] = info.get("mapped_buffers", {}).get("bytes", 0)
    lazy_image = os.path.join(work, f"{app}.lazy.amber")
    if args.lazy_code:  # the experimental code-on-first-call image, as one more contender
        subprocess.run([amber, "snapshot", "--lazy-code", "-o", lazy_image, path], env=env, cwd=work,
                       capture_output=True, check=True)
    run_env = dict(env, AMBER_CACHE=cache)
    subprocess.run([amber, "run", "--wait", path], env=run_env, cwd=work, capture_output=True,
                   check=True)  # builds the image: the runs below restore it
    reimported = [m for m in info["modules"]["by_reference"] if m not in set(base_set(amber, env))]
    floor_imports = (f"import importlib\nfor m in {reimported!r}:\n    try:\n"
                     "        importlib.import_module(m)\n    except Exception:\n        pass\nprint('ok')\n")
    answer = len(expected.encode())
    cold.answer_bytes = answer
    methods = {
        "cold": cold,
        "amber restore": Process([amber, "restore", image], env, work, answer),
        "amber run": Process([amber, "run", path], run_env, work, answer),
        "./IMAGE": Process([image], env, work, answer),
        "floor: python -c pass": Process([py, "-c", "print('ok')"], env, work, 3),
        "python -I -S": Process([py, "-I", "-S", "-c", "print('ok')"], env, work, 3),
        "floor: + re-imports": Process([py, "-c", floor_imports], env, work, 3),
    }
    if args.lazy_code:
        methods["lazy code"] = Process([amber, "restore", lazy_image], env, work, answer)
    pool_env = start_pool(amber, image, env, work, row)
    if pool_env is not None:
        methods["pool"] = Process([image], pool_env, work, answer)
        methods["pool, no caller"] = pool_caller.PoolSocket(image, pool_env, work, answer)
    outputs = {"cold": expected, "amber restore": expected, "amber run": expected, "lazy code": expected,
               "./IMAGE": expected, "pool": expected, "pool, no caller": expected}
    active_peers = prepare_peers(path, py, expected, env, work, args, row)
    try:
        time_contenders(methods, outputs, active_peers, args.runs, row)
        if app in PSS_APPS:
            row["pss"] = {"cold": total_pss([py, path], env, work),
                          "amber restore": total_pss([amber, "restore", image], env, work)}
            if pool_env is not None and "pool" in methods:
                row["pss"]["pool"], row["pss"]["pool callers"] = pool_pss(image, pool_env, work)
    finally:
        for _name, peer in active_peers:
            peer.close()
        if pool_env is not None:
            subprocess.run([amber, "pool", "stop", "--all"], env=pool_env, capture_output=True)
    row["extension_init_ms"], row["extensions"] = floor.extension_init_ms(py, reimported, env, work)
    return row


def start_pool(amber: str, image: str, env: dict, work: str, row: dict) -> dict | None:
    """A pool of ``image`` in a directory of its own (AMBER_POOL_DIR): the environment that finds
    it (only the pool contender runs with it), or None (a note in ``row`` says why)."""
    pool_env = dict(env, AMBER_POOL_DIR=tempfile.mkdtemp(prefix="pools-", dir=work))
    started = subprocess.run([amber, "pool", "start", image], env=pool_env, capture_output=True, text=True)
    if started.returncode == 0:
        return pool_env
    row["notes"]["pool"] = (started.stderr.strip().splitlines() or ["did not start"])[-1][:200]
    return None


def time_contenders(methods: dict, outputs: dict, active_peers: list, runs: int, row: dict) -> None:
    """A warm-up run of each (one that fails or prints something else is a note, not timed),
    then ``runs`` rounds, every contender once per round, peers included."""
    for method in list(methods):
        try:
            _ms, out = methods[method].run()
            if method in outputs and out != outputs[method]:
                raise RuntimeError("it printed something else than the cold run")
        except RuntimeError as e:
            row["notes"][method] = str(e).splitlines()[-1][:200]
            del methods[method]
    for _ in range(runs):
        for method, proc in methods.items():
            ms, _out = proc.run()
            row["times"].setdefault(method, []).append(proc.answer_ms)
            row["to_exit"].setdefault(method, []).append(ms)
        for name, peer in active_peers:
            try:
                ms = peer.trial()
                row["times"].setdefault(name, []).append(peer.answer_ms or ms)
                row["to_exit"].setdefault(name, []).append(ms)
            except peers.TrialFailed as e:
                row["notes"][name] = f"trial failed: {str(e)[:200]}"


def prepare_peers(path: str, py: str, expected: str, env: dict, work: str, args, row: dict) -> list:
    """The peers that can run here, prepared (a peer that cannot is a note in ``row``)."""
    active = []
    for name in ("zygote", "dill", "criu"):
        if name == "criu" and args.no_criu:
            row["notes"][name] = "skipped (--no-criu)"
            continue
        peer = peers.PEERS[name](path, py, expected, env, cwd=work)
        try:
            peer.prepare()
            active.append((name, peer))
            if "image_bytes" in peer.extra:
                row[f"{name}_image_bytes"] = peer.extra["image_bytes"]
        except peers.Unavailable as e:
            row["notes"][name] = str(e)
            peer.close()
    return active


def base_set(amber: str, env: dict) -> list:
    out = subprocess.run([amber, "inspect", "--base-set"], env=env, capture_output=True, text=True).stdout
    return out.split()


def total_pss(cmd: list, env: dict, cwd: str) -> int:
    """Total PSS of PSS_PROCESSES processes alive at once, each after printing its answer."""
    procs = []
    hold = dict(env, AMBER_BENCH_HOLD="1")
    try:
        for _ in range(PSS_PROCESSES):
            p = subprocess.Popen(cmd, env=hold, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            p.stdout.readline()  # answered: start-up (or restore) is complete
            procs.append(p)
        return sum(_pss(p.pid) for p in procs)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=60)


def pool_pss(image: str, env: dict, cwd: str) -> tuple[int, int]:
    """(total PSS of PSS_PROCESSES instances alive at once through the pool of ``image`` and of
    the pool's parent, total PSS of their callers), each instance after printing its answer."""
    record = next(os.path.join(env["AMBER_POOL_DIR"], n) for n in os.listdir(env["AMBER_POOL_DIR"])
                  if n.endswith(".pool"))
    with open(record) as f:
        parent = int(dict(line.split("=", 1) for line in f.read().splitlines())["pid"])
    procs = []
    hold = dict(env, AMBER_BENCH_HOLD="1")
    try:
        for _ in range(PSS_PROCESSES):
            p = subprocess.Popen([image], env=hold, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            p.stdout.readline()
            procs.append(p)
        with open(f"/proc/{parent}/task/{parent}/children") as f:
            instances = [int(pid) for pid in f.read().split()]
        return sum(_pss(pid) for pid in [parent, *instances]), sum(_pss(p.pid) for p in procs)
    finally:
        for p in procs:
            p.stdin.close()
            p.wait(timeout=60)


def _pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


# == output ===========================================================================================
COLUMNS = ["cold", "amber restore", "./IMAGE", "pool", "amber run", "pool, no caller", "zygote", "dill",
           "criu", "floor: python -c pass", "floor: + re-imports", "floor"]
LAZY_COLUMN = "lazy code"  # amber snapshot --lazy-code (experimental), with --lazy-code
HEADINGS = {"pool": "pool (./IMAGE)", "zygote": "fork from pre-loaded parent", "dill": "dill load_module",
            "criu": "CRIU restore", "floor: + re-imports": "python + re-imports",
            "floor": "floor (-I -S + extensions)"}


def floor_ms(row: dict) -> float | None:
    """The app's floor: the isolated interpreter's start (median) plus its extensions' own
    initialisation (median, :func:`floor.extension_init_ms`)."""
    start = row["times"].get("python -I -S")
    if not start or "extension_init_ms" not in row:
        return None
    return median_ms(start) + row["extension_init_ms"]


def fmt_times(xs: list | None) -> str:
    if not xs:
        return "-"
    return f"{median_ms(xs):.0f} [{min(xs):.0f}-{max(xs):.0f}]"


def table(rows: list, args) -> str:
    columns = COLUMNS[:3] + [LAZY_COLUMN] + COLUMNS[3:] if args.lazy_code else COLUMNS
    lines = [f"Start-up to answer, ms: median [min-max] of {args.runs} interleaved runs after a warm-up, "
             f"whole processes ({'quick' if args.quick else 'full'} sizes). Python {sys.version.split()[0]}, "
             f"{os.cpu_count()} cores.", ""]
    lines.append("| app | " + " | ".join(HEADINGS.get(c, c) for c in columns)
                 + " | restore/cold | Amber's share (restore - floor) | share/floor |")
    lines.append("|---" * (len(columns) + 4) + "|")
    for row in rows:
        t = row["times"]
        bottom = floor_ms(row)
        cells = [(f"{bottom:.0f} ({row['extensions']} ext.)" if bottom is not None else "-") if c == "floor"
                 else fmt_times(t.get(c)) if t.get(c) else _note(row, c) for c in columns]
        ratio = share = per_floor = "-"
        if t.get("amber restore") and t.get("cold"):
            r, c = median_ms(t["amber restore"]), median_ms(t["cold"])
            ratio = f"{r / c:.2f}"
            if bottom is not None:
                share, per_floor = f"{r - bottom:.0f} ms", f"{(r - bottom) / bottom:.1f}"
        lines.append(f"| {LABELS[row['app']]} | " + " | ".join(cells)
                     + f" | {ratio} | {share} | {per_floor} |")
    lines += ["", "The same runs until the process has exited (the interpreter's teardown included), ms:", "",
              "| app | " + " | ".join(HEADINGS.get(c, c) for c in COLUMNS[:7]) + " |", "|---" * 8 + "|"]
    for row in rows:
        e = row["to_exit"]
        cells = [fmt_times(e.get(c)) if e.get(c) else _note(row, c) for c in COLUMNS[:7]]
        lines.append(f"| {LABELS[row['app']]} | " + " | ".join(cells) + " |")
    lines += ["", "| app | snapshot (verified) | snapshot --no-verify | image (mapped buffers) | "
                  "CRIU image | dill file | cold peak RSS |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        image = "-"
        if row.get("image_bytes"):
            image = f"{_mb(row, 'image_bytes')} ({row.get('mapped_bytes', 0) / 1e6:.1f} MB)"
        unverified = row.get("snapshot_unverified_ms")
        lines.append(f"| {LABELS[row['app']]} | {row.get('snapshot_ms', 0):.0f} ms | "
                     f"{f'{unverified:.0f} ms' if unverified else '-'} | {image} | "
                     f"{_mb(row, 'criu_image_bytes')} | {_mb(row, 'dill_image_bytes')} | "
                     f"{_mb(row, 'rss_cold')} |")
    memory = [row for row in rows if "pss" in row]
    if memory:
        lines += ["", f"Memory: {PSS_PROCESSES} processes alive at once, total PSS in MB (and as a multiple "
                      "of one cold process): cold; restored from one image; instances of one pool with the "
                      "pool's parent; their callers (./IMAGE), apart.", "",
                  "| app | cold | amber restore | pool instances + parent | pool callers |",
                  "|---|---|---|---|---|"]
    for row in memory:
        pss = row["pss"]
        one = pss["cold"] / PSS_PROCESSES
        cells = [f"{pss[k] / 1e6:.0f} ({pss[k] / one:.2f} x)" if k in pss else "-"
                 for k in ("cold", "amber restore", "pool", "pool callers")]
        lines.append(f"| {LABELS[row['app']]} | " + " | ".join(cells) + " |")
    notes = [f"- {LABELS[row['app']]}, {HEADINGS.get(k, k)}: {v}"
             for row in rows for k, v in row["notes"].items()]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def _mb(row: dict, key: str) -> str:
    return f"{row[key] / 1e6:.1f} MB" if row.get(key) else "-"


def _note(row: dict, column: str) -> str:
    return "n/a" if column in row["notes"] else "-"


def chart(rows: list, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = ["cold", "amber restore", "pool", "zygote", "dill", "criu", "floor"]
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(shown)
    for i, method in enumerate(shown):
        xs = [j + i * width for j in range(len(rows))]
        ys = [(floor_ms(row) or float("nan")) if method == "floor"
              else median_ms(row["times"].get(method, [])) for row in rows]
        ax.bar(xs, ys, width, label=HEADINGS.get(method, method))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))])
    ax.set_xticklabels([LABELS[row["app"]] for row in rows], rotation=15, fontsize=8)
    ax.set_ylabel("ms to answer (median, whole process)")
    ax.set_title("Start-up: cold vs Amber vs peers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def history(rows: list, args) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    parts = []
    for row in rows:
        t = row["times"]
        if t.get("cold") and t.get("amber restore"):
            bottom = floor_ms(row)
            parts.append(f"{row['app']} {median_ms(t['cold']):.0f}->{median_ms(t['amber restore']):.0f}"
                         + (f" (floor {bottom:.0f})" if bottom is not None else ""))
    mode = "quick" if args.quick else "full"
    return f"| {time.strftime('%Y-%m-%d')} | {commit} | {mode} | {'; '.join(parts)} |\n"


def bench_env(quick: bool) -> dict:
    """The environment every measured process runs in (also used by ``bench/versions.py``)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the cold side gets its .pyc files, as on users' machines
    env["PYTHONUNBUFFERED"] = "1"  # the answer reaches the pipe when printed, for every contender
    env["AMBER_BENCH_SIZE"] = "quick" if quick else "full"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MB data app, 3 runs: a few minutes")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--only", default="")
    parser.add_argument("--no-criu", action="store_true")
    parser.add_argument("--no-history", action="store_true")
    parser.add_argument("--lazy-code", action="store_true",
                        help="also time images made with amber snapshot --lazy-code (experimental)")
    parser.add_argument("--amber", default=os.path.join(os.path.dirname(sys.executable), "amber"),
                        help="the amber command to measure (default: the one beside this python)")
    args = parser.parse_args()
    args.runs = args.runs or (3 if args.quick else 7)
    env = bench_env(args.quick)
    amber = args.amber
    if not os.path.exists(amber):
        sys.exit(f"bench: no amber command at {amber}; install Amber in this environment")
    wanted = args.only.split(",") if args.only else APPS
    rows = []
    with tempfile.TemporaryDirectory(prefix="amber-bench-") as work:
        cache = os.path.join(work, "cache")
        for app in wanted:
            print(f"bench: {app}...", file=sys.stderr, flush=True)
            rows.append(measure_app(app, args, env, amber, cache, work))
    os.makedirs(RESULTS, exist_ok=True)
    text = table(rows, args)
    suffix = "-quick" if args.quick else ""
    name = f"RESULTS{suffix}.md"
    with open(os.path.join(RESULTS, name), "w") as f:
        f.write(f"# Benchmark results ({time.strftime('%Y-%m-%d')})\n\nReproduce: `python bench/suite.py"
                f"{' --quick' if args.quick else ''}`\n\n![chart](startup{suffix}.png)\n\n" + text)
    chart(rows, os.path.join(RESULTS, f"startup{suffix}.png"))
    if not args.no_history:
        hist = os.path.join(RESULTS, "HISTORY.md")
        if not os.path.exists(hist):
            with open(hist, "w") as f:
                f.write("# Benchmark history\n\nMedians, cold -> `amber restore`, ms; one row per run "
                        "of the suite (the commit says what changed).\n\n"
                        "| date | commit | mode | app cold->restored |\n|---|---|---|---|\n")
        with open(hist, "a") as f:
            f.write(history(rows, args))
    print(text)


if __name__ == "__main__":
    main()
