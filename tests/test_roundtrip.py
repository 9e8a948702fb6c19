"""Each kind of object survives a snapshot and a restore in a fresh process, exactly as a cold run
computes it. The programs print what they see after the snapshot point; cold output must equal
restored output."""

import json

import pytest
from conftest import AMBER, run

KINDS = r'''
import abc, collections, dataclasses, enum, functools, re, typing, weakref
from typing import Generic, NamedTuple, Protocol, TypeVar

# functions: closures, defaults, keyword defaults, annotations, attributes, qualnames
def outer(a, b=2, *, c=3) -> int:
    x = [a]
    def inner(d: int = 4):
        x.append(d)
        return sum(x) + b + c
    return inner
closure = outer(1)
closure(10)
outer.tag = "tagged"
lam = lambda y=5: y * 2
gen_code = eval("lambda q: q + 1000")

# classes of every common shape
class Slotted:
    __slots__ = ("a", "b")
    def __init__(self): self.a = 1
class WithProps:
    count = 0
    def __init__(self, v): self._v = v
    @property
    def v(self): return self._v
    @v.setter
    def v(self, val): self._v = val
    @classmethod
    def make(cls): return cls(7)
    @staticmethod
    def twice(x): return 2 * x
WithProps.count = 41  # mutated after creation
class Meta(type):
    def __new__(mcs, name, bases, ns):
        ns["made_by_meta"] = True
        return super().__new__(mcs, name, bases, ns)
class UsesMeta(metaclass=Meta): pass
class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self): ...
class Square(Shape):
    def __init__(self, s): self.s = s
    def area(self): return self.s ** 2
class Virtual: pass
Shape.register(Virtual)
collections.abc.Sized.register(Virtual)
class Color(enum.Enum):
    RED = 1
    BLUE = 2
class Perm(enum.IntFlag):
    R = 4
    W = 2
@dataclasses.dataclass(frozen=True, order=True)
class FrozenPoint:
    x: int
    y: int = 0
@dataclasses.dataclass(slots=True)
class SlotPoint:
    x: int
    tags: list = dataclasses.field(default_factory=list)
class NT(NamedTuple):
    a: int
    b: str = "b"
T = TypeVar("T")
class Box(Generic[T]):
    def __init__(self, item: T): self.item = item
@typing.runtime_checkable
class Greets(Protocol):
    def greet(self) -> str: ...
Pair = collections.namedtuple("Pair", "left right")

# instances, containers, cycles, shared references
shared = [1, 2]
graph = {"a": shared, "b": shared, "t": (shared, "x"), "fs": frozenset({1, 2}), "s": {3, 4}}
graph["self"] = graph
node = {"next": None}; node["next"] = {"prev": node}
ws = weakref.WeakValueDictionary(); keep = Square(3); ws["k"] = keep
wk = weakref.WeakKeyDictionary(); wk[keep] = "v"
wref = weakref.ref(keep)
part = functools.partial(outer, 5, c=6)
bound = keep.area
@functools.lru_cache(maxsize=32)
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
fib(20)
pattern = re.compile(r"(?P<w>\w+)@(?P<d>\w+)", re.I)
err = ValueError("bad", 1)
class MyErr(Exception):
    def __init__(self, msg, code): super().__init__(msg); self.code = code
myerr = MyErr("boom", 7)
od = collections.OrderedDict([("z", 1), ("a", 2)])
dd = collections.defaultdict(list); dd["k"].append(1)
dq = collections.deque([1, 2, 3], maxlen=5)
cnt = collections.Counter("hello")
big = 2 ** 100
objs = [Slotted(), WithProps(3), UsesMeta(), FrozenPoint(1, 2), SlotPoint(3, ["t"]), NT(1), Box(9), Pair(1, 2)]

if __name__ == "__main__":
    print(closure(0), outer.tag, outer.__qualname__, outer.__defaults__, outer.__kwdefaults__, outer.__annotations__)
    print(lam(), gen_code(1), closure.__closure__[0].cell_contents)
    s = objs[0]; print(s.a, hasattr(s, "b"), Slotted.__slots__)
    w = objs[1]; w.v = 11; print(w.v, WithProps.count, WithProps.make().v, WithProps.twice(4))
    print(UsesMeta.made_by_meta, type(UsesMeta).__name__)
    print(Square(4).area(), isinstance(Virtual(), Shape), issubclass(Virtual, collections.abc.Sized))
    try:
        Shape()
    except TypeError as e:
        print("abstract:", e)
    print(Color.RED is Color(1), Color["BLUE"], list(Color), Perm.R | Perm.W, Perm(6))
    print(FrozenPoint(1, 2) == objs[3], FrozenPoint(0) < objs[3], hash(objs[3]) == hash(FrozenPoint(1, 2)))
    try:
        objs[3].x = 5
    except dataclasses.FrozenInstanceError:
        print("frozen")
    print(objs[4], objs[5], objs[5]._asdict(), objs[6].item, objs[7], Pair._fields)
    print(Box[int], typing.get_type_hints(FrozenPoint), isinstance(objs[1], Greets))
    print(graph["a"] is graph["b"], graph["self"] is graph, graph["t"][0] is shared, node["next"]["prev"] is node)
    print(sorted(graph["fs"]), sorted(graph["s"]), graph["t"])
    print(ws["k"].area(), wk[keep], wref() is keep, part().__qualname__, part()(1), bound())
    print(fib(25), fib.cache_info().maxsize, fib.__wrapped__.__name__)
    print(pattern.match("Ann@Example").groupdict(), pattern.flags & re.I)
    print(repr(err), err.args, repr(myerr), myerr.code, myerr.args)
    print(od, dict(dd), dq, cnt.most_common(2), big)
'''


def test_every_kind_round_trips(program):
    p = program(KINDS)
    cold = p.cold()
    assert cold.returncode == 0, cold.stderr
    p.snapshot()
    restored = p.restore()
    assert restored.stdout == cold.stdout
    assert restored.stdout.count("\n") == 19


def test_restore_twice_from_one_image(program):
    p = program("import json\nDATA = json.loads('[1, 2, 3]')\nif __name__ == '__main__':\n    DATA.append(4)\n    print(DATA)\n")
    p.snapshot()
    assert p.restore().stdout == "[1, 2, 3, 4]\n"
    assert p.restore().stdout == "[1, 2, 3, 4]\n"


def test_deep_linked_list(program):
    """A million nodes deep: no recursion on the graph's depth, neither saving nor restoring."""
    p = program('''
        class Node:
            __slots__ = ("value", "next", "prev")
        head = None
        for i in range(1_000_000):
            n = Node(); n.value = i; n.next = head; n.prev = None
            if head is not None:
                head.prev = n
            head = n
        nested = []
        for _ in range(100_000):
            nested = [nested]
        if __name__ == "__main__":
            count, cur, last = 0, head, None
            while cur is not None:
                count += 1; last = cur; cur = cur.next
            depth, cur = 0, nested
            while cur:
                depth += 1; cur = cur[0]
            print(count, last.value, last.prev.value, head.value, depth)
    ''')
    p.snapshot(timeout=600)
    assert p.restore(timeout=300).stdout == "1000000 0 1 999999 100000\n"


@pytest.mark.parametrize("point", ["call", "end"])
def test_snapshot_points(program, point):
    body = "import amber\nA = [1]\namber.snapshot()\nA.append(2)\nprint(A, amber.is_restored())\n"
    if point == "end":
        body = "import amber\nA = [1]\nprint('cold', A)\n"
    p = program(body)
    snap = p.snapshot()
    restored = p.restore()
    if point == "call":
        assert restored.stdout == "[1, 2] True\n"
        assert p.cold().stdout == "[1, 2] False\n"  # under plain python amber.snapshot() does nothing
    else:
        assert "nothing is left to run after restore" in snap.stderr
        assert restored.stdout == ""


def test_argv_environ_and_cwd(program, tmp_path):
    p = program('''
        import os, sys
        os.environ.setdefault("SETTINGS_MODULE", "app.settings")
        os.environ.pop("GONE_AT_START", None)
        START_ARGV = list(sys.argv)
        if __name__ == "__main__":
            print(sys.argv[1:], START_ARGV[1:], os.environ.get("SETTINGS_MODULE"), os.environ.get("GONE_AT_START"),
                  os.environ.get("ONLY_AT_RESTORE"), os.getcwd() == os.path.realpath("."))
            import subprocess
            print(subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('SETTINGS_MODULE'))"],
                                 capture_output=True, text=True).stdout.strip())
    ''')
    p.snapshot("snap-arg", env={"GONE_AT_START": "1"})
    out = p.restore("a", "b", env={"ONLY_AT_RESTORE": "yes", "GONE_AT_START": "back"}).stdout
    assert out == "['a', 'b'] ['snap-arg'] app.settings None yes True\napp.settings\n"


def test_module_mode(program, tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("VALUE = 40\n")
    (pkg / "__main__.py").write_text("import sys\nfrom mypkg import VALUE\nTOTAL = VALUE + 2\n"
                                     "if __name__ == '__main__':\n    print(TOTAL, __package__, sys.argv[1:])\n")
    from conftest import AMBER, run

    image = tmp_path / "m.amber"
    run([*AMBER, "snapshot", "-o", str(image), "-m", "mypkg"], cwd=tmp_path, check=True)
    out = run([*AMBER, "restore", str(image), "x"], cwd=tmp_path, check=True).stdout
    assert out == "42 mypkg ['x']\n"


STDLIB_VALUES = r'''
import datetime, decimal, fractions, uuid, pathlib, ipaddress, array, collections, enum, types, functools, operator, zoneinfo, io, string, struct, itertools, heapq, bisect, json, textwrap, email.message, urllib.parse, argparse, logging, dataclasses, inspect, typing
VALS = dict(
    dt=datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    zdt=datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("UTC")),
    td=datetime.timedelta(days=3), dd=datetime.date(2020, 2, 29),
    dec=decimal.Decimal("1.10"), ctx=decimal.getcontext().prec, fr=fractions.Fraction(3, 7),
    uid=uuid.UUID("12345678-1234-5678-1234-567812345678"), path=pathlib.Path("/tmp/x.txt"),
    ip=ipaddress.ip_network("10.0.0.0/8"), arr=array.array("d", [1.5, 2.5]),
    ns=types.SimpleNamespace(a=1), chain=collections.ChainMap({"a": 1}, {"b": 2}),
    ag=operator.attrgetter("real"), ig=operator.itemgetter(1), mc=operator.methodcaller("upper"),
    part=functools.partial(int, base=2), tmpl=string.Template("$x!"), st=struct.Struct("<iH"),
    bio=io.BytesIO(b"abc"), sio=io.StringIO("line"), msg=email.message.Message(),
    parsed=urllib.parse.urlparse("http://h/p?q=1"), rng=range(2, 10, 3), sl=slice(1, 5),
    cnt=itertools.count(5), mv=memoryview(b"xyz"), ell=..., ni=NotImplemented,
)
VALS["msg"]["Subject"] = "hi"
next(VALS["cnt"])
PARSER = argparse.ArgumentParser(prog="x"); PARSER.add_argument("--n", type=int, default=3)
SIG = inspect.signature(lambda a, b=2: None)
if __name__ == "__main__":
    for k, v in VALS.items():
        if k in ("bio", "sio"):
            v = v.getvalue()
        elif k == "cnt":
            v = next(v)
        elif k == "mv":
            v = bytes(v)
        elif k in ("ag", "ig", "mc"):
            v = v("ab") if k != "ag" else v(3)
        elif k == "st":
            v = v.pack(1, 2)
        elif k == "part":
            v = v("101")
        elif k == "msg":
            v = v["Subject"]
        elif k == "tmpl":
            v = v.substitute(x=1)
        print(k, repr(v))
    print(PARSER.parse_args([]), SIG)
'''


def test_common_stdlib_values(program):
    p = program(STDLIB_VALUES)
    cold = p.cold()
    assert cold.returncode == 0, cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout


def test_pickling_hooks_that_consume_or_mutate(program):
    """A dict subclass whose reduce gives its items as an iterator and whose __setstate__ pops
    from the state it is given (Django's MultiValueDict does both); and a lazy proxy that claims
    to be a dict through __class__ (Django's SimpleLazyObject). Amber tries each instance's
    hooks once before trusting them: that trial must use neither up."""
    p = program('''
        class Multi(dict):
            def __setitem__(self, k, v): dict.__setitem__(self, k, [v])
            def __getitem__(self, k): return dict.__getitem__(self, k)[-1]
            def appendlist(self, k, v): dict.setdefault(self, k, []).append(v)
            def getlist(self, k): return dict.__getitem__(self, k)
            def items(self): return ((k, self[k]) for k in self)
            def __getstate__(self): return {**self.__dict__, "_data": {k: self.getlist(k) for k in self}}
            def __setstate__(self, state):
                for k, v in state.pop("_data", {}).items():
                    dict.__setitem__(self, k, v)
                self.__dict__.update(state)

        class Proxy:
            def __init__(self, target): self.__dict__["_wrapped"] = target
            __class__ = property(lambda self: dict)
            def __getitem__(self, k): return self._wrapped[k]

        m = Multi()
        m.appendlist("a", 1); m.appendlist("a", 2); m.appendlist("b", (3, 4))
        m.note = "kept"
        lazy = Proxy({"x": 1})
        if __name__ == "__main__":
            print(len(m), m.getlist("a"), m.getlist("b"), m["a"], m.note, isinstance(lazy, dict), lazy["x"])
    ''')
    cold = p.cold()
    assert cold.stdout == "2 [1, 2] [(3, 4)] 2 kept True 1\n", cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout


def test_singleton_metaclass_over_a_c_base(program):
    """dateutil.tz.tzutc: a tzinfo subclass (C base, so its reduce calls the class) whose
    metaclass __call__ hands out one cached instance kept on the class itself."""
    p = program('''
        import datetime

        class Singleton(type):
            def __init__(cls, *args, **kwargs):
                cls._instance = None
                super().__init__(*args, **kwargs)

            def __call__(cls):
                if cls._instance is None:
                    cls._instance = super().__call__()
                return cls._instance

        class UTC(datetime.tzinfo, metaclass=Singleton):
            def utcoffset(self, dt):
                return datetime.timedelta(0)

        U = UTC()
        if __name__ == "__main__":
            print(UTC() is U, U.utcoffset(None), datetime.datetime(2024, 1, 1, tzinfo=U).isoformat())
    ''')
    cold = p.cold()
    assert cold.stdout == "True 0:00:00 2024-01-01T00:00:00+00:00\n", cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout


def test_qualname_set_by_wraps_equal_to_name(program):
    """functools.wraps gives a closure its wrapped function's __qualname__; when that equals its
    __name__ it must still win over the code's co_qualname (jinja2's async_variant filters)."""
    p = program('''
        import functools, pickle

        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*a):
                return fn(*a)
            return wrapper

        @deco
        def double(x):
            return 2 * x

        if __name__ == "__main__":
            print(double.__qualname__, pickle.loads(pickle.dumps(double))(4))
    ''')
    cold = p.cold()
    assert cold.stdout == "double 8\n", cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout


def test_instance_on_a_stateless_c_base_found_by_lookup(program):
    """SQLAlchemy's mapped attributes: instances of classes built on a C (Cython) base that adds
    no state, whose __reduce__ finds them again on the class that holds them. That class is
    still being rebuilt when the reduce would run, so Amber copies them field by field."""
    p = program('''
        import datetime

        def lookup(owner, key):
            return getattr(owner, key)

        class Attribute(datetime.tzinfo):      # a C base with no state of its own
            __slots__ = ("owner", "key")
            def __reduce__(self):
                return lookup, (self.owner, self.key)

        class Model:
            pass

        Model.id = Attribute()
        Model.id.owner, Model.id.key = Model, "id"
        if __name__ == "__main__":
            print(type(Model.id).__name__, Model.id.owner is Model, Model.id.key)
    ''')
    cold = p.cold()
    assert cold.stdout == "Attribute True id\n", cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout


def test_abc_registration_on_a_module_imported_again(program):
    """numbers is imported again at restore (the C decimal module imports it); a class the
    program registered on numbers.Real stays registered (sympy registers Float there)."""
    p = program('''
        import decimal, numbers

        class Money:
            pass

        numbers.Real.register(Money)
        if __name__ == "__main__":
            print(issubclass(Money, numbers.Real), isinstance(decimal.Decimal(1), numbers.Number))
    ''')
    cold = p.cold()
    assert cold.stdout == "True True\n", cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout
    info = json.loads(run([*AMBER, "inspect", "--json", str(p.image)], check=True).stdout)
    assert "numbers" in info["modules"]["by_reference"]


def test_ids_kept_as_numbers_follow_their_objects(program):
    """id()s kept as ints (pydantic's cache of deprecated methods, freezegun's ids of datetime's
    classes) name the same objects after restore, though those live at other addresses."""
    p = program('''
        import datetime

        class Model:
            def dict(self): return {}

        IDS = frozenset({id(Model.dict), id(datetime.datetime), id(len)})
        KEYED = {id(Model): "model"}
        PLAIN = 4096 * 1024  # an ordinary number stays what it is
        if __name__ == "__main__":
            print(id(Model.dict) in IDS, id(datetime.datetime) in IDS, id(len) in IDS, KEYED.get(id(Model)), PLAIN)
    ''')
    cold = p.cold()
    assert cold.stdout == "True True True model 4194304\n", cold.stderr
    p.snapshot()
    assert p.restore().stdout == cold.stdout


def test_hooks_that_leave_out_a_resource_are_honoured(program):
    """A class captured by value is copied field by field, except when its instance holds an
    open file or socket that its own __getstate__ leaves out: then its hooks are what it offers."""
    p = program('''
        import socket

        class Client:
            def __init__(self, path):
                self.log = open(path)
                self.sock = socket.socket()
                self.name = "svc"
            def __getstate__(self):
                return {"name": self.name}
            def __setstate__(self, state):
                self.__dict__.update(state, log=None, sock=None)

        C = Client(__file__)
        if __name__ == "__main__":
            print(C.name, C.log, C.sock)
    ''')
    p.snapshot()
    assert p.restore().stdout == "svc None None\n"


def test_properties_keep_where_their_doc_came_from(program):
    # A property whose doc is its getter's keeps that: its getter()/setter() copies take their
    # new getter's doc, as in a cold run. A property subclass keeps its doc in its __dict__ and
    # none in the property itself (abc.abstractproperty: importlib.abc.Traversable.name; found
    # by the stdlib sweep). An explicit doc stays explicit, a doc set to None stays None.
    p = program('''
import abc
def lend(self):
    "lent doc"
class A:
    @property
    def plain(self):
        "plain doc"
    @abc.abstractproperty
    def sub(self):
        "sub doc"
    explicit = property(lend, doc="explicit doc")
    nodoc = property(lend)
    nodoc.__doc__ = None
def g(self):
    "g doc"
if __name__ == "__main__":
    slot = property.__dict__["__doc__"]
    for name in ("plain", "sub", "explicit", "nodoc"):
        prop = A.__dict__[name]
        print(name, prop.__doc__, slot.__get__(prop), vars(prop) if type(prop) is not property else "",
              prop.getter(g).__doc__, prop.setter(g).__doc__)
''')
    cold = p.cold(check=True).stdout
    assert "plain plain doc plain doc  g doc plain doc\n" in cold
    assert "sub sub doc None {'__doc__': 'sub doc'} g doc" in cold
    p.snapshot()
    assert p.restore().stdout == cold
