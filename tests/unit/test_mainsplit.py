"""Fast layer: the snapshot-point split of the main script (amber.capture.mainsplit), in-process.

``split_source`` finds the snapshot point (a top-level ``amber.snapshot()`` statement, else the
top-level ``if __name__ == "__main__":``, else the end) and compiles the body on each side of it;
these tests run both halves into one dict, as a snapshot followed by a restore would.
"""

import textwrap
import traceback

import pytest

from amber.capture.mainsplit import split_source
from amber.errors import UsageError


def split(source: str, filename: str = "/tmp/prog.py"):
    return split_source(textwrap.dedent(source), filename)


def run_halves(s, name="__main__"):
    """(globals after first, globals after first then rest)."""
    g = {"__name__": name}
    exec(s.first, g)
    before = dict(g)
    exec(s.rest, g)
    return before, g


# == where the point is ===========================================================================

def test_amber_snapshot_call_splits_there():
    s = split("""\
        import amber
        x = 1
        amber.snapshot()
        y = x + 1
    """)
    assert (s.kind, s.line) == ("call", 3)
    before, after = run_halves(s)
    assert before["x"] == 1 and "y" not in before
    assert after["y"] == 2


def test_the_call_itself_is_in_neither_half():
    # If the call statement ran in either half, the recording function would see it.
    s = split("""\
        calls = []
        class amber:
            @staticmethod
            def snapshot():
                calls.append(1)
        amber.snapshot()
        done = True
    """)
    assert s.kind == "call"
    _, after = run_halves(s)
    assert after["calls"] == [] and after["done"] is True


def test_import_as_alias():
    s = split("""\
        import amber as a
        v = "before"
        a.snapshot()
        v = "after"
    """)
    assert (s.kind, s.line) == ("call", 3)
    before, after = run_halves(s)
    assert before["v"] == "before" and after["v"] == "after"


@pytest.mark.parametrize("imp, call", [
    ("from amber import snapshot", "snapshot()"),
    ("from amber import snapshot as snap", "snap()"),
])
def test_from_import(imp, call):
    s = split(f"{imp}\nn = 1\n{call}\nn += 1\n")
    assert (s.kind, s.line) == ("call", 3)
    before, after = run_halves(s)
    assert before["n"] == 1 and after["n"] == 2


def test_plain_snapshot_name_not_imported_from_amber_is_not_the_point():
    s = split("""\
        def snapshot():
            pass
        snapshot()
        z = 1
    """)
    assert s.kind == "end"
    before, _ = run_halves(s)
    assert before["z"] == 1


def test_another_modules_snapshot_attribute_is_not_the_point():
    s = split("""\
        import other
        other.snapshot()
    """)
    assert (s.kind, s.line) == ("end", 2)


def test_first_of_two_top_level_calls_wins():
    s = split("""\
        import amber
        a = 1
        amber.snapshot()
        b = 2
        amber.snapshot()
        c = 3
    """)
    assert (s.kind, s.line) == ("call", 3)
    assert "b" not in s.first.co_names
    assert {"b", "c"} <= set(s.rest.co_names)


def test_main_guard():
    s = split("""\
        import sys
        ready = True
        if __name__ == "__main__":
            ran = ready
        tail = 1
    """)
    assert (s.kind, s.line) == ("main-guard", 3)
    before, after = run_halves(s)
    assert before["ready"] is True and "ran" not in before and "tail" not in before
    assert after["ran"] is True and after["tail"] == 1


def test_main_guard_reversed_comparison():
    s = split("""\
        x = 0
        if "__main__" == __name__:
            x = 1
    """)
    assert (s.kind, s.line) == ("main-guard", 2)


@pytest.mark.parametrize("test", [
    '__name__ != "__main__"',
    '__name__ == "__main__" and flag',
    '__name__ == "main"',
    'name == "__main__"',
    '__name__ == __name__',
])
def test_not_a_main_guard(test):
    s = split(f"flag = 1\nif {test}:\n    pass\n")
    assert (s.kind, s.line) == ("end", 3)


def test_call_before_main_guard_wins():
    s = split("""\
        import amber
        amber.snapshot()
        if __name__ == "__main__":
            pass
    """)
    assert (s.kind, s.line) == ("call", 2)


def test_main_guard_before_call_wins():
    # The earliest of the two in the file is the point; the later call runs (a no-op) after restore.
    s = split("""\
        import amber
        if __name__ == "__main__":
            pass
        amber.snapshot()
    """)
    assert (s.kind, s.line) == ("main-guard", 2)


def test_nested_main_guard_does_not_count():
    s = split("""\
        def f():
            if __name__ == "__main__":
                pass
        x = 1
    """)
    assert (s.kind, s.line) == ("end", 4)


def test_end():
    s = split("""\
        a = 1
        b = [a,
             a]
    """)
    assert (s.kind, s.line) == ("end", 3)  # the last line of the last statement
    before, after = run_halves(s)
    assert before["b"] == [1, 1]
    assert after == before  # nothing is left to run


def test_empty_script():
    s = split_source("", "/tmp/empty.py")
    assert (s.kind, s.line) == ("end", 0)
    before, after = run_halves(s)
    assert set(before) == {"__name__", "__builtins__"} and after == before


def test_bytes_source():
    s = split_source(b"import amber\nx = '\xc3\xa9'\namber.snapshot()\n", "/tmp/b.py")
    assert (s.kind, s.line) == ("call", 3)
    before, _ = run_halves(s)
    assert before["x"] == "\u00e9"


# == calls below the top level: the snapshot point is where the program reaches one ============

@pytest.mark.parametrize("source, line", [
    ("import amber\ndef f():\n    amber.snapshot()\n", 3),
    ("import amber\nif True:\n    amber.snapshot()\n", 3),
    ("import amber\nfor i in range(1):\n    amber.snapshot()\n", 3),
    ("import amber\nwith open('x') as f:\n    amber.snapshot()\n", 3),
    ("import amber\ntry:\n    amber.snapshot()\nexcept Exception:\n    pass\n", 3),
    ("import amber\nclass C:\n    amber.snapshot()\n", 3),
    ("import amber\nif __name__ == '__main__':\n    amber.snapshot()\n", 3),
    ("import amber\nx = amber.snapshot()\n", 2),
    ("import amber\nprint(amber.snapshot())\n", 2),
    ("import amber\nf = lambda: amber.snapshot()\n", 2),
    ("from amber import snapshot\ndef g():\n    snapshot()\n", 3),
    ("import amber as am\nasync def h():\n    am.snapshot()\n", 3),
])
def test_a_nested_call_runs_the_whole_body_and_is_remembered_by_its_line(source, line):
    s = split_source(source, "/tmp/nested.py")
    assert (s.kind, s.nested_line) == ("end", line)  # (a main guard does not split it: it calls it)
    assert s.rest.co_code == split_source("", "/tmp/nested.py").rest.co_code  # nothing after the body


def test_a_top_level_call_still_splits_with_nested_ones_elsewhere():
    s = split_source("import amber\namber.snapshot()\ndef f():\n    amber.snapshot()\n", "/tmp/n.py")
    assert (s.kind, s.line, s.nested_line) == ("call", 2, 0)


def test_a_main_guard_still_splits_a_script_without_any_call():
    s = split_source("import amber\nif __name__ == '__main__':\n    print(1)\n", "/tmp/n.py")
    assert (s.kind, s.line, s.nested_line) == ("main-guard", 2, 0)


def test_syntax_error_is_a_usage_error():
    with pytest.raises(UsageError) as e:
        split_source("x = 1\ny = (\n", "/tmp/bad.py")
    assert str(e.value).startswith("/tmp/bad.py:2: syntax error: ")
    assert e.value.__cause__ is None and e.value.__suppress_context__


# == what the halves compile to ==================================================================

def test_halves_keep_file_name_and_line_numbers():
    s = split("""\
        import amber
        x = 1
        amber.snapshot()

        def boom():
            raise ValueError("here")
        boom()
    """, "/srv/app/main.py")
    assert s.first.co_filename == "/srv/app/main.py"
    assert s.rest.co_filename == "/srv/app/main.py"
    g = {"__name__": "__main__"}
    exec(s.first, g)
    with pytest.raises(ValueError) as e:
        exec(s.rest, g)
    frames = traceback.extract_tb(e.value.__traceback__)
    assert [(f.filename, f.lineno) for f in frames[-2:]] == [("/srv/app/main.py", 7), ("/srv/app/main.py", 6)]


def test_rest_shares_the_globals_of_first():
    s = split("""\
        import amber
        counter = [0]
        def bump():
            counter[0] += 1
            return counter[0]
        amber.snapshot()
        first = bump()
        second = bump()
    """)
    _, after = run_halves(s)
    assert (after["first"], after["second"], after["counter"]) == (1, 2, [2])


def test_future_import_applies_to_rest():
    s = split("""\
        from __future__ import annotations
        import amber
        def f(a: Undefined1) -> int: pass
        amber.snapshot()
        def g(b: Undefined2) -> Undefined3: pass
    """)
    _, after = run_halves(s)
    assert after["f"].__annotations__ == {"a": "Undefined1", "return": "int"}
    assert after["g"].__annotations__ == {"b": "Undefined2", "return": "Undefined3"}


def test_without_future_import_rest_evaluates_annotations():
    s = split("""\
        import amber
        amber.snapshot()
        def g(b: Undefined2): pass
    """)
    g = {"__name__": "__main__"}
    exec(s.first, g)
    with pytest.raises(NameError, match="Undefined2"):
        exec(s.rest, g)


def test_future_flag_is_set_only_when_the_script_asks():
    # compile() must not inherit the caller's flags (dont_inherit) and must carry the script's own
    # ``from __future__`` imports over to the rest.
    import __future__
    flag = __future__.annotations.compiler_flag
    plain = split("import amber\namber.snapshot()\ndef f(a: int): pass\n")
    assert not plain.first.co_flags & flag and not plain.rest.co_flags & flag
    future = split("from __future__ import annotations\nimport amber\namber.snapshot()\ndef f(a: int): pass\n")
    assert future.first.co_flags & flag and future.rest.co_flags & flag
