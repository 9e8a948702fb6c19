"""Helpers: every restore runs in a fresh subprocess, through the real command line."""

import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

AMBER = [sys.executable, "-m", "amber"]
# Signing keys made by the tests' snapshots go to a directory of their own, not the user's.
os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="amber-test-config-"))
# ... and so do amber run's images and remembered buffer checks (tests that need a cache of their
# own set AMBER_CACHE themselves).
os.environ.setdefault("AMBER_CACHE", tempfile.mkdtemp(prefix="amber-test-cache-"))
# ... and so do pools (tests/test_pool.py stops the pools it starts).
os.environ.setdefault("AMBER_POOL_DIR", tempfile.mkdtemp(prefix="amber-test-pools-"))


def run(cmd, cwd=None, env=None, check=False, timeout=300, input=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


class Program:
    def __init__(self, tmp_path, source: str, name: str = "prog.py"):
        self.dir = tmp_path
        self.script = tmp_path / name
        self.script.write_text(textwrap.dedent(source))
        self.image = tmp_path / (name.rsplit(".", 1)[0] + ".amber")

    def cold(self, *args, **kw):
        return run([sys.executable, str(self.script), *args], cwd=self.dir, **kw)

    def snapshot(self, *args, check=True, **kw):
        return run([*AMBER, "snapshot", "-o", str(self.image), str(self.script), *args],
                   cwd=self.dir, check=check, **kw)

    def restore(self, *args, check=True, **kw):
        return run([*AMBER, "restore", str(self.image), *args], cwd=self.dir, check=check, **kw)


@pytest.fixture
def program(tmp_path):
    def make(source, name="prog.py"):
        return Program(tmp_path, source, name)
    return make
