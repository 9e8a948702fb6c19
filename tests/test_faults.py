"""``amber run`` is never worse than running the program: faults injected for real.

Every test here breaks something on the ``amber run`` path for real (a damaged image, damaged
cache records, a full filesystem, an unwritable or unsafe cache, a second user, SIGKILL and
SIGINT at several points) and checks that the program's output and exit code are a cold run's,
with at most one ``amber: warning:`` line and never a traceback. CI runs as root, so the other
user (the attacker) is uid 65533 through ``setpriv``, and the victim is root; "unwritable" is a
read-only filesystem (root ignores permission bits).
"""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest
from conftest import AMBER

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
SETPRIV = shutil.which("setpriv")
as_root = pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv")

APP = '''
import os, sys
import amber
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "data.txt")) as f:
    DATA = f.read().strip()
TABLE = {i: str(i) * 3 for i in range(2000)}
if __name__ == "__main__":
    print("data", DATA, len(TABLE), sys.argv[1:])
    sys.exit(3)
'''


class App:
    def __init__(self, tmp_path, source=APP, cache=None):
        self.dir = tmp_path / "app"
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp_path, 0o755)
        os.chmod(self.dir, 0o755)
        self.script = self.dir / "app.py"
        self.script.write_text(textwrap.dedent(source))
        (self.dir / "data.txt").write_text("one\n")
        self.cache = cache if cache is not None else tmp_path / "cache"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AMBER_")}
        self.env["AMBER_CACHE"] = str(self.cache)

    def _run(self, cmd, **kw):
        return subprocess.run(cmd, cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, **kw)

    def amber(self, *args):
        return self._run([*AMBER, "run", "--wait", "-v", str(self.script), *args])

    def cold(self, *args):
        return self._run([sys.executable, str(self.script), *args])

    def images(self):
        return sorted(self.cache.rglob("*.amber"))


def warnings(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("amber: warning:")]


def assert_like_cold(app, r, *args, warned: bool | None = None):
    cold = app.cold(*args)
    assert "Traceback" not in r.stderr, r.stderr
    assert (r.stdout, r.returncode) == (cold.stdout, cold.returncode), r.stderr
    if warned is not None:
        assert len(warnings(r.stderr)) == (1 if warned else 0), r.stderr
    return r


def how(r) -> str:
    return "built" if "amber: built" in r.stderr else "restored" if "amber: restoring" in r.stderr else "cold"


def image_of(r) -> str:
    return next(line.split()[2] for line in r.stderr.splitlines() if line.startswith(("amber: built", "amber: restoring")))


def built_and_restored(app):
    assert how(assert_like_cold(app, app.amber())) == "built"
    r = app.amber()
    assert how(r) == "restored", r.stderr
    return pathlib.Path(image_of(r))


# == damaged images and records ===================================================================

def test_a_damaged_image_is_removed_and_rebuilt(tmp_path):
    app = App(tmp_path)
    image = built_and_restored(app)
    data = bytearray(image.read_bytes())
    data[len(data) * 2 // 3] ^= 0x10  # a bit of the heap or a later section
    image.write_bytes(bytes(data))
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "unusable" in r.stderr and how(r) == "built"
    assert how(assert_like_cold(app, app.amber())) == "restored"


@pytest.mark.parametrize("cut", [0, 7, 100, -1])
def test_a_truncated_image_is_rebuilt(tmp_path, cut):
    app = App(tmp_path)
    image = built_and_restored(app)
    data = image.read_bytes()
    image.write_bytes(data[:cut] if cut >= 0 else data[:len(data) // 2])
    r = assert_like_cold(app, app.amber(), warned=cut != 0 or None)
    assert how(r) == "built"


BREAKS_AT_RESTORE = '''
import amber

def _make(flag):
    import posix
    try:
        posix.stat(flag)
    except OSError:
        return Thing()
    raise RuntimeError("this object cannot be made here")

class Thing:
    pass

import copyreg, os
copyreg.pickle(Thing, lambda thing: (_make, (FLAG,)))  # honoured: made by _make at restore
FLAG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "break-restore")
T = Thing()
if __name__ == "__main__":
    print("ok", type(T).__name__)
'''


def test_an_image_that_does_not_restore_runs_cold_and_is_not_tried_again(tmp_path):
    app = App(tmp_path, BREAKS_AT_RESTORE)
    built_and_restored(app)
    (app.dir / "break-restore").write_text("")
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "did not restore" in r.stderr and "RuntimeError" in r.stderr
    r = assert_like_cold(app, app.amber(), warned=False)  # known: straight to a cold run
    assert how(r) == "cold" and "running it cold" in r.stderr
    app.script.write_text(app.script.read_text() + "\n")  # an input changes: try again
    (app.dir / "break-restore").unlink()
    assert how(assert_like_cold(app, app.amber())) == "built"


@pytest.mark.parametrize("record", ["program", "key", "marker"])
@pytest.mark.parametrize("damage", ["garbage", "empty", "flip", "directory"])
def test_damaged_cache_records(tmp_path, record, damage):
    app = App(tmp_path, BREAKS_AT_RESTORE if record == "marker" else APP)
    built_and_restored(app)
    if record == "marker":
        (app.dir / "break-restore").write_text("")
        assert_like_cold(app, app.amber(), warned=True)
        path = next(app.cache.rglob("*.failed"))
    elif record == "program":
        path = next(app.cache.rglob("program"))
    else:
        path = app.cache / "key"
    data = path.read_bytes()
    path.unlink()
    if damage == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    else:
        path.mkdir()
    for _ in range(2):
        assert_like_cold(app, app.amber())


# == the filesystem ===============================================================================

@pytest.fixture
def small_fs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_filesystem_runs_the_program_and_leaves_no_partial_file(small_fs, tmp_path):
    app = App(tmp_path, APP.replace("range(2000)", "range(40000)"), cache=small_fs / "cache")
    for _ in range(2):
        r = assert_like_cold(app, app.amber(), warned=True)
        assert "No space left" in r.stderr, r.stderr
    assert not app.images()
    assert not [p for p in small_fs.rglob("*") if p.name.endswith(".tmp")]


def test_a_cache_that_is_a_file(tmp_path):
    app = App(tmp_path)
    app.cache.write_text("not a directory")
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "not a directory" in r.stderr


@pytest.fixture
def read_only_fs(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                                            str(mount)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    (mount / "cache").mkdir(mode=0o700)
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_an_unwritable_cache(read_only_fs, tmp_path):
    """Read-only for everyone (root ignores permission bits, not a read-only filesystem)."""
    app = App(tmp_path, cache=read_only_fs / "cache")
    for _ in range(2):
        r = assert_like_cold(app, app.amber(), warned=True)
        assert "Read-only file system" in r.stderr, r.stderr


@pytest.mark.parametrize("size", ["inf", "abc", "-1", "1e400", "nan", "12Q"])
def test_an_unparsable_cache_size(tmp_path, size):
    app = App(tmp_path)
    app.env["AMBER_CACHE_SIZE"] = size
    r = assert_like_cold(app, app.amber())
    assert "AMBER_CACHE_SIZE" in r.stderr and how(r) == "built"
    assert how(assert_like_cold(app, app.amber())) == "restored"


def test_a_zero_cache_size_still_keeps_the_image_just_built(tmp_path):
    app = App(tmp_path)
    app.env["AMBER_CACHE_SIZE"] = "0"
    assert how(assert_like_cold(app, app.amber())) == "built"
    assert how(assert_like_cold(app, app.amber())) == "restored"


# == start-up that Amber's recorders could break ==================================================

def test_a_command_by_bare_name_at_start_up(tmp_path):
    app = App(tmp_path, "import subprocess\nOUT = subprocess.run(['echo', 'hi'], capture_output=True, text=True)"
                        ".stdout\nimport amber\nif __name__ == '__main__':\n    print(OUT)\n")
    for _ in range(2):
        assert_like_cold(app, app.amber(), warned=False)


def test_the_first_pythonpath_entry_is_kept(tmp_path):
    app = App(tmp_path, "import helper\nimport amber\nif __name__ == '__main__':\n    print(helper.__file__)\n")
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    (tmp_path / "first" / "helper.py").write_text("")
    (tmp_path / "second" / "helper.py").write_text("")
    app.env["PYTHONPATH"] = f"{tmp_path / 'first'}:{tmp_path / 'second'}"
    assert "first" in app.cold().stdout
    assert_like_cold(app, app.amber())
    assert_like_cold(app, app.amber())
    image = tmp_path / "x.amber"
    r = subprocess.run([*AMBER, "snapshot", "-o", str(image), str(app.script)], env=app.env, cwd=app.dir,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*AMBER, "restore", str(image)], env=app.env, capture_output=True, text=True, timeout=120)
    assert r.stdout == app.cold().stdout


def test_a_script_that_cannot_be_opened_fails_as_python_does(tmp_path):
    app = App(tmp_path)
    app.script = app.dir / "missing.py"
    r = app.amber()
    cold = app.cold()
    assert r.returncode == cold.returncode == 2 and r.stdout == cold.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("amber: error:"), r.stderr


# == a machine shared with other users ============================================================

def test_a_cache_others_can_write_is_refused(tmp_path):
    app = App(tmp_path)
    app.cache.mkdir(mode=0o700)
    os.chmod(app.cache, 0o777)
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "writable by other users" in r.stderr
    assert not list(app.cache.iterdir())  # nothing written there


def test_without_home_there_is_no_cache_and_nothing_goes_to_tmp(tmp_path):
    app = App(tmp_path)
    for name in ("AMBER_CACHE", "HOME", "XDG_CACHE_HOME"):
        app.env.pop(name, None)
    before = set(os.listdir("/tmp"))
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "no cache directory" in r.stderr
    assert not {n for n in set(os.listdir("/tmp")) - before if "amber" in n}


def as_user(uid: int, *cmd: str) -> None:
    """Run a command as another user (the attacker: no Python needed, only the shell's tools)."""
    subprocess.run([SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd], check=True)


@pytest.fixture
def reachable_tmp():
    """A directory the other user can reach (pytest's own are private to root)."""
    d = tempfile.mkdtemp(prefix="amber-faults-")
    os.chmod(d, 0o755)
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@as_root
def test_another_users_planted_cache_is_refused(tmp_path, reachable_tmp):
    shared = reachable_tmp / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    app = App(tmp_path, cache=shared / "victim-cache")
    # The attacker (uid 65533) makes the victim's cache directory first, open to everyone, and
    # plants a program's entry with an image of their own (made here, copied in as theirs).
    as_user(65533, "mkdir", "-m", "777", str(app.cache))
    evil = App(tmp_path / "evil", cache=tmp_path / "evil-cache")
    evil.script.write_text("import amber\nif __name__ == '__main__':\n    print('attacker code ran')\n")
    built_and_restored(evil)
    shutil.copytree(evil.cache, app.cache, dirs_exist_ok=True)
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "belongs to another user" in r.stderr and "attacker" not in r.stdout


@as_root
def test_an_entry_of_another_user_is_refused(tmp_path):
    app = App(tmp_path)
    image = built_and_restored(app)
    os.chown(image.parent, 65533, 65533)
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "belongs to another user" in r.stderr


@as_root
def test_a_cache_below_a_directory_others_can_write_is_refused(tmp_path):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)  # not sticky: anyone may rename the cache away and put theirs there
    app = App(tmp_path, cache=open_dir / "cache")
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "not sticky" in r.stderr


def test_a_symlink_planted_at_the_key_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim-file"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    app = App(tmp_path)
    app.cache.mkdir(mode=0o700)
    os.symlink(victim, app.cache / "key")
    assert_like_cold(app, app.amber())
    assert victim.read_text() == "precious\n"
    assert not (app.cache / "key").is_symlink()


def test_an_image_moved_to_another_programs_entry_is_not_restored(tmp_path):
    a = App(tmp_path / "a", cache=tmp_path / "cache")
    b = App(tmp_path / "b", cache=tmp_path / "cache")
    b.script.write_text(b.script.read_text().replace('print("data"', 'print("program b"'))
    image_a = built_and_restored(a)
    image_b = built_and_restored(b)
    shutil.copy(image_b, image_a)  # program b's image where program a's belongs (same key file)
    r = assert_like_cold(a, a.amber())
    assert "program b" not in r.stdout and "another program" in r.stderr


# == signals ======================================================================================

def _wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.002)
    return False


BIG = '''
import amber
TABLE = [{"k": i, "v": [str(i)] * 8} for i in range(150000)]
if __name__ == "__main__":
    print("done", len(TABLE))
'''


def test_sigkill_while_writing_leaves_nothing_that_is_never_cleaned(tmp_path):
    app = App(tmp_path, BIG)
    p = subprocess.Popen([*AMBER, "run", "--wait", str(app.script)], cwd=app.dir, env=app.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    found = _wait_for(lambda: any(n.name.endswith(".tmp") for n in app.cache.rglob("*")) if app.cache.exists()
                      else False)
    os.kill(p.pid, signal.SIGKILL)
    p.communicate()
    if not found:
        pytest.skip("the image was written before a temporary could be seen")
    if not [n for n in app.cache.rglob("*") if n.name.endswith(".tmp")]:
        # (the temporary seen was gone before the kill landed: renamed into place, or a small
        # record of the cache's written the same way; nothing is left to clean)
        pytest.skip("the temporary seen was gone before the kill")
    r = assert_like_cold(app, app.amber())
    assert how(r) == "built"
    assert not [n for n in app.cache.rglob("*") if n.name.endswith(".tmp")]


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5])
def test_ctrl_c_during_a_snapshot(tmp_path, delay):
    app = App(tmp_path, BIG)
    image = tmp_path / "big.amber"
    p = subprocess.Popen([*AMBER, "snapshot", "-o", str(image), str(app.script)], cwd=app.dir, env=app.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(delay)
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    out, err = p.communicate(timeout=120)
    # A Ctrl-C that lands in a callback the interpreter runs for the import system (a module
    # lock's weakref callback) is printed by CPython as "Exception ignored" and lost, as in any
    # program: its own, taken out before the checks.
    err = re.sub(r"Exception ignored in: <function _get_module_lock[^\n]*\nTraceback \(most recent call "
                 r"last\):\n(?:  [^\n]*\n)*KeyboardInterrupt: ?\n", "", err)
    # Python's own start-up (runpy loading amber/__main__.py) can be interrupted before any
    # Amber code runs, as any program's: only a traceback through Amber's code is Amber's.
    assert "Traceback" not in err or ("/amber/" not in err and "_run_module_as_main" in err), err
    if "_run_module_as_main" in err:
        return
    if p.returncode == 0:
        assert image.exists()  # finished before the signal
        return
    assert p.returncode in (130, -signal.SIGINT), (p.returncode, err)
    # killed by the signal itself (before Python handles SIGINT), or one line of Amber's
    assert err == "" if p.returncode < 0 else err.strip().splitlines()[-1].startswith("amber: "), err
    assert not image.exists()
    assert not [n for n in tmp_path.iterdir() if n.name.endswith(".tmp")]


# == an image restored where a distribution it imports again changed =============================

def test_a_changed_distribution_is_named_with_both_versions(tmp_path):
    site = tmp_path / "site"
    (site / "dep-1.0.dist-info").mkdir(parents=True)
    (site / "dep.py").write_text("WHO = 'dep'\n")
    (site / "dep-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: dep\nVersion: 1.0\n")
    (site / "dep-1.0.dist-info" / "top_level.txt").write_text("dep\n")
    app = App(tmp_path, "import dep\nimport amber\nif __name__ == '__main__':\n    print(dep.WHO)\n")
    app.env["PYTHONPATH"] = str(site)
    image = tmp_path / "app.amber"
    r = subprocess.run([*AMBER, "snapshot", "--reimport", "dep", "-o", str(image), str(app.script)], env=app.env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    restore = [*AMBER, "restore", str(image)]
    assert subprocess.run(restore, env=app.env, capture_output=True, text=True).stdout == "dep\n"
    (site / "dep-1.0.dist-info").rename(site / "dep-2.0.dist-info")  # what an upgrade does
    r = subprocess.run(restore, env=app.env, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "made with dep 1.0; this environment has dep 2.0" in r.stderr
    shutil.rmtree(site / "dep-2.0.dist-info")
    r = subprocess.run(restore, env=app.env, capture_output=True, text=True)
    assert r.returncode == 2 and "dep is not installed here" in r.stderr


@pytest.mark.parametrize("delay", [0.1, 0.5, 1.2])
def test_ctrl_c_during_amber_runs_first_run(tmp_path, delay):
    """Interrupted while the program starts or while its image is written: the program's own
    KeyboardInterrupt (as python shows it) or one line of Amber's; never a traceback through
    Amber's code; and the next run is as good as a cold one."""
    app = App(tmp_path, BIG)
    p = subprocess.Popen([*AMBER, "run", "--wait", str(app.script)], cwd=app.dir, env=app.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(delay)
    os.killpg(p.pid, signal.SIGINT)
    _out, err = p.communicate(timeout=120)
    assert "/amber/" not in err or "_run_module_as_main" in err, err  # no frame of Amber's
    assert p.returncode in (0, 130, -signal.SIGINT), (p.returncode, err)
    r = assert_like_cold(app, app.amber())
    assert how(r) in ("built", "restored")
    assert not [n for n in app.cache.rglob("*") if n.name.endswith(".tmp")]


# == the program's own failures look as they do under python =====================================

RAISES = '''
import amber
def boom():
    raise ValueError("mine")
if __name__ == "__main__":
    boom()
'''


def test_the_programs_own_traceback_shows_its_frames_only(tmp_path):
    app = App(tmp_path, RAISES)
    cold = app.cold()
    assert cold.returncode == 1 and cold.stderr.startswith("Traceback")
    image = tmp_path / "app.amber"
    subprocess.run([*AMBER, "snapshot", "-o", str(image), str(app.script)], env=app.env, check=True,
                   capture_output=True)
    restored = subprocess.run([*AMBER, "restore", str(image)], env=app.env, capture_output=True, text=True)
    built, cached = app.amber(), app.amber()
    for r in (restored, built, cached):
        own = "\n".join(line for line in r.stderr.splitlines() if not line.startswith("amber: "))
        assert (r.returncode, own.strip()) == (1, cold.stderr.strip()), r.stderr


# == more found by trying it as a stranger would ==================================================

@pytest.mark.parametrize("which", ["key", "program", "image", "lock"])
def test_a_fifo_in_the_cache_never_hangs_the_run(tmp_path, which):
    app = App(tmp_path)
    image = built_and_restored(app)
    path = {"key": app.cache / "key", "program": image.parent / "program", "image": image,
            "lock": image.parent / "build.lock"}[which]
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    for _ in range(2):
        assert_like_cold(app, app.amber())  # (the run's timeout is 120 s: a hang fails)


def test_an_empty_lock_left_by_a_full_disk_does_not_block_builds(tmp_path):
    app = App(tmp_path)
    image = built_and_restored(app)
    image.unlink()
    lock = image.parent / "build.lock"
    lock.write_text("")  # what a full disk leaves after the lock's O_EXCL create
    old = time.time() - 60
    os.utime(lock, (old, old))
    r = assert_like_cold(app, app.amber())
    assert how(r) == "built", r.stderr


PROCESS_STATE = '''
import os
os.umask(0o077)
os.makedirs(os.path.join(os.path.dirname(os.path.abspath(__file__)), "work"), exist_ok=True)
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "work"))
import amber
if __name__ == "__main__":
    print(oct(os.umask(0o022)), os.path.basename(os.getcwd()))
'''


def test_the_umask_and_directory_start_up_set_are_set_again(tmp_path):
    """A start-up os.umask(0o077) lost at restore made the program's private files readable by
    every user."""
    app = App(tmp_path, PROCESS_STATE)
    assert app.cold().stdout == "0o77 work\n"
    built_and_restored(app)
    image = tmp_path / "state.amber"
    subprocess.run([*AMBER, "snapshot", "-o", str(image), str(app.script)], env=app.env, check=True,
                   capture_output=True)
    assert subprocess.run([*AMBER, "restore", str(image)], env=app.env, capture_output=True, text=True,
                          cwd=tmp_path).stdout == "0o77 work\n"


RANDOM_AT_START = '''
import os, random
TOKEN = os.urandom(8).hex()
GEN = random.Random()
import amber
if __name__ == "__main__":
    print(len(TOKEN), type(GEN).__name__)
'''


def test_amber_run_builds_no_image_whose_randomness_would_repeat(tmp_path):
    app = App(tmp_path, RANDOM_AT_START)
    r = assert_like_cold(app, app.amber(), warned=True)
    assert "would repeat" in r.stderr and not app.images()
    r = assert_like_cold(app, app.amber(), warned=False)
    assert how(r) == "cold"


def test_a_directory_application_runs_as_python_runs_it(tmp_path):
    app = App(tmp_path)
    (app.dir / "pkgapp").mkdir()
    (app.dir / "pkgapp" / "__main__.py").write_text("print('from the directory')\n")
    app.script = app.dir / "pkgapp"
    assert_like_cold(app, app.amber(), warned=True)


def test_a_symlinked_script_finds_its_modules_as_python_does(tmp_path):
    app = App(tmp_path, "import helper\nimport amber\nif __name__ == '__main__':\n    print(helper.X)\n")
    (app.dir / "helper.py").write_text("X = 42\n")
    (tmp_path / "bin").mkdir()
    os.symlink(app.script, tmp_path / "bin" / "tool")
    app.script = tmp_path / "bin" / "tool"
    assert app.cold().stdout == "42\n"
    assert how(assert_like_cold(app, app.amber())) == "built"
    assert how(assert_like_cold(app, app.amber())) == "restored"


PRINTS_AT_START = '''
import logging, sys, warnings
print("loading configuration...")
print("a note on stderr", file=sys.stderr)
logging.basicConfig(format="%(levelname)s %(message)s")
LOG = logging.getLogger("app")
LOG.warning("from logging, at start-up")
import amber
if __name__ == "__main__":
    print("main")
    LOG.warning("from logging, later")
'''


def test_what_start_up_printed_is_printed_again(tmp_path):
    """A restored process prints what start-up printed (stdout and stderr, in order per stream),
    as a cold run does; a logging handler made at start-up writes to the restored stderr."""
    app = App(tmp_path, PRINTS_AT_START)
    cold = app.cold()
    for expected in ("built", "restored", "restored"):
        r = app.amber()
        assert how(r) == expected, r.stderr
        own = "".join(line + "\n" for line in r.stderr.splitlines() if not line.startswith("amber: "))
        assert (r.stdout, own, r.returncode) == (cold.stdout, cold.stderr, cold.returncode)


def test_a_start_up_that_prints_a_secret_builds_no_image(tmp_path):
    app = App(tmp_path, "import os\nprint('token', os.environ['APP_API_TOKEN'])\nimport amber\n"
                        "if __name__ == '__main__':\n    pass\n")
    app.env["APP_API_TOKEN"] = "Zq8xLr2mTw9vKp4s"
    assert_like_cold(app, app.amber())
    r = assert_like_cold(app, app.amber())
    assert how(r) == "cold" and not app.images()
