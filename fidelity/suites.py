"""Third-party test suites run inside restored processes, compared test by test with cold runs.

    python fidelity/suites.py [--only NAME,...] [--budget SECONDS] [--markdown FILE] [--cache DIR]
    python fidelity/suites.py --held-out      # only the held-out libraries (--all: every library)
    python fidelity/suites.py --cold-only     # run the tests cold only (does a new row run here?)
    python fidelity/suites.py --lazy-code     # the same, images made with amber snapshot --lazy-code
    python fidelity/suites.py --ci            # a small fixed selection, bounded in time (for CI)

For each library below: install the pinned version (and its test dependencies) into this
interpreter's environment, fetch its sdist (which ships its tests), run the chosen tests cold
with pytest, then snapshot a process that imported what a cold collection of those tests imports,
in the order it imported it (the library's modules and pytest, not the test modules themselves),
restore it, run the same tests inside the restored process, and compare the outcome of every
test. Prints a Markdown table; ``--markdown FILE`` writes it to FILE too (the README's fidelity
table comes from it).

The rows are of many styles: pure Python; C-accelerated builds, each with a second row forced
onto its pure-Python fallback by the switch the library documents (``env``, applied to the cold
run, the collection, the snapshot and the restored run) or by running its uncompiled sdist copy;
web frameworks, async libraries, serialisation, CLI frameworks, lazy modules, proxies, an ORM,
scientific subsets. Held-out rows (``held_out``) were not looked at while Amber was changed for
the others: they run only with ``--held-out`` or ``--all``, and measure whether those changes
generalise.

The pins install into the running environment: run the full harness from a virtual environment
of its own (``python -m venv /tmp/venv-fid && /tmp/venv-fid/bin/pip install -e '.[test]'``).
The exit status is 0 when every library ran and every difference is a known one (listed with
its reason in ``known`` and written up in fidelity/FINDINGS.md), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    # Test files or directories inside the sdist: a bounded subset for the large suites.
    tests: tuple[str, ...]
    deps: tuple[str, ...] = ()
    # Extra pytest arguments. Deselections only for tests that fail or hang cold for reasons of
    # this environment (no network), never to hide a difference between cold and restored.
    args: tuple[str, ...] = ()
    # Seconds allowed for each of the cold run, the snapshot and the restored run.
    timeout: int = 300
    # Test ids whose restored outcome is known to differ, with the reason (see FINDINGS.md).
    known: dict[str, str] = field(default_factory=dict)
    # The distribution pip installs, when the row's name is not it (a second row of one library).
    package: str = ""
    # Environment for the cold run, the collection, the snapshot and the restored run: a
    # library's documented switch to its pure-Python fallback, for a second row of it.
    env: dict[str, str] = field(default_factory=dict)
    # Paths in the sdist removed after unpacking: the sdist's own uncompiled copy of the
    # package, which the test run would import before the installed build (cwd comes first).
    remove: tuple[str, ...] = ()
    # Not used while the harness and Amber were changed for the rows above it: run only with
    # --held-out (or --all), to measure whether fixes made for the others generalise.
    held_out: bool = False
    # A pattern for the part of test ids that a test makes from the clock when it is collected
    # (parametrised with now()): replaced on both sides, so that the same test pairs up.
    clock_ids: str = ""
    # False: the tests are the installed build's own (--pyargs), run from an empty directory;
    # no sdist is fetched (numpy's cannot be, without building it).
    sdist: bool = True

    @property
    def dist(self) -> str:
        return self.package or self.name


MULTIDICT_TESTS = tuple(f"tests/test_{t}.py" for t in (
    "multidict", "mutable_multidict", "istr", "copy", "pickle", "abc", "update", "types", "incorrect_args"))

LIBRARIES = [
    Library("more-itertools", "10.5.0", ("tests",),
            known={"tests.test_more.NumericRangeTests::test_hash":
                   "a hash kept as a number, taken at import"}),
    Library("toolz", "1.2.0", ("toolz/tests",)),
    Library("attrs", "24.2.0", ("tests",), ("hypothesis", "cloudpickle")),
    Library("pyparsing", "3.1.4", ("tests",), ("railroad-diagrams", "jinja2")),
    # pytest-cov registers the no_cover marker its conftest adds to xfail tests.
    Library("python-dateutil", "4.0.0", ("tests",), ("hypothesis", "freezegun", "pytest-cov")),
    # test_legacy.py turns every warning into an error when imported: collected last, as under
    # unittest, so that pytest's own collection warnings about other files stay warnings.
    Library("markdown", "3.11.3", ("tests/test_syntax", "tests/test_apis.py", "tests/test_extensions.py",
                                   "tests/test_meta.py", "tests/test_legacy.py"), ("pyyaml",)),
    # Without test_version.py (51,000 parametrised cases, 50 s) and the Hypothesis properties (2 min).
    Library("packaging", "26.4", ("tests",), ("pretend", "tomli_w"),
            ("--ignore=tests/test_version.py", "--ignore=tests/property")),
    Library("jinja2", "3.1.6", ("tests",), ("trio",)),
    Library("click", "8.5.1", ("tests",), args=("-m", "not stress")),  # click's own addopts
    Library("markupsafe", "3.0.4", ("tests",)),
    Library("itsdangerous", "2.2.0", ("tests",), ("freezegun",)),
    Library("tomlkit", "0.15.2", ("tests",)),
    Library("cachetools", "8.0.2", ("tests",)),
    Library("requests", "2.34.2", ("tests/test_utils.py", "tests/test_structures.py", "tests/test_hooks.py",
                                   "tests/test_help.py", "tests/test_lowlevel.py", "tests/test_adapters.py",
                                   "tests/test_testserver.py"), ("trustme",),
            # Its httpbin fixture comes from pytest-httpbin (a Flask server): not installed here.
            ("--deselect", "tests/test_lowlevel.py::test_use_proxy_from_environment")),
    Library("sympy", "1.14.0", ("sympy/core/tests",)),
    Library("networkx", "3.6.1", ("networkx/classes", "networkx/algorithms/shortest_paths",
                                  "networkx/algorithms/traversal", "networkx/algorithms/components",
                                  "networkx/readwrite")),
    Library("pygments", "2.21.0", ("tests",), ("wcag-contrast-ratio",)),
    # SQLAlchemy's own pytest plugin, on its default database (SQLite in memory).
    Library("sqlalchemy", "2.1.9", ("test/base", "test/sql/test_compiler.py", "test/orm/test_query.py",
                                    "test/dialect/sqlite", "test/engine/test_execute.py")),
    Library("pydantic", "2.14.4", ("tests/test_main.py", "tests/test_validators.py",
                                   "tests/test_generics.py", "tests/test_dataclasses.py",
                                   "tests/test_types.py", "tests/test_pickle.py"),
            # pytest-run-parallel declares the thread_unsafe marker its tests use (strict markers).
            ("dirty-equals", "pytz", "pytest-mock", "jsonschema", "pytest-run-parallel")),

    # Added in a second round, chosen for styles the rows above do not have and not tuned
    # against while they were. C-accelerated builds, each with a second row forced onto its
    # pure-Python fallback by the switch the library documents (or by its uncompiled sdist copy).
    Library("msgpack", "1.2.4", ("test",), remove=("msgpack",)),
    Library("msgpack-pure", "1.2.4", ("test",), package="msgpack", remove=("msgpack",),
            env={"MSGPACK_PUREPYTHON": "1"}),
    Library("wrapt", "2.5.2", ("tests/core",)),
    Library("wrapt-pure", "2.5.2", ("tests/core",), package="wrapt", env={"WRAPT_DISABLE_EXTENSIONS": "1"}),
    # The installed build's own tests (--pyargs), with its C speedups; the pure row runs the
    # sdist's copy, which has no compiled _speedups.
    Library("simplejson", "4.3.0", ("--pyargs", "simplejson.tests"), remove=("simplejson",)),
    Library("simplejson-pure", "4.3.0", ("simplejson/tests",), package="simplejson"),
    Library("pyyaml", "6.0.4", ("tests",), remove=("yaml", "lib")),  # with libyaml (yaml._yaml)
    # Its conftest runs each test against both builds; --no-c-extensions leaves the C ones out.
    Library("multidict", "7.2.1", MULTIDICT_TESTS, ("pytest-codspeed",), remove=("multidict",)),
    Library("multidict-pure", "7.2.1", MULTIDICT_TESTS, ("pytest-codspeed",), ("--no-c-extensions",),
            package="multidict", remove=("multidict",), env={"MULTIDICT_NO_EXTENSIONS": "1"}),
    Library("frozenlist", "1.8.0", ("tests",), remove=("frozenlist",)),
    Library("frozenlist-pure", "1.8.0", ("tests",), package="frozenlist", remove=("frozenlist",),
            env={"FROZENLIST_NO_EXTENSIONS": "1"}),
    # Web frameworks' own suites.
    Library("werkzeug", "3.1.9", tuple(f"tests/{t}" for t in (
        "test_datastructures.py", "test_http.py", "test_routing.py", "test_wrappers.py", "test_urls.py",
        "test_utils.py", "test_formparser.py", "test_exceptions.py", "test_wsgi.py", "test_test.py",
        "test_local.py", "test_security.py", "sansio", "middleware")), ("ephemeral-port-reserve",)),
    Library("bottle", "0.13.4", ("test",)),
    Library("falcon", "4.4.0", ("tests",), ("pyyaml", "requests", "msgpack", "httpx", "aiofiles"),
            ("--ignore=tests/asgi",), remove=("falcon",)),
    # An ORM that decompiles the bytecode of the generator expressions it is given (on SQLite
    # in memory), beside SQLAlchemy above.
    Library("pony", "0.7.20", ("pony/orm/tests",)),
    # Async libraries: anyio on both of its backends, trio's core, sniffio.
    Library("anyio", "4.16.0", tuple(f"tests/{t}" for t in (
        "test_synchronization.py", "test_taskgroups.py", "test_lowlevel.py", "test_eventloop.py",
        "test_debugging.py", "streams/test_memory.py", "test_to_thread.py", "test_from_thread.py",
        "test_contextmanagers.py")),
            ("trio", "hypothesis", "psutil", "pytest-mock", "pytest-timeout", "trustme", "blockbuster"),
            ("-p", "anyio", "-p", "pytest_mock", "-p", "timeout", "-p", "no:asyncio", "-p", "no:trio")),
    Library("trio", "0.35.0", tuple(f"src/trio/{t}" for t in (
        "_core/_tests/test_run.py", "_core/_tests/test_cancelled.py", "_core/_tests/test_parking_lot.py",
        "_core/_tests/test_local.py", "_tests/test_sync.py", "_tests/test_channel.py",
        "_tests/test_timeouts.py", "_tests/test_util.py")),
            ("astor", "trustme"), ("-p", "trio._tests.pytest_plugin", "--import-mode=importlib")),
    Library("sniffio", "1.3.1", ("sniffio/_tests",), ("curio",)),
    Library("h11", "0.16.0", ("h11/tests",)),
    # Serialisation, CLI frameworks, decorators and utilities.
    # Some of its ids hold the time they were collected at (invalid datetimes made from now()).
    Library("marshmallow", "4.4.0", ("tests",), ("simplejson",), clock_ids=r"\d\d:\d\d:\d\d"),
    Library("typer", "0.29.2", ("tests/test_core.py", "tests/test_types.py", "tests/test_others.py",
                                "tests/test_param_meta_empty.py", "tests/test_annotated.py",
                                "tests/test_ambiguous_params.py", "tests/test_callback_warning.py"),
            # pytest-asyncio, which another row installs, errors on start-up under typer's
            # filterwarnings = error (no test of typer's uses it).
            args=("-p", "no:asyncio"), remove=("typer",)),  # the installed typer, as its users have it
    # docopt-ng 0.9.0 was tried: its conftest's hook takes pytest's removed `path` argument.
    Library("fire", "0.7.1", ("fire",), ("termcolor", "hypothesis", "levenshtein")),
    Library("decorator", "5.3.1", ("tests/test.py",)),
    Library("boltons", "26.2.0", ("tests",)),
    Library("six", "1.17.0", ("test_six.py",)),
    Library("tabulate", "0.10.0", ("test",), ("wcwidth",)),
    # Lazy modules (module __getattr__, stubs), and a scientific subset.
    Library("lazy-loader", "0.6", ("tests",)),
    Library("mpmath", "1.3.0", ("mpmath/tests/test_basic_ops.py", "mpmath/tests/test_convert.py",
                                "mpmath/tests/test_functions.py", "mpmath/tests/test_matrices.py",
                                "mpmath/tests/test_linalg.py", "mpmath/tests/test_calculus.py",
                                "mpmath/tests/test_mpmath.py", "mpmath/tests/test_identify.py")),

    # The installed build's own tests (--pyargs), a bounded subset.
    Library("numpy", "2.4.6", ("--pyargs", *(f"numpy.lib.tests.test_{t}" for t in (
        "arraysetops", "function_base", "shape_base", "index_tricks", "nanfunctions", "twodim_base",
        "type_check", "polynomial", "stride_tricks"))), ("hypothesis",), sdist=False),

    # Held out: run only with --held-out or --all, once, to see whether what was fixed for the
    # rows above generalises to libraries nobody looked at.
    Library("lazy-object-proxy", "1.13.0", ("tests",), held_out=True),
    Library("pyrsistent", "0.20.0", ("tests",), ("hypothesis",), remove=("pyrsistent",), held_out=True),
    Library("pyrsistent-pure", "0.20.0", ("tests",), ("hypothesis",), package="pyrsistent",
            remove=("pyrsistent",), env={"PYRSISTENT_NO_C_EXTENSION": "1"}, held_out=True),
    Library("starlette", "1.10.0", ("tests",), ("httpx<0.29", "httpx2", "itsdangerous", "jinja2",
                                                "python-multipart", "pyyaml", "trio", "blockbuster"),
            ("-p", "no:asyncio", "--ignore=tests/middleware/test_opentelemetry.py"), held_out=True),
    Library("cattrs", "26.2.1", ("tests",), ("hypothesis", "immutables", "pytest-benchmark", "msgpack",
                                             "pyyaml", "tomlkit"),
            # preconf: a dozen serialisers not installed here
            ("--ignore=tests/preconf", "--ignore=tests/test_preconf.py", "-p", "no:asyncio"), held_out=True),
    Library("arrow", "1.4.0", ("tests",), ("dateparser", "pytest-mock", "pytz", "simplejson"), held_out=True),
    Library("sqlparse", "0.6.1", ("tests",), held_out=True),
    Library("mistune", "3.4.0", ("tests",), held_out=True),
    # Its warnings are errors: pytest-asyncio's own about its unset loop scope too.
    Library("blinker", "1.9.0", ("tests",), ("pytest-asyncio",),
            ("-o", "asyncio_default_fixture_loop_scope=function"), held_out=True),
    # (pytest-asyncio, which another row installs, warns at start-up; their warnings are errors)
    Library("funcy", "2.1", ("tests",), ("whatever",), ("-p", "no:asyncio"), held_out=True),
    Library("humanize", "4.17.0", ("tests",), ("freezegun", "pytest-codspeed"), ("-p", "no:asyncio"),
            held_out=True),
]
# Tried, not usable here: rich (its sdists ship no tests). Differences found are written up in
# fidelity/FINDINGS.md, with reproducers in fidelity/repro/.

# The --ci selection: fast, identical, and not among the [test] extras, so that CI installing
# their pins changes nothing the project's own tests use.
CI_LIBRARIES = ("more-itertools", "toolz", "cachetools")
CI_BUDGET = 240
SNAPSHOT_FLAGS: list[str] = []  # --lazy-code: images made with amber snapshot --lazy-code

# sys.path as the cold collection left it: a conftest may put the sdist's own copy of the
# library first (SQLAlchemy's lib/), and the modules must come from where they came cold. A child
# that multiprocessing spawns runs this file as __mp_main__: it must not import them (cold, its
# parent's __main__ is pytest's, which imports nothing of the library).
DRIVER = """
import importlib, sys
if __name__ != "__mp_main__":
    sys.path[:] = {path!r}
    for _name in {modules!r}:
        try:
            importlib.import_module(_name)
        except Exception:
            pass
import pytest
if __name__ == "__main__":
    sys.exit(pytest.main({args!r}))
"""


def sh(cmd: list[str], cwd: str | None = None, timeout: float = 1800,
       extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run cmd (with extra_env added to the environment); a timeout ends its whole process
    group and comes back as exit status -9."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra_env or {})
    # A session of its own, so that a timeout also ends what cmd started (a restore's children).
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            return subprocess.CompletedProcess(cmd, -9, out, err + f"\ntimed out after {timeout:.0f} s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def fetch(lib: Library, cache: str, limit: Callable[[], float]) -> str:
    """Install the library and unpack its sdist afresh; return the unpacked directory (an empty
    one for a library whose tests are its installed build's own)."""
    pip = [sys.executable, "-m", "pip", "-q"]
    pin = f"{lib.dist}=={lib.version}"
    r = sh([*pip, "install", pin, *lib.deps], timeout=limit())
    if r.returncode != 0:
        raise RuntimeError(f"pip install {pin}: {r.stderr.strip()[-300:]}")
    os.makedirs(cache, exist_ok=True)
    if not lib.sdist:
        target = os.path.join(cache, "installed")
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target)
        return target
    archives = _archives(cache, lib.dist, lib.version)
    if not archives:
        r = sh([*pip, "download", "--no-binary", ":all:", "--no-deps", "-d", cache, pin], timeout=limit())
        if r.returncode != 0:
            raise RuntimeError(f"pip download {pin}: {r.stderr.strip()[-300:]}")
        archives = _archives(cache, lib.dist, lib.version)
    target = os.path.join(cache, "src")
    shutil.rmtree(target, ignore_errors=True)  # no results or drivers left from an earlier run
    with tarfile.open(os.path.join(cache, archives[0])) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(target, filter="data")
    for path in lib.remove:
        gone = os.path.join(target, top, path)
        shutil.rmtree(gone) if os.path.isdir(gone) else os.remove(gone)
    return os.path.join(target, top)


def _archives(cache: str, name: str, version: str) -> list[str]:
    norm = name.lower().replace("_", "-")
    return [f for f in os.listdir(cache)
            if f.lower().replace("_", "-").startswith(f"{norm}-{version}.") and f.endswith(".tar.gz")]


def outcomes(junit: str, clock_ids: str = "") -> dict[str, str]:
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        key = f"{case.get('classname')}::{case.get('name')}"
        if clock_ids:
            key = re.sub(clock_ids, "<now>", key)
        kinds = {child.tag for child in case}
        out[key] = ("failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds
                    else "passed")
    return out


def collected_modules(src: str, args: list[str], timeout: float,
                      env: dict[str, str]) -> tuple[list[str], list[str]]:
    """What a cold collection of the tests imports, less the test modules themselves, and the
    sys.path it leaves."""
    probe = ("import json, sys, pytest\n"
             f"pytest.main(['--collect-only', *{args!r}])\n"
             "print('@@' + json.dumps([list(sys.modules), sys.path]))\n")
    r = sh([sys.executable, "-c", probe], cwd=src, timeout=timeout, extra_env=env)
    line = next((x for x in r.stdout.splitlines() if x.startswith("@@")), None)
    if line is None:
        raise RuntimeError("collection: " + (r.stderr or r.stdout).strip()[-300:])
    names, path = json.loads(line[2:])

    def is_test(n: str) -> bool:
        parts = n.split(".")
        # trio's tests live in trio._tests: a helper there (tutil) reads pytest's options when
        # imported, so it must be imported after pytest configured them, as cold.
        return any(p.lstrip("_") in ("tests", "test", "testing", "conftest") or p.startswith("test_")
                   or p.endswith("_test") for p in parts)
    # In the order the collection imported them: importing an extension module before the
    # package that imports it (`_asyncio` before `asyncio`, as sorted names would) is not what
    # the cold run did, and CPython then leaves asyncio.tasks with its own _current_tasks.
    return [n for n in names if not is_test(n) and n != "__main__"], path


def compare(lib: Library, cache: str, deadline: float = float("inf"), cold_only: bool = False) -> dict:
    """Run lib's tests cold and restored (or cold only); no step runs past deadline (a
    time.monotonic() value)."""
    row: dict = {"name": lib.name, "version": lib.version, "held_out": lib.held_out}
    start = time.monotonic()
    try:
        row.update(_compare(lib, cache, lambda: max(1.0, min(lib.timeout, deadline - time.monotonic())),
                            cold_only))
    except RuntimeError as e:
        row["error"] = str(e)
    row["seconds"] = time.monotonic() - start
    return row


def _compare(lib: Library, cache: str, limit: Callable[[], float], cold_only: bool) -> dict:
    src = fetch(lib, os.path.join(cache, f"{lib.dist}-{lib.version}"), limit)
    work = tempfile.mkdtemp(prefix="amber-suite-")
    # The restored process imported pytest's plugins before pytest starts (they are part of the
    # image), so pytest cannot rewrite their asserts and says so: not a difference in the suite.
    args = [*lib.tests, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
            "-W", "ignore::pytest.PytestAssertRewriteWarning", *lib.args]
    cold_xml, restored_xml = os.path.join(work, "cold.xml"), os.path.join(work, "restored.xml")
    t0 = time.monotonic()
    cold_run = sh([sys.executable, "-m", "pytest", *args, f"--junitxml={cold_xml}"], cwd=src,
                  timeout=limit(), extra_env=lib.env)
    cold_seconds = time.monotonic() - t0
    # 0: all passed, 1: some failed; anything else (interrupted, usage error, nothing collected)
    # means the suite does not run cold as configured here.
    if cold_run.returncode not in (0, 1) or not os.path.exists(cold_xml):
        raise RuntimeError(f"cold run (exit {cold_run.returncode}): "
                           + (cold_run.stderr or cold_run.stdout).strip()[-300:])
    cold = outcomes(cold_xml, lib.clock_ids)
    counts = {k: sum(1 for v in cold.values() if v == k) for k in ("passed", "failed", "skipped")}
    if cold_only:
        shutil.rmtree(work, ignore_errors=True)
        return {"tests": len(cold), "differ": [], "unknown": [], "cold": counts, "cold_only": True,
                "cold_seconds": cold_seconds, "restored_seconds": 0.0}
    driver = os.path.join(src, "amber_suite_driver.py")
    modules, path = collected_modules(src, args, limit(), lib.env)
    with open(driver, "w") as f:
        f.write(DRIVER.format(path=path, modules=modules, args=[*args, f"--junitxml={restored_xml}"]))
    image = os.path.join(work, "suite.amber")
    amber = [sys.executable, "-m", "amber"]
    snap = sh([*amber, "snapshot", *SNAPSHOT_FLAGS, "-o", image, driver], cwd=src, timeout=limit(),
              extra_env=lib.env)
    if snap.returncode != 0:
        lines = snap.stderr.splitlines()  # the error and its offenders, not the notes before it
        first = next((i for i, line in enumerate(lines) if line.startswith("amber: error")), 0)
        raise RuntimeError("snapshot: " + " / ".join(line.strip() for line in lines[first:first + 4])[:600])
    t0 = time.monotonic()
    restored_run = sh([*amber, "restore", image], cwd=src, timeout=limit(), extra_env=lib.env)
    restored_seconds = time.monotonic() - t0
    if not os.path.exists(restored_xml):
        raise RuntimeError("the restored run wrote no results: "
                           + (restored_run.stderr or restored_run.stdout).strip()[-300:])
    restored = outcomes(restored_xml, lib.clock_ids)
    differ = sorted(k for k in cold.keys() | restored.keys() if cold.get(k) != restored.get(k))
    shutil.rmtree(work, ignore_errors=True)
    return {"tests": len(cold), "differ": differ, "unknown": [k for k in differ if k not in lib.known],
            "cold": counts,
            "cold_seconds": cold_seconds, "restored_seconds": restored_seconds}


def table(rows: list[dict], libs: dict[str, Library], timings: bool = False) -> str:
    head = "| library | version | held out | tests run | passed/failed/skipped (cold) | identical |"
    rule = "|---|---|---|---|---|---|"
    if timings:
        head, rule = head + " cold s | restored s |", rule + "---|---|"
    lines = [head, rule]
    for row in rows:
        held = "held out" if row["held_out"] else ""
        if "error" in row:
            cells = [row["name"], row["version"], held, "-", "-", f"no: {row['error'].splitlines()[0][:200]}"]
            lines.append("| " + " | ".join(cells + (["-", "-"] if timings else [])) + " |")
            continue
        c, differ = row["cold"], row["differ"]
        if row.get("cold_only"):
            same = "not run restored (--cold-only)"
        elif not differ:
            same = "yes"
        else:
            known = libs[row["name"]].known
            notes = [f"`{k.split('::')[-1]}`" + (f" ({known[k]})" if k in known else "") for k in differ[:3]]
            same = f"{row['tests'] - len(differ)} of {row['tests']}; differ: {', '.join(notes)}"
            if len(differ) > 3:
                same += f" and {len(differ) - 3} more"
        cells = [row["name"], row["version"], held, str(row["tests"]),
                 f"{c['passed']}/{c['failed']}/{c['skipped']}", same]
        if timings:
            cells += [f"{row['cold_seconds']:.0f}", f"{row['restored_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated library names")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for the whole run: libraries not started by then are left out")
    parser.add_argument("--ci", action="store_true",
                        help=f"run only {', '.join(CI_LIBRARIES)} within {CI_BUDGET} s (unless --budget)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    parser.add_argument("--lazy-code", action="store_true",
                        help="snapshot with --lazy-code (experimental: code on first call)")
    parser.add_argument("--held-out", action="store_true",
                        help="run only the held-out libraries (left out otherwise)")
    parser.add_argument("--all", action="store_true", help="run the held-out libraries too")
    parser.add_argument("--cold-only", action="store_true",
                        help="run the tests cold only (to check that a library's suite runs here)")
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "amber-fidelity"))
    args = parser.parse_args(argv)
    # Started in the background of a non-interactive shell, this process ignores SIGINT, and
    # its children would inherit that: suites that test Ctrl-C (trio's) would wait for ever.
    # A handler is not inherited across exec: the children start with the default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.lazy_code:
        SNAPSHOT_FLAGS.append("--lazy-code")
    wanted = set(args.only.split(",")) if args.only else set(CI_LIBRARIES) if args.ci else None
    budget = args.budget if args.budget is not None else CI_BUDGET if args.ci else None
    libs = {lib.name: lib for lib in LIBRARIES}
    if wanted and wanted - libs.keys():
        parser.error(f"unknown libraries: {', '.join(sorted(wanted - libs.keys()))}")
    mismatched = sorted(n for n in wanted or () if libs[n].held_out != args.held_out and not args.all)
    if mismatched:
        parser.error(f"{', '.join(mismatched)}: " + ("not held out: use --all" if args.held_out else
                                                      "held out: use --held-out (or --all)"))
    start, rows, left_out = time.monotonic(), [], []
    for lib in LIBRARIES:
        if wanted is not None and lib.name not in wanted:
            continue
        # Named with --only, a held-out library still needs --held-out or --all.
        if lib.held_out != args.held_out and not args.all:
            continue
        if budget is not None and time.monotonic() - start > budget:
            left_out.append(lib.name)
            continue
        rows.append(compare(lib, args.cache, start + budget if budget is not None else float("inf"),
                            args.cold_only))
        print(f"{lib.name}: {rows[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    print(table(rows, libs, timings=True), end="")
    total = time.monotonic() - start
    print(f"\n{len(rows)} libraries in {total:.0f} s" +
          (f"; left out for the budget: {', '.join(left_out)}" if left_out else ""))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table(rows, libs))
    failed = [r["name"] for r in rows if "error" in r or r["unknown"]]
    if failed:
        print(f"not identical: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
