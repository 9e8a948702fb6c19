"""Fast layer: recipes -> pickle program (amber.capture.reduce + compile.planner + compile.compiler).

Tiny heaps are reduced, planned and compiled in-process against a World whose base set is this
process's ``sys.modules`` (so nothing is probed), plus a synthetic module captured by value.
Each program must load with ``pickle.loads`` into an equal structure (identity, cycles and
sharing kept), pass ``pickletools.dis``, and for a few graphs match a golden list of opcode
names, so that a change in the order of the stages (A shells, B plain fills, C registration,
D late steps, D2 hashing fills, E) fails here first.
"""

import copyreg
import io
import pickle
import pickletools
import random
import sys
import textwrap
import types

import pytest

from amber.capture.compile.compiler import HeapCompiler
from amber.capture.compile.planner import Planner
from amber.capture.reduce.recipes import named
from amber.capture.reduce.reducers import Reducers
from amber.capture.world.rules import World


class NoImports:
    order: list = []
    after_import: dict = {}

    def changed_since_import(self, name, attrs):
        return list(attrs)

    def members_changed_since_import(self, name):
        return {}

    def instances_changed_since_import(self, name):
        return {}


def no_probe(seeds):
    raise AssertionError(f"the probe ran for {seeds}")


def make_world(extra=()):
    """Everything loaded now is the base set (held by reference); ``extra`` modules are captured."""
    modules = dict(sys.modules)
    base = set(modules)
    for mod in extra:
        modules[mod.__name__] = mod
    return World(modules, base, {}, set(), NoImports(), no_probe)


@pytest.fixture(scope="module")
def world():
    return make_world()


def compile_heap(world, result, roots=(), registration=(), late=()):
    """The heap program whose result is ``result``; ``roots`` come first (modules, as the pipeline
    orders them), then the steps' arguments, then the result."""
    all_roots = [(f"root{i}", obj) for i, obj in enumerate(roots)]
    all_roots += [("<replay>", args) for _func, args in [*registration, *late]]
    all_roots.append(("<result>", result))
    plan = Planner(Reducers(world)).run(all_roots)
    assert not plan.offenders, {plan.path_to(oid): o.reason for oid, o in plan.offenders.items()}
    return HeapCompiler(plan, world.names).compile(result, list(registration), list(late)).program


def dis_ok(program):
    out = io.StringIO()
    pickletools.dis(program, out)  # raises on bad memo references or a stack left at STOP
    return out.getvalue()


def opnames(program):
    return [op.name for op, _arg, _pos in pickletools.genops(program)]


def round_trip(world, obj, **kw):
    program = compile_heap(world, obj, **kw)
    dis_ok(program)
    return pickle.loads(program)


# Found by name (this module is in the base set): the late stage makes its instances.
class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __reduce__(self):
        return (Pair, (self.a, self.b))

    def __eq__(self, other):
        return type(other) is Pair and (self.a, self.b) == (other.a, other.b)

    __hash__ = None


class HashedKey:
    """Hashes by Python code on its state: a dict keyed by it can be filled only once the keys'
    state is set."""

    def __init__(self, n):
        self.n = n

    def __hash__(self):
        return hash(("HashedKey", self.n))

    def __eq__(self, other):
        return type(other) is HashedKey and other.n == self.n


class StatefulKey(HashedKey):
    """Has a reduce protocol of its own, so (its module being held by reference) its instances
    are made late, by their own reduce, and their state is set by ``__setstate__`` in stage D.
    (A ``__getstate__`` alone would not do: such instances are copied field by field.)"""

    def __getstate__(self):
        return dict(self.__dict__)

    def __reduce_ex__(self, protocol):
        return (copyreg.__newobj__, (type(self),), self.__getstate__())

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __hash__(self):
        return hash(("StatefulKey", self.n))

    def __eq__(self, other):
        return type(other) is StatefulKey and other.n == self.n


def record(log, stage, target):
    log.append((stage, len(target)))


# == round trips ==================================================================================

@pytest.mark.parametrize("value", [
    [],
    [1, 2.5, "three", None, True, b"four"],
    {"a": 1, "b": [2, 3], 4: (5, 6)},
    (1, (2, (3, ()))),
    {1, 2, 3},
    frozenset({"x", "y"}),
    bytearray(b"\x00\x01"),
    complex(1, -2),
    [2**70, -(2**70), 255, 256, 65536, -1],
    {"nested": {"deeper": {"deepest": [[], {}, set()]}}},
])
def test_plain_values_round_trip(world, value):
    got = round_trip(world, value)
    assert got == value and type(got) is type(value)


def test_dict_order_is_kept(world):
    d = {k: i for i, k in enumerate("zyxwvu")}
    assert list(round_trip(world, d)) == list("zyxwvu")


def test_shared_references_stay_shared(world):
    shared = [1]
    inner = {"s": shared}
    got = round_trip(world, [shared, shared, inner, (shared,)])
    assert got[0] is got[1] is got[2]["s"] is got[3][0]
    assert got[0] == [1]


def test_cycles(world):
    lst = []
    lst.append(lst)
    d = {}
    d["self"] = d
    t_holder = []
    t = (t_holder,)
    t_holder.append(t)  # a tuple that reaches itself through a list
    got_l, got_d, got_t = round_trip(world, (lst, d, t))
    assert got_l[0] is got_l
    assert got_d["self"] is got_d
    assert type(got_t) is tuple and got_t[0][0] is got_t


def test_objects_found_by_name_are_the_same_objects(world):
    got = round_trip(world, [len, dict, sys, pickle.loads, Pair])
    assert got[0] is len and got[1] is dict and got[2] is sys and got[3] is pickle.loads and got[4] is Pair


def test_late_objects_are_made_by_their_reduce(world):
    p = Pair(1, [2])
    got = round_trip(world, {"p": p, "again": p})
    assert type(got["p"]) is Pair and got["p"] == Pair(1, [2])
    assert got["p"] is got["again"]


HEAP_MODULE = '''
class Point:
    scale = 10

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm1(self):
        return (abs(self.x) + abs(self.y)) * self.scale

    def __repr__(self):
        return f"Point({self.x}, {self.y})"


class Key:
    def __init__(self, n):
        self.n = n

    def __hash__(self):
        return hash(("Key", self.n))

    def __eq__(self, other):
        return type(other) is Key and other.n == self.n


def make_index(*keys):
    return {Key(k): f"value {k}" for k in keys}


counter = [0]


def bump():
    counter[0] += 1
    return counter[0]
'''


@pytest.fixture(scope="module")
def heapmod():
    mod = types.ModuleType("amber_unit_heapmod")
    mod.__file__ = "/fake/amber_unit_heapmod.py"
    exec(compile(textwrap.dedent(HEAP_MODULE), mod.__file__, "exec"), mod.__dict__)
    return mod


@pytest.fixture(scope="module")
def heap_world(heapmod):
    w = make_world([heapmod])
    assert not w.is_by_ref_module(heapmod.__name__)
    return w


def test_a_module_captured_by_value_with_a_class_and_its_methods(heap_world, heapmod):
    p = heapmod.Point(3, -4)
    result = {"module": heapmod, "point": p}
    got = round_trip(heap_world, result, roots=[heapmod])
    mod, point = got["module"], got["point"]
    assert mod is not heapmod and isinstance(mod, types.ModuleType) and mod.__name__ == heapmod.__name__
    assert type(point) is mod.Point and type(point) is not heapmod.Point
    assert (point.x, point.y) == (3, -4) and point.norm1() == 70
    mod.Point.scale = 1  # the restored class is its own object, read through the method
    assert point.norm1() == 7 and heapmod.Point.scale == 10
    assert mod.bump.__globals__ is mod.__dict__
    assert (mod.bump(), mod.bump()) == (1, 2) and mod.counter == [2] and heapmod.counter == [0]
    assert mod.Point.norm1.__code__.co_filename == "/fake/amber_unit_heapmod.py"


def test_dict_keyed_by_python_hashes_is_filled_after_the_keys(heap_world, heapmod):
    index = heapmod.make_index(1, 2, 3)
    got = round_trip(heap_world, {"module": heapmod, "index": index}, roots=[heapmod])
    mod, restored = got["module"], got["index"]
    assert [k.n for k in restored] == [1, 2, 3]
    # Lookups work: every key was hashed with its state set, under the restored class.
    assert restored[mod.Key(2)] == "value 2"
    assert mod.Key(4) not in restored
    assert all(type(k) is mod.Key for k in restored)


def test_set_of_python_hashed_keys_in_a_cycle(heap_world, heapmod):
    k = heapmod.Key(7)
    holder = {k}
    k.back = holder  # the key refers to the set it is in
    # The walk reaches the key before the set: in post-order the set comes first, so only the
    # separate last pass (D2) fills it after the key's state is set.
    got = round_trip(heap_world, {"module": heapmod, "key": k, "set": holder}, roots=[heapmod])
    (key,) = got["set"]
    assert key is got["key"] and key.n == 7
    assert key.back is got["set"] and got["module"].Key(7) in got["set"]


def test_late_key_in_a_cycle_with_its_set_is_hashed_after_its_state(world):
    # The walk reaches the key before the set and the dict, and the key's state refers to both:
    # in post-order they come before the key, so only the separate last pass (D2) fills them
    # after the key's __setstate__ (otherwise __hash__ runs without ``n``).
    k = StatefulKey(7)
    holder = {k}
    d = {k: "seven"}
    k.back, k.index = holder, d
    program = compile_heap(world, {"key": k, "set": holder, "dict": d})
    dis_ok(program)
    names = opnames(program)
    assert names.index("ADDITEMS") > names.index("BUILD") and names.index("SETITEMS", names.index("BUILD")) > 0
    got = pickle.loads(program)
    key = got["key"]
    assert type(key) is StatefulKey and key.n == 7
    assert key.back is got["set"] and key.index is got["dict"]
    assert got["set"] == {StatefulKey(7)} and next(iter(got["set"])) is key
    assert got["dict"][StatefulKey(7)] == "seven"


def test_instance_cycles_and_sharing(heap_world, heapmod):
    a, b = heapmod.Point(1, 2), heapmod.Point(3, 4)
    a.other, b.other = b, a
    a.tags = b.tags = ["shared"]
    got = round_trip(heap_world, {"module": heapmod, "a": a}, roots=[heapmod])
    ga = got["a"]
    assert ga.other.other is ga and ga.tags is ga.other.tags == ["shared"]


def test_registration_runs_before_late_makes_and_late_steps_after(world):
    log = []
    later = [Pair(1, 2)]  # filled in stage D: its item is made late
    step = named(__name__, "record")
    got = round_trip(world, {"log": log, "later": later},
                     registration=[(step, (log, "C", later))], late=[(step, (log, "E", later))])
    assert got["log"] == [("C", 0), ("E", 1)]
    assert got["later"] == [Pair(1, 2)]


def test_every_program_leaves_only_its_result(world):
    program = compile_heap(world, {"a": [Pair(1, 2)], "b": {HashedKey(1): 1}})
    assert "stack not empty" not in dis_ok(program)
    assert opnames(program)[-1] == "STOP" and opnames(program)[0] == "PROTO"


def test_container_read_by_a_late_make_waits_for_its_keys_state(world):
    k = StatefulKey(1)
    d = {k: "v"}
    k.ref = d  # the key's state refers to the dict it is a key of
    p = Pair(d, None)  # made late, by its own __reduce__, which reads the dict at once
    got = round_trip(world, [k, p])  # the walk reaches k first: d comes before k in post-order
    assert got[1].a[StatefulKey(1)] == "v" and got[0].ref is got[1].a


def test_setstate_sees_late_values_of_its_state(world):
    k = StatefulKey(1)
    p = Pair(k, None)  # made late, from k
    k.ref = p  # k's state (set by __setstate__, late) refers back to p
    got = round_trip(world, [p])  # reached from p: k's state is applied before p exists
    assert vars(got[0].a) == {"n": 1, "ref": got[0]}


# == golden opcode lists ==========================================================================
# Names only (memo indexes may move). A: shells, B: plain fills, D: late makes and their fills,
# D2: fills whose keys hash by the program's code, then the result.

def test_golden_list_shell_then_fill(world):
    assert opnames(compile_heap(world, [1, 2])) == [
        "PROTO",
        "EMPTY_LIST", "MEMOIZE", "POP",  # A
        "BINGET", "MARK", "BININT1", "BININT1", "APPENDS", "POP",  # B
        "BINGET", "STOP",
    ]


def test_golden_shared_tuple_in_a_dict(world):
    shared = []
    assert opnames(compile_heap(world, {"k": (shared, shared)})) == [
        "PROTO",
        "EMPTY_DICT", "MEMOIZE", "POP",  # A: the dict,
        "EMPTY_LIST", "MEMOIZE", "POP",  # the list,
        "BINGET", "BINGET", "TUPLE2", "MEMOIZE", "POP",  # the tuple of it twice
        "BINGET", "MARK", "SHORT_BINUNICODE", "MEMOIZE", "BINGET", "SETITEMS", "POP",  # B
        "BINGET", "STOP",
    ]


def test_golden_late_make_waits_for_plain_fills(world):
    assert opnames(compile_heap(world, [Pair(1, 2), [3]])) == [
        "PROTO",
        "EMPTY_LIST", "MEMOIZE", "POP",  # A: the outer list,
        "EMPTY_LIST", "MEMOIZE", "POP",  # the inner list,
        "SHORT_BINUNICODE", "MEMOIZE", "SHORT_BINUNICODE", "MEMOIZE", "STACK_GLOBAL", "MEMOIZE", "POP",  # Pair
        "BINGET", "MARK", "BININT1", "APPENDS", "POP",  # B: [3]; the outer list waits for Pair(1, 2)
        "BINGET", "BININT1", "BININT1", "TUPLE2", "REDUCE", "MEMOIZE", "POP",  # D: Pair(1, 2)
        "BINGET", "MARK", "BINGET", "BINGET", "APPENDS", "POP",  # D: the outer list
        "BINGET", "STOP",
    ]


def test_golden_hashing_fill_comes_after_the_keys_state(world):
    # A dict keyed by a Python __hash__ is filled last (D2), after the key is made and its state
    # set (D): filled earlier, the key would hash without its field.
    program = compile_heap(world, {HashedKey(5): "five"})
    assert opnames(program) == [
        "PROTO",
        "EMPTY_DICT", "MEMOIZE", "POP",  # A: the dict,
        "SHORT_BINUNICODE", "MEMOIZE", "SHORT_BINUNICODE", "MEMOIZE", "STACK_GLOBAL", "MEMOIZE", "POP",  # HashedKey
        "SHORT_BINUNICODE", "MEMOIZE", "SHORT_BINUNICODE", "MEMOIZE", "STACK_GLOBAL", "MEMOIZE",  # D: object.__new__
        "BINGET", "TUPLE1", "REDUCE", "MEMOIZE", "POP",  # (HashedKey)
        "BINGET", "EMPTY_DICT", "MARK", "SHORT_BINUNICODE", "MEMOIZE", "BININT1", "SETITEMS", "BUILD", "POP",  # n=5
        "BINGET", "MARK", "BINGET", "SHORT_BINUNICODE", "MEMOIZE", "SETITEMS", "POP",  # D2: the dict's item
        "BINGET", "STOP",
    ]
    got = pickle.loads(program)
    assert got == {HashedKey(5): "five"} and got[HashedKey(5)] == "five"


# == random graphs ================================================================================

def random_graph(seed):
    """Lists and dicts (filled last, so they can refer to anything, themselves included), tuples
    made of what exists already (so a tuple reaches itself only through a list or dict),
    frozensets and sets of atoms; shared references everywhere."""
    rng = random.Random(seed)
    atoms = [0, 1, -7, 2**40, 1.5, "", "s", "\u00e9t\u00e9", b"b", None, True, False]
    nodes = []
    for _ in range(rng.randint(1, 25)):
        kind = rng.choice(["list", "list", "dict", "dict", "tuple", "tuple", "set", "frozenset"])
        if kind == "list":
            nodes.append([])
        elif kind == "dict":
            nodes.append({})
        elif kind == "tuple":
            pool = nodes + atoms
            nodes.append(tuple(rng.choice(pool) for _ in range(rng.randint(0, 6))))
        elif kind == "set":
            nodes.append({rng.choice(atoms[:9]) for _ in range(rng.randint(0, 4))})
        else:
            nodes.append(frozenset(rng.choice(atoms[:9]) for _ in range(rng.randint(0, 4))))
    pool = nodes + atoms
    for node in nodes:
        if type(node) is list:
            node.extend(rng.choice(pool) for _ in range(rng.randint(0, 6)))
        elif type(node) is dict:
            for _ in range(rng.randint(0, 6)):
                key = rng.choice(atoms[:9] + [n for n in nodes if type(n) is frozenset])
                node[key] = rng.choice(pool)
    return nodes


def assert_isomorphic(a, b):
    """Same shape, same atoms, and the same sharing: a bijection between the two graphs' objects."""
    fwd, back = {}, {}
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        assert type(x) is type(y), (x, y)
        if type(x) in (int, float, str, bytes, bool, type(None)):
            assert x == y
            continue
        if id(x) in fwd:
            assert fwd[id(x)] == id(y), "sharing differs"
            continue
        assert id(y) not in back, "two objects became one"
        fwd[id(x)], back[id(y)] = id(y), id(x)
        if type(x) in (set, frozenset):
            assert x == y
        elif type(x) is dict:
            assert list(x) == list(y)
            stack.extend(zip(x.values(), y.values(), strict=True))
        else:
            assert len(x) == len(y)
            stack.extend(zip(x, y, strict=True))


@pytest.mark.parametrize("seed", range(60))
def test_random_graphs_round_trip(world, seed):
    graph = random_graph(seed)
    assert_isomorphic(graph, graph)  # the checker itself accepts the original
    assert_isomorphic(round_trip(world, graph), graph)


def test_isomorphism_check_sees_lost_sharing():
    shared = [1]
    with pytest.raises(AssertionError):
        assert_isomorphic([shared, shared], [[1], [1]])
    with pytest.raises(AssertionError):
        assert_isomorphic([[1], [1]], [shared, shared])


def test_naming_a_path_runs_no_code_and_changes_no_class():
    """The paths of ``amber inspect`` and of messages are named by looking: reading a class's
    ``__annotations__`` through getattr puts an empty dict into it (3.12+), which the verifier
    then saw as a difference; a property of the program's would run."""
    from amber.capture.compile.planner import _edge_label

    ran = []

    class Plain:
        pass

    class Lazy:
        @property
        def value(self):
            ran.append(1)
            return Plain

    assert _edge_label(Plain, type) == ".__class__"
    assert "__annotations__" not in Plain.__dict__
    assert _edge_label(Lazy(), Plain) == " -> " and not ran
    assert _edge_label(types.SimpleNamespace(x=Plain), Plain) == ".x"
