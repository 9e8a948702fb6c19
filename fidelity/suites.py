"""Third-party test suites run inside restored processes, compared test by test with cold runs.

    python fidelity/suites.py [--only NAME,...] [--cache DIR]

For each library below: install the pinned version (and its test dependencies) into this
interpreter's environment, fetch its sdist (which ships its tests), run the suite cold with
pytest, then snapshot a process that imported what a cold collection of the suite imports (the
library's modules and pytest, not the test modules themselves), restore it, run the same suite
inside the restored process, and compare the outcome of every test. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET

# name, version, directory of the tests inside the sdist, extra test dependencies
LIBRARIES = [
    ("more-itertools", "10.5.0", "tests", []),
    ("toolz", "1.2.0", "toolz/tests", []),
    ("attrs", "24.2.0", "tests", ["hypothesis", "cloudpickle"]),
    ("pyparsing", "3.1.4", "tests", ["railroad-diagrams", "jinja2"]),
]
# Tried, not yet usable here: python-dateutil 2.9.0.post0 and markdown 3.7 (their suites do not
# collect cold under this pytest), packaging 26.4 (needs tomli_w and more test dependencies).

DRIVER = """
import importlib, sys
for _name in {modules!r}:
    try:
        importlib.import_module(_name)
    except Exception:
        pass
import pytest
if __name__ == "__main__":
    sys.exit(pytest.main({args!r}))
"""


def sh(cmd: list, cwd: str | None = None, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def fetch(name: str, version: str, cache: str) -> str:
    """Install the library and unpack its sdist; return the unpacked directory."""
    pip = [sys.executable, "-m", "pip", "-q"]
    r = sh([*pip, "install", f"{name}=={version}"])
    if r.returncode != 0:
        raise RuntimeError(f"pip install {name}=={version}: {r.stderr.strip()[-300:]}")
    os.makedirs(cache, exist_ok=True)
    archives = _archives(cache, name, version)
    if not archives:
        r = sh([*pip, "download", "--no-binary", ":all:", "--no-deps", "-d", cache, f"{name}=={version}"])
        if r.returncode != 0:
            raise RuntimeError(f"pip download {name}=={version}: {r.stderr.strip()[-300:]}")
        archives = _archives(cache, name, version)
    target = os.path.join(cache, "src")
    with tarfile.open(os.path.join(cache, archives[0])) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(target, filter="data")
    return os.path.join(target, top)


def _archives(cache: str, name: str, version: str) -> list:
    return [f for f in os.listdir(cache) if f.lower().replace("_", "-").startswith(f"{name}-{version}")]


def outcomes(junit: str) -> dict:
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        key = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        out[key] = ("failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds
                    else "passed")
    return out


def collected_modules(src: str, tests: str) -> list:
    probe = ("import json, sys, pytest\n"
             f"pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', {tests!r}])\n"
             "print('@@' + json.dumps(sorted(sys.modules)))\n")
    r = sh([sys.executable, "-c", probe], cwd=src)
    line = next(x for x in r.stdout.splitlines() if x.startswith("@@"))
    names = json.loads(line[2:])

    def is_test(n: str) -> bool:
        parts = n.split(".")
        return any(p in ("tests", "test", "conftest") or p.startswith("test_") for p in parts)
    return [n for n in names if not is_test(n) and n != "__main__"]


def compare(name: str, version: str, tests: str, deps: list, cache: str) -> dict:
    if deps:
        sh([sys.executable, "-m", "pip", "-q", "install", *deps])
    src = fetch(name, version, os.path.join(cache, f"{name}-{version}"))
    work = tempfile.mkdtemp(prefix="amber-suite-")
    # The restored process imported pytest's plugins before pytest starts (they are part of the
    # image), so pytest cannot rewrite their asserts and says so: not a difference in the suite.
    args = [tests, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    cold_xml, restored_xml = os.path.join(work, "cold.xml"), os.path.join(work, "restored.xml")
    sh([sys.executable, "-m", "pytest", *args, f"--junitxml={cold_xml}"], cwd=src)
    driver = os.path.join(src, "amber_suite_driver.py")
    with open(driver, "w") as f:
        f.write(DRIVER.format(modules=collected_modules(src, tests),
                              args=[*args, f"--junitxml={restored_xml}"]))
    image = os.path.join(work, "suite.amber")
    amber = [sys.executable, "-m", "amber"]
    snap = sh([*amber, "snapshot", "-o", image, driver], cwd=src)
    if snap.returncode != 0:
        return {"name": name, "version": version, "error": "snapshot: " + snap.stderr.strip()[:400]}
    sh([*amber, "restore", image], cwd=src)
    if not os.path.exists(restored_xml):
        return {"name": name, "version": version, "error": "the restored run wrote no results"}
    cold, restored = outcomes(cold_xml), outcomes(restored_xml)
    differ = sorted(k for k in cold.keys() | restored.keys() if cold.get(k) != restored.get(k))
    return {"name": name, "version": version, "tests": len(cold), "differ": differ,
            "cold": {k: sum(1 for v in cold.values() if v == k) for k in ("passed", "failed", "skipped")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="")
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "amber-fidelity"))
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    rows = [compare(*lib, cache=args.cache) for lib in LIBRARIES if wanted is None or lib[0] in wanted]
    print("| library | version | tests run | passed/failed/skipped (cold) | identical |")
    print("|---|---|---|---|---|")
    for row in rows:
        if "error" in row:
            print(f"| {row['name']} | {row['version']} | - | - | no: {row['error'].splitlines()[0]} |")
            continue
        c = row["cold"]
        differ = row["differ"]
        same = "yes" if not differ else f"no ({len(differ)} differ: {', '.join(differ[:3])})"
        print(f"| {row['name']} | {row['version']} | {row['tests']} | "
              f"{c['passed']}/{c['failed']}/{c['skipped']} | {same} |")
    sys.exit(0 if all("error" not in r and not r["differ"] for r in rows) else 1)


if __name__ == "__main__":
    main()
