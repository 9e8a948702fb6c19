"""The world stays open after restore: new imports, pdb, cProfile and coverage work inside a
restored process, and capture is by value (no module body, class body, decorator, metaclass or
``__init_subclass__`` runs again)."""

import pytest

WORK = '''
import collections
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
TABLE = collections.Counter("mississippi")
'''


def test_pdb_in_a_restored_process(program):
    p = program(WORK + '''
if __name__ == "__main__":
    secret_value = fib(10) * 2
    breakpoint()
    print("after", secret_value)
''')
    p.snapshot()
    r = p.restore(input="p secret_value\np TABLE.most_common(1)\nc\n", check=False)
    assert r.returncode == 0, r.stderr
    assert "(Pdb) 110" in r.stdout and "[('i', 4)]" in r.stdout and "after 110" in r.stdout


def test_cprofile_in_a_restored_process(program):
    p = program(WORK + '''
if __name__ == "__main__":
    import cProfile, pstats, io
    prof = cProfile.Profile()
    prof.runcall(fib, 15)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("ncalls").print_stats(3)
    print(out.getvalue())
''')
    p.snapshot()
    out = p.restore().stdout
    assert "1973/1" in out and "prog.py" in out and "(fib)" in out


def test_coverage_in_a_restored_process(program):
    pytest.importorskip("coverage")
    p = program(WORK + '''
def unused():
    return "never called"

if __name__ == "__main__":
    import coverage, io
    cov = coverage.Coverage(data_file=None)
    cov.start()
    fib(5)
    cov.stop()
    out = io.StringIO()
    cov.report(file=out, show_missing=True)
    print(out.getvalue())
''')
    p.snapshot()
    out = p.restore().stdout
    assert out == p.cold().stdout
    line = next(x for x in out.splitlines() if x.startswith("prog.py"))
    assert line.split()[-2:] == ["2-3,", "5-18"]  # fib's body (line 4) ran under coverage


def test_capture_is_by_value(program, tmp_path):
    """Module bodies, class bodies, decorators, metaclasses, __set_name__ and __init_subclass__
    log while they build; restoring adds nothing to the log."""
    log = tmp_path / "build.log"
    pkg = tmp_path / "sentinel"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f'''
LOG = {str(log)!r}
def note(what):
    with open(LOG, "a") as f:
        f.write(what + "\\n")
note("module body sentinel")
from sentinel import parts
''')
    (pkg / "parts.py").write_text('''
from sentinel import note
note("module body sentinel.parts")

def decorate(fn):
    note(f"decorator {fn.__name__}")
    return fn

class Meta(type):
    def __new__(mcs, name, bases, ns):
        note(f"metaclass new {name}")
        return super().__new__(mcs, name, bases, ns)
    def __init__(cls, name, bases, ns):
        note(f"metaclass init {name}")
        super().__init__(name, bases, ns)

class Named:
    def __set_name__(self, owner, name):
        note(f"set_name {owner.__name__}.{name}")

class Base(metaclass=Meta):
    registry = []
    def __init_subclass__(cls, **kw):
        note(f"init_subclass {cls.__name__}")
        Base.registry.append(cls.__name__)

class Child(Base):
    note("class body Child")
    field = Named()
    @decorate
    def method(self):
        return "child method"
''')
    p = program('''
        import sentinel
        from sentinel.parts import Base, Child
        if __name__ == "__main__":
            print(Base.registry, Child().method(), type(Child).__name__, Child.__mro__[1].__name__)
    ''')
    cold = p.cold()
    built = log.read_text()
    assert built.count("\n") == 10, built
    log.write_text("")
    p.snapshot()
    assert log.read_text() == built
    log.write_text("")
    restored = p.restore()
    assert restored.stdout == cold.stdout == "['Child'] child method Meta Base\n"
    assert log.read_text() == ""


def test_pythonunbuffered_is_honoured_after_restore(program):
    """The restore runs isolated (-I); a PYTHONUNBUFFERED=1 user (every Docker image) still
    gets every line of output at once, as under plain python."""
    p = program('''
        import sys
        if __name__ == "__main__":
            print(sys.stdout.write_through, file=sys.stderr)
    ''')
    p.snapshot()
    assert p.cold(env={"PYTHONUNBUFFERED": "1"}).stderr == "True\n"
    assert p.restore(env={"PYTHONUNBUFFERED": "1"}).stderr == "True\n"
    assert p.restore(env={"PYTHONUNBUFFERED": ""}).stderr == "False\n"


def test_start_up_sees_no_module_amber_brought(program, tmp_path):
    """The program runs to its snapshot point in an interpreter that has Amber's capture side
    loaded: it must find no pure-Python module there that a cold run would not have (a module
    it did not import would be captured with it, and ``import x`` would find Amber's copy)."""
    import ast
    import sys

    from conftest import AMBER, run

    p = program("import sys\nprint(sorted(sys.modules))\nif __name__ == '__main__':\n    pass\n")
    cold = set(ast.literal_eval(p.cold(check=True).stdout))
    base = set(run([*AMBER, "inspect", "--base-set"], check=True).stdout.split())
    under = {"snapshot": p.snapshot().stdout,
             "run": run([*AMBER, "run", "--wait", str(p.script)], cwd=p.dir, check=True,
                        env={"AMBER_CACHE": str(tmp_path / "cache")}).stdout}
    for how, out in under.items():
        extra = set(ast.literal_eval(out)) - cold - base
        leaked = sorted(m for m in extra if m != "amber" and not m.startswith("amber.")
                        and m not in sys.builtin_module_names)
        assert leaked == [], f"amber {how}: the program's start-up sees {leaked}"


def test_capture_leaves_the_programs_state_as_it_was(program):
    """Amber's capture side runs in the program's process after the snapshot point: what it
    imports must not change state the image records. ``typing`` registers its types in
    ``copyreg.dispatch_table`` when imported, so a capture side importing it put them into
    every image of a program that never imported typing (on 3.12 and 3.13, where some of them
    are C types, the snapshot failed; on 3.11 they were copied silently)."""
    p = program("""
import copyreg, pickle, sys  # pickle is imported again at restore; its dispatch_table is copyreg's
import xml.etree.ElementTree
if __name__ == "__main__":
    print(sorted(f"{k.__module__}.{k.__qualname__}" for k in copyreg.dispatch_table))
    print("typing" in sys.modules)
""")
    cold = p.cold(check=True).stdout
    p.snapshot()
    assert p.restore().stdout == cold


def test_amber_leaves_no_module_the_program_did_not_import(program):
    """Splitting the main script at its snapshot point needs the syntax tree's classes, not the
    _ast module: a restored process has no _ast the program never imported, and one that
    imports ast after the restore gets working node classes."""
    p = program("""
        import sys, amber
        amber.snapshot()
        print("_ast" in sys.modules, "ast" in sys.modules)
        import ast
        print(type(ast.parse("x = 1").body[0]).__name__, ast.Assign is type(ast.parse("y = 2").body[0]))
    """)
    p.snapshot()
    assert p.restore().stdout == "False False\nAssign True\n"
