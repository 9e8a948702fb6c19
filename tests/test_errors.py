"""Bad input gets one clear line and exit code 2; what cannot be captured is listed with paths."""

import os
import sys

from conftest import AMBER, run

GOOD = "import json\nX = json.loads('[1]')\nif __name__ == '__main__':\n    print(X)\n"


def one_line_error(p, code=2):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("amber: error: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


def test_images_that_cannot_be_used(program, tmp_path):
    p = program(GOOD)
    p.snapshot()
    data = p.image.read_bytes()
    from amber.image.format import read_image

    _, heap_at, heap_len, _ = next(s for s in read_image(str(p.image)).header["sections"] if s[0] == "heap")
    mid = heap_at + heap_len // 2
    cases = {
        "missing.amber": None,
        "text.amber": b"hello, not an image\n" * 10,
        "empty.amber": b"",
        "truncated.amber": data[: len(data) // 2],
        "damaged-header.amber": data[:60] + bytes([data[60] ^ 0xFF]) + data[61:],
        "damaged-heap.amber": data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:],
        "future-format.amber": data[:8] + (99).to_bytes(2, "little") + data[10:],
    }
    expect = {
        "missing.amber": "no such image file",
        "text.amber": "not an Amber image",
        "empty.amber": "not an Amber image",
        "truncated.amber": "truncated",
        "damaged-header.amber": "damaged",
        "damaged-heap.amber": "damaged",
        "future-format.amber": "format 99 is not supported",
    }
    for name, blob in cases.items():
        path = tmp_path / name
        if blob is not None:
            path.write_bytes(blob)
        for cmd in (["restore", str(path)], ["inspect", str(path)]):
            line = one_line_error(run([*AMBER, *cmd], cwd=tmp_path))
            assert expect[name] in line, (name, cmd, line)
    assert one_line_error(run([*AMBER, "restore", str(tmp_path)]))  # a directory


def test_image_from_another_interpreter_is_refused(program, tmp_path):
    p = program(GOOD)
    p.snapshot()
    other = None
    for version in ("3.12", "3.13"):
        for base in (os.path.expanduser("~/.pyenv/versions"),):
            if os.path.isdir(base):
                for d in sorted(os.listdir(base)):
                    if d.startswith(version) and os.path.exists(os.path.join(base, d, "bin", "python3")):
                        other = os.path.join(base, d, "bin", "python3")
    if other is None or sys.version_info[:2] != (3, 11):
        import pytest

        pytest.skip("no second interpreter on this machine")
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    r = run([other, "-c", f"import sys; sys.path.insert(0, {src!r}); from amber.cli import main; "
                          f"sys.exit(main(['restore', {str(p.image)!r}]))"], cwd=tmp_path)
    line = one_line_error(r)
    assert "made by another interpreter" in line


def test_command_line_mistakes(tmp_path):
    for args, text in [
        (["restore"], "needs an image"),
        (["snapshot"], "needs a script"),
        (["snapshot", "nope.py"], "no such script"),
        (["snapshot", "-o"], "needs a file name"),
        (["snapshot", "--bogus", "x.py"], "unknown option"),
        (["frobnicate"], "unknown command"),
        (["inspect"], "usage"),
    ]:
        line = one_line_error(run([*AMBER, *args], cwd=tmp_path))
        assert text in line, (args, line)


def test_nested_snapshot_call_is_refused(program):
    p = program("import amber\nif True:\n    amber.snapshot()\n")
    r = p.snapshot(check=False)
    line = one_line_error(r)
    assert ":3: amber.snapshot() must be a statement of its own at the top level" in line
    assert not p.image.exists()
    p = program("from amber import snapshot as snap\ndef f():\n    snap()\n")
    assert "must be a statement of its own" in one_line_error(p.snapshot(check=False))


def test_program_failing_before_snapshot_point(program):
    p = program("raise RuntimeError('boom')\n")
    r = p.snapshot(check=False)
    assert r.returncode == 1 and "RuntimeError: boom" in r.stderr and "no image was written" in r.stderr
    assert not p.image.exists()
    p = program("import sys\nsys.exit(3)\n")
    r = p.snapshot(check=False)
    assert r.returncode == 3 and "exited (code 3) before its snapshot point" in r.stderr
    assert not p.image.exists()


def test_every_offender_is_listed_with_its_path(program):
    p = program('''
        import socket, threading, time
        class Client:
            def __init__(self):
                self._pool = [socket.socket()]
        CLIENT = Client()
        LOG = open(__file__)
        held = threading.Lock(); held.acquire()
        def gen():
            yield 1
        G = gen(); next(G)
        WORKER = threading.Thread(target=time.sleep, args=(30,), daemon=True); WORKER.start()
        if __name__ == "__main__":
            pass
    ''')
    r = p.snapshot(check=False)
    assert r.returncode == 2, r.stderr
    err = r.stderr
    assert "__main__.CLIENT._pool[0] -> socket.socket" in err
    assert "__main__.LOG -> _io.TextIOWrapper: an open file" in err
    assert "__main__.held -> _thread.lock: a lock that is held" in err
    assert "__main__.G -> generator" in err
    assert "__main__.WORKER" in err and "running thread" in err
    assert err.count("hint:") >= 5
    assert "Traceback" not in err
    assert not p.image.exists()
    assert not [f for f in os.listdir(p.dir) if f.endswith(".tmp")]  # no partial file
