"""The stdlib sweep's comparison (fidelity/stdlib_sweep.py): noise is what two cold processes
disagree on, everything else of the restored process must equal the cold one."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fidelity"))

import stdlib_sweep  # noqa: E402
import sweep_facts  # noqa: E402


def test_differences_outside_the_noise_are_reported_with_their_paths():
    cold = {"m.a": "1", "m.t": "12.5", "m.d": "dict len 1 order #a", "m.d[140001]": "instance of T"}
    cold2 = {"m.a": "1", "m.t": "13.0", "m.d": "dict len 1 order #b", "m.d[140002]": "instance of T"}
    restored = {"m.a": "2", "m.t": "99.0", "m.d": "dict len 1 order #c", "m.d[140003]": "instance of T",
                "m.new": "None"}
    diffs, compared, noise = stdlib_sweep.compare(cold, cold2, restored)
    # m.t differs between the cold runs; m.d's keys are thread idents, under a noisy container:
    # only m.a (changed) and m.new (added) are differences.
    assert [d[0] for d in diffs] == ["m.a", "m.new"]
    assert noise == 5 and compared == 2


def test_the_describer_sees_state_not_only_kinds():
    import types

    mod = types.ModuleType("sweep_probe")
    exec("X = [1, {'k': (2, 3)}]\nclass C:\n    n = 4\n    def f(self, a=5): return a\nI = C()\nI.v = 6\n",
         mod.__dict__)
    sys.modules["sweep_probe"] = mod
    try:
        facts = sweep_facts.describe_module("sweep_probe")
        mod.X[1]["k"] = (2, 4)
        mod.C.f.__defaults__ = (7,)
        mod.I.v = 8
        changed = sweep_facts.describe_module("sweep_probe")
    finally:
        del sys.modules["sweep_probe"]
    differ = sorted(p for p in facts if facts[p] != changed.get(p))
    assert differ == ["sweep_probe.C.__dict__[f].__defaults__[0]", "sweep_probe.I.v", "sweep_probe.X[1]['k']"]
