"""A bounded sample of the standard library sweep (fidelity/stdlib_sweep.py runs it all): each
module's state after restore, fact by fact, against two cold processes."""

import os
import re
import subprocess
import sys

SWEEP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fidelity", "stdlib_sweep.py")
SAMPLE = ["json", "email.mime.text", "xml.etree.ElementTree", "decimal", "asyncio", "sqlite3", "ctypes",
          "http.cookies", "logging.handlers", "zoneinfo", "dataclasses", "argparse", "pathlib", "typing"]


def test_stdlib_sample_round_trips_with_the_state_of_a_cold_process():
    r = subprocess.run([sys.executable, SWEEP, "--jobs", "2", "--only", ",".join(SAMPLE)],
                       capture_output=True, text=True, timeout=600)
    assert f"{len(SAMPLE)}/{len(SAMPLE)} modules round-trip with the state of a cold process" in r.stdout, \
        r.stdout + r.stderr
    assert r.returncode == 0, r.stdout + r.stderr
    # State was compared, not only the kinds of public names: thousands of facts (module-level
    # names, class namespaces, function code and defaults, instances, interpreter registrations).
    compared = int(re.search(r"facts compared: (\d+)", r.stdout).group(1))
    assert compared > 5_000, r.stdout
