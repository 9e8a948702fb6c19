"""Generality of how objects are reduced and rebuilt (issue 12, section 2): one test per class of
failure, each through the real command line (cold run, ``amber snapshot``, ``amber restore`` in a
fresh process). Each program tries the rule on a few shapes, and prints what it sees after the
snapshot point; the restored output must equal the cold one."""

import pytest
from conftest import AMBER, Program, run


def same_as_cold(program: Program, lines: int) -> str:
    """Snapshot and restore ``program``; its restored output must be the cold run's (``lines``
    lines of it, so that a program that printed nothing cannot pass)."""
    cold = program.cold()
    assert cold.returncode == 0, cold.stderr
    snap = program.snapshot(check=False)
    assert snap.returncode == 0, snap.stderr
    restored = program.restore(check=False)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == cold.stdout
    assert cold.stdout.count("\n") == lines, cold.stdout
    return restored.stdout


def refused(program: Program) -> str:
    """Snapshot ``program``, which must be refused in one ``amber: error:`` report."""
    snap = program.snapshot(check=False)
    assert snap.returncode == 2, (snap.stdout, snap.stderr)
    first = [line for line in snap.stderr.splitlines() if not line.startswith("amber: note:")][0]
    assert first.startswith("amber: error:") and "Traceback" not in snap.stderr, snap.stderr
    return snap.stderr


def test_objects_are_judged_by_their_type_not_by_the_class_they_claim(program):
    """Class 4: a proxy that forwards ``__class__`` (and every other attribute) is an instance of
    its own class; what it wraps is judged where it is, as a field of the proxy. A proxy of
    sys.stderr is no open file, one of the main thread no running thread, one of a class no
    class, one of a module no module, one of a weak reference no weak reference."""
    p = program('''
        import json, sys, threading, weakref

        class Proxy:
            def __init__(self, target): object.__setattr__(self, "_target", target)
            __class__ = property(lambda self: type(self._target))
            def __getattr__(self, name): return getattr(self._target, name)

        class Target: pass
        closed = open(__file__); closed.close()
        proxies = {
            "stderr": Proxy(sys.stderr), "thread": Proxy(threading.main_thread()),
            "class": Proxy(Target), "module": Proxy(json), "weakref": Proxy(weakref.ref(Target)),
            "closed file": Proxy(closed), "function": Proxy(len), "dict": Proxy({"k": 1}),
        }
        if __name__ == "__main__":
            for name, proxy in proxies.items():
                print(name, type(proxy).__name__, proxy.__class__.__name__)
            got = proxies
            print(got["stderr"]._target is sys.stderr, got["thread"]._target is threading.main_thread(),
                  got["class"]._target is Target, got["module"].dumps([1]), got["weakref"]._target() is Target,
                  got["closed file"].closed, got["function"]._target("ab"), got["dict"].get("k"))
    ''')
    same_as_cold(p, 9)


def test_a_class_whose_slots_entry_was_deleted_is_still_a_class_statement(program):
    """Class 10: "made in C or by a class statement" comes from the type's flags, never from its
    dict: ``del Cls.__slots__`` leaves member descriptors without ``__slots__`` (as a C type made
    from a spec has), yet the class and its instances are captured by value, with their layout
    (no ``__dict__`` where there was none), private slots, and a ``__slots__`` rebound to a
    non-string value."""
    p = program('''
        class Slotted:
            __slots__ = ("a", "__private", "__weakref__")
            def __init__(self): self.a = 1; self.__private = [2]
            def private(self): return self.__private
        class Child(Slotted):
            __slots__ = ("c",)
        class Empty:
            __slots__ = ()
        class Rebound:
            __slots__ = ("x",)
        del Slotted.__slots__, Empty.__slots__
        Rebound.__slots__ = 42
        s, c, e, r = Slotted(), Child(), Empty(), Rebound()
        c.c = 3; r.x = "x"
        if __name__ == "__main__":
            print(type(s).__name__, s.a, s.private(), c.a, c.c, c.private(), r.x, Rebound.__slots__)
            print(hasattr(Slotted, "__slots__"), hasattr(Empty, "__slots__"), Child.__slots__)
            print(hasattr(s, "__dict__"), hasattr(e, "__dict__"), hasattr(r, "__dict__"))
            try:
                e.anything = 1
            except AttributeError:
                print("no __dict__")
    ''')
    same_as_cold(p, 4)


def test_class_entries_named_like_attributes_of_type(program):
    """Class 6: a class's own entries named like type's attributes (read-only ones such as
    ``__base__``, ``__mro__``, ``__flags__``; ``__name__``, ``__bases__`` and ``__class__``,
    whose setters would rename or re-parent the class) are rebuilt into the class's namespace
    as they were, and the class keeps its real name, bases and type; its instances and
    subclasses find the entries through the MRO after restore."""
    p = program('''
        class Meta(type):
            pass
        class A(metaclass=Meta):
            @classmethod
            def __base__(cls): return "my base"
            __mro__ = ("fake",)
            __name__ = "renamed"
            __flags__ = property(lambda self: 7)
            __bases__ = "bases"
            __text_signature__ = "(x)"
            __basicsize__ = __itemsize__ = __dictoffset__ = __weakrefoffset__ = 5
            __class__ = property(lambda self: int)
        class B(A):
            pass
        if __name__ == "__main__":
            d = A.__dict__
            print(d["__base__"].__func__(A), d["__mro__"], d["__name__"], d["__bases__"], d["__text_signature__"])
            print(d["__basicsize__"], d["__itemsize__"], d["__weakrefoffset__"], A().__flags__, B().__flags__)
            print(A.__name__, A.__qualname__, A.__base__, B.__mro__[1] is A, type(A).__name__, A.__bases__)
            print(A().__class__, type(B()).__name__, isinstance(A(), int), A.__basicsize__ == object.__basicsize__)
    ''')
    same_as_cold(p, 4)


def test_classes_with_their_own_dict_and_module_descriptors(program):
    """Class 11: a class that defines ``__dict__``, ``__module__`` or ``__weakref__`` for its
    instances (transparent proxies) keeps them, and its instances' state is read from and
    written to their real ``__dict__``: where the class itself added the dict, where a base
    did, and beside slots and a refusing ``__setattr__``."""
    p = program('''
        class Proxy:
            __dict__ = property(lambda self: {"fake": 1})
            __module__ = property(lambda self: "fakemod")
            __weakref__ = "mine"
            def __init__(self): self.a = 1; self.b = [2]
        class Base:
            pass
        class Sub(Base):
            __slots__ = ("s",)
            __dict__ = property(lambda self: {"sub": 1})
            def __setattr__(self, k, v): raise AttributeError(k)
        class Plain:
            __dict__ = property(lambda self: {"x": 0})
        p = Proxy(); p.c = 3
        s = Sub(); object.__setattr__(s, "z", 9); object.__setattr__(s, "s", 5)
        pl = Plain(); pl.y = 7
        if __name__ == "__main__":
            print(p.__dict__, p.__module__, p.a, p.b, p.c, Proxy.__dict__["__weakref__"], type(Proxy.__dict__["__module__"]).__name__)
            print(s.__dict__, s.z, s.s, pl.__dict__, pl.y, object.__getstate__(pl), object.__getstate__(p))
            p.d = 4
            print(object.__getstate__(p), p.__dict__)
    ''')
    same_as_cold(p, 3)


LAZY_MODULE = '''
import sys, types
class LazyModule(types.ModuleType):
    def __getattr__(self, name):
        with open(__file__ + ".touched", "a") as f:
            f.write(name + "\\n")
        if name == "answer":
            return 42
        raise AttributeError(name)
    def hello(self): return "hello from " + type(self).__name__
sys.modules[__name__].__class__ = LazyModule
'''


@pytest.mark.parametrize("reimport", [False, True], ids=["by-value", "imported-again"])
def test_modules_keep_their_module_subclass(program, reimport):
    """Class 12: a module whose class is a ``ModuleType`` subclass (set by the module itself at
    its end, or a module object made from such a class at run time, with no ``__file__``) keeps
    that class, captured by value or imported again; and capturing never runs a lazy module's
    ``__getattr__`` (PEP 562's or the subclass's): it writes a file when it runs."""
    p = program('''
        import sys, types
        import lazymod, pep562
        class Made(types.ModuleType):
            def __init__(self, name): raise RuntimeError("never called")
        made = types.ModuleType.__new__(Made); types.ModuleType.__init__(made, "made"); made.x = 5
        dyn = lazymod.LazyModule("dyn"); dyn.y = 6
        sys.modules["dyn"] = dyn
        if __name__ == "__main__":
            print(type(lazymod).__name__, lazymod.hello(), pep562.value, type(made).__name__, made.x, made.__name__)
            print(type(dyn).__name__, dyn.y, dyn.hello(), type(sys.modules["dyn"]).__name__, lazymod.answer)
    ''')
    (p.dir / "lazymod.py").write_text(LAZY_MODULE)
    (p.dir / "pep562.py").write_text(
        'def __getattr__(name):\n    open(__file__ + ".touched", "a").write(name + "\\n")\n'
        '    raise AttributeError(name)\nvalue = 1\n')
    cold = p.cold()
    assert cold.returncode == 0, cold.stderr
    for touched in p.dir.glob("*.touched"):
        touched.unlink()
    options = ["--reimport", "lazymod"] if reimport else []
    snap = run([*AMBER, "snapshot", *options, "-o", str(p.image), str(p.script)], cwd=p.dir)
    assert snap.returncode == 0, snap.stderr
    assert not list(p.dir.glob("*.touched")), "capture ran a lazy module's __getattr__"
    restored = p.restore()
    assert restored.stdout == cold.stdout and cold.stdout.count("\n") == 2


def test_dict_views_are_views_of_the_captured_dict(program):
    """Class 1: ``keys()``, ``values()`` and ``items()`` of a dict, an OrderedDict, a
    defaultdict, a mappingproxy, a class's namespace, the main module's and an imported
    module's globals are captured as views of the very dict they view: a change to the dict
    after restore shows in the view. So is a class's ``__dict__`` kept aside."""
    p = program('''
        import collections, json, types
        d = {"a": 1, "b": 2}
        k, v, i = d.keys(), d.values(), d.items()
        od = collections.OrderedDict(x=1); ok, oi = od.keys(), od.items()
        dd = collections.defaultdict(list); dd["q"].append(1); dk = dd.keys()
        mk = types.MappingProxyType(d).keys()
        class C:
            attr = 1
        ck, gk, jk, cmp = C.__dict__.keys(), globals().keys(), vars(json).keys(), C.__dict__
        holder = {"views": [k, v, i]}
        if __name__ == "__main__":
            d["c"] = 3; od["y"] = 2; dd["r"]; C.new = 5; json.added = 1
            print(list(k), list(v), list(i), list(ok), list(oi), list(dk), list(mk))
            print("new" in ck, "holder" in gk, "added" in jk, k.mapping == d, type(ok).__name__, holder["views"][0] is k)
            print("new" in cmp, cmp["attr"])
    ''')
    same_as_cold(p, 3)


def test_generators_that_have_not_started_or_have_finished(program):
    """Class 2: generators, coroutines and async generators that have not started are made again
    by calling their function with the arguments their frame holds (positional-only, defaults,
    ``*args``, keyword-only, ``**kwargs``, a bound method's ``self``, a closure whose cells stay
    shared with the enclosing scope); finished ones are closed ones of the same code."""
    p = program('''
        import asyncio, contextlib
        def outer():
            z = [0]
            def g(a, b=2, /, *rest, c, **kw):
                inner = lambda: a
                yield (a, b, rest, c, kw, z[0], inner())
            return g, z
        g, z = outer()
        fresh, done = g(1, 5, 6, c=3, k=4), g(1, c=2)
        list(done)
        def plain():
            yield 1
            yield 2
        p = plain()
        p.__qualname__ = "renamed"
        async def co(x): return x * 2
        c, cdone = co(21), co(1)
        cdone.close()
        async def ag(x):
            yield x
            yield x + 1
        a, adone = ag(10), ag(0)
        async def drain(agen): return [v async for v in agen]
        try:  # run to its end without asyncio (whose type cache would keep a C type of the run)
            drain(adone).send(None)
        except StopIteration:
            pass
        @contextlib.contextmanager
        def cm(v): yield v
        m = cm(7)
        class K:
            def meth(self, n): yield from range(n)
        kg = K().meth(3)
        if __name__ == "__main__":
            z[0] = 100
            print(next(fresh), list(done), p.__qualname__, list(p), fresh.__qualname__, done.gi_frame)
            print(asyncio.run(c), cdone.cr_frame, asyncio.run(drain(a)), asyncio.run(drain(adone)))
            with m as v:
                print("cm", v, list(kg), next(g(0, c=0))[5])
            try:
                asyncio.run(cdone)
            except RuntimeError as e:
                print(e)
    ''')
    same_as_cold(p, 4)


def test_an_async_generator_running_is_refused_by_name_and_a_with_kept_open_by_its_library(program):
    """Class 2: an async generator in the middle of an ``asend`` (its body awaiting, the awaitable
    of that ``asend`` held by whoever drives it: generators and coroutines suspended in a
    ``yield`` or an ``await`` are captured, tests/test_generators.py) is refused naming its
    function and where it stands; one that a ``contextlib.asynccontextmanager`` is entering (a
    library that enters a ``with`` at import) is refused naming the context manager and the
    library function that made it, with a workaround, which works."""
    lib = '''
import contextlib
STATE = []
class Pending:
    def __await__(self):
        yield "pending"
@contextlib.asynccontextmanager
async def session(name):
    STATE.append("open " + name)
    await Pending()
    try:
        yield name
    finally:
        STATE.append("close " + name)
def drive(awaitable):
    try:
        while awaitable.send(None) is not None:
            pass
    except StopIteration:
        pass
_active = session("global")
_entering = _active.__aenter__()
_entering.send(None)  # waits in Pending: the generator is running
'''
    p = program('''
        import lib
        class Pending:
            def __await__(self):
                yield "pending"
        async def counter():
            await Pending()
            yield 1
        running = counter()
        step = running.asend(None)
        step.send(None)
        if __name__ == "__main__":
            print(lib.STATE)
    ''')
    (p.dir / "lib.py").write_text(lib)
    err = refused(p)
    assert "__main__.running -> async_generator: an async generator of counter() running at " in err
    assert f"{p.dir / 'prog.py'}:7" in err
    assert "lib._active -> contextlib._AsyncGeneratorContextManager: a `with` block kept open: the " \
           "context manager made by lib.session()" in err
    assert "amber.before_snapshot" in err and "amber.after_restore" in err

    fixed = program('''
        import amber, lib
        @amber.before_snapshot
        def leave():
            lib.drive(lib._entering)
            lib.drive(lib._active.__aexit__(None, None, None))
            del lib._entering
        @amber.after_restore
        def enter():
            lib._active = lib.session("again")
            lib.drive(lib._active.__aenter__())
        if __name__ == "__main__":
            print(lib.STATE, type(lib._active.gen).__name__, lib._active.gen.ag_running)
    ''', name="fixed.py")
    fixed.snapshot()
    assert fixed.restore().stdout == \
        "['open global', 'close global', 'open again'] async_generator False\n"


def test_dead_weak_references_that_kept_a_hash(program):
    """Class 8: a weak reference hashed while its referent lived, and dead at the snapshot (or
    whose referent is held by nothing the image keeps), stays usable as a dict key and set
    item: the restored dict and set are filled with the restored reference, which is dead, equal
    only to itself, and hashable; a dead reference never hashed stays unhashable."""
    p = program('''
        import weakref
        class T: pass
        t = T(); r = weakref.ref(t); hash(r)
        d = {r: "dead key", "other": 1}
        s = {r}
        del t
        class Sub(weakref.ref):
            __slots__ = ("tag",)
        u = T(); sub = Sub(u); sub.tag = "tagged"; hash(sub); del u
        by_sub = {sub: "sub"}
        never = weakref.ref(T())
        if __name__ == "__main__":
            k = next(iter(d))
            print(k() is None, d[k], k in s, r in d, r is k, r == weakref.ref(T()), len(d), d.get(r), s == {r})
            print(by_sub[sub], sub.tag, sub() is None, type(sub).__name__, hash(r) == hash(r))
            try:
                hash(never)
            except TypeError as e:
                print("unhashable:", e)
    ''')
    same_as_cold(p, 3)


def test_saved_copies_of_replaced_builtin_functions(program):
    """Class 5: a builtin function the program moved away from its name (the saved hooks of
    ``sys.displayhook``, ``excepthook``, ``breakpointhook``, ``unraisablehook``; ``builtins.print``;
    an extension module's ``math.sqrt``, ``time.time`` as freezegun replaces it) is found by
    identity: the interpreter's own copy (``sys.__displayhook__``...) or the module's own
    function of that name, while the program's replacements stay in place."""
    p = program('''
        import builtins, math, sys, time
        saved = {"display": sys.displayhook, "except": sys.excepthook, "break": sys.breakpointhook,
                 "unraisable": sys.unraisablehook, "print": builtins.print, "sqrt": math.sqrt, "time": time.time}
        sys.displayhook = lambda v: saved["display"](v)
        sys.excepthook = lambda *a: saved["except"](*a)
        sys.breakpointhook = lambda *a: None
        sys.unraisablehook = lambda u: saved["unraisable"](u)
        builtins.print = lambda *a, **k: saved["print"]("P:", *a, **k)
        math.sqrt = lambda x: -1.0
        time.time = lambda: 0.0
        if __name__ == "__main__":
            print(saved["display"] is sys.__displayhook__, saved["except"] is sys.__excepthook__,
                  saved["break"] is sys.__breakpointhook__, saved["unraisable"] is sys.__unraisablehook__)
            print(saved["print"] is not builtins.print, saved["print"].__name__, saved["sqrt"](16.0), math.sqrt(16.0))
            print(saved["time"]() > 1e9, time.time(), sys.displayhook is not sys.__displayhook__)
    ''')
    same_as_cold(p, 3)


def test_static_methods_of_c_types_copied_into_a_class(program):
    """Class 5b: a static or class method of a C type kept elsewhere (``maketrans =
    str.maketrans`` in a class body, as ``collections.UserString`` has it; ``int.from_bytes``
    in a table): a static one's ``__self__`` reads None, so it is found again on the type its
    own reduce names."""
    p = program('''
        class Text:
            maketrans = str.maketrans
            frombytes = bytes.maketrans
        TABLE = {"from": int.from_bytes, "keys": dict.fromkeys, "hex": float.fromhex}
        if __name__ == "__main__":
            print(Text.maketrans("ab", "xy") == {97: 120, 98: 121}, Text.frombytes(b"a", b"b")[97])
            print(TABLE["from"](b"\\x01\\x00", "little"), TABLE["keys"]("ab"), TABLE["hex"]("0x1p4"))
    ''')
    same_as_cold(p, 2)


def test_names_an_object_claims_are_trusted_only_when_they_find_it(program):
    """Class 9: objects are found by identity in the modules imported again, under whatever name
    exports them (C types whose ``__module__.__qualname__`` is another object or nothing:
    ``_csv.Reader`` claims ``_csv.reader``, a function; ``_thread.LockType`` claims
    ``_thread.lock``; ``pyexpat.XMLParserType``, ``types.CellType``...). A name an object claims
    (its ``__module__`` and what its ``__reduce__`` returns) is used only when it finds that very
    object: a singleton whose class claims another module is not replaced by that module's
    value of the same name."""
    p = program('''
        import _csv, _thread, contextvars, pyexpat, types
        import liar
        TYPES = [_csv.Reader, _csv.Writer, _thread.LockType, pyexpat.XMLParserType, contextvars.ContextVar,
                 contextvars.Token, types.CellType, type({}.keys()), type(iter(range(1 << 70))), types.FrameType]
        held = liar.HELD[0]
        if __name__ == "__main__":
            print([f"{t.__module__}.{t.__qualname__}" for t in TYPES], TYPES[0] is _csv.Reader, TYPES[2] is _thread.LockType)
            print(repr(held), type(held).__name__, held.state)
    ''')
    (p.dir / "other.py").write_text('VALUE = "the value of other.VALUE"\n')
    (p.dir / "liar.py").write_text(
        'import other\n'
        'class Singleton:\n'
        '    __module__ = "other"  # claims a module that has another VALUE\n'
        '    def __init__(self): self.state = "its own state"\n'
        '    def __reduce__(self): return "VALUE"\n'
        '    def __repr__(self): return "the singleton"\n'
        'HELD = [Singleton()]\n')
    cold = p.cold()
    snap = run([*AMBER, "snapshot", "--reimport", "liar", "-o", str(p.image), str(p.script)], cwd=p.dir)
    assert snap.returncode == 0, snap.stderr
    restored = p.restore()
    assert restored.stdout == cold.stdout and cold.stdout.count("\n") == 2


def test_regular_expression_matches_are_matched_again(program):
    """Class 7: ``re.Match`` objects are made again by matching their pattern on their string at
    the same ``pos``/``endpos`` (``match``, ``search``, ``fullmatch``, and the n-th match of a
    scanner, as ``finditer`` and tokenizers find them; lookbehind and empty matches included);
    a match that matching again would not reproduce (its bytearray changed since) is refused
    with the reason."""
    p = program('''
        import re
        p = re.compile(r"(?P<w>\\w+)@(?P<d>\\w+)?")
        m1 = p.match("ann@example rest")
        m2 = p.search("xx bob@ yy", 2)
        m3 = re.fullmatch(rb"(a)(b)?", b"a")
        found = list(re.finditer(r"\\d+", "a1 b22 c333"))
        scanner = re.compile(r"\\s*(\\d+|\\+)").scanner("1 + 22 + 3")
        tokens = [scanner.match() for _ in range(3)]
        del scanner
        behind = list(re.finditer(r"(?<=a)b", "abab"))
        empty = list(re.finditer(r"x*", "ab"))
        if __name__ == "__main__":
            for m in [m1, m2, m3, *found, *tokens, *behind, *empty]:
                print(m, m.span(), m.groups(), m.pos, m.endpos, m.lastgroup)
            print(m1.re is p, m1["w"], m1.groupdict(), m2.string, m1.string is m1.string)
    ''')
    same_as_cold(p, 15)

    changed = program('''
        import re
        data = bytearray(b"key=value")
        m = re.match(rb"(\\w+)=(\\w+)", data)
        data[:] = b"!!"
        if __name__ == "__main__":
            print(m)
    ''', name="changed.py")
    err = refused(changed)
    assert "__main__.m -> re.Match: a regular expression match that matching its pattern again" in err


def test_instances_of_classes_on_c_bases_with_constructors_of_their_own(program):
    """Class 3: an instance whose C base makes its instances with a constructor of its own (ast
    nodes and subclasses of them, PyO3 classes such as pydantic_core's, decimal.Decimal,
    datetime.date) is never made with ``object.__new__`` (checked at snapshot time): it follows
    its class's own reduce protocol, and what the program stored on the instance beyond what
    that protocol returns (a subclass's attributes) is set on the rebuilt instance."""
    p = program('''
        import ast, datetime, decimal
        import pydantic_core
        tree = ast.parse("x = 1 + y")
        class MyNode(ast.expr):
            _fields = ("value",)
        class MyName(ast.Name):
            pass
        mine = MyNode(value=3); mine.extra = "e"
        named = MyName(id="q", ctx=ast.Load())
        class MyUrl(pydantic_core.Url):
            pass
        url = MyUrl("https://example.com/x")
        class MyError(pydantic_core.PydanticCustomError):
            pass
        error = MyError("kind", "msg {a}", {"a": 1})
        class Price(decimal.Decimal):
            pass
        price = Price("1.5"); price.currency = "EUR"
        class Day(datetime.date):
            pass
        day = Day(2020, 1, 2); day.note = "holiday"
        if __name__ == "__main__":
            print(ast.dump(tree), mine.value, mine.extra, type(mine).__name__, ast.dump(named))
            print(type(url).__name__, url, type(error).__name__, error.message(), price, price.currency, day, day.note)
    ''')
    same_as_cold(p, 2)


def test_classes_are_read_past_their_metaclass_getattribute_and_setattr(program):
    """Class 13: a reconstructor reads a class (its ``__mro__``, its namespace) through type's own
    descriptors and makes a class its own type through object's, never through the metaclass's
    ``__getattribute__`` or ``__setattr__``: that is the program's code, and it would run while the
    heap is half made (its ``super()`` cell empty, the globals it reads not set yet: httpx's
    ``codes``, an IntEnum whose metaclass warns on deprecated names, failed with "super(): empty
    __class__ cell"). The shapes: that enum, a slotted class whose metaclass hides names listed
    in a global bound after it, and a class made its own type under a read-only metaclass."""
    p = program('''
        import enum, warnings

        DEPRECATED = {"OLD_NOT_FOUND"}

        class CodesMeta(enum.EnumMeta):
            def __getattribute__(cls, name):
                if name in DEPRECATED:
                    warnings.warn(f"{name} is deprecated", DeprecationWarning, stacklevel=2)
                return super().__getattribute__(name)

        class Codes(enum.IntEnum, metaclass=CodesMeta):
            OK = 200
            NOT_FOUND = 404
            OLD_NOT_FOUND = 404

        class Hiding(type):
            def __getattribute__(cls, name):
                if name in HIDDEN:
                    raise AttributeError(name)
                return super().__getattribute__(name)

        class Slotted(metaclass=Hiding):
            __slots__ = ("a", "__dict__")
            def __init__(self): self.a = 1; self.b = 2

        HIDDEN = {"secret"}

        class ReadOnly(type):
            def __setattr__(cls, name, value):
                raise AttributeError(f"{name} is read-only")

        def sentinel(name):
            v = ReadOnly(name, (ReadOnly,), {})
            type.__setattr__(v, "__class__", v)
            return v

        slotted, by_code, NEED_DATA = Slotted(), {Codes.OK: "ok", Codes.NOT_FOUND: "nf"}, sentinel("NEED_DATA")
        if __name__ == "__main__":
            print(Codes(404).name, Codes.OK + 1, by_code[Codes.OK], sorted(Codes.__members__))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                Codes.OLD_NOT_FOUND
            print([str(w.message) for w in caught])
            print(slotted.a, slotted.b, type(slotted).__name__, hasattr(Slotted, "secret"))
            print(type(NEED_DATA) is NEED_DATA, NEED_DATA.__name__)
            try:
                NEED_DATA.x = 1
            except AttributeError as e:
                print(e)
    ''')
    same_as_cold(p, 5)


def test_a_lazy_proxy_is_not_set_up_by_the_capture(program):
    """Class 5c: a proxy whose ``__class__`` is a property that sets it up (Django's LazyObject)
    stays as the program left it: capture judges objects by ``type(obj)``, never by
    ``isinstance`` (which reads ``__class__``)."""
    p = program('''
        import random
        SETUPS = []

        class Lazy:
            def __init__(self):
                self._wrapped = None

            @property
            def __class__(self):
                if self._wrapped is None:
                    SETUPS.append("set up")
                    self._wrapped = random.Random(5)
                return type(self._wrapped)

        PROXY = Lazy()
        if __name__ == "__main__":
            print(SETUPS, PROXY._wrapped is None)
            print(PROXY.__class__.__name__, SETUPS)
    ''')
    same_as_cold(p, 2)


def test_exceptions_of_c_classes_keep_the_fields_their_init_sets(program):
    """An exception is rebuilt by the ``__new__`` of its nearest C class (OSError's own: the
    base's refuses it), and the fields C exception classes keep beside ``args``
    (``OSError.errno``, ``StopIteration.value``, ``ImportError.name``, ``AttributeError.obj``)
    are set again, unset ones left unset (``str()`` of an OSError shows a set ``filename2``)."""
    out = same_as_cold(program('''
        import amber, errno

        class Gone(OSError):
            def __init__(self, path):
                super().__init__(errno.ENOENT, "gone", path)
                self.extra = 1

        errors = [OSError(5, "io"), FileNotFoundError(2, "nf", "/x"), Gone("/p"), StopIteration(7),
                  SystemExit(3), ImportError("m", name="mod", path="/m.py"),
                  AttributeError("a", name="nm", obj=[1]), NameError("n", name="nn"),
                  UnicodeDecodeError("utf-8", b"\\xff", 0, 1, "bad"),
                  SyntaxError("s", ("f.py", 3, 4, "txt", 3, 5)), ExceptionGroup("g", [ValueError(1)])]
        amber.snapshot()
        fields = ("errno", "strerror", "filename", "filename2", "value", "code", "name", "path", "obj",
                  "encoding", "start", "lineno", "offset", "text", "exceptions", "extra")
        for e in errors:
            print(type(e).__name__, e.args, str(e), [getattr(e, f, "-") for f in fields])
    '''), 11)
    assert "Gone (2, 'gone') [Errno 2] gone: '/p' [2, 'gone', '/p', None" in out


def test_dict_iterators_are_remade_over_their_very_dict(program):
    """An iterator over a dict (kept by a suspended generator, or held as is) is remade over the
    restored dict, past what it handed out: it sees the program's changes to the dict after the
    restore, and a change of size ends it with RuntimeError, as in the program (it was a list
    iterator over a copy of what was left, which the verification refused in a generator)."""
    out = same_as_cold(program('''
        import amber
        d = {"a": 1, "b": 2, "c": 3}
        def g():
            for k in d:
                yield k
        gen = g()
        first = next(gen)
        items = iter(d.items())
        next(items)
        backwards = reversed(d.values())
        done = iter({})
        amber.snapshot()
        d["b"] = 20
        print(first, next(gen), next(items), list(backwards), list(done))
        d["x"] = 9
        for name, it in (("gen", gen), ("items", items)):
            try:
                print(name, list(it))
            except RuntimeError as e:
                print(name, "RuntimeError", e)
    '''), 3)
    assert "a b ('b', 20) [3, 20, 1] []" in out and "gen RuntimeError dictionary changed size" in out


def test_a_set_iterator_is_restored_over_a_copy_and_the_snapshot_says_so(program):
    """A set is rebuilt in another order where its items' hashes are salted: a loop's iterator
    over a set goes on over what it had left, and the snapshot says, with its path, that it will
    not see the set change (never silently; one held in a global is refused by the verification,
    its type differing)."""
    p = program('''
        import amber
        def f():
            out = []
            for x in {"a", "b", "c"}:
                if not out:
                    amber.snapshot()
                out.append(x)
            print(sorted(out))
        f()
    ''')
    cold = p.cold()
    snap = p.snapshot(check=False)
    assert "amber: note: 1 set iterator(s) are restored over a copy of what they had left" in snap.stderr
    assert "f() at " in snap.stderr and ": value stack[0]" in snap.stderr, snap.stderr
    assert p.restore().stdout == cold.stdout == "['a', 'b', 'c']\n"


def test_thread_objects_that_finished_or_never_started(program):
    """3.13 keeps a thread's state in a handle of C: a Thread object joined before the snapshot
    point (and one never started) are made again as such; on 3.13 both refused the image."""
    same_as_cold(program('''
        import amber, threading
        done = threading.Thread(target=lambda: None, name="done")
        done.start()
        done.join()
        later = threading.Thread(target=lambda: print("later ran"), name="later")
        amber.snapshot()
        print(done.name, done.is_alive(), done.join(), later.is_alive())
        later.start()
        later.join()
        print(later.is_alive())
    '''), 3)
