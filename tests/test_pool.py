"""Pools (issue 14): instances forked from a resident parent, through the real command line.

Each test starts real pool servers (``amber pool start``), sends real callers through them
(``amber restore``, ``./IMAGE``, ``amber run``) and compares what the program sees and does with
a plain restore (``--no-pool``) of the same image: the user's view (arguments, environment,
working directory, umask, streams, a terminal, exit codes, signals), fresh entropy per
instance, another uid, a stale image, crashes and a killed pool. The pools live in the tests'
own directory (``AMBER_POOL_DIR``, conftest) and are stopped after each test.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import AMBER, run

POOL_DIR = pathlib.Path(os.environ["AMBER_POOL_DIR"])


@pytest.fixture
def pools():
    """``start(image, *options)``: a pool of ``image``, stopped after the test."""
    started = []

    def start(image, *options):
        p = run([*AMBER, "pool", "start", *options, str(image)], check=True)
        assert "ready (pid" in p.stdout, p.stdout
        started.append(image)
        return int(p.stdout.split("(pid ")[1].split(",")[0])
    yield start
    for image in started:
        run([*AMBER, "pool", "stop", str(image)])


def served(image) -> int:
    """How many instances the pool of ``image`` has started (0 without a pool)."""
    total = 0
    for record in POOL_DIR.glob("*.pool"):
        fields = dict(line.split("=", 1) for line in record.read_text().splitlines() if "=" in line)
        if fields.get("image") == str(image):
            total += int(fields["served"])
    return total


def both(program, *args, env=None, input=None):
    """(through the pool, plain restore) of ``program``'s image, each a CompletedProcess."""
    cmd = [*AMBER, "restore", str(program.image), *args]
    pooled = run(cmd, cwd=program.dir, env=env, input=input)
    plain = run([*AMBER, "restore", "--no-pool", str(program.image), *args], cwd=program.dir, env=env,
                input=input)
    return pooled, plain


VIEW = '''
import os, sys, amber
START = "started"
amber.snapshot()
print(sys.argv, os.getcwd(), os.environ.get("POOL_TEST"), os.environ.get("SET_AT_START"))
print(oct(os.umask(0)), sys.stdin.read(), amber.is_restored(), sys.stdout.isatty())
print("to stderr", sys.orig_argv[4], file=sys.stderr)
sys.exit(int(os.environ.get("EXIT", "0")))
'''


def test_an_instance_sees_what_a_plain_restore_sees(program, pools, tmp_path):
    p = program(VIEW.replace('START = "started"', 'START = "started"\nos.environ["SET_AT_START"] = "yes"'))
    p.snapshot()
    pools(p.image)
    work = tmp_path / "elsewhere"
    work.mkdir()
    cmd = ["sh", "-c", 'umask 027 && exec "$@"', "sh", *AMBER, "restore"]
    for extra in ([], ["--no-pool"]):
        r = subprocess.run([*cmd, *extra, str(p.image), "a", "b c"], cwd=work, input="fed in",
                           env=dict(os.environ, POOL_TEST="caller's", EXIT="3"), capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 3, r.stderr
        assert r.stdout == (f"['{p.script}', 'a', 'b c'] {work} caller's yes\n"
                            "0o27 fed in True False\n"), r.stdout
        assert r.stderr == "to stderr restore\n"
    assert served(p.image) == 1


def test_an_instance_has_the_modules_a_restore_has(program, pools):
    p = program('''
        import sys, amber
        amber.snapshot()
        print(sorted(sys.modules))
    ''')
    p.snapshot()
    pools(p.image)
    pooled, plain = both(p)
    assert pooled.stdout == plain.stdout and "'amber'" in plain.stdout, (pooled.stdout, plain.stdout)
    assert served(p.image) == 1


def test_closed_streams_and_start_up_signal_handlers_are_a_restores(program, pools):
    p = program('''
        import os, signal, sys, amber
        signal.signal(signal.SIGUSR1, lambda *a: print("start-up's handler", flush=True))
        amber.snapshot()
        print(sys.stdin is None, file=sys.stdout)
        os.kill(os.getpid(), signal.SIGUSR1)
    ''')
    p.snapshot()
    pools(p.image)
    outs = []
    for extra in ([], ["--no-pool"]):
        r = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *AMBER, "restore", *extra, str(p.image)],
                           capture_output=True, text=True, timeout=60)
        outs.append((r.returncode, r.stdout, r.stderr))
    assert outs[0] == outs[1] == (0, "True\nstart-up's handler\n", ""), outs
    assert served(p.image) == 1


def test_exit_codes_exceptions_and_death_by_signal_come_back(program, pools):
    p = program('''
        import os, signal, sys, amber
        amber.snapshot()
        how = sys.argv[1]
        if how == "raise":
            raise ValueError("from the program")
        if how == "signal":
            os.kill(os.getpid(), signal.SIGTERM)
        if how == "abort":
            os.abort()
        print("fine")
    ''')
    p.snapshot()
    pools(p.image)
    for how in ("raise", "signal", "abort", "fine"):
        pooled, plain = both(p, how)
        assert (pooled.returncode, pooled.stdout, pooled.stderr) == (plain.returncode, plain.stdout, plain.stderr)
    assert pooled.returncode == 0 and pooled.stdout == "fine\n"
    assert both(p, "signal")[0].returncode == -signal.SIGTERM
    assert both(p, "abort")[0].returncode == -signal.SIGABRT
    assert "ValueError: from the program" in both(p, "raise")[0].stderr
    assert served(p.image) == 7  # crashed instances never took the pool down


def test_signals_sent_to_the_caller_reach_the_instance(program, pools, tmp_path):
    ready = tmp_path / "ready"
    p = program(f'''
        import os, signal, sys, time, amber
        amber.snapshot()
        signal.signal(signal.SIGUSR1, lambda *a: print("got USR1", flush=True))
        open({str(ready)!r}, "w").write(str(os.getpid()))
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise
    ''')
    p.snapshot()
    pools(p.image)
    for extra in ([], ["--no-pool"]):
        ready.unlink(missing_ok=True)
        caller = subprocess.Popen([*AMBER, "restore", *extra, str(p.image)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        _wait_for(ready)
        caller.send_signal(signal.SIGUSR1)
        assert caller.stdout.readline() == "got USR1\n"  # handled before the next one is sent
        caller.send_signal(signal.SIGINT)
        out, err = caller.communicate(timeout=30)
        assert out == "interrupted\n", (extra, out, err)
        assert caller.returncode == -signal.SIGINT and "KeyboardInterrupt" in err, (caller.returncode, err)
    assert served(p.image) == 1


def test_a_terminal_stays_a_terminal(program, pools):
    import pty

    p = program('''
        import os, sys, amber
        amber.snapshot()
        print(sys.stdout.isatty(), sys.stdin.isatty(), os.ttyname(1) == os.ttyname(0), sys.stdout.line_buffering)
    ''')
    p.snapshot()
    pools(p.image)
    outs = []
    for extra in ([], ["--no-pool"]):
        leader, follower = pty.openpty()
        r = subprocess.run([*AMBER, "restore", *extra, str(p.image)], stdin=follower, stdout=follower,
                           stderr=subprocess.PIPE, timeout=60)
        os.close(follower)
        outs.append(os.read(leader, 4096).decode())
        os.close(leader)
        assert r.returncode == 0, r.stderr
    assert outs[0] == outs[1] == "True True True True\r\n"
    assert served(p.image) == 1


ENTROPY = '''
import multiprocessing, os, random, secrets, tempfile, uuid, amber
import numpy
SEEDED = random.Random(7)
amber.snapshot()
print(random.random(), uuid.uuid4(), secrets.token_hex(8), next(tempfile._get_candidate_names()),
      multiprocessing.current_process().authkey.hex(), numpy.random.random(), SEEDED.random())
'''


def test_every_instance_has_fresh_entropy(program, pools):
    p = program(ENTROPY)
    p.snapshot()
    pools(p.image)
    lines = [p.restore().stdout.split() for _ in range(3)]
    assert served(p.image) == 3
    for column in range(6):  # the global generators, the OS's bytes, the names, the key, numpy's
        values = [line[column] for line in lines]
        assert len(set(values)) == 3, (column, values)
    assert len({line[6] for line in lines}) == 1  # seeded on purpose: as a cold run continues it
    assert lines[0][6] == p.cold().stdout.split()[6]


def test_a_global_generator_seeded_on_purpose_continues_in_every_instance(program, pools):
    p = program('''
        import random, amber
        random.seed(42)
        random.random()
        amber.snapshot()
        print(random.random())
    ''')
    p.snapshot()
    pools(p.image)
    cold = p.cold().stdout
    assert [p.restore().stdout for _ in range(2)] == [cold, cold]
    assert served(p.image) == 2


def test_after_restore_hooks_run_in_each_instance(program, pools):
    p = program('''
        import os, amber
        @amber.after_restore
        def reopen():
            print("hook in", os.getpid() != PARENT)
        PARENT = os.getpid()
        amber.snapshot()
        print("resumed")
    ''')
    p.snapshot()
    pools(p.image)
    assert [p.restore().stdout for _ in range(2)] == ["hook in True\nresumed\n"] * 2
    assert served(p.image) == 2


def test_the_image_as_a_program_and_amber_run_go_through_the_pool(program, pools, tmp_path):
    p = program('''
        import sys, amber
        print("start-up says hello")
        amber.snapshot()
        print("rest", sys.argv[1:])
    ''')
    p.snapshot()
    pools(p.image)
    r = subprocess.run([str(p.image), "x"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "rest ['x']\n", r.stderr
    assert served(p.image) == 1
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    r = run([*AMBER, "pool", "start", str(p.script), "y"], env=env, cwd=p.dir)
    assert r.returncode == 2 and "run it once with amber run first" in r.stderr, r.stderr
    first = run([*AMBER, "run", "--wait", str(p.script), "y"], env=env, check=True, cwd=p.dir)
    cached = next((tmp_path / "cache").rglob("*.amber"))
    run([*AMBER, "pool", "start", str(p.script), "y"], env=env, check=True, cwd=p.dir)  # the script's image
    try:
        again = run([*AMBER, "run", str(p.script), "y"], env=env, check=True, cwd=p.dir)
        assert again.stdout == first.stdout == "start-up says hello\nrest ['y']\n"
        assert served(cached) == 1
        plain = run([*AMBER, "run", "--no-pool", str(p.script), "y"], env=env, check=True, cwd=p.dir)
        assert plain.stdout == first.stdout and served(cached) == 1
    finally:
        stopped = run([*AMBER, "pool", "stop", str(p.script), "y"], env=env, cwd=p.dir)
    assert "stopped the pool" in stopped.stdout, stopped.stderr


def test_a_stale_image_is_never_served_and_its_pool_starts_again(program, pools):
    p = program('''
        import amber
        VERSION = 1
        amber.snapshot()
        print("version", VERSION)
    ''')
    p.snapshot()
    pid = pools(p.image)
    assert p.restore().stdout == "version 1\n" and served(p.image) == 1
    p.script.write_text(p.script.read_text().replace("VERSION = 1", "VERSION = 2"))
    p.snapshot()  # a new file at the same path
    assert p.restore().stdout == "version 2\n"  # never the old image's (by the caller or a new pool)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and served(p.image) != 0:  # the server starts again (same pid)
        time.sleep(0.1)
    listed = run([*AMBER, "pool", "list"], check=True).stdout
    assert f"pid {pid} " in listed and "served 0" in listed, listed
    assert p.restore().stdout == "version 2\n" and served(p.image) == 1  # the new image, from the pool


def test_fresh_process_instances_have_their_own_hash_seed_and_address_layout(program, pools):
    p = program('''
        import amber
        amber.snapshot()
        print(hash("the same string"), id(len), amber.is_restored())
    ''')
    p.snapshot()
    pools(p.image)
    forked = [p.restore().stdout for _ in range(2)]
    assert forked[0] == forked[1]  # a pool's instances share its hash seed and layout (documented)
    run([*AMBER, "pool", "stop", str(p.image)], check=True)
    pools(p.image, "--fresh-process")
    fresh = [p.restore().stdout for _ in range(2)]
    assert fresh[0].split()[0] != fresh[1].split()[0] and fresh[0].split()[1] != fresh[1].split()[1]
    assert all(line.endswith("True\n") for line in fresh) and served(p.image) == 2


def test_amber_run_inputs_that_went_stale_are_never_served(program, pools, tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 1\n")
    p = program('''
        import amber, helper
        amber.snapshot()
        print("value", helper.VALUE)
    ''')
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    run([*AMBER, "run", "--wait", str(p.script)], env=env, check=True)
    cached = next((tmp_path / "cache").rglob("*.amber"))
    pools(cached)
    assert run([*AMBER, "run", str(p.script)], env=env, check=True).stdout == "value 1\n"
    assert served(cached) == 1
    (tmp_path / "helper.py").write_text("VALUE = 22\n")  # an input of the image changes
    again = run([*AMBER, "run", "--wait", "-v", str(p.script)], env=env, check=True)
    assert again.stdout == "value 22\n" and "building an image" in again.stderr, again.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and served(cached) != 0:  # its pool starts again on the new image
        time.sleep(0.1)
    assert run([*AMBER, "run", str(p.script)], env=env, check=True).stdout == "value 22\n"
    assert served(cached) == 1


def test_a_stopped_pool_lets_running_instances_finish_without_spinning(program, pools, tmp_path):
    ready = tmp_path / "ready"
    p = program(f'''
        import time, amber
        amber.snapshot()
        open({str(ready)!r}, "w").write("x")
        time.sleep(1.5)
        print("finished")
    ''')
    p.snapshot()
    server = pools(p.image)
    caller = subprocess.Popen([*AMBER, "restore", str(p.image)], stdout=subprocess.PIPE, text=True)
    _wait_for(ready)
    assert "stopped the pool" in run([*AMBER, "pool", "stop", str(p.image)], check=True).stdout
    busy = _cpu_seconds(server)
    time.sleep(0.8)
    assert _cpu_seconds(server) - busy < 0.2  # waiting for its instance, not polling a closed socket
    assert caller.communicate(timeout=30)[0] == "finished\n" and caller.returncode == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(server):
        time.sleep(0.05)
    assert not _alive(server)


def _cpu_seconds(pid) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_killed_pool_leaves_nothing_in_the_way(program, pools):
    p = program('import amber\namber.snapshot()\nprint("ok")\n')
    p.snapshot()
    pid = pools(p.image)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    r = p.restore()
    assert r.stdout == "ok\n" and r.stderr == ""  # restored by the caller, no warning
    assert not list(POOL_DIR.glob("*.sock")) or all(s.name.startswith(".") for s in POOL_DIR.glob("*.sock"))
    listed = run([*AMBER, "pool", "list"], check=True).stdout
    assert str(p.image) not in listed
    pools(p.image)  # and a new one starts
    assert p.restore().stdout == "ok\n" and served(p.image) == 1


def test_an_instance_dies_with_its_caller(program, pools, tmp_path):
    ready = tmp_path / "ready"
    p = program(f'''
        import os, time, amber
        amber.snapshot()
        open({str(ready)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    ''')
    p.snapshot()
    pools(p.image)
    caller = subprocess.Popen([*AMBER, "restore", str(p.image)], stdout=subprocess.DEVNULL)
    instance = _wait_for(ready)
    caller.kill()
    caller.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(instance):
        time.sleep(0.05)
    assert not _alive(instance)


def test_bad_requests_and_silent_callers_never_stop_the_pool(program, pools):
    p = program('import amber\namber.snapshot()\nprint("ok")\n')
    p.snapshot()
    pools(p.image)
    sock_path = next(s for s in POOL_DIR.glob("*.sock") if not s.name.startswith("."))
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(str(sock_path))  # connects and says nothing
    garbage = socket.socket(socket.AF_UNIX)
    garbage.connect(str(sock_path))
    garbage.sendall(b"AMBER-POOL-1\n\x00\x00\x00\x05junk!")
    assert garbage.recv(200).startswith(b"Ebad request")
    assert p.restore().stdout == "ok\n"  # served while the silent one waits
    silent.close()
    assert p.restore().stdout == "ok\n" and served(p.image) == 4


def test_a_full_pool_lets_the_caller_restore_by_itself(program, pools, tmp_path):
    ready = tmp_path / "ready"
    p = program(f'''
        import os, sys, time, amber
        amber.snapshot()
        if sys.argv[1:] == ["wait"]:
            open({str(ready)!r}, "w").write("x")
            time.sleep(2)
        print("done", sys.argv[1:])
    ''')
    p.snapshot()
    pools(p.image, "--size", "1")
    busy = subprocess.Popen([*AMBER, "restore", str(p.image), "wait"], stdout=subprocess.PIPE, text=True)
    _wait_for(ready)
    r = p.restore("now")
    assert r.stdout == "done ['now']\n" and r.stderr == ""  # restored by itself, no warning
    assert busy.communicate(timeout=30)[0] == "done ['wait']\n"
    assert served(p.image) == 1


def test_another_user_is_refused(program, pools, tmp_path):
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs setpriv and root to run a client as another user")
    p = program('import amber\namber.snapshot()\nprint("ok")\n')
    p.snapshot()
    pools(p.image)
    sock_path = next(s for s in POOL_DIR.glob("*.sock") if not s.name.startswith("."))
    os.chmod(POOL_DIR, 0o755)  # as if the directory were reachable: the server still checks the uid
    os.chmod(sock_path, 0o777)
    try:
        probe = ("import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                 "print(s.recv(100).decode().strip())")
        # (the system's python: another user may not be able to read the one that runs the tests)
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
                            probe, str(sock_path)], capture_output=True, text=True, timeout=30)
        assert r.stdout.strip() == "Ethis pool serves its own user only", (r.stdout, r.stderr)
        # and the owner's own caller refuses a directory others can reach
        r = p.restore()
        assert r.stdout == "ok\n" and "not safe to use" in r.stderr
    finally:
        os.chmod(POOL_DIR, 0o700)
    assert served(p.image) == 0


def test_pool_commands_say_what_is_wrong_in_one_line(tmp_path):
    for args, text in ((["pool", "start"], "required: IMAGE"), (["pool"], "needs an action"), (["pool", "stop"], "needs an image or --all"),
                       (["pool", "start", str(tmp_path / "missing.amber")], "no such image file"),
                       (["pool", "stop", str(tmp_path / "missing.amber")], "no pool of")):
        r = run([*AMBER, *args])
        assert r.returncode == 2 and r.stderr.startswith("amber: error:") and text in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    not_an_image = tmp_path / "x.amber"
    not_an_image.write_text("hello")
    r = run([*AMBER, "pool", "start", str(not_an_image)])
    assert r.returncode == 2 and r.stderr.startswith("amber: error: the pool did not start:"), r.stderr


def _wait_for(path, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            text = path.read_text()
            return int(text) if text.isdigit() else text
        time.sleep(0.02)
    pytest.fail(f"{path} never appeared")


def _alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False
