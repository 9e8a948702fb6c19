"""The standard library sweep: every stdlib module that imports here, snapshotted and restored.

    python fidelity/stdlib_sweep.py [--jobs N] [--only NAME,...] [--limit N]

For each module of ``sys.stdlib_module_names`` that imports on this machine (the others are
listed as skipped): a program imports it at start-up; it is snapshotted, and restored in a fresh
process, which checks that every public name of the module resolves to an object of the same
kind as in a cold process, and says whether the module came from the image or was imported
again. Prints the share that round-trips and every failure with its first error line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

PROGRAM = """
import importlib, json, sys
MOD = importlib.import_module({name!r})
def kinds(mod):
    names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
    out = {{}}
    for n in names:
        try:
            out[n] = type(getattr(mod, n)).__name__
        except Exception as e:
            out[n] = "error:" + type(e).__name__
    return out
START = kinds(MOD)
if __name__ == "__main__":
    import amber
    print(json.dumps({{"kinds": kinds(MOD), "restored": amber.is_restored()}}))
"""

# Modules that do something when imported (open a browser, print), or are tests and demos.
SKIP = {"antigravity", "this", "idlelib", "turtledemo", "__main__", "test", "lib2to3.__main__"}


def stdlib_modules() -> list:
    """Top-level stdlib modules and the submodules of stdlib packages."""
    import pkgutil

    out = set()
    for name in sys.stdlib_module_names:
        if name in SKIP or name.startswith("_"):
            continue
        out.add(name)
        try:
            spec = __import__("importlib.util").util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for info in pkgutil.walk_packages(spec.submodule_search_locations, prefix=name + ".",
                                          onerror=lambda _name: None):
            parts = info.name.split(".")
            if any(p in ("test", "tests", "idle_test", "__main__") or p.startswith("_") for p in parts[1:]):
                continue
            out.add(info.name)
    return sorted(out)


def importable(name: str) -> bool:
    r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, timeout=60)
    return r.returncode == 0


def check(name: str, tmp: str) -> tuple[str, str]:
    script = os.path.join(tmp, f"sweep_{name.replace('.', '_')}.py")
    with open(script, "w") as f:
        f.write(PROGRAM.format(name=name))
    image = script[:-3] + ".amber"
    amber = [sys.executable, "-m", "amber"]
    cold = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=300)
    if cold.returncode != 0:
        return "skipped", "does not run cold: " + (cold.stderr.strip().splitlines() or ["?"])[-1]
    snap = subprocess.run([*amber, "snapshot", "-o", image, script], capture_output=True, text=True,
                          timeout=600)
    if snap.returncode != 0:
        return "failed", "snapshot: " + _first_error(snap.stderr)
    rest = subprocess.run([*amber, "restore", image], capture_output=True, text=True, timeout=300)
    if rest.returncode != 0:
        return "failed", "restore: " + _first_error(rest.stderr)
    want, got = json.loads(cold.stdout)["kinds"], json.loads(rest.stdout)["kinds"]
    diff = [n for n in want if want[n] != got.get(n)]
    if diff:
        return "failed", f"names differ: {', '.join(f'{n} ({want[n]} vs {got.get(n)})' for n in diff[:4])}"
    inspected = subprocess.run([*amber, "inspect", "--json", image], capture_output=True, text=True)
    info = json.loads(inspected.stdout)
    how = "by value" if name in info["modules"]["by_value"] else "imported again"
    return "ok", how


def _first_error(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if "error" in line.lower() or line.startswith("  ")]
    return " | ".join(lines[:3])[:300] or text.strip()[-300:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", default="")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    names = args.only.split(",") if args.only else stdlib_modules()
    if args.limit:
        names = names[:args.limit]
    with ThreadPoolExecutor(args.jobs) as pool:
        can = dict(zip(names, pool.map(importable, names), strict=True))
    skipped = [n for n in names if not can[n]]
    todo = [n for n in names if can[n]]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(todo, pool.map(lambda n: check(n, tmp), todo), strict=True))
    ok = [n for n, (status, _) in results.items() if status == "ok"]
    failed = {n: why for n, (status, why) in results.items() if status == "failed"}
    skipped += [n for n, (status, _) in results.items() if status == "skipped"]
    by_value = sum(1 for n in ok if results[n][1] == "by value")
    print(f"stdlib sweep: {len(ok)}/{len(ok) + len(failed)} modules round-trip "
          f"({100 * len(ok) / max(1, len(ok) + len(failed)):.1f}%); {by_value} of them captured by value, "
          f"{len(ok) - by_value} imported again")
    print(f"skipped (do not import here): {', '.join(skipped) or 'none'}")
    for n, why in sorted(failed.items()):
        print(f"FAILED {n}: {why}")


if __name__ == "__main__":
    main()
