"""A bounded sample of the standard library sweep (fidelity/stdlib_sweep.py runs it all)."""

import os
import subprocess
import sys

SWEEP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fidelity", "stdlib_sweep.py")
SAMPLE = ["json", "email.mime.text", "xml.etree.ElementTree", "decimal", "asyncio", "sqlite3", "ctypes",
          "http.cookies", "logging.handlers", "zoneinfo", "dataclasses", "argparse", "pathlib", "typing"]


def test_stdlib_sample_round_trips():
    r = subprocess.run([sys.executable, SWEEP, "--jobs", "2", "--only", ",".join(SAMPLE)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert f"{len(SAMPLE)}/{len(SAMPLE)} modules round-trip (100.0%)" in r.stdout, r.stdout
