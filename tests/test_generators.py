"""Suspended generators and coroutines anywhere in the heap resume where they were (issue 15,
section 2; amber.frames): restored in a fresh process, their output is an uninterrupted run's."""

import textwrap

from conftest import AMBER, run


def same_as_cold(program, source: str, lines: int) -> str:
    p = program(textwrap.dedent(source))
    cold = p.cold()
    assert cold.returncode == 0, cold.stderr
    p.snapshot()
    restored = p.restore(check=False)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == cold.stdout and len(cold.stdout.splitlines()) == lines, (cold.stdout, restored.stdout)
    return restored.stdout


def test_a_generator_suspended_in_a_loop_goes_on_where_it_was(program):
    """Its locals, the loop's iterator on its value stack, the value sent in, its return value."""
    same_as_cold(program, '''
        def counter(start, step=2):
            seen = [start]
            for i in range(start, start + 10 * step, step):
                got = yield i
                seen.append(got)
            return seen

        GEN = counter(5)
        FIRST = [next(GEN), GEN.send("a"), GEN.send("b")]
        if __name__ == "__main__":
            print(FIRST)
            print(GEN.send("c"), next(GEN))
            print(list(GEN))
            try:
                next(GEN)
            except StopIteration:
                print("done")
    ''', 4)


def test_nested_generators_and_a_generator_expression(program):
    """``yield from`` a generator suspended in turn, and a generator expression over a list."""
    same_as_cold(program, '''
        def inner(n):
            total = 0
            for k in range(n):
                total += (yield k) or 0
            return total

        def outer():
            result = yield from inner(4)
            yield ("inner returned", result)
            yield "end"

        OUTER = outer()
        next(OUTER); OUTER.send(10)
        SQUARES = (x * x for x in [3, 4, 5, 6])
        next(SQUARES)
        if __name__ == "__main__":
            print(OUTER.send(20), OUTER.send(30))
            print(list(OUTER))
            print(list(SQUARES))
    ''', 3)


def test_value_stacks_past_the_locals_and_iterators_of_every_kind(program):
    """A yield inside a call's arguments leaves the function and an empty slot (the NULL a call
    pushes) on the stack, past the frame's locals; loops over a sorted list, zip, enumerate of a
    map, itertools.count. Dropped after restore, each is closed as a cold one is."""
    same_as_cold(program, '''
        import gc, itertools
        D = {"a": 1, "b": 2, "c": 3}
        def over_dict():
            for k in sorted(D):
                yield k, D[k]
        def over_zip():
            for a, b in zip([1, 2, 3], "xyz"):
                yield a, b
        def over_enum():
            for i, x in enumerate(map(str.upper, ["p", "q", "r"])):
                yield i, x
        def over_count():
            try:
                for i in itertools.count(10, 5):
                    yield i
            finally:
                print("count closed")
        def call_arg():
            yield max((yield "first"), 7)
        GENS = [over_dict(), over_zip(), over_enum(), over_count(), call_arg()]
        for g in GENS:
            next(g)
        if __name__ == "__main__":
            for g in GENS[:-1]:
                print(list(itertools.islice(g, 3)))
            print(GENS[-1].send(3), GENS[-1].send(None) if False else "")
            del g, GENS
            gc.collect()
            print("end")
    ''', 7)


def test_closures_exceptions_and_a_generator_that_refers_to_itself(program):
    """Cells shared with the enclosing function, a yield inside an ``except`` block (the exception
    being handled goes on being handled) and inside ``try``/``finally``, and a generator kept in
    its own locals' reach."""
    same_as_cold(program, '''
        import sys

        def make():
            count = 0
            def gen():
                nonlocal count
                while True:
                    count += 1
                    yield count
            def peek():
                return count
            return gen(), peek

        COUNTER, PEEK = make()
        next(COUNTER); next(COUNTER)

        def handling():
            try:
                raise KeyError("being handled")
            except KeyError:
                yield "in except"
                yield repr(sys.exc_info()[1])
            try:
                yield "in try"
            finally:
                print("finally ran")

        HANDLING = handling()
        next(HANDLING)

        class Holder:
            def run(self):
                me = self
                yield me.gen is not None
                yield "self", me.gen.gi_running

        HOLDER = Holder()
        HOLDER.gen = HOLDER.run()
        next(HOLDER.gen)
        if __name__ == "__main__":
            print(next(COUNTER), PEEK(), next(COUNTER), PEEK())
            print(next(HANDLING), next(HANDLING))
            HANDLING.close()
            print(next(HOLDER.gen))
    ''', 4)


def test_a_context_manager_kept_open_exits_after_restore(program):
    """A ``contextlib.contextmanager`` entered before the snapshot point (a library holding a
    ``with`` open for the life of the process) is exited after restore: the rest of its
    generator runs, its ``finally`` included."""
    same_as_cold(program, '''
        import contextlib

        LOG = []

        @contextlib.contextmanager
        def session(name):
            LOG.append("open " + name)
            try:
                yield {"name": name}
            finally:
                LOG.append("close " + name)

        MANAGER = session("db")
        STATE = MANAGER.__enter__()
        if __name__ == "__main__":
            print(STATE, LOG)
            MANAGER.__exit__(None, None, None)
            print(LOG)
    ''', 2)


def test_a_suspended_coroutine_resumes(program):
    """A coroutine suspended in an ``await`` of an awaitable that yields: driven by hand, as an
    event loop would."""
    same_as_cold(program, '''
        class Step:
            def __await__(self):
                got = yield "step"
                return got

        async def job(n):
            total = 0
            for i in range(n):
                total += await Step()
            return total

        CORO = job(3)
        CORO.send(None); CORO.send(1)
        if __name__ == "__main__":
            print(CORO.send(2))
            try:
                CORO.send(3)
            except StopIteration as e:
                print("returned", e.value)
    ''', 2)


def test_amber_inspect_and_the_restore_do_not_leave_ctypes_in_the_program_s_modules(program):
    p = program(textwrap.dedent('''
        import sys
        def g():
            yield 1
            yield 2
        GEN = g(); next(GEN)
        if __name__ == "__main__":
            print(next(GEN), "ctypes" in sys.modules, "_ctypes" in sys.modules)
    '''))
    cold = p.cold(check=True).stdout
    assert cold == "2 False False\n"
    p.snapshot()
    assert p.restore().stdout == cold
    assert run([*AMBER, "inspect", str(p.image)], check=True).returncode == 0


def test_async_generators_and_an_async_with_kept_open(program):
    """An async generator suspended in a ``yield``, driven by hand and through an event loop
    after restore, and an ``asynccontextmanager`` entered before the snapshot point and exited
    after it (its ``finally`` runs)."""
    same_as_cold(program, '''
        import asyncio, contextlib

        async def ticks(n):
            for i in range(n):
                yield i * 10
            yield "last"

        def step(awaitable):
            try:
                awaitable.send(None)
            except StopIteration as e:
                return e.value

        TICKS = ticks(3)
        FIRST = step(TICKS.asend(None))
        LOG = []

        @contextlib.asynccontextmanager
        async def session(name):
            LOG.append("open " + name)
            try:
                yield name.upper()
            finally:
                LOG.append("close " + name)

        MANAGER = session("db")
        VALUE = step(MANAGER.__aenter__())
        if __name__ == "__main__":
            print(FIRST, step(TICKS.asend(None)), VALUE, LOG)
            async def rest():
                return [x async for x in TICKS]
            print(asyncio.run(rest()))
            step(MANAGER.__aexit__(None, None, None))
            print(LOG)
    ''', 3)


def test_a_generator_whose_code_changed_since_the_snapshot_is_not_resumed(program, tmp_path):
    """A module imported again at restore (here on request) whose source was edited after the
    snapshot gives the generator's function other code: the frame state is not written into it
    (that would run the new code from the old offsets and stack); the restore says why."""
    from conftest import AMBER, run

    helper = tmp_path / "helper.py"
    helper.write_text("def gen(n):\n    total = 0\n    for i in range(n):\n        total += i\n"
                      "        yield i, total\n")
    p = program('''
        import helper
        G = helper.gen(10)
        next(G)
        if __name__ == "__main__":
            print(list(G))
    ''')
    run([*AMBER, "snapshot", "--reimport", "helper", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    helper.write_text("import os\ndef gen(n):\n    a = b = c = d = 0\n    yield 'NEW'\n    while True:\n"
                      "        yield os.getpid() // os.getpid(), a, b, c, d\n")
    r = p.restore(check=False)
    assert r.returncode != 0 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.startswith("amber: error:") and "is not the code its suspended generator was captured in" \
        in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_dict_iterator_on_a_generator_s_stack_goes_on_over_the_dict(program):
    """A dict iterator held in a suspended frame is remade over the very dict, past what it
    handed out: it sees the dict change after the restore and raises when its size does, as in
    the program (until 8e575a5 it was a copy of what was left, which the verification refused)."""
    out = same_as_cold(program, '''
        D = {"a": 1, "b": 2, "c": 3}
        def keys():
            for k in D:
                yield k
        G = keys()
        next(G)
        if __name__ == "__main__":
            print(next(G))
            D["z"] = 9
            try:
                print(list(G))
            except RuntimeError as e:
                print("RuntimeError", e)
    ''', 2)
    assert out == "b\nRuntimeError dictionary changed size during iteration\n"


def test_exception_groups_and_a_generator_suspended_in_except_star(program):
    """An ExceptionGroup (made with its own constructor, which checks its exceptions) kept in a
    global, and a generator suspended in an ``except*`` handler, the rest of the group raised
    after restore."""
    same_as_cold(program, '''
        GROUP = ExceptionGroup("eg", [ValueError(1), KeyError("k")])
        def g():
            try:
                raise ExceptionGroup("inner", [ValueError(1), TypeError(2), KeyError(3)])
            except* ValueError as e:
                yield ("V", repr(e.exceptions))
            except* TypeError as e:
                yield ("T", repr(e.exceptions))
            yield "end"
        X = g()
        next(X)
        if __name__ == "__main__":
            print(repr(GROUP), GROUP.exceptions, type(GROUP.args[1]).__name__)
            try:
                print(next(X))
                print(next(X))
            except* KeyError as e:
                print("left", repr(e.exceptions))
    ''', 3)
