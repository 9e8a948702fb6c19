"""What ``amber run``'s staleness check costs, on a program with 500 captured modules.

    python bench/run_overhead.py [--modules N] [--runs N]

Generates a package of N small modules and a program importing them all, builds its image with
``amber run``, then measures, interleaved as whole processes: ``amber run`` (check + restore) and
``amber restore`` of the same image (restore alone). Also times the check by itself, in process
(``amber.runcache``: key computation, reading the recorded inputs, one ``stat`` per file, one
keyed hash per variable).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    amber = os.path.join(os.path.dirname(sys.executable), "amber")
    with tempfile.TemporaryDirectory() as tmp:
        pkg = os.path.join(tmp, "many")
        os.makedirs(pkg)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        for i in range(args.modules):
            with open(os.path.join(pkg, f"m{i}.py"), "w") as f:
                f.write(f"import os\nVALUE = {i}\ndef f(x):\n    return x + VALUE\n"
                        f"SETTING = os.environ.get('MANY_SETTING_{i % 5}', 'default')\n")
        script = os.path.join(tmp, "app.py")
        with open(script, "w") as f:
            f.write("import importlib\n"
                    f"MODS = [importlib.import_module(f'many.m{{i}}') for i in range({args.modules})]\n"
                    "if __name__ == '__main__':\n    print(sum(m.f(1) for m in MODS))\n")
        env = dict(os.environ, AMBER_CACHE=os.path.join(tmp, "cache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([amber, "run", "--wait", script], env=env, check=True, stdout=subprocess.DEVNULL)
        (image,) = glob.glob(os.path.join(tmp, "cache", "*", "*.amber"))
        run_ms, restore_ms = [], []
        for _ in range(args.runs):
            for cmd, out in (([amber, "run", script], run_ms), ([amber, "restore", image], restore_ms)):
                t0 = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
                out.append((time.perf_counter() - t0) * 1000)
        check_ms, files, variables = _check_in_process(image, env, tmp)
    r, s = statistics.median(run_ms), statistics.median(restore_ms)
    print(f"{args.modules} captured modules; {files} paths and {variables} variables watched; "
          f"{args.runs} interleaved runs, medians")
    print(f"  amber run (check + restore)   {r:7.1f} ms  [{min(run_ms):.1f}-{max(run_ms):.1f}]")
    print(f"  amber restore (restore only)  {s:7.1f} ms  [{min(restore_ms):.1f}-{max(restore_ms):.1f}]")
    print(f"  difference                    {r - s:7.1f} ms")
    print(f"  the check alone, in process   {check_ms:7.2f} ms")


def _check_in_process(image: str, env: dict, tmp: str) -> tuple[float, int, int]:
    os.environ.update(env)
    from amber.image import format as fmt
    from amber.runcache import freshness, keys, layout

    root = layout.cache_root()
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        keys.program_key(os.path.join(tmp, "app.py"), False, os.getcwd())
        inputs = fmt.read_image(image).decode(fmt.INPUTS)
        assert root is not None
        assert freshness.stale_reason(inputs, keys.secret_key(root), inputs["program"]) is None
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), len(inputs["watched"]), len(inputs["env"])


if __name__ == "__main__":
    main()
