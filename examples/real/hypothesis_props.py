"""Property-based checks with Hypothesis: composite strategies built at start-up, derandomized
settings, a property that holds, one that fails, and find() shrinking to a minimal example. Needs: hypothesis."""
import json

from hypothesis import find, given, settings, strategies as st
from hypothesis.errors import NoSuchExample

CHECKS = settings(derandomize=True, database=None, max_examples=30, deadline=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8)


@st.composite
def sorted_pairs(draw):
    a = draw(st.integers(0, 100))
    b = draw(st.integers(a, 200))
    return a, b


def run_encode(encode):
    @CHECKS
    @given(json_values)
    def round_trip(value):
        assert json.loads(encode(value)) == value
    try:
        round_trip()
        return "holds"
    except AssertionError:
        return "fails"


if __name__ == "__main__":
    print("json round trip:", run_encode(json.dumps))
    print("str round trip:", run_encode(lambda v: json.dumps(str(v))))

    @CHECKS
    @given(sorted_pairs())
    def ordered(pair):
        assert pair[0] <= pair[1]
    ordered()
    print("sorted pairs: holds")
    print(find(st.lists(st.integers()), lambda xs: sum(xs) > 10, settings=CHECKS))
    print(find(st.text(alphabet="ab"), lambda s: len(s) >= 3 and s == s[::-1] and len(set(s)) > 1, settings=CHECKS))
    try:
        find(st.integers(0, 10), lambda n: n > 10, settings=CHECKS)
    except NoSuchExample:
        print("no integer in 0..10 exceeds 10")
