"""Executable images: ``amber snapshot`` starts an image with a signed launch line, so that
``./app.amber ARGS`` starts the restoring interpreter directly (one interpreter, not two)."""

import os
import stat
import sys

from conftest import AMBER, run

from amber.image import writer

PROGRAM = """
import sys, amber
TABLE = {i: i * i for i in range(1000)}
amber.snapshot()
line = sys.stdin.readline().strip()
print(TABLE[7], sys.argv[1:], line, amber.is_restored())
sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)
"""


def test_an_image_runs_as_a_program(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(PROGRAM)
    image = tmp_path / "app.amber"
    run([*AMBER, "snapshot", "-o", str(image), str(script)], cwd=tmp_path, input="x\n", check=True)
    mode = stat.S_IMODE(os.stat(image).st_mode)
    assert mode & 0o100 and not mode & 0o077, oct(mode)  # the owner's program; nobody else's to read
    assert image.read_bytes().startswith(f"#!/usr/bin/env -S {sys.executable} -I -S ".encode())
    r = run([str(image), "5", "two words"], cwd=tmp_path, input="hello\n")
    assert r.returncode == 5, r.stderr
    assert r.stdout == "49 ['5', 'two words'] hello True\n"
    # the same image through amber restore, and written over by a new snapshot
    assert run([*AMBER, "restore", str(image)], cwd=tmp_path, input="hi\n", check=True).stdout == "49 [] hi True\n"
    run([*AMBER, "snapshot", "-o", str(image), str(script)], cwd=tmp_path, input="x\n", check=True)
    assert run([str(image)], cwd=tmp_path, input="again\n", check=True).stdout == "49 [] again True\n"


def test_run_images_have_no_launch_line(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(PROGRAM)
    cache = tmp_path / "cache"
    run([*AMBER, "run", "--wait", str(script)], cwd=tmp_path, input="x\n", env={"AMBER_CACHE": str(cache)}, check=True)
    images = [os.path.join(d, n) for d, _s, names in os.walk(cache) for n in names if n.endswith(".amber")]
    assert len(images) == 1
    with open(images[0], "rb") as f:
        assert not f.read(2) == b"#!"
    assert not stat.S_IMODE(os.stat(images[0]).st_mode) & 0o111


def test_launch_line_only_where_a_hash_bang_line_can_say_it():
    assert writer.launch_line("/usr/bin/python3", "/opt/amber/_boot.py") == \
        b"#!/usr/bin/env -S /usr/bin/python3 -I -S /opt/amber/_boot.py exec\n"
    assert writer.launch_line("/a b/python3", "/opt/amber/_boot.py") is None  # env -S would split it
    assert writer.launch_line("/usr/bin/python3", "/opt/a'b/_boot.py") is None
    assert writer.launch_line("python3", "/opt/amber/_boot.py") is None  # relative: not from anywhere
    assert writer.launch_line("/" + "x" * 300 + "/python3", "/opt/amber/_boot.py") is None  # too long
