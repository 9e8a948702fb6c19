"""Property-based round trips: random object graphs survive a snapshot and a restore.

Hypothesis draws graph *specifications* (nested containers, shared references, cycles, instances
of generated classes with and without slots, dataclasses, enum members, closures); a program
builds the graphs from them at start-up and records a canonical description of each, made by
an independent walker (not pickle: comparing through the same machinery would be circular). The
restored process describes its graphs again and compares. Many graphs go through one
subprocess, so the suite stays fast.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ATOMS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=8),
                  st.binary(max_size=6), st.floats(allow_nan=False))


def node():
    return st.recursive(
        ATOMS.map(lambda a: ["atom", a if not isinstance(a, bytes) else ["bytes", a.hex()]]),
        lambda children: st.one_of(
            st.lists(children, max_size=4).map(lambda xs: ["list", xs]),
            st.lists(children, max_size=4).map(lambda xs: ["tuple", xs]),
            st.lists(st.tuples(st.text(max_size=4), children), max_size=4).map(lambda kv: ["dict", kv]),
            st.lists(st.integers(0, 50), max_size=4).map(lambda xs: ["set", xs]),
            st.tuples(st.sampled_from(["Plain", "Slotted", "Data", "Frozen"]), children, children).map(
                lambda t: ["obj", t[0], t[1], t[2]]),
            st.sampled_from(["RED", "GREEN"]).map(lambda m: ["enum", m]),
            children.map(lambda c: ["closure", c]),
            st.integers(0, 30).map(lambda i: ["shared", i]),
            st.just(["cycle"]),
        ),
        max_leaves=12)


PROGRAM = r'''
import dataclasses, enum, json, sys
SPECS = json.loads(open(sys.argv[1]).read()) if not __import__("amber").is_restored() else None

class Color(enum.Enum):
    RED = 1
    GREEN = 2
class Plain:
    def __init__(self, a, b): self.a, self.b = a, b
class Slotted:
    __slots__ = ("a", "b")
    def __init__(self, a, b): self.a, self.b = a, b
@dataclasses.dataclass
class Data:
    a: object
    b: object
@dataclasses.dataclass(frozen=True)
class Frozen:
    a: object
    b: object
    def __hash__(self): return id(self)
CLASSES = {"Plain": Plain, "Slotted": Slotted, "Data": Data, "Frozen": Frozen}

def build(spec, made, parents):
    kind = spec[0]
    if kind == "atom":
        a = spec[1]
        return bytes.fromhex(a[1]) if isinstance(a, list) else a
    if kind == "shared":
        return made[spec[1] % len(made)] if made else None
    if kind == "cycle":
        return parents[-1] if parents else None
    if kind == "enum":
        return Color[spec[1]]
    if kind == "set":
        return frozenset(spec[1]) if len(spec[1]) % 2 else set(spec[1])
    if kind == "closure":
        value = build(spec[1], made, parents)
        def get():
            return value
        made.append(get)
        return get
    if kind == "tuple":
        out = tuple(build(c, made, parents) for c in spec[1])
        made.append(out)
        return out
    if kind == "list":
        out = []
        made.append(out)
        out.extend(build(c, made, parents + [out]) for c in spec[1])
        return out
    if kind == "dict":
        out = {}
        made.append(out)
        for k, c in spec[1]:
            out[k] = build(c, made, parents + [out])
        return out
    if kind == "obj":
        cls = CLASSES[spec[1]]
        a, b = build(spec[2], made, parents), build(spec[3], made, parents)
        out = cls(a, b)
        made.append(out)
        return out
    raise ValueError(kind)

def describe(root):
    """Canonical form: objects numbered in first-visit order, references by number."""
    ids, order, table = {}, [], []
    def ref(x):
        if x is None or type(x) in (bool, int, float, str, bytes):
            return ["v", repr(x)]
        if id(x) not in ids:
            ids[id(x)] = len(order)
            order.append(x)
        return ["r", ids[id(x)]]
    ref(root)
    i = 0
    while i < len(order):
        x = order[i]
        i += 1
        if isinstance(x, Color):
            entry = ["enum", x.name, x is Color[x.name]]
        elif isinstance(x, (list, tuple)):
            entry = [type(x).__name__, [ref(c) for c in x]]
        elif isinstance(x, dict):
            entry = ["dict", [[k, ref(v)] for k, v in x.items()]]
        elif isinstance(x, (set, frozenset)):
            entry = [type(x).__name__, sorted(x)]
        elif callable(x) and hasattr(x, "__closure__"):
            entry = ["closure", ref(x())]
        else:
            entry = [type(x).__name__, ref(x.a), ref(x.b), hasattr(x, "__dict__")]
        table.append(entry)
    return table
'''


def _program():
    return PROGRAM + r'''
if SPECS is not None:
    ROOTS, EXPECTED = [], []
    for spec in SPECS:
        made = []
        root = [build(spec, made, [])]
        ROOTS.append(root)
        EXPECTED.append(json.dumps(describe(root)))

if __name__ == "__main__":
    bad = [i for i, (root, want) in enumerate(zip(ROOTS, EXPECTED)) if json.dumps(describe(root)) != want]
    print(json.dumps({"graphs": len(ROOTS), "differ": bad}))
'''


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(node(), min_size=25, max_size=25))
def test_random_graphs_round_trip(tmp_path_factory, specs):
    from conftest import AMBER, run

    tmp = tmp_path_factory.mktemp("graphs")
    (tmp / "specs.json").write_text(json.dumps(specs))
    script = tmp / "graphs.py"
    script.write_text(_program())
    image = tmp / "graphs.amber"
    run([*AMBER, "snapshot", "-o", str(image), str(script), str(tmp / "specs.json")], cwd=tmp, check=True)
    out = json.loads(run([*AMBER, "restore", str(image)], cwd=tmp, check=True).stdout)
    assert out == {"graphs": 25, "differ": []}
