"""Amber against Amber: restore time of two installations side by side (an old commit against a new one).

    python bench/versions.py --old PYTHON_A --new PYTHON_B [--quick] [--runs N] [--only APP,...]

Each PYTHON is the interpreter of a virtual environment holding one Amber installation (each
runs ``PYTHON -m amber``) and the benchmark's third-party packages. For each app in
``bench/apps/`` (the same six as ``bench/suite.py``, the same environment and sizes: ``--quick``
shrinks the data app from 512 MB to 64 MB and runs 3 times instead of 7):

1. the cold run ``PYTHON_B app.py`` once, unmeasured: it writes the ``.pyc`` files and the data
   app's data file, and its output is the answer every other run must print;
2. one snapshot with each installation, ``PYTHON -m amber snapshot -o IMAGE app.py`` (timed once,
   the image's size kept): an image is tied to the Amber version and the interpreter that made
   it, so each installation restores only its own image;
3. one warm-up run of each contender, then N rounds, each running cold (``PYTHON_B app.py``, the
   reference), ``PYTHON_A -m amber restore IMAGE_A`` and ``PYTHON_B -m amber restore IMAGE_B``
   once, the order rotated from round to round, so that drift of the shared machine falls on all
   three alike.

Every run is a whole process, timed as ``bench/suite.py`` times it (``suite.Process``): from its
start until its whole answer has been read (``PYTHONUNBUFFERED=1``), and each run's answer is
checked against the cold one. Reported: median [min-max] in ms, new/old ratio of the medians
(below 1: the new installation restores faster), snapshot time and image size of each. The
table is printed and written to ``bench/results/VERSIONS.md`` with each installation's commit
(``git rev-parse --short HEAD`` of its source tree, marked when the tree has uncommitted changes).
Exits 1 when a contender failed on some app (the table says which and why).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
from suite import APPS, LABELS, RESULTS, Process, bench_env, fmt_times, median_ms  # noqa: E402

SIDES = ("old", "new")
CONTENDERS = ("cold", "old", "new")
HEADINGS = {"cold": "cold", "old": "old restore", "new": "new restore"}


@dataclass
class Installation:
    """One Amber installation: its interpreter and where its source came from."""

    side: str
    python: str
    amber_dir: str = ""
    commit: str = "?"
    python_version: str = "?"

    def describe(self) -> str:
        return f"`{self.commit}` ({self.amber_dir or 'amber not importable'}; `{self.python}`, " \
               f"Python {self.python_version})"


@dataclass
class AppResult:
    """What one app gave: times per contender, snapshot time and image size per side, notes."""

    app: str
    times: dict[str, list[float]] = field(default_factory=dict)
    snapshot_ms: dict[str, float] = field(default_factory=dict)
    image_bytes: dict[str, int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def locate(side: str, python: str, cwd: str) -> Installation:
    """Which Amber ``python`` imports, and the commit of the git tree it lives in (if any)."""
    inst = Installation(side, python)
    probe = subprocess.run([python, "-c", "import amber, os, sys; print(os.path.dirname(amber.__file__)); "
                            "print(sys.version.split()[0])"], cwd=cwd, capture_output=True, text=True)
    if probe.returncode != 0:
        return inst
    inst.amber_dir, inst.python_version = probe.stdout.split()[:2]
    rev = subprocess.run(["git", "-C", inst.amber_dir, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True)
    if rev.returncode == 0:
        inst.commit = rev.stdout.strip()
        dirty = subprocess.run(["git", "-C", inst.amber_dir, "status", "--porcelain", "--", "."],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            inst.commit += " + uncommitted changes"
    return inst


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def measure_app(app: str, installs: dict[str, Installation], runs: int, env: dict, work: str) -> AppResult:
    path = os.path.join(BENCH, "apps", f"{app}.py")
    result = AppResult(app)
    cold = Process([installs["new"].python, path], env, work)
    _ms, expected = cold.run()  # unmeasured: writes the .pyc files (and the data app's data file)
    answer = len(expected.encode())
    cold.answer_bytes = answer
    procs: dict[str, Process] = {"cold": cold}
    for side in SIDES:
        python = installs[side].python
        image = os.path.join(work, f"{app}.{side}.amber")
        t0 = time.perf_counter()
        snap = subprocess.run([python, "-m", "amber", "snapshot", "-o", image, path], env=env, cwd=work,
                              capture_output=True, text=True)
        result.snapshot_ms[side] = (time.perf_counter() - t0) * 1000
        if snap.returncode != 0:
            result.notes[side] = f"snapshot failed (exit {snap.returncode}): {last_line(snap.stderr)}"
            continue
        result.image_bytes[side] = os.path.getsize(image)
        procs[side] = Process([python, "-m", "amber", "restore", image], env, work, answer)

    def attempt(name: str) -> float | None:
        """One run of a contender: its time to answer, or None (and a note) when it failed."""
        try:
            _ms, out = procs[name].run()
        except RuntimeError as e:
            result.notes[name] = f"restore failed: {last_line(str(e))}"
        else:
            if out == expected:
                return procs[name].answer_ms
            result.notes[name] = f"printed something else than the cold run: {out[:120]!r}"
        del procs[name]
        result.times.pop(name, None)  # a contender that went wrong once is not reported at all
        return None

    for name in list(procs):  # warm-up
        attempt(name)
    for round_no in range(runs):
        order = [c for c in CONTENDERS if c in procs]
        shift = round_no % len(order) if order else 0
        for name in order[shift:] + order[:shift]:
            if name in procs:
                ms = attempt(name)
                if ms is not None:
                    result.times.setdefault(name, []).append(ms)
    return result


def table(results: list[AppResult], installs: dict[str, Installation], runs: int, quick: bool) -> str:
    lines = [f"Time to answer, ms: median [min-max] of {runs} interleaved runs after a warm-up, whole "
             f"processes ({'quick' if quick else 'full'} sizes; {os.cpu_count()} cores). "
             "new/old below 1: the new installation restores faster.", "",
             f"- old: {installs['old'].describe()}", f"- new: {installs['new'].describe()}", "",
             "| app | cold | old restore | new restore | new/old | snapshot old | snapshot new "
             "| image old | image new |", "|---" * 9 + "|"]
    for r in results:
        cells = [fmt_times(r.times.get(c)) if r.times.get(c) else "n/a" for c in CONTENDERS]
        ratio = "-"
        if r.times.get("old") and r.times.get("new"):
            ratio = f"{median_ms(r.times['new']) / median_ms(r.times['old']):.2f}"
        snaps = [f"{r.snapshot_ms[s]:.0f} ms" if s in r.image_bytes else "n/a" for s in SIDES]
        images = [f"{r.image_bytes[s] / 1e6:.1f} MB" if s in r.image_bytes else "n/a" for s in SIDES]
        lines.append(f"| {LABELS[r.app]} | " + " | ".join([*cells, ratio, *snaps, *images]) + " |")
    notes = [f"- {LABELS[r.app]}, {HEADINGS[k]}: {v}" for r in results for k, v in r.notes.items()]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="interpreter of the venv with the old Amber")
    parser.add_argument("--new", required=True, help="interpreter of the venv with the new Amber")
    parser.add_argument("--quick", action="store_true", help="64 MB data app, 3 runs")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds (default 7; 3 with --quick)")
    parser.add_argument("--only", default="", help="comma-separated apps (default: all six)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 7)
    wanted = args.only.split(",") if args.only else APPS
    unknown = [a for a in wanted if a not in APPS]
    if unknown:
        parser.error(f"unknown app(s) {', '.join(unknown)}; the apps are {', '.join(APPS)}")
    env = bench_env(args.quick)
    results = []
    with tempfile.TemporaryDirectory(prefix="amber-versions-") as work:
        installs = {side: locate(side, os.path.abspath(getattr(args, side)), work) for side in SIDES}
        for inst in installs.values():
            if not inst.amber_dir:
                sys.exit(f"versions: {inst.python} cannot import amber")
            print(f"versions: {inst.side}: {inst.describe()}", file=sys.stderr, flush=True)
        if installs["old"].python_version != installs["new"].python_version:
            print("versions: warning: the two interpreters differ; the comparison mixes Amber and Python",
                  file=sys.stderr)
        for app in wanted:
            print(f"versions: {app}...", file=sys.stderr, flush=True)
            results.append(measure_app(app, installs, runs, env, work))
    text = table(results, installs, runs, args.quick)
    command = " ".join(["python bench/versions.py", "--old", args.old, "--new", args.new]
                       + (["--quick"] if args.quick else []) + ([f"--runs {args.runs}"] if args.runs else [])
                       + ([f"--only {args.only}"] if args.only else []))
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "VERSIONS.md"), "w") as f:
        f.write(f"# Restore time, old Amber against new ({time.strftime('%Y-%m-%d')})\n\n"
                f"Reproduce: `{command}`\n\n" + text)
    print(text)
    return 1 if any(r.notes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
