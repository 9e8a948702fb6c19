"""State outside the heap, and kinds with special rules, restored in a fresh process."""

import os
import signal
import sys

import pytest


def test_callbacks_kept_inside_the_interpreter(program):
    p = program('''
        import atexit, codecs, os, sys
        def bye(tag):
            print("atexit", tag, flush=True)
        atexit.register(bye, "kept")
        atexit.register(bye, "dropped"); atexit.unregister(bye); atexit.register(bye, "again")
        def search(name):
            if name == "rot13x":
                return codecs.lookup("rot13")
        codecs.register(search)
        CHILD = []
        os.register_at_fork(after_in_child=lambda: CHILD.append("forked"))
        if __name__ == "__main__":
            print(codecs.encode("abc", "rot13x"), flush=True)
            pid = os.fork()
            if pid == 0:
                print("child sees", CHILD, flush=True)
                os._exit(0)
            os.waitpid(pid, 0)
    ''')
    cold = p.cold()
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout == "nop\nchild sees ['forked']\natexit again\n"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1")
def test_signal_handlers_excepthook_limits_warnings(program):
    p = program('''
        import gc, os, signal, sys, warnings
        signal.signal(signal.SIGUSR1, lambda signum, frame: print("got signal", signum == signal.SIGUSR1))
        def hook(kind, value, tb):
            print("custom excepthook:", kind.__name__, value)
        sys.excepthook = hook
        sys.setrecursionlimit(4321)
        gc.set_threshold(1234, 11, 12)
        warnings.simplefilter("error", DeprecationWarning)
        if __name__ == "__main__":
            os.kill(os.getpid(), signal.SIGUSR1)
            print(sys.getrecursionlimit(), gc.get_threshold())
            try:
                warnings.warn("old", DeprecationWarning)
            except DeprecationWarning as e:
                print("warning raised:", e)
            raise KeyError("uncaught")
    ''')
    cold = p.cold()
    p.snapshot()
    restored = p.restore(check=False)
    assert restored.returncode == cold.returncode == 1
    assert restored.stdout == cold.stdout
    assert "got signal True\n4321 (1234, 11, 12)\nwarning raised: old\ncustom excepthook: KeyError 'uncaught'" \
        in restored.stdout


def test_streams_and_logging_handlers_use_the_restoring_process(program, tmp_path):
    p = program('''
        import logging, sys
        OUT = sys.stdout
        log = logging.getLogger("app")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        if __name__ == "__main__":
            print("to stdout", file=OUT)
            log.info("to stderr")
    ''')
    p.snapshot()
    r = p.restore()
    assert r.stdout == "to stdout\n" and r.stderr == "app INFO to stderr\n"


def test_lru_caches(program):
    """An unbounded cache keeps its contents (keys hashed anew); a bounded one starts empty."""
    p = program('''
        import functools
        CALLS = []
        @functools.cache
        def square(x, scale=1):
            CALLS.append(x)
            return x * x * scale if isinstance(x, int) else None
        @functools.lru_cache(maxsize=8)
        def bounded(x):
            CALLS.append(("b", x))
            return -x
        for i in range(5):
            square(i)
        square(7, scale=2); square(("t", 1)); bounded(3)
        CALLS.clear()
        if __name__ == "__main__":
            print(square(3), square(7, scale=2), square(("t", 1)), CALLS)
            print(bounded(3), CALLS, square.cache_info().currsize)
    ''')
    p.snapshot()
    assert p.restore().stdout == "9 98 None []\n-3 [('b', 3)] 7\n"


def test_memoised_hashes_do_not_survive(program):
    """A hash computed under the snapshot's hash seed is reset: sets and dicts made after restore
    find restored objects, and equal objects hash equal."""
    p = program('''
        import pathlib
        P = pathlib.PurePosixPath("alpha/beta")
        hash(P)
        S = {P}
        D = {pathlib.PurePosixPath("gamma"): 1}
        class Memo:
            def __init__(self, s): self.s = s; self._hash = None
            def __eq__(self, o): return self.s == o.s
            def __hash__(self):
                if self._hash is None:
                    self._hash = hash(self.s)
                return self._hash
        M = Memo("delta"); hash(M)
        if __name__ == "__main__":
            Q = pathlib.PurePosixPath("alpha/beta")
            print(hash(P) == hash(Q), Q in S, P in {Q}, D[pathlib.PurePosixPath("gamma")])
            print(hash(M) == hash(Memo("delta")), Memo("delta") in {M})
    ''')
    p.snapshot()
    for _ in range(2):  # each restore has its own hash seed
        assert p.restore().stdout == "True True True 1\nTrue True\n"


def test_special_kinds(program):
    p = program('''
        import re, weakref, sys, contextvars, queue
        class Thing:
            pass
        A, B = Thing(), Thing()
        WS = weakref.WeakSet([A, B, Thing()])
        try:
            raise ValueError("kept")
        except ValueError as e:
            ERR = e
        PAT = re.compile(r"(?P<word>[a-z]+)-(\\d+)", re.I)
        VAR = contextvars.ContextVar("var", default="dflt")
        VAR2 = contextvars.ContextVar("var2")
        VAR2.set("set at start")
        Q = queue.SimpleQueue(); Q.put(1); Q.put("two")
        if __name__ == "__main__":
            print(len(WS), A in WS, ERR.__traceback__ is None, ERR.args)
            print(PAT == re.compile(PAT.pattern, PAT.flags), PAT.match("Ab-12").groupdict(), PAT.groupindex)
            print(VAR.get(), VAR2.get(), Q.get(), Q.get(), Q.empty())
    ''')
    p.snapshot()
    assert p.restore(timeout=60).stdout == ("2 True True ('kept',)\nTrue {'word': 'Ab'} {'word': 1}\n"
                                  "dflt set at start 1 two True\n")


def test_reimport_on_request(program, tmp_path):
    """amber.reimport("pkg") (and --reimport) imports a package again at restore instead of
    capturing it: its module body runs again, and objects in it are found by name. (The
    snapshot imports it twice more in fresh interpreters: to learn what that import does, and
    to verify the image.)"""
    log = tmp_path / "log"
    (tmp_path / "plugin.py").write_text(f"open({str(log)!r}, 'a').write('body\\n')\nREG = {{}}\n"
                                        "def get(): return REG\n")
    for how in ("api", "cli"):
        log.write_text("")
        call = "amber.reimport('plugin')" if how == "api" else ""
        p = program(f'''
            import amber, plugin
            {call}
            F = plugin.get
            if __name__ == "__main__":
                print(F is plugin.get, F() is plugin.REG)
        ''')
        from conftest import AMBER, run

        extra = ["--reimport", "plugin"] if how == "cli" else []
        run([*AMBER, "snapshot", *extra, "-o", str(p.image), str(p.script)], cwd=tmp_path, check=True)
        # The program, the fresh-import probe, and the verification's restore of the new image.
        assert log.read_text() == "body\nbody\nbody\n"
        log.write_text("")
        assert p.restore().stdout == "True True\n"
        assert log.read_text() == "body\n"


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_os_environ_is_the_restoring_processes(program):
    p = program('''
        import os
        START = os.environ.get("AMBER_TEST_VAR")
        if __name__ == "__main__":
            print(START, os.environ.get("AMBER_TEST_VAR"), os.getenv("AMBER_TEST_VAR"))
    ''')
    p.snapshot(env={"AMBER_TEST_VAR": "at-snapshot"})
    assert p.restore(env={"AMBER_TEST_VAR": "at-restore"}).stdout == "at-snapshot at-restore at-restore\n"
    assert os.environ.get("AMBER_TEST_VAR") is None


def test_documented_limit_hash_values_kept_as_numbers(program):
    """A documented limit (README, "Decisions"): a hash value the program keeps as a plain number
    (more-itertools' NumericRange._EMPTY_HASH = hash(range(0, 0))) is the snapshotting process's,
    and a restored process, with its own hash seed, computes another. Amber cannot tell such an
    int from any other. This reproducer shows the limit; if it fails, the limit is gone."""
    p = program('''
        KEPT = hash("amber")
        if __name__ == "__main__":
            print(KEPT == hash("amber"))
    ''')
    p.snapshot()
    assert p.cold().stdout == "True\n"
    assert p.restore().stdout == "False\n"


@pytest.mark.parametrize("start_up, expected", [("", "True"), ("gc.disable()", "False"),
                                                 ("gc.disable(); gc.enable()", "True")])
def test_the_collector_is_as_start_up_left_it(program, tmp_path, start_up, expected):
    """A restore runs with the garbage collector off (it only allocates what it keeps); the
    program resumes with it as its start-up left it, under amber restore and amber run."""
    from conftest import AMBER, run

    p = program(f"import gc\n{start_up}\nif __name__ == '__main__':\n    print(gc.isenabled())\n")
    assert p.cold(check=True).stdout.strip() == expected
    p.snapshot()
    assert p.restore().stdout.strip() == expected
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    for _ in range(2):  # the build, then the restore from the cache
        out = run([*AMBER, "run", "--wait", str(p.script)], cwd=p.dir, env=env, check=True).stdout
        assert out.strip() == expected


def test_what_a_restore_made_is_old_to_the_collector(program):
    """What the restore made (the heap, the modules imported again) is in the collector's oldest
    generation when the program resumes, as a cold start's start-up objects are by then: in the
    youngest, the first collection would walk all of it. Still visible to gc.get_objects()."""
    p = program('''
        import gc
        INDEX = {i: [i] for i in range(2000)}
        gc.collect()  # the cold start's long-lived objects are old by now
        if __name__ == "__main__":
            where = [g for g in range(3) if any(o is INDEX for o in gc.get_objects(g))]
            print(where, gc.isenabled(), INDEX[5])
    ''')
    cold = p.cold(check=True).stdout
    assert cold == "[2] True [5]\n"
    p.snapshot()
    assert p.restore().stdout == cold


def test_a_module_naming_interpreter_types_is_captured_by_value(program, tmp_path):
    """A module that names types a restore re-derives from the heap (``type(None)``, bound
    methods, wrapper descriptors) does not give them their only name: it is captured by value,
    not imported again for them."""
    import json

    from conftest import AMBER, run

    (tmp_path / "kinds.py").write_text(
        "NoneType = type(None)\nMethodType = type(type('C', (), {'f': lambda s: 0})().f)\n"
        "WrapperDescriptorType = type(object.__init__)\nEllipsisType = type(...)\n")
    p = program('''
        import kinds
        HELD = [kinds.NoneType, kinds.MethodType, kinds.WrapperDescriptorType, kinds.EllipsisType]
        if __name__ == "__main__":
            print([t.__name__ for t in HELD], HELD[0] is type(None), kinds.EllipsisType is type(...))
    ''')
    cold = p.cold(check=True).stdout
    p.snapshot()
    assert p.restore().stdout == cold
    info = json.loads(run([*AMBER, "inspect", "--json", str(p.image)], check=True).stdout)
    assert "kinds" in info["modules"]["by_value"], info["modules"]["by_reference"].get("kinds")


def test_interpreter_types_held_without_the_types_module(program):
    """Types only the ``types`` module names (the cell, function, code, method... types),
    held by a program that never imported ``types``: re-derived at restore, not imported."""
    p = program("""
import sys
HELD = {"cell": type((lambda x: lambda: x)(0).__closure__[0]), "function": type(lambda: 0),
        "code": type((lambda: 0).__code__), "mappingproxy": type(type.__dict__),
        "method_descriptor": type(str.join), "NoneType": type(None), "module": type(sys),
        "GenericAlias": type(list[int]), "SimpleNamespace": type(sys.implementation)}
if __name__ == "__main__":
    import types
    print(HELD["cell"] is types.CellType, HELD["function"] is types.FunctionType,
          HELD["code"] is types.CodeType, HELD["mappingproxy"] is types.MappingProxyType,
          HELD["method_descriptor"] is types.MethodDescriptorType, HELD["NoneType"] is type(None),
          HELD["module"] is types.ModuleType, HELD["GenericAlias"] is types.GenericAlias,
          HELD["SimpleNamespace"] is types.SimpleNamespace)
""")
    cold = p.cold(check=True).stdout
    assert cold.split() == ["True"] * 9
    p.snapshot()
    assert p.restore().stdout == cold


def test_warnings_a_module_gives_its_importer_are_attributed_as_under_python(program):
    # A module that warns at import with stacklevel=2 names its importer's frame. Amber's import
    # recorder wraps the import system's loading function while start-up runs; its frame must
    # count as the import system's (warnings skips those), or the warning would be attributed to
    # Amber: not shown (DeprecationWarning shows for __main__ only) and __warningregistry__ filled
    # in Amber's module instead of the importer's (found by the stdlib sweep: cgi, smtpd, aifc...).
    p = program('''
import sys
import old_api
import old_api_twice
if __name__ == "__main__":
    print(sorted(k for k in globals() if k == "__warningregistry__"),
          hasattr(old_api_twice, "__warningregistry__"), "linecache" in sys.modules)
''')
    (p.dir / "old_api.py").write_text('import warnings\nwarnings.warn("old_api is old", DeprecationWarning, stacklevel=2)\n')
    (p.dir / "old_api_twice.py").write_text('import inner_old\n')
    (p.dir / "inner_old.py").write_text('import warnings\nwarnings.warn("inner", DeprecationWarning, stacklevel=3)\n')
    cold = p.cold(check=True)
    assert "DeprecationWarning: old_api is old" in cold.stderr, cold.stderr
    assert cold.stdout == "['__warningregistry__'] False True\n", cold.stdout
    snap = p.snapshot()  # start-up runs there: its warnings are shown there, as in the cold run
    assert "DeprecationWarning: old_api is old" in snap.stderr, snap.stderr
    assert "DeprecationWarning: inner" in snap.stderr, snap.stderr
    assert p.restore().stdout == cold.stdout


def test_filters_added_while_amber_looks_at_objects_stay_out_of_the_program_s(program):
    # The verifier and the capture call the program's pickling hooks; one that starts a process
    # runs os.get_exec_path(), which adds a filter inside catch_warnings(). Amber's quiet copy of
    # warnings must take it (and catch_warnings drop it again), not the program's filters, which
    # are set again at restore when the program changed them (found by the stdlib sweep:
    # distutils, through platform.uname_result's __reduce__).
    p = program('''
import os, random, warnings
class Lazy:
    def __reduce__(self):
        os.get_exec_path()
        return (Lazy, ())
X = Lazy()
warnings.filterwarnings("ignore", category=UserWarning, module="quiet_here")
if __name__ == "__main__":
    print(len(warnings.filters), [f[2].__name__ for f in warnings.filters[:2]])
''')
    cold = p.cold(check=True).stdout
    assert cold == "6 ['UserWarning', 'DeprecationWarning']\n"
    p.snapshot()
    assert p.restore().stdout == cold


def test_coroutine_origin_tracking_is_as_start_up_set_it(program):
    """``sys.set_coroutine_origin_tracking_depth`` is an interpreter setting start-up may make:
    set again at restore, so coroutines made after it record where they were made."""
    p = program('''
        import sys
        sys.set_coroutine_origin_tracking_depth(3)
        async def job():
            pass
        if __name__ == "__main__":
            made = job()
            print(sys.get_coroutine_origin_tracking_depth(), made.cr_origin[0][2])
            made.close()
    ''')
    cold = p.cold(check=True).stdout
    assert cold == "3 <module>\n"
    p.snapshot()
    assert p.restore().stdout == cold


@pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="sys.monitoring is 3.12+")
def test_monitoring_tools_registered_at_start_up_go_on_after_restore(program):
    """A tool start-up registered with ``sys.monitoring`` (a profiler, a coverage tool): its id,
    its callbacks and the events it watches are the restored interpreter's too."""
    p = program('''
        import sys
        M = sys.monitoring
        SEEN = []
        def started(code, offset):
            if code.co_name == "work":
                SEEN.append(code.co_name)
        M.use_tool_id(M.PROFILER_ID, "counter")
        M.register_callback(M.PROFILER_ID, M.events.PY_START, started)
        M.set_events(M.PROFILER_ID, M.events.PY_START)
        def work():
            return 1
        if __name__ == "__main__":
            work(); work()
            print(M.get_tool(M.PROFILER_ID), M.get_events(M.PROFILER_ID) == M.events.PY_START, SEEN)
            M.set_events(M.PROFILER_ID, 0)
    ''')
    cold = p.cold(check=True).stdout
    assert cold == "counter True ['work', 'work']\n"
    p.snapshot()
    assert p.restore().stdout == cold
