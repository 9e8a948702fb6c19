"""Unmodified programs built on real PyPI packages: the restored output equals the cold output.

The programs live in ``examples/real/`` (``bench/real_programs.py`` times them side by side).
Each is snapshotted and restored through the real command line, the restore in a fresh process.
"""

import json
import os
import shutil
import sys

import pytest
from conftest import AMBER, run

REAL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "real")


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
