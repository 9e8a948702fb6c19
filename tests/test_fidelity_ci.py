"""The bounded CI form of the fidelity harness: real libraries' own test suites, run inside
restored processes and compared test by test with cold runs (fidelity/suites.py --ci).

The full harness (48 libraries and builds, about 40 minutes, and 11 held-out ones with
`--held-out`) is `python fidelity/suites.py` from a virtual environment of its own; the other two parts of the fidelity work have their bounded forms in
tests/test_stdlib_sample.py (14 modules of the standard library sweep) and
tests/test_property.py (6 Hypothesis examples of 25 random graphs each).
"""

import os
import sys

from conftest import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_third_party_suites_restore_identically():
    # --ci: more-itertools, toolz and cachetools (pinned), within a 240 s budget; the harness
    # installs them into this environment and fetches their sdists (their tests) from PyPI.
    p = run([sys.executable, os.path.join(ROOT, "fidelity", "suites.py"), "--ci"], cwd=ROOT, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "3 libraries in" in p.stdout and "left out" not in p.stdout, p.stdout
