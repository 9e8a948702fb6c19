"""Unmodified programs built on real PyPI packages: the restored output equals the cold output.

The programs live in ``examples/real/``; each names its packages on a ``Needs:`` line of its
docstring (``bench/real_programs.py`` reads it, and prints the corpus as a table, timed cold
against restored). Each is snapshotted and restored through the real command line, the restore
in a fresh process. The first tests check five programs in detail. The parametrized test checks
every program of the corpus: the same standard output and exit code restored as cold, or, for a
program Amber rightly refuses (``REFUSED``), a refusal that names the object's path and says what
to do. CI runs its
bounded form, the programs in ``CI`` (their packages are in the ``test`` extra); the whole corpus
runs with ``pip install -e '.[real]'`` and ``AMBER_REAL=all python -m pytest tests/test_real_programs.py``.
"""

import json
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import AMBER, run

ROOT = Path(__file__).resolve().parents[1]
REAL = os.path.join(ROOT, "examples", "real")
sys.path.insert(0, str(ROOT / "bench"))

import real_programs  # noqa: E402

# The bounded form (CI): programs whose packages the test extra installs, all restored identically.
CI = ("django_forms.py", "hypothesis_props.py", "pandas_report.py", "pydantic_config.py", "requests_local.py")
# Checked by the tests above, in CI too; the whole-corpus run checks them again.
DETAILED = ("data_stack.py", "django_site.py", "rich_table.py", "sympy_algebra.py", "yaml_markup.py")
# What Amber restores differently today (bench/real_programs.py gives the full error): findings,
# kept in the corpus; an unexpected pass is reported, not a failure.
XFAIL: dict = {}  # why (AMBER_REAL=all ... --runxfail shows it): none today
# What Amber refuses, rightly: the snapshot names this path and says what to do (the hint).
REFUSED = {
    "aiohttp_service.py": ("__main__.app._middlewares -> frozenlist._frozenlist.FrozenList: cannot be saved",
                           "amber.transient(obj, factory)"),
    "celery_tasks.py": ("__main__.app._pending[0]: its __reduce__ imported", "evaluate it before the snapshot point"),
    "cryptography_tokens.py": ("__main__.FERNET._encryption_key -> bytes: is kept under the secret-looking name",
                               "amber.transient(obj, factory)"),
    "lxml_feed.py": ("__main__.FEED -> lxml.etree._Element: cannot be saved", "amber.transient(obj, factory)"),
    "msgpack_orjson.py": ("__main__.PACKER -> msgpack._cmsgpack.Packer: cannot be saved",
                          "amber.transient(obj, factory)"),
    "sqlalchemy_orm.py": ("__main__.engine.pool._all_conns -> .connection -> sqlite3.Connection: an sqlite3 "
                          "connection with SQL function(s) registered from Python (regexp)",
                          "open it after the snapshot point"),
    "tqdm_loader.py": ("__main__.tqdm.monitor -> tqdm._monitor.TMonitor: a running thread (tqdm_monitor)",
                       "start threads after restore"),
}
WHOLE = os.environ.get("AMBER_REAL") == "all"


def round_trip(tmp_path, name: str, *args):
    script = tmp_path / name
    shutil.copy(os.path.join(REAL, name), script)
    cold = run([sys.executable, str(script), *args], cwd=tmp_path, check=True)
    image = tmp_path / "prog.amber"
    run([*AMBER, "snapshot", "-o", str(image), str(script), *args], cwd=tmp_path, check=True)
    restored = run([*AMBER, "restore", str(image), *args], cwd=tmp_path, check=True)
    assert restored.stdout == cold.stdout
    assert cold.stdout.strip()
    info = json.loads(run([*AMBER, "inspect", str(image), "--json"], cwd=tmp_path, check=True).stdout)
    return cold.stdout, info


def test_django_project_resolves_urls_renders_and_queries(tmp_path):
    pytest.importorskip("django")
    out, info = round_trip(tmp_path, "django_site.py")
    assert "/blog/150/2024/hello-world/" in out and "['ann']" in out
    assert "django.urls.resolvers" in info["modules"]["by_value"]


def test_sympy_expressions(tmp_path):
    pytest.importorskip("sympy")
    out, info = round_trip(tmp_path, "sympy_algebra.py")
    assert "(x - y)*(x + y)*(x**2 + y**2)" in out
    assert "sympy.core.basic" in info["modules"]["by_value"]


def test_rich_table(tmp_path):
    pytest.importorskip("rich")
    out, info = round_trip(tmp_path, "rich_table.py")
    assert "Mercury" in out
    assert "rich.console" in info["modules"]["by_value"]


def test_numpy_pandas_pydantic(tmp_path):
    """Mixed packages: numpy and pandas are imported again whole (their Python parts are
    entangled with their extensions), pydantic's pure-Python package is captured by value beside
    its compiled core, and the pandas option set at start-up is set again."""
    for name in ("numpy", "pandas", "pydantic"):
        pytest.importorskip(name)
    out, info = round_trip(tmp_path, "data_stack.py")
    by_ref, by_value = info["modules"]["by_reference"], info["modules"]["by_value"]
    assert "numpy" in by_ref and "pandas" in by_ref and "pydantic_core" in by_ref
    assert "pydantic.main" in by_value
    assert any(line.startswith("pandas._config.config") for line in info["replayed"])
    assert out.rstrip().endswith("\n5")


def test_packages_no_issue_names(tmp_path):
    """PyYAML (libyaml bindings built with Cython) and MarkupSafe (a C speed-up module)."""
    pytest.importorskip("yaml")
    pytest.importorskip("markupsafe")
    out, info = round_trip(tmp_path, "yaml_markup.py")
    assert "Tom &amp; Jerry" in out
    assert "yaml" in info["modules"]["by_reference"] and "markupsafe" in info["modules"]["by_reference"]


def test_extension_module_that_cannot_be_imported_again(program, tmp_path):
    """An extension loaded from a directory the program then drops from sys.path cannot come
    back at restore: the snapshot says so, names it, and writes nothing."""
    speedups = pytest.importorskip("markupsafe._speedups")
    site = tmp_path / "extdir"
    site.mkdir()
    shutil.copy(speedups.__file__, site / os.path.basename(speedups.__file__))
    p = program(f'''
        import sys
        sys.path.insert(0, {str(site)!r})
        import _speedups
        sys.path.pop(0)
        if __name__ == "__main__":
            pass
    ''')
    r = p.snapshot(check=False)
    assert r.returncode == 2, r.stderr
    assert "cannot be imported again" in r.stderr and "_speedups: ModuleNotFoundError" in r.stderr
    assert "Traceback" not in r.stderr
    assert not p.image.exists()


def corpus_params():
    for path in real_programs.corpus():
        name = os.path.basename(path)
        marks = [pytest.mark.xfail(reason=XFAIL[name], strict=False)] if name in XFAIL else []
        yield pytest.param(name, id=name.removesuffix(".py"), marks=marks)


@pytest.mark.parametrize("name", list(corpus_params()))
def test_corpus_program_restores_as_it_ran_cold(tmp_path, name):
    if not WHOLE and name not in CI:
        pytest.skip("checked above" if name in DETAILED else "the whole corpus runs with AMBER_REAL=all")
    for need in real_programs.needs(os.path.join(REAL, name)):
        pytest.importorskip(need.module)
    script = tmp_path / name
    shutil.copy(os.path.join(REAL, name), script)
    image = tmp_path / "prog.amber"
    cold = run([sys.executable, str(script)], cwd=tmp_path)
    assert cold.stdout.strip(), cold.stderr
    snap = run([*AMBER, "snapshot", "-o", str(image), str(script)], cwd=tmp_path)
    if name in REFUSED:
        path, hint = REFUSED[name]
        assert snap.returncode == 2 and not image.exists(), snap.stderr[-2000:]
        assert path in snap.stderr and hint in snap.stderr, snap.stderr[-4000:]
        assert "Traceback" not in snap.stderr
        return
    assert snap.returncode == 0, f"amber snapshot refused {name}: {real_programs.first_line(snap.stderr)}"
    restored = run([*AMBER, "restore", str(image)], cwd=tmp_path)
    # What start-up printed, the snapshot's run printed (IPython's alias_magic); the restore
    # goes on from the snapshot point: together they print what a cold run prints.
    assert snap.stdout + restored.stdout == cold.stdout, restored.stderr[-2000:]
    assert restored.returncode == cold.returncode, restored.stderr[-2000:]


def requirement_names(extra: str) -> set[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    return {normalise(re.split(r"[<>=~!\[; ]", req, maxsplit=1)[0]) for req in extras[extra]}


def normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_corpus_names_its_packages_and_the_extras_install_them():
    """Every program names what it imports; the bounded form needs only the test extra, and the
    real extra installs the rest, so ``pip install -e '.[real]'`` runs the whole corpus."""
    programs = {os.path.basename(p): real_programs.needs(p) for p in real_programs.corpus()}
    assert len(programs) >= 30
    assert all(programs.values()), [name for name, needs in programs.items() if not needs]
    assert set(CI) | set(DETAILED) | set(XFAIL) | set(REFUSED) <= set(programs)
    assert not set(CI) & (set(XFAIL) | set(REFUSED)) and not set(XFAIL) & set(REFUSED)
    test, real = requirement_names("test"), requirement_names("real")
    assert "amber-snapshot" in real
    for name in CI:
        assert {normalise(n.distribution) for n in programs[name]} <= test, name
    wanted = {normalise(n.distribution) for needs in programs.values() for n in needs}
    assert wanted <= test | real, sorted(wanted - test - real)
