"""amber.runcache owns amber run's cache: one place for its paths, the build lock and the failure
marker, and its restore-path modules import only the base set."""

import os
import subprocess
import sys

import pytest
from conftest import AMBER, run

from amber.runcache import build, freshness, keys, layout

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def test_the_layout(tmp_path):
    root = str(tmp_path / "cache")
    entry = layout.entry_dir(root + "/", "p" * 32)
    assert entry == f"{root}/{'p' * 32}"
    image = layout.image_path(entry, "a" * 32)
    assert image == f"{entry}/{'a' * 32}.amber"
    assert layout.failed_marker(image) == f"{entry}/{'a' * 32}.failed"
    assert layout.lock_path(entry) == f"{entry}/build.lock"
    assert layout.key_path(root) == f"{root}/key"
    os.makedirs(entry)
    key = keys.secret_key(root, create=True)
    keys.write_program(entry, key, "/srv/app.py", 1)
    assert keys.read_program(entry, key) == {"target": "/srv/app.py", "key_args": 1}
    assert os.stat(os.path.join(entry, "program")).st_mode & 0o777 == 0o600


def test_the_build_lock(tmp_path):
    entry = str(tmp_path)
    first, second = build.BuildLock(entry), build.BuildLock(entry)
    assert first.acquire()
    assert not second.acquire()  # this process is alive: the lock holds
    first.release()
    assert not os.path.exists(layout.lock_path(entry))
    assert second.acquire()
    second.release()
    second.release()  # releasing twice is harmless, and never removes another builder's lock
    assert first.acquire()
    build.BuildLock(entry).release()
    assert os.path.exists(layout.lock_path(entry))
    first.release()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    entry = str(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    with open(layout.lock_path(entry), "w") as f:
        f.write(dead)
    lock = build.BuildLock(entry)
    assert lock.acquire()
    with open(layout.lock_path(entry)) as f:
        assert f.read() == str(os.getpid())
    lock.release()


def test_the_failure_marker(tmp_path, monkeypatch):
    root = str(tmp_path)
    image = layout.image_path(layout.entry_dir(root, "p" * 32), "a" * 32)
    os.makedirs(os.path.dirname(image))
    key = keys.secret_key(root, create=True)
    assert not freshness.known_to_fail(image, key, "p" * 32)  # no marker
    source = tmp_path / "app.py"
    source.write_text("x = 1\n")
    monkeypatch.setenv("AMBER_TEST_MODE", "a")
    recorded = {"program": "p" * 32, "cwd": None, "env_names": None, "output": [],
                "watched": [(str(source), freshness.WATCH_CONTENT, freshness.stamp(str(source), 0), None)],
                "env": [("AMBER_TEST_MODE", freshness.env_digest(key, "AMBER_TEST_MODE"))]}
    build.record_failure(image, key, recorded, "a test")
    assert freshness.known_to_fail(image, key, "p" * 32)
    assert not freshness.known_to_fail(image, key, "q" * 32)  # another program's
    assert not freshness.known_to_fail(image, bytes(32), "p" * 32)  # not sealed by this key
    monkeypatch.setenv("AMBER_TEST_MODE", "b")  # an input changed: try to capture again
    assert not freshness.known_to_fail(image, key, "p" * 32)
    monkeypatch.setenv("AMBER_TEST_MODE", "a")
    with open(layout.failed_marker(image), "wb") as f:
        f.write(b"\x00not marshal")
    assert not freshness.known_to_fail(image, key, "p" * 32)
    with pytest.raises(ValueError, match="inputs.watched"):  # the marker is the inputs schema's
        build.record_failure(image, key, {**recorded, "watched": None}, "a test")


def test_restore_path_modules_import_only_the_base_set():
    base = set(run([*AMBER, "inspect", "--base-set"], check=True).stdout.split())
    code = ("import sys; before = set(sys.modules); "
            "import amber.runcache.layout, amber.runcache.keys, amber.runcache.freshness, amber.restore.run; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = set(run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {SRC!r}); {code}"],
                     check=True).stdout.split())
    extra = {name for name in loaded - base if not name.startswith(("amber.runcache", "amber.restore"))}
    assert not extra, extra
    assert {"amber.runcache.layout", "amber.runcache.keys", "amber.runcache.freshness"} <= loaded
    assert "os" not in loaded and "amber.runcache.build" not in loaded and "amber.runcache.eviction" not in loaded
    # The image format's restore side only: the writer and the declarations a restore never checks stay out.
    assert {"amber.image.format", "amber.image.schema", "amber.image.signing"} <= loaded
    assert not {"amber.image.records", "amber.image.writer", "amber.image.explain"} & (loaded | base)
