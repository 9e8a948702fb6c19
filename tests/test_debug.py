"""``amber debug IMAGE`` (issue 15, section 4, first part): a restore whose program resumes
under pdb at the first line after the snapshot point, with the restored state, as often as
wanted; an unhandled exception opens a post-mortem session. Driven through pdb's own prompt on
standard input, in fresh processes."""

from conftest import AMBER, run

PROGRAM = '''
import amber
TABLE = {i: i * i for i in range(1000)}  # start-up's work
amber.snapshot()
total = TABLE[30] + 1
print("total", total)
if total > 900:
    raise ValueError("too big")
'''


def test_debug_stops_after_the_snapshot_point_with_the_restored_state(program):
    p = program(PROGRAM)
    p.snapshot()
    for _ in range(2):  # again and again, each time from the image
        r = run([*AMBER, "debug", str(p.image)], cwd=p.dir, input="p len(TABLE)\nn\np total\nq\n")
        lines = r.stdout.splitlines()
        assert lines[0] == f"> {p.script}(5)<module>()" and lines[1] == "-> total = TABLE[30] + 1", r.stdout
        assert "(Pdb) 1000" in r.stdout and "(Pdb) 901" in r.stdout, r.stdout
        assert "total 901" not in r.stdout  # it quit before the print


def test_an_unhandled_exception_opens_a_post_mortem(program):
    p = program(PROGRAM)
    p.snapshot()
    r = run([*AMBER, "debug", str(p.image)], cwd=p.dir, input="c\np total\nq\n")
    assert "(Pdb) 901" in r.stdout.split("total 901\n", 1)[1], r.stdout  # the post-mortem's p total
    assert "amber: the program raised; post-mortem debugging" in r.stderr
    assert r.returncode == 1 and "ValueError: too big" in r.stderr


def test_debug_needs_an_image():
    r = run([*AMBER, "debug"])
    assert r.returncode == 2 and r.stderr.startswith("amber: error: debug needs an image"), r.stderr
