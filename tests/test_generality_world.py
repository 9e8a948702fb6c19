"""Generality of the world's rules, through the command line, each restore in a fresh process.

What is imported again at restore and what the program set on it: the fresh-import probe
follows what every module imported again imports (one copy of each module), attributes set on
classes and functions of modules imported again are set again, ``codecs.register_error``
handlers come back, the probe's failures name the module, children and subinterpreters of a
restored process see the program's interpreter configuration, and interpreter settings made
during start-up survive.
"""

import json
import sys
import textwrap

import pytest
from conftest import AMBER, run


def write_package(root, name: str, files: dict) -> None:
    pkg = root / name
    pkg.mkdir()
    for filename, source in files.items():
        (pkg / filename).write_text(textwrap.dedent(source))


def inspect_json(p) -> dict:
    return json.loads(run([*AMBER, "inspect", "--json", str(p.image)], cwd=p.dir, check=True).stdout)


# == 1. one copy of every module: what modules imported again import is imported again too ========

def test_a_module_a_base_set_package_imports_is_not_captured_beside_it(program):
    # encodings.idna is imported again (its package is in the base set); it imports stringprep
    # and re, which must then not be captured by value too.
    p = program('''
        import encodings.idna, re, stringprep, sys
        WORD = "bücher.example".encode("idna")
        if __name__ == "__main__":
            print(encodings.idna.stringprep is sys.modules["stringprep"] is stringprep)
            print(encodings.idna.re is sys.modules["re"] is re)
            print(WORD, "straße.de".encode("idna"))
    ''')
    cold = p.cold(check=True)
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout
    assert restored.stdout.startswith("True\nTrue\n")
    info = inspect_json(p)
    assert "stringprep" in info["modules"]["by_reference"]


def test_a_reexported_public_names_list_is_the_very_list(program):
    """collections.abc takes ``__all__`` from _collections_abc (imported again at restore, it
    names C types): captured by value, it refers to the fresh import's list, as a cold process's
    does; and one verification suffices (no difference found, nothing imported again for it)."""
    p = program('''
        import collections.abc, _collections_abc, typing
        if __name__ == "__main__":
            print(collections.abc.__all__ is _collections_abc.__all__, typing.Sequence[int])
    ''')
    cold = p.cold(check=True)
    snap = p.snapshot()
    assert "verifying once more" not in snap.stderr, snap.stderr
    assert p.restore().stdout == cold.stdout == "True typing.Sequence[int]\n"


def test_what_a_package_imported_again_imports_is_one_copy(program, tmp_path):
    # fastpkg.structs defines a ctypes structure (so fastpkg is imported again, whole);
    # fastpkg.util imports dataclasses and typing when it is imported again: the program's own
    # dataclasses must be the very module fastpkg.util uses, or the MISSING sentinel and the
    # typing caches differ between the two copies.
    write_package(tmp_path, "fastpkg", {
        "__init__.py": "",
        "structs.py": '''
            import ctypes
            class Point(ctypes.Structure):
                _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int)]
        ''',
        "util.py": '''
            import dataclasses, typing
            def defaults(obj):
                return {f.name: f.default for f in dataclasses.fields(obj)
                        if f.default is not dataclasses.MISSING}
            def is_list_alias(tp):
                return typing.get_origin(tp) is list
        ''',
    })
    p = program('''
        import dataclasses, sys, typing
        import fastpkg.structs, fastpkg.util
        @dataclasses.dataclass
        class Config:
            name: str
            retries: int = 3
        if __name__ == "__main__":
            print(fastpkg.util.dataclasses is sys.modules["dataclasses"] is dataclasses)
            print(fastpkg.util.typing is sys.modules["typing"] is typing)
            print(fastpkg.util.defaults(Config("x")), fastpkg.util.is_list_alias(typing.List[int]))
            print(fastpkg.structs.Point(1, 2).y)
    ''')
    cold = p.cold(check=True)
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout == "True\nTrue\n{'retries': 3} True\n2\n"
    info = inspect_json(p)
    assert {"dataclasses", "typing", "fastpkg.util"} <= set(info["modules"]["by_reference"])


# == 2. attributes set on classes and functions of modules imported again ==========================

def test_attributes_set_on_classes_and_functions_of_modules_imported_again(program):
    # collections.abc (naming C types), threading (describes the process) and collections
    # (imported by threading, where it does) are imported again at restore: what the program set
    # on their classes and functions, and the hook it put into threading, must be set again.
    p = program('''
        import collections, collections.abc, threading
        class Loose:
            fits = True
            def __len__(self): return 0
            def __getitem__(self, key): raise KeyError(key)
            def __iter__(self): return iter(())
        def hook(cls, other):
            return True if getattr(other, "fits", False) else NotImplemented
        collections.abc.MutableMapping.__subclasshook__ = classmethod(hook)
        threading.Thread.x = 1
        threading.current_thread.cache = {"a": 1}
        def counter_repr(self):
            return f"Counter of {len(self)}"
        collections.Counter.__repr__ = counter_repr
        def excepthook(args):
            print("hook saw", args.exc_type.__name__, flush=True)
        threading.excepthook = excepthook
        if __name__ == "__main__":
            print(issubclass(Loose, collections.abc.MutableMapping), threading.Thread.x,
                  threading.current_thread.cache, repr(collections.Counter("abc")))
            t = threading.Thread(target=lambda: 1 / 0)
            t.start(); t.join()
    ''')
    cold = p.cold(check=True)
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout == "True 1 {'a': 1} Counter of 3\nhook saw ZeroDivisionError\n"
    replayed = inspect_json(p)["replayed"]
    # (under whichever module of the two imports it again first: collections.abc on 3.11,
    # _collections_abc, which os imports earlier, on 3.13; the class is the same object)
    assert {"collections.abc: MutableMapping.__subclasshook__",
            "_collections_abc: MutableMapping.__subclasshook__"} & set(replayed), replayed
    assert "threading: excepthook, Thread.x, current_thread.cache" in replayed
    info = inspect_json(p)["modules"]
    # collections is imported again where a module imported again imports it (threading, on
    # 3.11 and 3.12); elsewhere it is captured by value, its changed class with it.
    if "collections" in info["by_reference"]:
        assert "collections: Counter.__repr__" in replayed
    else:
        assert "collections" in info["by_value"] and not [r for r in replayed if r.startswith("collections:")]


def test_attributes_set_on_classes_of_an_extension_that_claim_another_module(program):
    # _ast (an extension module, imported again) makes the classes ast.py (captured by value)
    # adds properties to at import: Constant.n, Tuple.dims. Those classes say their module is
    # "ast", yet they are _ast's own: what ast.py and the program set on them is set again
    # (found by the stdlib sweep).
    p = program('''
        import ast, _ast
        _ast.Name.note = "set by the program"
        if __name__ == "__main__":
            print("n" in vars(ast.Constant), "dims" in vars(ast.Tuple), ast.Constant(5).n,
                  ast.Name.__module__, ast.Name.note)
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == "True True 5 ast set by the program\n"
    p.snapshot()
    assert p.restore().stdout == cold.stdout
    assert "_ast: Constant.n, Constant.s, Name.note, Tuple.dims" in inspect_json(p)["replayed"]


def test_monkeypatches_of_a_package_imported_again_by_request(program, tmp_path):
    # --reimport json and a package of the program's own: a method replaced, a function's
    # attribute, a class attribute removed, a class's registry filled in place.
    write_package(tmp_path, "plugins", {"__init__.py": '''
        class Registry:
            handlers = {}
            legacy = "old"
        def lookup(name):
            return Registry.handlers.get(name, "none")
    '''})
    p = program('''
        import json, plugins
        def default(self, obj):
            return sorted(obj) if isinstance(obj, set) else json.JSONEncoder.__dict__["_orig"](self, obj)
        json.JSONEncoder._orig = json.JSONEncoder.default
        json.JSONEncoder.default = default
        json.dumps.cache = {"hits": 0}
        plugins.Registry.handlers["csv"] = "csv-handler"
        del plugins.Registry.legacy
        if __name__ == "__main__":
            print(json.dumps({"s": {3, 1, 2}}), json.dumps.cache)
            print(plugins.lookup("csv"), hasattr(plugins.Registry, "legacy"))
    ''')
    cold = p.cold(check=True)
    run([*AMBER, "snapshot", "--reimport", "json", "--reimport", "plugins", "-o", str(p.image), str(p.script)],
        cwd=p.dir, check=True)
    restored = p.restore()
    assert restored.stdout == cold.stdout == '{"s": [1, 2, 3]} {\'hits\': 0}\ncsv-handler False\n'
    info = inspect_json(p)
    assert {"json", "json.encoder", "plugins"} <= set(info["modules"]["by_reference"])
    replayed = info["replayed"]
    assert "json.encoder: JSONEncoder.default, JSONEncoder._orig" in replayed
    assert "json: dumps.cache" in replayed
    assert "plugins: Registry.handlers, Registry.legacy (removed)" in replayed


# == 3. codecs error handlers (and audit hooks) registered during start-up ========================

def test_codec_error_handlers_and_audit_hooks_are_registered_again(program, tmp_path):
    # The program's own handler (captured by value) is registered again; the handler a module
    # imported again registers while it is imported is that fresh module's, registered once by
    # its import (not replaced by a captured copy).
    write_package(tmp_path, "plugin", {"__init__.py": '''
        import codecs
        CALLS = []
        def _make():
            def handler(err):
                CALLS.append(err.start)
                return ("<plugin>", err.end)
            return handler
        HANDLER = _make()
        codecs.register_error("plugin", HANDLER)
    '''})
    p = program('''
        import codecs, sys
        import plugin
        def mine(err):
            return ("?" * (err.end - err.start), err.end)
        codecs.register_error("mine", mine)
        codecs.register_error("later", lambda err: ("first", err.end))
        codecs.register_error("later", lambda err: ("second", err.end))
        EVENTS = []
        sys.addaudithook(lambda event, args: EVENTS.append(event) if event == "amber.test" else None)
        if __name__ == "__main__":
            print("x\\u00e9\\u00e9".encode("ascii", errors="mine"), "\\u00e9".encode("ascii", errors="later"))
            print("\\u00e9".encode("ascii", errors="plugin"), plugin.CALLS,
                  codecs.lookup_error("plugin") is sys.modules["plugin"].HANDLER)
            sys.audit("amber.test")
            print(EVENTS)
    ''')
    cold = p.cold(check=True)
    run([*AMBER, "snapshot", "--reimport", "plugin", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    restored = p.restore()
    assert restored.stdout == cold.stdout == "b'x??' b'second'\nb'<plugin>' [0] True\n['amber.test']\n"
    assert "plugin" in inspect_json(p)["modules"]["by_reference"]


def test_modules_imported_again_see_what_site_put_into_builtins(program, tmp_path):
    # A cold start runs site before the program: quit, exit, help... are in builtins when the
    # program's modules are imported. torch.fx.graph copies builtins' namespace into a table
    # (the heap found builtins.quit there: KeyError at restore), dill keeps type(exit) (None at
    # restore, so the class of quit was rebuilt as None). Imported again, they see the same.
    write_package(tmp_path, "namer", {"__init__.py": '''
        import builtins
        NAMES = dict(builtins.__dict__)
        try:
            EXIT_TYPE = type(exit)
        except NameError:
            EXIT_TYPE = None
    '''})
    p = program('''
        import builtins
        import namer
        if __name__ == "__main__":
            print(sorted(n for n in ("quit", "exit", "help", "copyright", "credits", "license")
                         if n in namer.NAMES))
            print(namer.NAMES["quit"] is builtins.quit, namer.EXIT_TYPE is type(builtins.exit),
                  type(builtins.quit).__module__, builtins.help.__class__.__name__)
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == ("['copyright', 'credits', 'exit', 'help', 'license', 'quit']\n"
                           "True True _sitebuiltins _Helper\n")
    made = run([*AMBER, "snapshot", "--reimport", "namer", "-o", str(p.image), str(p.script)], cwd=p.dir,
               check=True)
    assert "changed state" not in made.stderr  # site.main()'s own changes are no change of the program's
    assert p.restore().stdout == cold.stdout
    info = inspect_json(p)
    by_ref = info["modules"]["by_reference"]
    assert "namer" in by_ref and "site" in by_ref and "_sitebuiltins" in by_ref and not info["replayed"]


def test_a_name_of_site_the_program_removed_from_builtins_stays_removed(program):
    # A restore puts site's names into builtins again before the imports; one the program
    # deleted at start-up (a sandbox's `del builtins.exit`) is deleted again.
    p = program('''
        import builtins
        del builtins.exit, builtins.copyright
        if __name__ == "__main__":
            print(hasattr(builtins, "exit"), hasattr(builtins, "copyright"), hasattr(builtins, "quit"))
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == "False False True\n"
    p.snapshot()
    assert p.restore().stdout == cold.stdout


# == 4. children and subinterpreters of a restored process see the program's configuration ========

def test_children_and_subinterpreters_get_the_programs_configuration(program):
    # A restore runs `python -I -S`; what the restored process hands on must be the program's:
    # the flags its subprocess and multiprocessing children are started with, and the
    # configuration a subinterpreter copies (site, so site-packages on its sys.path).
    pytest.importorskip("iniconfig")
    sub = "_interpreters" if sys.version_info >= (3, 13) else "_xxsubinterpreters"
    p = program(f'''
        import multiprocessing, os, subprocess, sys
        import {sub} as subinterpreters
        def flags():
            f = sys.flags
            return (f.isolated, f.no_site, f.ignore_environment, f.no_user_site, f.safe_path,
                    f.dont_write_bytecode, "site" in sys.modules)
        def child(queue):
            import iniconfig
            queue.put((flags(), subprocess._args_from_interpreter_flags()))
        if __name__ == "__main__":
            print("main", flags(), sys.warnoptions, subprocess._args_from_interpreter_flags())
            out = subprocess.run([sys.executable, "-c", "import sys, iniconfig; print(sys.flags.isolated)"],
                                 capture_output=True, text=True)
            print("subprocess", out.stdout.strip(), out.returncode)
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            proc = ctx.Process(target=child, args=(queue,))
            proc.start()
            print("spawned", queue.get(timeout=60))
            proc.join()
            r, w = os.pipe()
            interp = subinterpreters.create()
            subinterpreters.run_string(interp, "import os, sys\\n"
                                       "try:\\n import iniconfig; found = 'iniconfig found'\\n"
                                       "except ImportError as e:\\n found = repr(e)\\n"
                                       f"os.write({{w}}, repr((sys.flags.isolated, sys.flags.no_site, found, "
                                       "sys.path)).encode())\\n")
            os.close(w)
            print("subinterpreter", os.read(r, 65536).decode())
    ''')
    cold = p.cold(check=True, env={"PYTHONWARNINGS": "default::DeprecationWarning"})
    assert "iniconfig found" in cold.stdout and "main (0, 0, 0, 0, False" in cold.stdout
    p.snapshot(env={"PYTHONWARNINGS": "default::DeprecationWarning"})
    restored = p.restore()
    if sys.version_info[:2] == (3, 12):  # (a subinterpreter's first directory cannot be set on 3.12)
        cold.stdout = cold.stdout.replace(f"[{str(p.dir)!r}, ", "[")
    assert restored.stdout == cold.stdout


# == 5. the fresh-import probe: failures name the module, odd modules do not break it =============

def test_probe_failures_name_the_module_and_what_to_do(program, tmp_path):
    (tmp_path / "exits.py").write_text("import os, sys\nif sys.flags.isolated:\n    os._exit(3)\n")
    (tmp_path / "crashes.py").write_text("import sys\nif sys.flags.isolated:\n"
                                         "    import ctypes\n    ctypes.string_at(0)\n")
    p = program('''
        import exits, crashes
        if __name__ == "__main__":
            pass
    ''')
    for module, what in (("exits", "exited with code 3"), ("crashes", "was killed by SIGSEGV")):
        r = run([*AMBER, "snapshot", "--reimport", module, "-o", str(p.image), str(p.script)], cwd=p.dir)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        error = [line for line in lines if line.startswith("amber: error:")]
        assert len(error) == 1 and "Traceback" not in r.stderr, r.stderr
        assert f"importing {module} again in a fresh interpreter" in error[0] and what in error[0]
        assert f"hint: {module} must import in a fresh `python -I -S`" in error[0]
        assert not p.image.exists()


def test_modules_the_probe_cannot_describe_plainly_do_not_break_it(program, tmp_path):
    # A module held by reference that prints and reads standard input while it is imported,
    # has a namespace key that is no str and names that are str subclasses: the probe answers
    # on pipes of its own and describes what marshal cannot write by its type.
    write_package(tmp_path, "odd", {"__init__.py": '''
        import sys
        print("odd prints while it is imported", flush=True)
        sys.stdin.read()
        globals()[1] = "a key that is no str"
        class Text(str):
            pass
        class Named:
            pass
        Named.__qualname__ = Text("Named")
        LABEL = Text("label")
    '''})
    p = program('''
        import odd
        if __name__ == "__main__":
            print("restored", odd.Named.__qualname__, odd.LABEL)
    ''')
    cold = p.cold(check=True)
    run([*AMBER, "snapshot", "--reimport", "odd", "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)
    assert p.restore().stdout == cold.stdout == "odd prints while it is imported\nrestored Named label\n"


def test_a_probe_that_stops_answering_names_the_module(tmp_path):
    from amber._files import BOOT
    from amber.capture.world.probe import FreshImportProbe, ProbeError

    (tmp_path / "sleepy.py").write_text("import time\ntime.sleep(60)\n")
    with FreshImportProbe([str(tmp_path), *sys.path], BOOT, timeout=2) as probe:
        assert probe(["json"])["failed"] == {}
        with pytest.raises(ProbeError) as caught:
            probe(["sleepy"])
    message = str(caught.value)
    assert "importing sleepy again in a fresh interpreter" in message and "within 2 s" in message
    assert "\n" not in message


# == 6. interpreter settings made during start-up ==================================================

def test_interpreter_settings_made_during_start_up_survive(program):
    p = program('''
        import decimal, faulthandler, gc, locale, os, socket, sys, threading, time, warnings
        os.environ["TZ"] = "EST+05EDT,M3.2.0,M11.1.0"
        time.tzset()
        try:
            locale.setlocale(locale.LC_ALL, "C.UTF-8")
        except locale.Error:
            pass
        socket.setdefaulttimeout(7.5)
        sys.setrecursionlimit(4321)
        sys.setswitchinterval(0.002)
        sys.set_int_max_str_digits(5000)
        decimal.getcontext().prec = 50
        decimal.getcontext().rounding = decimal.ROUND_DOWN
        decimal.DefaultContext.prec = 12
        warnings.simplefilter("ignore", UserWarning)
        faulthandler.enable()
        threading.stack_size(1 << 20)
        gc.set_debug(gc.DEBUG_UNCOLLECTABLE)
        if __name__ == "__main__":
            print("tz", time.tzname, time.localtime(0).tm_hour)
            print("locale", [locale.setlocale(getattr(locale, c)) for c in ("LC_COLLATE", "LC_NUMERIC", "LC_TIME")])
            print("socket", socket.getdefaulttimeout())
            print("sys", sys.getrecursionlimit(), sys.getswitchinterval(), sys.get_int_max_str_digits())
            print("decimal", decimal.getcontext().prec, decimal.getcontext().rounding, decimal.Decimal(1) / 7)
            in_thread = []
            worker = threading.Thread(target=lambda: in_thread.append(decimal.getcontext().prec))
            worker.start(); worker.join()
            print("decimal in a new thread", in_thread)
            warnings.warn("hidden", UserWarning)
            print("faulthandler", faulthandler.is_enabled(), "stack", threading.stack_size(), "gc", gc.get_debug())
    ''')
    cold = p.cold(check=True)
    assert "tz ('EST', 'EDT') 19" in cold.stdout and "socket 7.5" in cold.stdout
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout
    assert restored.stderr == cold.stderr == ""
