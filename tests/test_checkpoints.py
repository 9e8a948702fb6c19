"""``amber.checkpoint(path)`` (issue 15, section 3, first part): an image written by a forked
child while the program goes on; a restore returns from the call and the computation finishes
as an uninterrupted run does, random generators included; a run killed with SIGKILL goes on
from its last checkpoint. In real processes: ``amber run`` of the program, ``kill -9``,
``amber restore``."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

from conftest import AMBER, run

TRAIN = textwrap.dedent('''
    import amber, os, random, sys, time

    def step(state, i):
        state["w"] += random.random() * i
        state["history"].append(round(state["w"], 6))

    def main(hold_after):
        random.seed(7)
        state = {"w": 0.0, "history": []}
        for i in range(1, 13):
            step(state, i)
            print("iteration", i, round(state["w"], 6), flush=True)
            if i % 3 == 0:
                amber.checkpoint(f"ckpt-{i}.amber")
            while i == hold_after and not os.path.exists("go"):  # (held there until killed)
                time.sleep(0.05)
        print("final", round(state["w"], 6), len(state["history"]), flush=True)

    if __name__ == "__main__":
        main(int(sys.argv[1]))
''')


def _wait_for(path, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.1)


def test_each_checkpoint_restores_to_the_rest_of_an_uninterrupted_run(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    cold = run([sys.executable, "train.py", "0"], cwd=tmp_path, env=env, check=True)
    assert "amber.checkpoint() writes nothing unless Amber watches the program" in cold.stderr
    assert not list(tmp_path.glob("*.amber"))
    watched = run([*AMBER, "run", "train.py", "0"], cwd=tmp_path, env=env, check=True)  # (held at none)
    assert watched.stdout == cold.stdout
    assert all(line.startswith("amber: note:") for line in watched.stderr.splitlines()), watched.stderr
    lines = cold.stdout.splitlines()
    for k in (3, 6, 9, 12):
        image = tmp_path / f"ckpt-{k}.amber"
        _wait_for(image)
        assert os.stat(image).st_mode & 0o777 == 0o700  # (executable, for ./IMAGE; nobody else's)
        restored = run([*AMBER, "restore", str(image), "0"], cwd=tmp_path, check=True)
        assert restored.stdout.splitlines() == lines[k:], k  # the rest, the same numbers
        if k < 12:  # (said once: not yet)
            assert "amber.checkpoint() writes nothing in a restored process" in restored.stderr
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_a_run_killed_goes_on_from_its_last_checkpoint(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    env = {**os.environ, "AMBER_CACHE": str(tmp_path / "cache")}
    cold = run([sys.executable, "train.py", "0"], cwd=tmp_path, env=env, check=True)
    proc = subprocess.Popen([*AMBER, "run", "train.py", "7"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path / "ckpt-6.amber")  # the run holds at iteration 7 meanwhile
    proc.send_signal(signal.SIGKILL)
    out, _err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    printed = out.splitlines()
    assert printed == cold.stdout.splitlines()[:7], out
    (tmp_path / "go").write_text("")
    restored = run([*AMBER, "restore", str(tmp_path / "ckpt-6.amber"), "0"], cwd=tmp_path, check=True)
    # What the killed run printed up to its last checkpoint, then the restore: the whole run.
    assert printed[:6] + restored.stdout.splitlines() == cold.stdout.splitlines()


def test_checkpoints_faster_than_writes_are_written_in_order(tmp_path):
    """Four checkpoints to one path in a row: each waits for the one before to be written, so
    the file is the last call's (overlapping writers could leave an older one last)."""
    (tmp_path / "fast.py").write_text(textwrap.dedent('''
        import amber
        def main():
            for i in range(4):
                amber.checkpoint("same.amber")
                print("after", i, flush=True)
        if __name__ == "__main__":
            main()
    '''))
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    first = run([*AMBER, "run", "fast.py"], cwd=tmp_path, env=env, check=True)
    assert first.stdout == "after 0\nafter 1\nafter 2\nafter 3\n"
    _wait_for(tmp_path / "same.amber")
    seen = []
    deadline = time.monotonic() + 120
    while not seen or seen[-1] != "after 3\n":  # (the last writer may still be at work)
        assert time.monotonic() < deadline, seen
        seen.append(run([*AMBER, "restore", str(tmp_path / "same.amber")], cwd=tmp_path, check=True).stdout)
    time.sleep(2)  # nothing older comes after it
    assert run([*AMBER, "restore", str(tmp_path / "same.amber")], cwd=tmp_path, check=True).stdout == "after 3\n"
    assert seen == sorted(seen), seen  # the file only ever went forward


def test_checkpoints_that_cannot_be_written_are_said_once_each_and_the_program_goes_on(tmp_path):
    """An empty path, other threads running, a call from a callback of C code: each reason is
    one warning however often it comes (the message names amber.checkpoint()); a checkpoint
    only a module calls (not the main script) is said to be unwatched, with where to call it."""
    (tmp_path / "helper.py").write_text("import amber\ndef save():\n    amber.checkpoint('h.amber')\n")
    (tmp_path / "by_module.py").write_text("import helper\nhelper.save()\nhelper.save()\nprint('done')\n")
    (tmp_path / "refused.py").write_text(textwrap.dedent('''
        import amber, threading
        ev = threading.Event()
        t = threading.Thread(target=ev.wait)
        t.start()
        for _ in range(2):
            amber.checkpoint("")
            amber.checkpoint("x.amber")
        ev.set()
        t.join()
        print(sorted([3, 1, 2], key=lambda v: amber.checkpoint("y.amber") or v))
    '''))
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    r = run([*AMBER, "run", "by_module.py"], cwd=tmp_path, env=env, check=True)
    assert r.stdout == "done\n"
    assert r.stderr.count("amber: warning:") == 1 and "calls amber.checkpoint itself" in r.stderr, r.stderr
    r = run([*AMBER, "run", "refused.py"], cwd=tmp_path, env=env, check=True)
    assert r.stdout == "[1, 2, 3]\n"
    warnings = [line for line in r.stderr.splitlines() if line.startswith("amber: warning:")]
    assert len(warnings) == 3, r.stderr
    assert "an empty path" in warnings[0] and "other threads run" in warnings[1]
    assert "amber.checkpoint() was called inside <lambda>()" in warnings[2]
    time.sleep(1)
    assert not list(tmp_path.glob("*.amber"))


def test_a_checkpoint_signed_with_ed25519_goes_on_as_another_user_where_its_key_is_trusted(tmp_path):
    """The migration of issue 15 section 3: a run checkpointed under one user (its own Ed25519
    key), killed; the checkpoint restored by another user (uid 65534, its own home, config and
    working directory), refused until that user trusts the key, then finishing the run with the
    uninterrupted run's output. Needs root (for setpriv), cryptography, and an interpreter the
    other user can run; skipped otherwise."""
    import shutil
    import tempfile

    import pytest

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run as another user")
    other = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    # (exec'd again, as amber restore does: setpriv itself may still read what the user cannot)
    again = "import os, sys; os.execv(sys.executable, [sys.executable, '-c', 'import amber, cryptography'])"
    probe = subprocess.run([*other, sys.executable, "-c", again], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"uid 65534 cannot run this interpreter with cryptography: {probe.stderr[-200:]!r}")
    (tmp_path / "train.py").write_text(TRAIN)
    env = {**os.environ, "AMBER_CACHE": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run([*AMBER, "keygen"], env=env, check=True)
    cold = run([sys.executable, "train.py", "0"], cwd=tmp_path, env=env, check=True)
    proc = subprocess.Popen([*AMBER, "run", "train.py", "7"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(tmp_path / "ckpt-6.amber")
    proc.send_signal(signal.SIGKILL)
    out, _err = proc.communicate()
    there = pathlib.Path(tempfile.mkdtemp(prefix="amber-migrated-"))
    try:
        (there / "home").mkdir()
        (there / "work").mkdir()
        shutil.copy(tmp_path / "ckpt-6.amber", there / "work")
        shutil.copy(tmp_path / "config" / "amber" / "ed25519.pub", there / "work" / "origin.pub")
        (there / "work" / "go").write_text("")
        for path in [there, *there.rglob("*")]:
            os.chown(path, 65534, 65534)
        there.chmod(0o755)
        home = there / "home"
        their = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "AMBER_CACHE": str(home / "cache")}
        refused = run([*other, *AMBER, "restore", "ckpt-6.amber", "0"], cwd=there / "work", env=their)
        assert refused.returncode == 2 and "which this machine does not trust" in refused.stderr, refused.stderr
        run([*other, *AMBER, "trust", "origin.pub"], cwd=there / "work", env=their, check=True)
        restored = run([*other, *AMBER, "restore", "ckpt-6.amber", "0"], cwd=there / "work", env=their,
                       check=True)
        assert out.splitlines()[:6] + restored.stdout.splitlines() == cold.stdout.splitlines()
    finally:
        shutil.rmtree(there)


def test_a_checkpoint_signed_with_ed25519_is_written(tmp_path):
    """Signing imports cryptography in the program's process, whose `import importlib` renamed
    the frozen import system there: the verification refused every Ed25519 checkpoint (on
    990e5f4: '_frozen_importlib: module importlib._bootstrap here, module _frozen_importlib
    after restore')."""
    import pytest

    pytest.importorskip("cryptography")
    (tmp_path / "c.py").write_text("import amber\ndef main():\n    amber.checkpoint('c.amber')\n    print('on')\n"
                                   "if __name__ == '__main__':\n    main()\n")
    env = {"AMBER_CACHE": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run([*AMBER, "keygen"], env=env, check=True)
    r = run([*AMBER, "run", "c.py"], cwd=tmp_path, env=env, check=True)
    assert r.stdout == "on\n"
    _wait_for(tmp_path / "c.amber", seconds=60)
    elsewhere = run([*AMBER, "restore", str(tmp_path / "c.amber")], cwd=tmp_path)  # (another config)
    assert elsewhere.returncode == 2 and "signed by Ed25519 key" in elsewhere.stderr, elsewhere.stderr
    assert run([*AMBER, "restore", str(tmp_path / "c.amber")], cwd=tmp_path, env=env, check=True).stdout == "on\n"
