"""``amber run``: the first run builds an image while the program runs normally; later runs
restore from the cache, and any change to what start-up depended on rebuilds it."""

import os
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import AMBER, run

APP = '''
import json, os, sys, time
time.sleep(0.15)  # start-up's work: well above a restore's time even on a loaded machine, so that
                  # amber run keeps restoring (a restore measured slower than cold would run cold)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import helper
import amber
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.json")) as f:
    DATA = json.load(f)
MODE = os.environ.get("APP_MODE", "plain")
STARTUP_ARGS = list(sys.argv[1:])
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "out.log"), "a") as f:
    f.write("started\\n")
if __name__ == "__main__":
    print(helper.VALUE, DATA["n"], MODE, STARTUP_ARGS, sys.argv[1:], amber.is_restored())
'''


@pytest.fixture
def app(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.py").write_text("VALUE = 'v1'\n")
    (tmp_path / "data.json").write_text('{"n": 1}')
    (tmp_path / "app.py").write_text(textwrap.dedent(APP))
    cache = tmp_path / "cache"
    env = {"AMBER_CACHE": str(cache)}

    def amber_run(*args, extra_env=None):
        r = run([*AMBER, "run", "--wait", "-v", str(tmp_path / "app.py"), *args], cwd=tmp_path,
                env={**env, **(extra_env or {})}, check=True)
        how = "restored" if "amber: restoring" in r.stderr else "built" if "amber: built" in r.stderr else "cold"
        return how, r.stdout

    amber_run.dir = tmp_path
    amber_run.cache = cache
    return amber_run


def bump(path):
    """Change a file's modification time for sure (coarse clocks)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_first_run_builds_later_runs_restore(app):
    assert app() == ("built", "v1 1 plain [] [] False\n")
    assert app() == ("restored", "v1 1 plain [] [] True\n")
    assert app() == ("restored", "v1 1 plain [] [] True\n")


def test_each_input_rebuilds(app):
    app()
    assert app()[0] == "restored"
    # a captured module is edited
    (app.dir / "lib" / "helper.py").write_text("VALUE = 'v2'\n")
    bump(app.dir / "lib" / "helper.py")
    assert app() == ("built", "v2 1 plain [] [] False\n")
    assert app()[0] == "restored"
    # a file opened for reading during start-up is touched
    (app.dir / "data.json").write_text('{"n": 2}')
    bump(app.dir / "data.json")
    assert app() == ("built", "v2 2 plain [] [] False\n")
    assert app()[0] == "restored"
    # an environment variable read during start-up changes (and only its digest is stored)
    assert app(extra_env={"APP_MODE": "fast"}) == ("built", "v2 2 fast [] [] False\n")
    assert app(extra_env={"APP_MODE": "fast"})[0] == "restored"
    from amber.image.format import read_image

    images = [read_image(str(p)) for p in app.cache.rglob("*.amber")]
    assert images and all(b"fast" not in bytes(im.section("inputs")) for im in images)
    assert all(b"APP_MODE" in bytes(im.section("inputs")) for im in images)
    # a variable start-up did not read changes nothing
    assert app(extra_env={"APP_MODE": "fast", "UNRELATED_VARIABLE": "x"})[0] == "restored"
    # the arguments change
    assert app("--flag", extra_env={"APP_MODE": "fast"}) == ("built", "v2 2 fast ['--flag'] ['--flag'] False\n")
    assert app("--flag", extra_env={"APP_MODE": "fast"})[0] == "restored"
    # the program's own output file (out.log, appended at every start) never triggers a rebuild
    assert (app.dir / "out.log").read_text().count("started") == 5


def test_startup_args_declared(app):
    """A program that says start-up reads no arguments gets one image for all of them."""
    (app.dir / "app.py").write_text(textwrap.dedent(APP).replace("import amber\n", "import amber\namber.startup_args(0)\n"))
    assert app("a")[0] == "built"
    assert app("b") == ("restored", "v1 1 plain ['a'] ['b'] True\n")


def test_distribution_upgrade_rebuilds(app):
    site = app.dir / "lib"
    (site / "dep.py").write_text("WHO = 'dep'\n")
    dist = site / "dep-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dep\nVersion: 1.0\n")
    (dist / "top_level.txt").write_text("dep\n")
    (app.dir / "app.py").write_text(textwrap.dedent(APP).replace("import helper\n", "import helper, dep\n"))
    assert app()[0] == "built"
    assert app()[0] == "restored"
    dist.rename(site / "dep-2.0.dist-info")  # what an upgrade does to the metadata
    assert app()[0] == "built"


def test_concurrent_first_runs_leave_one_valid_image(app):
    procs = [subprocess.Popen([*AMBER, "run", "--wait", str(app.dir / "app.py")], cwd=app.dir,
                              env={**os.environ, "AMBER_CACHE": str(app.cache)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all(out == "v1 1 plain [] [] False\n" for out, _err in outs)
    images = list(app.cache.rglob("*.amber"))
    assert len(images) == 1
    assert not list(app.cache.rglob("*.tmp")) and not list(app.cache.rglob("*.lock"))
    assert app() == ("restored", "v1 1 plain [] [] True\n")
    assert os.stat(images[0]).st_mode & 0o777 == 0o600


def test_cache_list_clear_and_cap(app, tmp_path):
    app()
    app("x")
    env = {"AMBER_CACHE": str(app.cache)}
    listed = run([*AMBER, "cache", "list"], env=env, check=True).stdout
    assert "2 image(s)" in listed and "app.py x" in listed
    # a cap smaller than two images keeps only the newest
    time.sleep(0.05)
    app("y", extra_env={"AMBER_CACHE_SIZE": "1"})
    assert len(list(app.cache.rglob("*.amber"))) == 1
    assert "1 image(s)" in run([*AMBER, "cache", "clear"], env=env, check=True).stdout.replace("removed 1", "1 image(s)")
    assert not list(app.cache.rglob("*.amber"))


def test_program_that_cannot_be_captured_still_runs(program, tmp_path):
    p = program('''
        import threading, time
        WORKER = threading.Thread(target=time.sleep, args=(5,), daemon=True)
        WORKER.start()
        if __name__ == "__main__":
            print("ran", WORKER.is_alive())
    ''')
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    first = run([*AMBER, "run", "--wait", str(p.script)], env=env, check=True)
    assert first.stdout == "ran True\n" and "amber: warning: no image was built" in first.stderr
    second = run([*AMBER, "run", "--wait", "-v", str(p.script)], env=env, check=True)
    assert second.stdout == "ran True\n" and "running it cold" in second.stderr
    # Known not to build: plain python runs it (no snapshotting interpreter, no recorders).
    probe = p.script.with_name("probe.py")
    probe.write_text(p.script.read_text().replace('print("ran", WORKER.is_alive())',
                                                  'import sys; print("ran", sorted(m for m in sys.modules if "amber" in m))'))
    run([*AMBER, "run", "--wait", str(probe)], env=env, check=True)
    third = run([*AMBER, "run", "--wait", str(probe)], env=env, check=True)
    assert third.stdout == "ran []\n", third.stdout


def test_run_failures_are_the_programs(program, tmp_path):
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    p = program("import sys\nsys.exit(3)\n")
    assert run([*AMBER, "run", "--wait", str(p.script)], env=env).returncode == 3
    p = program("raise ValueError('boom')\n")
    r = run([*AMBER, "run", "--wait", str(p.script)], env=env)
    assert r.returncode == 1 and "ValueError: boom" in r.stderr and "amber/capture" not in r.stderr
    r = run([*AMBER, "run", "--wait", str(tmp_path / "missing.py")], env=env)
    assert r.returncode == 2 and r.stderr.startswith("amber: error: no such script")
    assert sys.executable  # the interpreter that runs the tests runs amber too


def test_iterating_the_environment_is_one_input(program, tmp_path):
    p = program('''
        import os
        SNAPSHOT_OF_ENV = dict(os.environ)
        if __name__ == "__main__":
            print("EXTRA" in SNAPSHOT_OF_ENV)
    ''')
    # The program copies the whole environment into its heap: variables whose names look secret
    # would (rightly) stop the snapshot, so this test runs without them.
    from amber.capture.policy.secret_scan import SECRET_WORDS

    clean = {k: v for k, v in os.environ.items() if not any(w in k.upper() for w in SECRET_WORDS)}
    clean["AMBER_CACHE"] = str(tmp_path / "cache")

    def amber_run(*args, extra=None):
        return subprocess.run([*AMBER, "run", "--wait", *args, str(p.script)], env={**clean, **(extra or {})},
                              capture_output=True, text=True, check=True)

    assert amber_run().stdout == "False\n"
    again = amber_run("-v")
    assert again.stdout == "False\n" and "restoring" in again.stderr
    changed = amber_run("-v", extra={"EXTRA": "1"})
    assert changed.stdout == "True\n" and "the set of environment variables changed" in changed.stderr
    import json

    image = next((tmp_path / "cache").rglob("*.amber"))
    info = json.loads(run([*AMBER, "inspect", "--json", str(image)], check=True).stdout)
    assert info["inputs"]["iterated_environment"] is True


def _timings_record(cache):
    from amber.runcache import layout

    images = [os.path.join(d, n) for d, _s, names in os.walk(cache) for n in names if n.endswith(".amber")]
    assert len(images) == 1, images
    return images[0], layout.timings_record(images[0])


def test_restore_and_cold_times_are_measured_and_shown(app):
    assert app()[0] == "built"
    for _ in range(4):  # the first three restores are measured; the fourth only reads the record
        assert app()[0] == "restored"
    image, _record = _timings_record(app.cache)
    info = run([*AMBER, "inspect", "--json", image], env={"AMBER_CACHE": str(app.cache)}, check=True)
    import json

    t = json.loads(info.stdout)["timings"]
    assert 0 < t["cold_seconds"] < 60, t
    assert len(t["restore_seconds"]) == 3 and all(0 < s < 60 for s in t["restore_seconds"]), t
    assert t["choice"] in ("restore", "cold"), t
    text = run([*AMBER, "inspect", image], env={"AMBER_CACHE": str(app.cache)}, check=True).stdout
    assert "timings      cold start" in text and "restores (ms)" in text


def test_a_restore_slower_than_cold_runs_cold_until_rebuilt(app):
    from amber.image import format as fmt
    from amber.runcache import keys, timings

    assert app()[0] == "built"
    assert app()[0] == "restored"
    image, record = _timings_record(app.cache)
    heap = fmt.read_image(image).entry(fmt.HEAP)[2]
    key = keys.secret_key(str(app.cache))
    # Restores measured at 100 s each: slower than any cold start.
    with open(record, "wb") as f:
        f.write(keys.seal(key, timings.TIMINGS_KIND, {"image": heap, "restores": [100.0, 100.0, 100.0]}))
    r = run([*AMBER, "run", "--wait", "-v", str(app.dir / "app.py")], cwd=app.dir, env={"AMBER_CACHE": str(app.cache)},
            check=True)
    assert r.stdout == "v1 1 plain [] [] False\n"  # ran cold, exactly as python runs it
    assert "restoring is not faster for this program" in r.stderr and "warning" not in r.stderr, r.stderr
    # A forged record (another key) is not believed: the run restores.
    with open(record, "wb") as f:
        f.write(keys.seal(b"k" * 32, timings.TIMINGS_KIND, {"image": heap, "restores": [100.0] * 3}))
    assert app()[0] == "restored"
    # A rebuild removes the record: the restores it measured were of the image replaced.
    with open(record, "wb") as f:
        f.write(keys.seal(key, timings.TIMINGS_KIND, {"image": heap, "restores": [100.0] * 3}))
    bump(app.dir / "lib" / "helper.py")
    assert app()[0] == "built"
    assert not os.path.exists(record)
    assert app()[0] == "restored"


BACKGROUND = '''
import atexit, glob, os, sys, weakref
import amber
DATA = [{"k": i, "v": str(i) * 3} for i in range(60000)]
print("start-up done", len(DATA))  # still in the buffer at the snapshot point (stdout is a pipe)
atexit.register(lambda: print("bye"))
class F: pass
f = F(); weakref.finalize(f, print, "fin")
%s
if __name__ == "__main__":
    images = glob.glob(os.path.join(os.environ["AMBER_CACHE"], "*", "*.amber"))
    print("restored" if amber.is_restored() else "ran", "image" if images else "no image yet")
'''


def _wait_for(cache, suffix, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [n for _d, _s, names in os.walk(cache) for n in names if n.endswith(suffix)]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} file in {cache} after {seconds} s")


def test_first_run_does_not_wait_for_its_image(tmp_path):
    script = tmp_path / "bg.py"
    script.write_text(BACKGROUND % "")
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    cold = run([sys.executable, str(script)], cwd=tmp_path, env=env, check=True)
    assert cold.stdout == "start-up done 60000\nran no image yet\nfin\nbye\n"
    first = run([*AMBER, "run", "-v", str(script)], cwd=tmp_path, env=env, check=True)
    # The program went on before the image was written, and printed what a cold run prints,
    # once: nothing buffered was printed again by the build, no atexit handler or finaliser ran twice.
    assert first.stdout == cold.stdout, first.stderr
    assert "building the image in the background" in first.stderr
    _wait_for(tmp_path / "cache", ".amber")
    again = run([*AMBER, "run", "-v", str(script)], cwd=tmp_path, env=env, check=True)
    assert again.stdout == "start-up done 60000\nrestored image\nfin\nbye\n", again.stderr
    assert "amber: restoring" in again.stderr
    assert not [n for _d, _s, names in os.walk(tmp_path) for n in names if n.endswith(".tmp")]


def test_a_background_build_that_fails_says_why_in_later_runs(tmp_path):
    script = tmp_path / "bg.py"
    script.write_text(BACKGROUND % "import socket\nG = socket.socket()  # an open socket: not capturable\n")
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    first = run([*AMBER, "run", str(script)], cwd=tmp_path, env=env, check=True)
    assert first.stdout == "start-up done 60000\nran no image yet\nfin\nbye\n"
    _wait_for(tmp_path / "cache", ".failed")
    later = run([*AMBER, "run", "-v", str(script)], cwd=tmp_path, env=env, check=True)
    assert later.stdout == first.stdout
    assert "no image can be built for this program (" in later.stderr and "__main__.G" in later.stderr, \
        later.stderr
    assert not [n for _d, _s, names in os.walk(tmp_path) for n in names if n.endswith((".amber", ".tmp"))]


def test_a_module_imported_again_keeps_the_stream_start_up_had_as_a_default(program, tmp_path):
    """tqdm.cli's ``def main(fp=sys.stderr)``, imported while ``amber run`` records start-up's
    output: the default is the recorder's stand-in for sys.stderr, which the image writes as
    sys.stderr itself; the verification compares it as that stream (it refused: "an instance of
    amber.capture.recorders.inputs.TextIOWrapper here, _io.TextIOWrapper after restore")."""
    (tmp_path / "clidefault").mkdir()
    (tmp_path / "clidefault" / "__init__.py").write_text(
        "import sys\n\ndef main(fp=sys.stderr, out=sys.stdout):\n    return fp is sys.stderr, out is sys.stdout\n")
    p = program(f'''
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
        import clidefault
        if __name__ == "__main__":
            print("ran", clidefault.main())
    ''')
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    first = run([*AMBER, "run", "--wait", "-v", "--reimport", "clidefault", str(p.script)], env=env, check=True)
    assert "amber: built" in first.stderr and "warning" not in first.stderr, first.stderr
    second = run([*AMBER, "run", "--wait", "-v", "--reimport", "clidefault", str(p.script)], env=env, check=True)
    assert "amber: restoring" in second.stderr and second.stdout == "ran (True, True)\n"


def test_a_background_build_keeps_the_random_state_the_program_seeded(tmp_path):
    """random reseeds its global generator in every forked child (an at-fork handler): the
    background build puts it back, so a restore draws what the program draws after its point
    (on 18e8898 the cached run drew other numbers, silently)."""
    script = tmp_path / "seeded.py"
    script.write_text("import amber, random\nrandom.seed(7)\nwarm = [random.random() for _ in range(3)]\n"
                      "amber.snapshot()\nprint(random.random(), random.randint(0, 10 ** 9))\n")
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    cold = run([sys.executable, str(script)], cwd=tmp_path, env=env, check=True)
    first = run([*AMBER, "run", "-v", str(script)], cwd=tmp_path, env=env, check=True)
    assert "building the image in the background" in first.stderr and first.stdout == cold.stdout
    _wait_for(tmp_path / "cache", ".amber")
    again = run([*AMBER, "run", "-v", str(script)], cwd=tmp_path, env=env, check=True)
    assert "amber: restoring" in again.stderr
    assert again.stdout == cold.stdout
