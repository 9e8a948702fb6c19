"""Self-verifying images: every new image is restored in a fresh process and its state compared
with the live one's; a difference is named by its path, never left silent."""

import os

from conftest import AMBER, run

# A reducer (registered with copyreg, which Amber honours) that does not give back the object it
# was given: the restore builds another object than the program has. Amber cannot know; the
# verification sees it.
DRIFTING = '''
import copyreg

class Drifting:
    def __init__(self):
        self.count = 1

copyreg.pickle(Drifting, lambda d: (Drifting, (), {"count": d.count + 1}))
'''


def snapshot(p, *options, check=False):
    return run([*AMBER, "snapshot", *options, "-o", str(p.image), str(p.script)], cwd=p.dir, check=check)


def test_a_restore_that_would_differ_is_refused_with_its_path(program):
    p = program(DRIFTING + '''
W = Drifting()
if __name__ == "__main__":
    print(W.count)
''')
    assert p.cold().stdout == "1\n"
    r = snapshot(p)
    assert r.returncode == 2, r.stderr
    assert "the restored state differs from the program's" in r.stderr
    assert "__main__.W.count: int 1 here, int 2 after restore" in r.stderr, r.stderr
    assert "--no-verify" in r.stderr and "Traceback" not in r.stderr
    assert not p.image.exists()
    assert not [f for f in os.listdir(p.dir) if f.endswith(".tmp")]  # no temporary left behind


def test_no_verify_writes_the_image_anyway(program):
    p = program(DRIFTING + '''
W = Drifting()
if __name__ == "__main__":
    print(W.count)
''')
    snapshot(p, "--no-verify", check=True)
    assert p.restore().stdout == "2\n"  # the difference the verification would have named


def test_the_module_a_difference_is_in_is_imported_again(program, tmp_path):
    (tmp_path / "drifting.py").write_text(DRIFTING + "W = Drifting()\n")
    p = program('''
import drifting
if __name__ == "__main__":
    print(drifting.W.count)
''')
    r = snapshot(p, check=True)
    assert "differed in drifting: importing it again at restore" in r.stderr
    assert p.restore().stdout == "1\n"  # as cold: the module came from a fresh import


def test_state_a_class_leaves_out_on_purpose_is_no_difference(program):
    p = program('''
import io

class Client:
    def __init__(self):
        self.buffer = io.StringIO("unsent")
        self.name = "svc"
    def __getstate__(self):
        return {"name": self.name}
    def __setstate__(self, state):
        self.__dict__.update(state, buffer=None)

C = Client()
if __name__ == "__main__":
    print(C.name, C.buffer)
''')
    snapshot(p, check=True)
    assert p.restore().stdout == "svc None\n"


def test_transients_are_made_again_on_purpose(program):
    p = program('''
import amber, itertools
COUNTER = itertools.count(100)
amber.transient(COUNTER, lambda: itertools.count(0))
if __name__ == "__main__":
    print(next(COUNTER))
''')
    snapshot(p, check=True)
    assert p.restore().stdout == "0\n"


def test_what_differs_on_purpose_is_compared_for_what_it_means(program):
    """Memoised hashes (reset: another hash seed), ids kept as numbers, sets (hash order)."""
    p = program('''
class Key:
    def __init__(self, name):
        self.name = name
        self._hash = None
    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.name)
        return self._hash
    def __eq__(self, other):
        return self.name == other.name

K = Key("alpha")
hash(K)
TABLE = {K: 1}
NAMES = {"alpha", "beta", "gamma", ("x", 1)}
BY_ID = {id(TABLE): "table"}
if __name__ == "__main__":
    print(TABLE[Key("alpha")], sorted(map(str, NAMES)), BY_ID[id(TABLE)])
''')
    cold = p.cold()
    snapshot(p, check=True)
    assert p.restore().stdout == cold.stdout


def test_interpreter_state_is_verified_too(program):
    """sys hooks, atexit callbacks and codec search functions are part of what is compared: a
    program that sets them gets an image whose restore has them."""
    p = program('''
import atexit, codecs, sys

def hook(value):
    sys.__displayhook__(value)

def search(name):
    return None

sys.displayhook = hook
atexit.register(print, "bye")
codecs.register(search)
if __name__ == "__main__":
    print(sys.displayhook is hook)
''')
    snapshot(p, check=True)
    r = p.restore()
    assert r.stdout == "True\nbye\n"


def test_amber_run_builds_no_image_that_would_differ(tmp_path):
    script = tmp_path / "drift.py"
    script.write_text(DRIFTING + '''
W = Drifting()
if __name__ == "__main__":
    print(W.count)
''')
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    for _ in range(2):
        r = run([*AMBER, "run", "--wait", "-v", str(script)], cwd=tmp_path, env=env)
        assert r.returncode == 0 and r.stdout == "1\n", r.stderr  # cold each time, never the drifted one
    assert "restored from" not in r.stderr


# An object whose own reduce gives a buffer with bytes the type does not keep (here its id, as a
# C struct's uninitialised padding is): no two round trips give the same bytes.
TAGGED = '''
import array

class Tagged:
    def __init__(self, payload, drift=0):
        self.payload = bytes([(payload[0] + drift) % 256]) + payload[1:]

    def __reduce_ex__(self, protocol):
        return (Tagged.made, (array.array("B", self.payload + id(self).to_bytes(8, "little")),))

    @staticmethod
    def made(buffer):
        return Tagged(buffer.tobytes()[:-8], DRIFT)
'''


def test_bytes_a_round_trip_does_not_keep_are_no_difference(program):
    p = program(TAGGED + '''
DRIFT = 0
T = Tagged(b"payload")
if __name__ == "__main__":
    print(T.payload)
''')
    snapshot(p, check=True)
    assert p.restore().stdout == "b'payload'\n"


def test_only_bytes_a_round_trip_changes_are_excused():
    # The judgement itself, in this process (nothing is restored): an array's own reduce keeps
    # its bytes; Tagged's gives new ones on every round trip.
    import array

    from amber.verify import meaning

    namespace: dict = {}
    exec(TAGGED + "DRIFT = 0\n", namespace)
    assert meaning._changed_by_a_round_trip(namespace["Tagged"](b"payload"), "[1][0]")
    assert not meaning._changed_by_a_round_trip(array.array("B", b"payload"), "[1][3]")  # its bytes
    assert not meaning._changed_by_a_round_trip(object(), "[9]")  # no such part: proves nothing


def test_scipy_kd_tree_restores(program):
    import pytest

    pytest.importorskip("scipy")
    p = program('''
import numpy as np
from scipy import spatial
TREE = spatial.cKDTree(np.random.default_rng(0).random((2000, 3)))
if __name__ == "__main__":
    print(TREE.query([0.5, 0.5, 0.5])[1])
''')
    snapshot(p, check=True)
    assert p.restore().stdout == p.cold().stdout
