"""Bad input gets one clear line and exit code 2; what cannot be captured is listed with paths."""

import os
import sys

from conftest import AMBER, run

from amber.image import format as fmt
from amber.image import records, writer

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
    base = fmt.launch_length("image", data)  # the prefix's offsets below are after the launch line
    h, v = base + 60, base + 8
    cases = {
        "missing.amber": None,
        "text.amber": b"hello, not an image\n" * 10,
        "empty.amber": b"",
        "truncated.amber": data[: len(data) // 2],
        "damaged-header.amber": data[:h] + bytes([data[h] ^ 0xFF]) + data[h + 1:],
        "damaged-heap.amber": data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:],
        "future-format.amber": data[:v] + (99).to_bytes(2, "little") + data[v + 2:],
        "long-launch-line.amber": b"#!" + b"x" * 300 + b"\n" + data[base:],
    }
    expect = {
        "missing.amber": "no such image file",
        "text.amber": "not an Amber image",
        "empty.amber": "not an Amber image",
        "truncated.amber": "truncated",
        "damaged-header.amber": "damaged",
        "damaged-heap.amber": "damaged",
        "future-format.amber": "format 99 is not supported",
        "long-launch-line.amber": "a #! line longer than 256 bytes",
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
    r = run([other, "-c", f"import sys; sys.path.insert(0, {src!r}); from amber.commands.cli import main; "
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
        (["inspect"], "usage: amber inspect [--json] [--insecure] IMAGE | amber inspect [--insecure] (--sections "
                      "| --dis NAME | --extract NAME) IMAGE | amber inspect --base-set; see 'amber inspect --help'"),
        (["inspect", "--json", "--sections", "x.amber"], "does not go with --sections, --dis or --extract; see "
                                                         "'amber inspect --help'"),
    ]:
        line = one_line_error(run([*AMBER, *args], cwd=tmp_path))
        assert text in line, (args, line)


def test_a_snapshot_that_cannot_be_resumed_is_refused_in_one_line(program):
    p = program("import amber\nclass C:\n    amber.snapshot()\n")  # a class body: run by C code
    line = one_line_error(p.snapshot(check=False))
    assert "amber.snapshot() was called inside C() at " in line and "called from C code" in line
    assert line.endswith("; no image was written")
    assert not p.image.exists()
    p = program("from amber import snapshot as snap\ndef f():\n    snap()\n")  # never called
    assert "without calling amber.snapshot() (line 3)" in one_line_error(p.snapshot(check=False))


def test_a_stack_whose_code_changed_since_the_snapshot_is_an_error_before_the_program_runs(program):
    """A frame on the image's stack runs a function of a module imported again at restore; its
    source was edited since: the restore refuses in one line, before any of the program runs
    again (not a traceback of Amber's driver shown as the program's)."""
    p = program("import mylib\nprint('result', mylib.work())\n")
    lib = p.dir / "mylib.py"
    lib.write_text("import amber\ndef work():\n    x = 1\n    amber.snapshot()\n    return x + 1\n")
    run([*AMBER, "snapshot", "--reimport", "mylib", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    assert p.restore().stdout == "result 2\n"
    lib.write_text(lib.read_text().replace("x + 1", "x + 1000"))  # (another size: a .pyc of the same second and size would pass as fresh)
    r = p.restore(check=False)
    line = one_line_error(r)
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert line.startswith("amber: error: the image's running stack cannot be resumed: the code of work() "), line
    assert "is not the code its frame was captured in" in line


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
        class Pending:
            def __await__(self):
                yield "pending"
        async def gen():  # in the middle of an asend: running, its awaitable a C object
            await Pending()
            yield 1
        STEP = gen().asend(None); STEP.send(None)
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
    assert "__main__.STEP -> async_generator_asend" in err
    assert "__main__.WORKER" in err and "running thread" in err
    assert err.count("hint:") >= 5
    assert "Traceback" not in err
    assert not p.image.exists()
    assert not [f for f in os.listdir(p.dir) if f.endswith(".tmp")]  # no partial file


def test_unsigned_foreign_and_forged_images_are_refused(program, tmp_path):
    p = program(GOOD)
    p.snapshot(env={"AMBER_KEY": "key-of-machine-one"})
    data = p.image.read_bytes()
    assert p.restore(env={"AMBER_KEY": "key-of-machine-one"}).stdout == "[1]\n"
    # signed by another key
    line = one_line_error(p.restore(check=False, env={"AMBER_KEY": "key-of-machine-two"}))
    assert "signed by key" in line and "not by this machine's key" in line and "AMBER_KEY" in line
    # unsigned: the signature block zeroed
    unsigned = tmp_path / "unsigned.amber"
    launch, rest = _split(data)
    unsigned.write_bytes(launch + rest[:fmt.SIGNATURE_AT] + bytes(fmt.SIGNATURE_SIZE) + rest[fmt.HEADER_AT:])
    line = one_line_error(run([*AMBER, "restore", str(unsigned)], cwd=tmp_path,
                              env={"AMBER_KEY": "key-of-machine-one"}))
    assert "image is not signed" in line and "--insecure" in line
    # forged: the header changed and its digest recomputed, the signature cannot be
    header = bytearray(rest[fmt.HEADER_AT:fmt.HEADER_AT + _header_length(rest)])
    at = header.find(b"prog.py")
    header[at:at + 7] = b"evil.py"
    forged = tmp_path / "forged.amber"
    forged.write_bytes(launch + _with_header(rest, bytes(header)))
    line = one_line_error(run([*AMBER, "restore", str(forged)], cwd=tmp_path,
                              env={"AMBER_KEY": "key-of-machine-one"}))
    assert "forged" in line
    # --insecure restores what the user vouches for
    r = run([*AMBER, "restore", "--insecure", str(unsigned)], cwd=tmp_path, env={"AMBER_KEY": "x" * 9})
    assert r.returncode == 0 and r.stdout == "[1]\n"
    # the launch line changed (another interpreter): it is signed, so the image is refused
    assert launch.startswith(b"#!/usr/bin/env -S "), launch
    relaunched = tmp_path / "relaunched.amber"
    relaunched.write_bytes(launch.replace(b" -I -S ", b" -I -s ") + rest)
    line = one_line_error(run([*AMBER, "restore", str(relaunched)], cwd=tmp_path,
                              env={"AMBER_KEY": "key-of-machine-one"}))
    assert "forged" in line


def _split(data: bytes) -> tuple:
    """(the launch line, the image from its prefix on): the offsets below are the prefix's."""
    base = fmt.launch_length("image", data)
    return data[:base], data[base:]


def _header_length(data: bytes) -> int:
    return int.from_bytes(data[fmt.PREFIX["header_length"]], "little")


def _with_header(data: bytes, blob: bytes) -> bytes:
    """The image ``data`` with its header replaced by ``blob``, the prefix's length and digest of the
    header made to match (by the writer's own ``prefix``); the signature block is kept, so it no
    longer matches."""
    rest = data[fmt.HEADER_AT + _header_length(data):]
    return writer.prefix(blob) + data[fmt.SIGNATURE_AT:fmt.HEADER_AT] + blob + rest


class _Damage:
    """Ways of damaging bytes, drawn from one random generator: the image fuzzer and the section
    fuzzer share them."""

    def __init__(self, rng) -> None:
        self.rng = rng

    def cut(self, data: bytes) -> bytes:
        return data[:self.rng.randrange(len(data))]

    def flip_bits(self, data: bytes, within: int, most: int) -> bytes:
        """1 to ``most`` bits flipped in the first ``within`` bytes."""
        buf = bytearray(data)
        for _ in range(self.rng.randint(1, most)):
            at = self.rng.randrange(min(len(buf), within))
            buf[at] ^= 1 << self.rng.randrange(8)
        return bytes(buf)

    def overwrite(self, data: bytes, most: int) -> bytes:
        """1 to ``most`` bytes set to random values."""
        buf = bytearray(data)
        for _ in range(self.rng.randint(1, most)):
            buf[self.rng.randrange(len(buf))] = self.rng.randrange(256)
        return bytes(buf)

    def noise(self, most: int) -> bytes:
        return self.rng.randbytes(self.rng.randrange(1, most))


class _ImageMutator:
    """The i-th mutation of an image: cut, bit-flipped, random tail, huge header length, header
    bytes changed, or header fields replaced (the last two given a valid header digest)."""

    def __init__(self, data: bytes, rng) -> None:
        self.launch, self.data = _split(data)  # mutations of the prefix on keep the launch line
        self.hlen = _header_length(self.data)
        self.rng = rng
        self.damage = _Damage(rng)

    def __call__(self, i: int) -> bytes:
        if i % 7 == 6:  # the launch line itself: cut, bit-flipped, or made too long
            return self.damage.flip_bits(self.launch, len(self.launch), 8) + self.data if i % 3 else (
                self.launch[:self.rng.randrange(len(self.launch))] + self.data if i % 2
                else self.launch[:-1] + b" " * 300 + b"\n" + self.data)
        return self.launch + self._mutated(i % 7)

    def _mutated(self, kind: int) -> bytes:
        import marshal

        data, hlen, rng = self.data, self.hlen, self.rng
        if kind == 0:
            return self.damage.cut(data)
        if kind == 1:
            return self.damage.flip_bits(data, within=fmt.HEADER_AT + hlen + 64, most=8)
        if kind == 2:  # cut at the end of a field of the prefix, then noise
            ends = [fmt.PREFIX[name].stop for name in ("magic", "format", "header_length", "signature")]
            return data[:rng.choice(ends)] + self.damage.noise(400)
        if kind == 3:
            length = fmt.PREFIX["header_length"]
            huge = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, len(data)])
            return data[:length.start] + huge.to_bytes(length.stop - length.start, "little") + data[length.stop:]
        blob = data[fmt.HEADER_AT:fmt.HEADER_AT + hlen]
        if kind == 4:
            return _with_header(data, self.damage.overwrite(blob, most=6))
        header = marshal.loads(blob)
        header[rng.choice(["sections", "python", "amber", "snapshot_point", "extensions"])] = rng.choice(
            [None, 7, "x", [], [("heap", -1, 2**40, b"")], [("heap", 10**12, 10**12, b"\0" * 32)], {}])
        return _with_header(data, marshal.dumps(header))


def test_fuzzed_images_never_crash(program, tmp_path):
    """Truncations, bit flips, random bytes and huge lengths, before authentication, and headers
    mutated then given a valid digest (what gets past the signature only with --insecure or the
    key): the reader answers ImageError every time, never another exception. A sample goes
    through the command line too: one line, exit code 2."""
    import random

    from amber.errors import ImageError

    p = program(GOOD)
    p.snapshot()
    mutate = _ImageMutator(p.image.read_bytes(), random.Random(20261125))

    path = tmp_path / "fuzzed.amber"
    refused = {"restore": 0, "whole header": 0}
    for i in range(600):
        path.write_bytes(mutate(i))
        # As a restore reads it (the header fields it reads checked), and as amber inspect does.
        for what, schema in (("restore", fmt.HEADER_READ), ("whole header", records.HEADER_SCHEMA)):
            try:
                image = fmt.read_image(str(path), insecure=True, header_schema=schema)
                for name, *_ in image.header["sections"]:
                    image.section(name)
            except ImageError:
                refused[what] += 1
        if i % 100 == 0:
            for cmd in (["restore", "--insecure"], ["inspect", "--insecure", "--sections"],
                        ["inspect", "--insecure", "--dis", "header"]):
                r = run([*AMBER, *cmd, str(path)], cwd=tmp_path, timeout=60)
                if r.returncode != 0:
                    one_line_error(r)
    assert min(refused.values()) > 520, refused


def test_ed25519_images_travel_between_machines(program, tmp_path):
    """Machine A signs with its Ed25519 key; machine B restores only after trusting A's public
    key, and holds no secret that could forge A's images."""
    import pytest

    pytest.importorskip("cryptography")
    a, b = tmp_path / "machine-a", tmp_path / "machine-b"
    p = program(GOOD)
    r = run([*AMBER, "keygen"], env={"XDG_CONFIG_HOME": str(a)}, check=True)
    assert "ed25519.pub" in r.stdout and oct(os.stat(a / "amber" / "ed25519.key").st_mode & 0o777) == "0o600"
    assert "exists already" in one_line_error(run([*AMBER, "keygen"], env={"XDG_CONFIG_HOME": str(a)}))
    run([*AMBER, "snapshot", "-o", str(p.image), str(p.script)], cwd=tmp_path, env={"XDG_CONFIG_HOME": str(a)},
        check=True)
    assert run([*AMBER, "restore", str(p.image)], env={"XDG_CONFIG_HOME": str(a)}, check=True).stdout == "[1]\n"
    line = one_line_error(run([*AMBER, "restore", str(p.image)], env={"XDG_CONFIG_HOME": str(b)}))
    assert "does not trust" in line and "amber trust" in line
    run([*AMBER, "trust", str(a / "amber" / "ed25519.pub")], env={"XDG_CONFIG_HOME": str(b)}, check=True)
    assert run([*AMBER, "restore", str(p.image)], env={"XDG_CONFIG_HOME": str(b)}, check=True).stdout == "[1]\n"
    assert not (b / "amber" / "hmac.key").exists() and not (b / "amber" / "ed25519.key").exists()
    assert "not an Amber public key" in one_line_error(
        run([*AMBER, "trust", str(p.script)], env={"XDG_CONFIG_HOME": str(b)}))


def test_fuzzed_sections_never_crash_the_decoder(program, tmp_path):
    """``amber inspect --sections/--dis/--extract`` on images whose sections were replaced by
    garbage, wrong shapes and cut programs, with digests that match (hand-made, read with
    --insecure): an ImageError every time a part cannot be shown, never another exception. A
    sample goes through the command line: one line, exit code 2."""
    import io
    import marshal
    import random

    from amber.commands import inspect
    from amber.errors import ImageError

    p = program(GOOD)
    p.snapshot()
    good = fmt.read_image(str(p.image))
    header = {k: v for k, v in good.header.items() if k not in ("format", "sections")}
    sections = {name: bytes(good.section(name)) for name, *_ in good.header["sections"]}
    rng = random.Random(20261201)
    damage = _Damage(rng)
    wrong_shapes = [[], {}, {"objects": "many"}, {"environ": 5, "path": [], "imports": []}, None, 7,
                    {"files": [("/x", 1)], "env": [], "env_names": None}, {"by_type": {1: (1, 2)}}]

    def garbage(name: str, i: int) -> bytes:
        data = sections[name]
        kind = i % 5
        if kind == 0:
            return damage.cut(data)
        if kind == 1:
            return damage.overwrite(data, most=6)
        if kind == 2:
            return damage.noise(300)
        if kind == 3:
            return marshal.dumps(rng.choice(wrong_shapes))
        return data.replace(b".", b"", 1) if name == fmt.HEAP else data + b"\0"

    path = tmp_path / "handmade.amber"
    outcomes = {"shown": 0, "refused": 0}
    for i in range(60):
        target = [fmt.PRELUDE, fmt.STATS, fmt.HEAP][i % 3]
        made = dict(sections, **{target: garbage(target, i)})
        writer.write_image(str(path), header, list(made.items()))
        image = fmt.read_image(str(path), insecure=True)
        try:
            image.decode(fmt.PRELUDE)  # as a restore decodes it: checked, or refused
        except ImageError:
            pass
        image = inspect.open_image(str(path), insecure=True)
        table, failed = inspect.sections_table(image)
        assert table.count(" ok ") == 3 and not failed  # the digests match: the content is the problem
        for name in ("header", target):
            try:
                inspect.disassemble(image, name, io.StringIO())
                inspect.extract(image, name, io.BytesIO())
                outcomes["shown"] += 1
            except ImageError:
                outcomes["refused"] += 1
        try:
            inspect.describe(str(path), insecure=True)
        except ImageError:
            pass
        if i % 20 == 0:
            for args in (["--sections"], ["--dis", target], ["--dis", "header"]):
                r = run([*AMBER, "inspect", "--insecure", *args, str(path)], cwd=tmp_path, timeout=60)
                if r.returncode != 0:
                    one_line_error(r)
    assert outcomes["refused"] > 20 and outcomes["shown"] > 60


def test_an_object_that_owns_a_live_process_is_refused(program):
    """A running child (``subprocess.Popen``, a started ``multiprocessing.Process``) was captured
    as plain data: after restore ``poll()`` said it had exited while it still ran. It is refused
    with its path; one that was waited for is data, and restores with its exit status."""
    import re
    import signal

    p = program("""\
        import multiprocessing, os, subprocess, sys, time
        def rest():  # not holding the test's pipes open
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1), os.dup2(null, 2)
            time.sleep(60)
        class Pool:
            def __init__(self):
                self.workers = {"sleeper": subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)}
        POOL = Pool()
        W = multiprocessing.Process(target=rest, daemon=True)
        W.start()
        if __name__ == "__main__":
            print(POOL.workers["sleeper"].poll())
    """)
    r = p.snapshot(check=False)
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", r.stderr)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert r.returncode == 2, r.stderr
    assert "__main__.POOL.workers['sleeper'] -> subprocess.Popen: a child process that is running" in r.stderr
    assert "__main__.W -> multiprocessing.context.Process: a child process that is running" in r.stderr
    assert "wait() for it before the snapshot point" in r.stderr and "join() it" in r.stderr
    assert len(pids) == 2 and "Traceback" not in r.stderr and not p.image.exists()
    done = program("""\
        import subprocess, sys
        CHILD = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
        CHILD.wait()
        if __name__ == "__main__":
            print(CHILD.poll(), CHILD.returncode, CHILD.args[-1])
    """, name="done.py")
    done.snapshot()
    assert done.restore().stdout == "7 7 raise SystemExit(7)\n"
