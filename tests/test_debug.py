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


STACK_PROGRAM = '''
import amber

def inner(k):
    cells = [k, k + 1]
    for i in range(3):
        if i == 1:
            amber.snapshot()
            print("after the snapshot", i)
    total = sum(cells)
    return total

def main():
    seen = "main's local"
    r = inner(5)
    print("r", r)

if __name__ == "__main__":
    main()
    print("end")
'''


def test_debug_stops_inside_the_frames_a_snapshot_inside_functions_resumes(program):
    """pdb stops at the first line the innermost frame runs after ``amber.snapshot()``, with the
    program's stack above it (``bt``, ``up``, ``p``), and steps out into the resumed callers;
    Amber's frames that drive them are neither shown nor stepped into (3.12 and 3.13: the
    resumed frames' code is instrumented for the tracing in force before each goes on)."""
    p = program(STACK_PROGRAM)
    p.snapshot()
    commands = "p cells, i\nbt\nup\np seen\ndown\nn\nn\nn\nn\nn\nn\nn\nn\nc\n"
    r = run([*AMBER, "debug", str(p.image)], cwd=p.dir, input=commands)
    prompts = r.stdout.split("(Pdb) ")
    assert prompts[0] == f"> {p.script}(9)inner()\n-> print(\"after the snapshot\", i)\n", r.stdout
    assert prompts[1] == "([5, 6], 1)\n"
    assert prompts[2] == (f"  {p.script}(19)<module>()\n-> main()\n  {p.script}(15)main()\n-> r = inner(5)\n"
                          f"> {p.script}(9)inner()\n-> print(\"after the snapshot\", i)\n"), prompts[2]
    assert prompts[4] == "\"main's local\"\n"
    assert prompts[6].startswith("after the snapshot 1\n> ")  # `n` ran the line
    assert f"> {p.script}(11)inner()->11\n-> return total\n" in prompts[11]
    assert prompts[12] == f"> {p.script}(16)main()\n-> print(\"r\", r)\n", prompts[12]
    assert prompts[13] == f"r 11\n--Return--\n> {p.script}(16)main()->None\n-> print(\"r\", r)\n"
    assert prompts[14] == "end\n" and r.returncode == 0, (r.stdout, r.stderr)  # `c` ran to the end
    assert "amber/" not in r.stdout  # no frame of Amber's shown
