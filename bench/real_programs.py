"""Cold start vs ``amber restore`` for the bundled programs, measured side by side.

    python bench/real_programs.py [--runs N] [PROGRAM.py ...]

Each program (default: ``examples/service.py`` and every ``examples/real/*.py``) is run once to
write its ``.pyc`` files, snapshotted once, then started N times cold and N times restored,
interleaved (cold, restored, cold, ...), as whole processes the way a user starts them: the
program with the interpreter, the restore with the installed ``amber`` command. Bytecode caching
is on for both (PYTHONDONTWRITEBYTECODE is removed). Prints medians, min/max and the ratio, and
checks that both print the same thing.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd: list, env: dict, cwd: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    elapsed = (time.perf_counter() - t0) * 1000
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with code {p.returncode}")
    return elapsed, p.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("programs", nargs="*")
    args = parser.parse_args()
    programs = args.programs or [os.path.join(ROOT, "examples", "service.py"),
                                 *sorted(glob.glob(os.path.join(ROOT, "examples", "real", "*.py")))]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    amber = os.path.join(os.path.dirname(sys.executable), "amber")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for program in programs:
            name = os.path.basename(program)
            cwd = os.path.dirname(program)
            image = os.path.join(tmp, name + ".amber")
            timed([sys.executable, program], env, cwd)  # writes the .pyc files a user would have
            snap_ms, _ = timed([amber, "snapshot", "-o", image, program], env, cwd)
            cold, restored = [], []
            same = True
            for _ in range(args.runs):
                ms, cold_out = timed([sys.executable, program], env, cwd)
                cold.append(ms)
                ms, restored_out = timed([amber, "restore", image], env, cwd)
                restored.append(ms)
                same = same and cold_out == restored_out
            rows.append((name, cold, restored, snap_ms, os.path.getsize(image), same))
            print(f"measured {name}", file=sys.stderr)
    print(f"{args.runs} interleaved runs each; median [min-max] in ms, whole processes\n")
    print("| program | cold | amber restore | restored/cold | snapshot | image | same output |")
    print("|---|---|---|---|---|---|---|")
    for name, cold, restored, snap_ms, size, same in rows:
        c, r = statistics.median(cold), statistics.median(restored)
        print(f"| {name} | {c:.0f} [{min(cold):.0f}-{max(cold):.0f}] | {r:.0f} [{min(restored):.0f}-"
              f"{max(restored):.0f}] | {r / c:.2f} | {snap_ms:.0f} | {size / 1e6:.1f} MB | "
              f"{'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
