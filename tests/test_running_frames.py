"""The running stack at an ``amber.snapshot()`` called inside functions (issue 15, section 1):
read by :func:`amber.frames.read_running` (3.11 to 3.13), resumed after a restore in a fresh
process (the output equals an uninterrupted run's, through returns, exceptions, ``with`` and
``try`` blocks, closures, tracebacks), and refused, naming the stack, where it cannot be."""

import sys
import textwrap

import pytest
from conftest import run

READER = textwrap.dedent("""
    import dis, sys
    from amber import frames

    def probe():
        return frames.read_running(sys._getframe(1))

    def inner(a, b):
        total = a + b
        seen = [total]
        state = probe()
        return state, seen

    class Made:
        def __init__(self):
            self.state = probe()

    state, seen = inner(2, 3)
    ins = {i.offset: i for i in dis.get_instructions(inner.__code__)}
    before = max(o for o in ins if o < state.resume_at)
    slots = dict(state.slots)
    print(state.func is inner, state.entered_from_c, ins[before].opname, ins[state.resume_at].opname)
    print(slots[0], slots[1], slots[2], slots[3] is seen)
    print(list(map(lambda _: probe().entered_from_c, [0]))[0], Made().state.entered_from_c)
""")


def test_a_running_frame_is_read_where_its_call_returns(tmp_path):
    script = tmp_path / "reader.py"
    script.write_text(READER)
    p = run([sys.executable, str(script)], check=True)
    assert p.stdout.splitlines() == [
        "True False CALL STORE_FAST",  # the call's result goes on into `state = ...`
        "2 3 5 True",  # the parameters, a local, a local's very object
        "True True",  # a callback of map() and an __init__ called by its class: entered from C
    ]


def test_a_snapshot_inside_a_callback_of_c_code_is_refused_naming_the_stack(program):
    prog = program("""
        import helper

        def main():
            return sorted([3, 1], key=lambda x: helper.setup(x) and x)

        main()
    """, name="app.py")
    (prog.dir / "helper.py").write_text(textwrap.dedent("""
        import amber

        def setup(n):
            data = list(range(n))
            amber.snapshot()
            return data
    """))
    p = prog.snapshot(check=False)
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("amber: error: amber.snapshot() was called inside setup() at "), p.stderr
    line = lines[0]
    assert f"helper.py:6, called by main.<locals>.<lambda>() at {prog.script}:5 (called from C code" in line
    assert f"called by main() at {prog.script}:5, called by the main script at {prog.script}:7: " in line
    assert "main.<locals>.<lambda>() was called from C code, which cannot be resumed" in line
    assert line.endswith("no image was written")
    assert not prog.image.exists()


STACK_APP = """
    import amber, logging, sys, traceback

    logging.basicConfig(format="%(funcName)s:%(lineno)d %(message)s", level=logging.INFO, stream=sys.stdout)

    class CM:
        def __enter__(self):
            print("enter")
            return self

        def __exit__(self, kind, value, tb):
            print("exit", kind.__name__ if kind else None)
            return False

    def inner(k):
        cells = [k]
        def get():
            return cells[0]
        for round in range(3):
            if round == 1:
                amber.snapshot()
                print("restored" if amber.is_restored() else "cold", "at round", round)
        logging.info("after the snapshot %s", get())
        traceback.print_stack(limit=3, file=sys.stdout)
        if k == 1:
            raise ValueError("boom %d" % k)
        if k == 2:
            raise StopIteration(7)
        if k == 3:
            raise KeyError("uncaught")
        return k * 10

    def middle(k):
        try:
            with CM():
                return inner(k)
        except ValueError as e:
            print("middle caught", e)
            return -1
        finally:
            print("middle finally")

    def outer():
        out = middle(int(sys.argv[1]))
        print("out", out)
        return out

    if __name__ == "__main__":
        try:
            r = outer()
        except StopIteration as e:
            print("top caught StopIteration", e.value)
        else:
            print("r", r)
        print("end")
"""


def test_a_snapshot_inside_functions_resumes_there_as_an_uninterrupted_run_goes_on(program):
    prog = program(STACK_APP, name="app.py")
    for k in ("0", "1", "2", "3"):  # a return; an exception caught outside; StopIteration; uncaught
        cold = prog.cold(k)
        prog.snapshot(k)
        restored = prog.restore(k, check=False)
        # The restore prints nothing that start-up printed before the snapshot ("enter").
        assert cold.stdout.splitlines()[0] == "enter"
        assert "restored at round 1" in restored.stdout
        assert restored.stdout.replace("restored at", "cold at") == cold.stdout.split("\n", 1)[1], k
        assert (restored.returncode, restored.stderr) == (cold.returncode, cold.stderr), k
    assert "KeyError: 'uncaught'" in cold.stderr and 'line 36, in middle' in cold.stderr


def test_a_snapshot_in_a_nested_block_of_the_main_script_resumes_its_frame(program):
    prog = program("""
        import amber
        total = 0
        for i in range(4):
            total += i
            if i == 2:
                amber.snapshot()
        print("total", total, "restored", amber.is_restored())
    """)
    prog.snapshot()
    assert prog.restore().stdout == "total 6 restored True\n"


def test_a_snapshot_never_reached_is_an_error(program):
    prog = program("""
        import amber

        def main():
            if False:
                amber.snapshot()
            print("ran")

        if __name__ == "__main__":
            main()
    """)
    p = prog.snapshot(check=False)
    assert p.returncode == 2 and p.stdout == "ran\n"
    assert p.stderr.strip().endswith("without calling amber.snapshot() (line 6); no image was written")
    assert not prog.image.exists()


EXCEPT_APP = """
    import amber, sys

    log = []

    def show(where):
        e = sys.exc_info()[1]
        log.append(f"{where}: {type(e).__name__ if e else None} {e}")

    def inner():
        try:
            raise KeyError("inner-key")
        except KeyError as e:
            show("inner")
            try:
                raise ValueError("nested")
            except ValueError:
                show("inner nested, before")
                amber.snapshot()
                show("inner nested, after")
            show("inner, after nested")
            try:
                raise
            except KeyError as again:
                log.append(f"reraised the same: {again is e} {again}")
        show("inner, after its block")

    def in_finally():
        try:
            try:
                raise LookupError("finally-pending")
            finally:
                show("finally")
                inner()
                show("finally, after inner")
        except LookupError as e:
            log.append(f"the pending exception went on: {e!r}")
        try:
            raise ExceptionGroup("g", [OSError(5, "io"), KeyError(1)])
        except* OSError as group:
            log.append(f"except* {group.exceptions}")
            show("except*")
        except* KeyError:
            show("except* KeyError")

    def middle():
        try:
            1 / 0
        except ZeroDivisionError:
            show("middle")
            in_finally()
            show("middle, after")
            try:
                raise
            except ZeroDivisionError as z:
                log.append(f"middle reraised {z}")
        show("middle, after its block")

    try:
        raise OSError("top")
    except OSError:
        middle()
        show("main")
    show("main end")
    print("\\n".join(log))
"""


def test_a_snapshot_inside_except_blocks_resumes_each_frame_handling_its_exception(program):
    """Each frame on the stack handles the exception it handled (``sys.exc_info()``, a bare
    ``raise``) as the blocks it is in end one by one: nested ``except`` blocks, a ``finally``
    run while an exception is pending (which goes on after it), ``except*``."""
    prog = program(EXCEPT_APP, name="app.py")
    cold = prog.cold()
    snap = prog.snapshot(check=False)
    assert snap.returncode == 0, snap.stderr
    assert "restored without their traceback" in snap.stderr  # (said: frames of finished calls)
    restored = prog.restore(check=False)
    assert (restored.stdout, restored.stderr, restored.returncode) == (cold.stdout, cold.stderr, 0)
    lines = cold.stdout.splitlines()
    assert lines[3:6] == ["inner nested, before: ValueError nested", "inner nested, after: ValueError nested",
                          "inner, after nested: KeyError 'inner-key'"], lines
    assert "the pending exception went on: LookupError('finally-pending')" in lines
    assert lines[-1] == "main end: None None" and len(lines) == 18, lines


TRACED_APP = """
    import amber, sys

    events = []

    def profile(frame, event, arg):
        if frame.f_code.co_filename == __file__ and event in ("call", "return"):
            events.append(f"profile {event} {frame.f_code.co_name}")

    def trace(frame, event, arg):
        if frame.f_code.co_filename == __file__:
            events.append(f"trace {event} {frame.f_code.co_name} {frame.f_lineno}")
        return trace

    def work(n):
        return n * 2

    def inner():
        amber.snapshot()
        sys.setprofile(profile)
        frame = sys._getframe()
        while frame is not None:  # as coverage and pdb do: the running frames are traced too
            frame.f_trace = trace
            frame = frame.f_back
        sys.settrace(trace)
        return work(1)

    def main():
        y = inner()
        for i in range(2):
            y = work(y)
        return y

    print(main())
    sys.settrace(None)
    sys.setprofile(None)
    print("\\n".join(events))
"""


def test_profilers_and_tracers_started_after_a_restore_see_the_resumed_frames(program):
    """A profile function and a trace function started in a resumed frame see the calls, lines
    and returns of every frame of the stack as in an uninterrupted run (3.12 and 3.13 would not
    give line or return events in a resumed frame whose code was not instrumented again)."""
    prog = program(TRACED_APP, name="app.py")
    cold = prog.cold()
    prog.snapshot()
    restored = prog.restore()
    assert restored.stdout == cold.stdout
    lines = cold.stdout.splitlines()
    assert lines[0] == "8" and lines.count("trace line main 30") == 3, lines
    assert lines[-3:] == ["trace return main 32", "profile return main", "trace line <module> 35"], lines


GENERATOR_APP = """
    import amber, sys

    case = sys.argv[1]
    log = []

    def point(tag):
        amber.snapshot()
        log.append(f"{'restored' if amber.is_restored() else 'cold'} at {tag}")

    def last_item(n):  # exhausted right after the restore: the for loop's FOR_ITER runs again
        for i in range(n):
            if i == n - 1:
                point("last item")
            yield i
        log.append("last_item done")
        return "ret"

    def inner_returns():  # returns into a yield from right after the restore
        point("inner return")
        return 42
        yield

    def delegating():
        got = yield from _wrap(inner_returns())
        log.append(f"delegating got {got}")
        yield "after"

    def _wrap(g):
        r = yield from g
        return r + 1

    def raising():
        yield 1
        point("before raise")
        raise ValueError("from the generator")

    def in_except():
        try:
            raise KeyError("gen-key")
        except KeyError:
            yield "a"
            point("in except")
            log.append(f"gen handles {sys.exc_info()[1]!r}")
            yield "b"
        log.append(f"gen after except {sys.exc_info()[1]!r}")

    def outer_for():
        for x in last_item(3):
            yield x * 100

    def direct():
        yield 1
        amber.snapshot()
        log.append("direct goes on")
        yield 2

    def closing():
        try:
            for i in range(10):
                if i == 1:
                    point("closing")
                yield i
        finally:
            log.append("closing finally")

    if case == "exhaust":
        for v in last_item(3):
            log.append(f"got {v}")
        else:
            log.append("loop else")
    elif case == "send-return":
        for v in delegating():
            log.append(f"got {v!r}")
    elif case == "raise":
        try:
            for v in raising():
                log.append(f"got {v}")
        except ValueError as e:
            log.append(f"caught {e}")
    elif case == "except":
        for v in in_except():
            log.append(f"got {v} {sys.exc_info()[1]!r}")
    elif case == "nested-for":
        G = outer_for()
        for v in G:
            log.append(f"got {v}")
        log.append(f"G after: {list(G)}")
    elif case == "direct":
        for v in direct():
            log.append(f"got {v}")
    elif case == "close":
        for v in closing():
            log.append(f"got {v}")
            if v == 3:
                break
        log.append("after break")
    elif case == "next":
        def gen():
            amber.snapshot()
            yield 1
        next(gen())
    # What Amber imported to read the stack is not the program's (dis, __future__...).
    log.append(str(sorted(name for name in ("dis", "opcode", "__future__", "ctypes") if name in sys.modules)))
    print("\\n".join(log))
"""


@pytest.mark.parametrize("case", ["exhaust", "send-return", "raise", "except", "nested-for", "direct", "close"])
def test_a_snapshot_inside_generators_resumes_them_where_they_run(program, case):
    """Generators on the stack, driven by a ``for`` loop or a ``yield from``, are the program's
    own generators after a restore, resumed where they ran: they yield on, end the loop that
    drives them (its ``else`` as cold), return into a ``yield from``, raise into it, handle the
    exception of their ``except`` block, and are closed (``finally``) when a ``break`` drops them."""
    prog = program(GENERATOR_APP, name="app.py")
    cold = prog.cold(case)
    snap = prog.snapshot(case, check=False)
    assert snap.returncode == 0 and all(line.startswith("amber: note:") for line in snap.stderr.splitlines()), \
        snap.stderr
    restored = prog.restore(case, check=False)
    assert (restored.returncode, restored.stderr) == (0, "")
    assert restored.stdout.replace("restored at", "cold at") == cold.stdout
    assert len(cold.stdout.splitlines()) >= 3, cold.stdout


def test_a_generator_resumed_by_next_or_c_code_is_refused_naming_it(program):
    prog = program(GENERATOR_APP, name="app.py")
    p = prog.snapshot("next", check=False)
    assert p.returncode == 2 and not prog.image.exists()
    assert p.stderr.startswith("amber: error: amber.snapshot() was called inside gen() at "), p.stderr
    assert "the generator gen() is resumed by next(), send() or C code (list(), sum()...)" in p.stderr
    assert len(p.stderr.splitlines()) == 1 and p.stderr.rstrip().endswith("no image was written")


EVERY_POINT_APP = """
    import amber, sys

    K = int(sys.argv[1])
    calls = 0
    log = []


    def point(tag):
        global calls
        calls += 1
        if calls == K:
            amber.snapshot()
            log.append(f"the snapshot point: call {calls}, {tag}")


    class Box:
        def __init__(self, v):
            self.v = v

        def grow(self, n):
            for i in range(n):
                point(f"grow {i}")
                self.v += i
            return self.v


    def fib(n):
        a, b = 0, 1
        for _ in range(n):
            point(f"fib {a}")
            yield a
            a, b = b, a + b
        return a


    def chain(n):
        last = yield from fib(n)
        point(f"chain got {last}")
        yield -last


    class Ctx:
        def __init__(self, d):
            self.d = d

        def __enter__(self):
            return self

        def __exit__(self, kind, value, tb):
            log.append(f"exit {self.d} {kind.__name__ if kind else None}")
            return False


    def recurse(d):
        point(f"recurse {d}")
        if d == 0:
            raise ValueError("bottom")
        try:
            with Ctx(d):
                out = recurse(d - 1)
        except ValueError as e:
            point(f"recurse {d} handles {e}")
            out = [d * 10]
        return out + [d]


    def main():
        total = 0
        box = Box(1)
        total += box.grow(3)
        for x in chain(5):
            total += x
            point(f"main loop {x}")
        seen = [n for n in recurse(3)]
        total += sum(seen)
        i = 0
        while i < 3:
            i += 1
            try:
                if i == 2:
                    raise KeyError(i)
                point(f"while {i}")
            except KeyError:
                point(f"while {i} except {sys.exc_info()[1]!r}")
            finally:
                point(f"while {i} finally")
        else:
            point("while else")
        log.append(f"total {total} seen {seen}")
        return total


    result = main()
    print("\\n".join(log))
    print("calls", calls, "result", result)
"""


def test_a_snapshot_at_every_call_point_of_a_program_resumes_as_an_uninterrupted_run(program):
    """One program, snapshotted at each of its calls of ``point()`` in turn (the K-th call takes
    the snapshot): in a method's loop, a generator driven by a ``for`` loop and another by
    ``yield from`` (yielding, returning, its caller's loop going on), recursion under ``with``
    blocks and ``except`` handlers, a ``while`` loop's ``try``, ``except``, ``finally`` and
    ``else``. Each restore prints what an uninterrupted run prints."""
    prog = program(EVERY_POINT_APP, name="app.py")
    count = prog.cold("0").stdout.splitlines()[-1]
    calls = int(count.split()[1])
    assert count == f"calls {calls} result 22" and calls >= 25, count
    for k in range(1, calls + 1):
        cold = prog.cold(str(k))
        assert f"the snapshot point: call {k}, " in cold.stdout
        prog.snapshot(str(k))
        restored = prog.restore(str(k), check=False)
        assert (restored.returncode, restored.stderr, restored.stdout) == (0, "", cold.stdout), k


SHAPES_APP = """
    import amber, functools, sys

    case = sys.argv[1]

    def reraise():  # the handled exception raised again as it was restored (no traceback)
        try:
            raise KeyError("k")
        except KeyError:
            amber.snapshot()
            raise

    def twice_over():  # one generator driven by two nested for loops (3.13: FOR_ITER_GEN)
        def g():
            yield 0
            amber.snapshot()
            yield 1
            yield 2
        G = g()
        out = []
        for a in G:
            for b in G:
                out.append((a, b))
        return out

    def decorated():  # every decorator's fn(*args, **kwargs): CALL_FUNCTION_EX, through C on 3.11
        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*a, **k):
                return ("wrapped", fn(*a, **k))
            return wrapper

        @deco
        def work(x, *, y):
            amber.snapshot()
            return x + y
        return work(*[1], **{"y": 2})

    def init_twice():  # 3.13 runs a warmed-up class call's __init__ after a shim frame: refused
        class A:
            def __init__(self, i):
                if i == 1:
                    amber.snapshot()
        return [type(A(i)).__name__ for i in range(2)]

    def dict_loop():  # a for loop over a dict that changes after the restore: as cold, it ends so
        d = {"a": 1, "b": 2, "c": 3}
        out = []
        try:
            for k, v in d.items():
                if not out:
                    amber.snapshot()
                    d["b"] = 20  # (seen by the iterator)
                out.append((k, v))
                if len(out) == 2:
                    d["new"] = 0  # (changes its size: RuntimeError at the next step)
        except RuntimeError as e:
            out.append(str(e))
        return out

    try:
        print({"reraise": reraise, "twice": twice_over, "decorated": decorated, "init": init_twice,
               "dict": dict_loop}[case]())
    except KeyError as e:
        print("caught", repr(e))
"""


@pytest.mark.parametrize("case", ["reraise", "twice", "decorated", "dict"])
def test_shapes_of_stack_that_strangers_found(program, case):
    """Found by trying programs Amber was not written against: a bare ``raise`` of the handled
    exception crashed the driver; two nested loops over one generator were refused on 3.13; a
    decorator's ``fn(*args, **kwargs)`` was refused as C code on 3.11; a ``for`` loop over a
    dict went on over a copy of what was left, blind to the dict's changes."""
    prog = program(SHAPES_APP, name="app.py")
    cold = prog.cold(case)
    snap = prog.snapshot(case, check=False)
    assert snap.returncode == 0, snap.stderr
    restored = prog.restore(case, check=False)
    assert (restored.returncode, restored.stdout, restored.stderr) == (0, cold.stdout, ""), restored.stderr
    assert cold.stdout.strip() in ("caught KeyError('k')", "[(0, 1), (0, 2)]", "('wrapped', 3)",
                                   "[('a', 1), ('b', 20), 'dictionary changed size during iteration']")


def test_an_init_called_by_its_class_is_refused_also_once_warmed_up(program):
    """(3.13: on 18e8898 the restored call returned None instead of the instance.)"""
    prog = program(SHAPES_APP, name="app.py")
    p = prog.snapshot("init", check=False)
    assert p.returncode == 2 and "A.__init__() was called from C code, which cannot be resumed" in p.stderr, \
        p.stderr


def test_a_snapshot_in_a_module_being_imported_is_refused_naming_the_module(program):
    """(It was called "the main script", with ten frames of the import system and of Amber's
    import hooks in the line.)"""
    prog = program("import helper\n", name="app.py")
    (prog.dir / "helper.py").write_text("import amber\namber.snapshot()\n")
    p = prog.snapshot(check=False)
    line = p.stderr.strip()
    assert p.returncode == 2 and len(line.splitlines()) == 1, p.stderr
    assert line.startswith(f"amber: error: amber.snapshot() was called inside the body of module helper at "
                           f"{prog.dir / 'helper.py'}:2, called by the import system, called by the main script "
                           f"at {prog.script}:1: the body of module helper was called from C code"), line


def test_resumed_frames_count_toward_the_recursion_limit(program):
    """600 frames resumed, then 500 more calls: a RecursionError as in the uninterrupted run
    (on be680b2 each resumed frame ran from the driver's own depth: 'ok 500')."""
    prog = program("""
        import amber, sys
        def down(n):
            return 0 if n == 0 else 1 + down(n - 1)
        def f(n):
            if n == 0:
                amber.snapshot()
                return down(int(sys.argv[1]))
            return f(n - 1)
        try:
            print("ok", f(600))
        except RecursionError as e:
            print("RecursionError", e)
    """, name="app.py")
    for depth, expected in (("100", "ok 100"), ("500", "RecursionError maximum recursion depth exceeded")):
        assert prog.cold(depth).stdout.strip() == expected
        prog.snapshot(depth)
        assert prog.restore(depth).stdout.strip() == expected
