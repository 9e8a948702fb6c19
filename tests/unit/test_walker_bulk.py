"""Fast layer: the verifier's bulk facts (a list, tuple or dict of plain values is one digest),
in-process (the end-to-end verification: tests/test_verify.py)."""

from amber.verify import walker


def test_a_list_of_plain_values_is_one_digest_unless_an_int_may_be_an_id():
    plain = [1, -5, 2.5, "a", b"b", None, True, complex(1, 2), walker.ID_LIKE - 1, -walker.ID_LIKE + 1]
    digest = walker._plain_digest(plain)
    assert digest is not None and walker._plain_digest(tuple(plain)) is not None
    assert digest != walker._plain_digest(plain[::-1])
    for may_be_an_id in (walker.ID_LIKE, -walker.ID_LIKE, 1 << 70):
        assert walker._plain_digest([*plain, may_be_an_id]) is None, may_be_an_id
        assert walker._plain_digest([may_be_an_id, *plain]) is None, may_be_an_id
    assert walker._plain_digest([True, False, 0]) is not None  # bools are no ids
    for not_plain in ([1, object()], [1, [2]], ["a", (1,)], [1.5, 2 ** 100 > 0, int]):
        assert walker._plain_digest(not_plain) is None, not_plain
    assert walker._plain_digest([]) is not None  # nothing that may be an id


def test_a_dict_of_plain_values_is_digested_as_its_items_in_order():
    from itertools import chain

    d = {i: float(i) / 3 for i in range(40)} | {"k": b"v", None: True}
    assert walker._interleaved(d) == list(chain.from_iterable(d.items()))
    assert walker._interleaved({}) == []
    fact, children = walker._dict(walker.Walker([], set()), d)
    flat = list(chain.from_iterable(d.items()))
    assert children is None and fact == ("dict", 42, (), walker._plain_digest(flat))
