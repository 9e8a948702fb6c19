"""The standard library sweep: every stdlib module that imports here, restored, its state compared.

    python fidelity/stdlib_sweep.py [--jobs N] [--only NAME,...] [--limit N] [--json FILE]

For each module of ``sys.stdlib_module_names`` (and the submodules of stdlib packages) a program
imports it at start-up; the program is run cold twice, snapshotted, and restored in a fresh
process. After the snapshot point each of the three processes describes the module's state and
the interpreter's registrations with the describer of ``fidelity/sweep_facts.py`` (embedded in
the program, independent of Amber's own verifier): a fact for every public and private
module-level name, followed into containers, classes, functions and instances to a bounded
depth, and the registries an import may add to (codecs, copyreg, import hooks, atexit, signal
handlers, warnings filters, sys.modules). Facts that differ between the two cold processes are
noise (salted hashes, ids, time, pids) and are left out; every other fact of the restored
process must equal the cold one's. A difference that Amber makes by design is named with its
reason (``fidelity/sweep_design.py``); any other is printed with its path and both values, and
counts as a failure (exit code 1).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor

from sweep_design import by_design

HERE = os.path.dirname(os.path.abspath(__file__))
DESCRIBER = open(os.path.join(HERE, "sweep_facts.py"), encoding="utf-8").read()
AMBER = [sys.executable, "-m", "amber"]

# The module is imported above the snapshot point; the describer runs below it, with its output
# file as the program's first argument (under `amber restore IMAGE FILE` as under `python prog FILE`).
PROGRAM_HEAD = """\
import sys
SWEEP_MODULE = {name!r}
__import__(SWEEP_MODULE)
if __name__ == "__main__":
    SWEEP_OUT = sys.argv[1]
"""

# Modules that do something when imported (open a browser, print), or are tests and demos.
SKIP = {"antigravity", "this", "idlelib", "turtledemo", "__main__", "test", "lib2to3.__main__"}


def program(name: str) -> str:
    return PROGRAM_HEAD.format(name=name) + textwrap.indent(DESCRIBER, "    ")


def stdlib_modules() -> list:
    """Top-level stdlib modules and the submodules of stdlib packages."""
    import importlib.util
    import pkgutil

    out = set()
    for name in sys.stdlib_module_names:
        if name in SKIP or name.startswith("_"):
            continue
        out.add(name)
        try:
            spec = importlib.util.find_spec(name)
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


def run(cmd: list, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def facts_of(cmd: list, out: str) -> tuple[dict | None, str]:
    """Runs a process of the program and reads the facts it wrote (None and why when it failed)."""
    if os.path.exists(out):
        os.unlink(out)
    r = run([*cmd, out])
    if r.returncode != 0 or not os.path.exists(out):
        return None, _first_error(r.stderr) or f"exit code {r.returncode}"
    with open(out, encoding="utf-8") as f:
        return ast.literal_eval(f.read()), ""


def compare(cold: dict, cold2: dict, restored: dict) -> tuple[list, int, int]:
    """(differences as (path, cold, restored), facts compared, facts left out as noise)."""
    noise = {p for p in cold.keys() | cold2.keys() if cold.get(p) != cold2.get(p)}
    # A path that is in neither cold process, under a container whose fact is noise, is named by
    # a key that differs between processes (a thread ident, an id): it is noise too.
    noise |= {p for p in restored.keys() - cold.keys() - cold2.keys()
              if any(a in noise for a in ancestors(p))}
    paths = (cold.keys() | restored.keys()) - noise
    diffs = [(p, cold.get(p, "<absent>"), restored.get(p, "<absent>"))
             for p in sorted(paths) if cold.get(p) != restored.get(p)]
    return diffs, len(paths), len(noise)


def ancestors(path: str) -> list:
    """The paths of the containers and objects above ``path`` (a.b[k].c -> a, a.b, a.b[k])."""
    return [path[:i] for i, ch in enumerate(path) if ch in ".[" and i]


def check(name: str, tmp: str, base_set: set) -> dict:
    stem = os.path.join(tmp, f"sweep_{name.replace('.', '_')}")
    script, image = stem + ".py", stem + ".amber"
    with open(script, "w", encoding="utf-8") as f:
        f.write(program(name))
    try:
        return _check(name, script, image, stem, base_set)
    except subprocess.TimeoutExpired as e:
        return {"status": "failed", "why": f"timed out: {' '.join(map(str, e.cmd[:4]))}"}
    finally:
        for leftover in (image, script, stem + ".cold1", stem + ".cold2", stem + ".restored"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _check(name: str, script: str, image: str, stem: str, base_set: set) -> dict:
    cold, why = facts_of([sys.executable, script], stem + ".cold1")
    if cold is None:
        return {"status": "skipped", "why": "does not run cold: " + why}
    cold2, why = facts_of([sys.executable, script], stem + ".cold2")
    if cold2 is None:
        return {"status": "skipped", "why": "second cold run failed: " + why}
    snap = run([*AMBER, "snapshot", "-o", image, script], timeout=600)
    if snap.returncode != 0:
        return {"status": "failed", "why": "snapshot: " + _first_error(snap.stderr)}
    restored, why = facts_of([*AMBER, "restore", image], stem + ".restored")
    if restored is None:
        return {"status": "failed", "why": "restore: " + why}
    info = json.loads(run([*AMBER, "inspect", "--json", image]).stdout)
    diffs, compared, noise = compare(cold, cold2, restored)
    designed, real = [], []
    for d in diffs:
        reason = by_design(name, *d, base_set=base_set)
        (designed if reason else real).append((*d, reason) if reason else d)
    return {"status": "differs" if real else "ok", "compared": compared, "noise": noise,
            "how": "by value" if name in info["modules"]["by_value"] else "imported again",
            "by_design": designed, "differences": real}


def _first_error(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if "error" in line.lower() or line.startswith("  ")]
    return " | ".join(lines[:3])[:300] or text.strip()[-300:]


def report(results: dict) -> None:
    ok = [n for n, r in results.items() if r["status"] == "ok"]
    differs = {n: r for n, r in results.items() if r["status"] == "differs"}
    failed = {n: r["why"] for n, r in results.items() if r["status"] == "failed"}
    skipped = {n: r["why"] for n, r in results.items() if r["status"] == "skipped"}
    swept = len(ok) + len(differs) + len(failed)
    done = [r for r in results.values() if "compared" in r]
    print(f"stdlib sweep: {len(ok)}/{swept} modules round-trip with the state of a cold process "
          f"({100 * len(ok) / max(1, swept):.1f}%: every fact equal but for the differences by "
          f"design below); {len(differs)} differ, {len(failed)} failed")
    designed = sum(len(r["by_design"]) for r in done)
    print(f"facts compared: {sum(r['compared'] for r in done)}, {designed} of them differ by design; "
          f"left out as noise (they differ between two cold processes): {sum(r['noise'] for r in done)}")
    by_value = sum(1 for r in done if r["how"] == "by value")
    print(f"modules captured by value: {by_value}, imported again: {len(done) - by_value}")
    reasons: dict = {}
    for n, r in results.items():
        for *_, reason in r.get("by_design", ()):
            reasons.setdefault(reason, set()).add(n)
    for reason, names in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
        print(f"by design ({len(names)} modules): {reason}")
    print(f"skipped (do not import here): {', '.join(sorted(skipped)) or 'none'}")
    for n, why in sorted(failed.items()):
        print(f"FAILED {n}: {why}")
    for n, r in sorted(differs.items()):
        print(f"DIFFERS {n}: {len(r['differences'])} fact(s)")
        for path, want, got in r["differences"][:8]:
            print(f"  {path}: cold {want[:200]} | restored {got[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--only", default="")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--json", default="", help="write every module's result to this file")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else stdlib_modules()
    if args.limit:
        names = names[:args.limit]
    base_set = set(run([*AMBER, "inspect", "--base-set"]).stdout.split())
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        results = dict(zip(names, pool.map(lambda n: check(n, tmp, base_set), names), strict=True))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    report(results)
    sys.exit(1 if any(r["status"] in ("failed", "differs") for r in results.values()) else 0)


if __name__ == "__main__":
    main()
