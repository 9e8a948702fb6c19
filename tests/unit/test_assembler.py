"""Fast layer: the pickle-program writer (amber.capture.compile.assembler), in-process.

Programs are written with ``Assembler`` and run by the C unpickler (``pickle.loads``); each one
must also be accepted by ``pickletools.dis`` (valid opcodes, memo references that exist, exactly
one value on the stack at STOP), and the opcode chosen for each width is checked.
"""

import collections
import io
import math
import pickle
import pickletools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amber.capture.compile.assembler import Assembler, pickle_long


def finish(asm: Assembler) -> bytes:
    asm.stop()
    return bytes(asm.out)


def dis_ok(program: bytes) -> str:
    """Disassemble (raises ValueError on a malformed program); return the listing."""
    out = io.StringIO()
    pickletools.dis(program, out)
    return out.getvalue()


def opnames(program: bytes) -> list:
    return [op.name for op, _arg, _pos in pickletools.genops(program)]


def load(program: bytes, **kw):
    dis_ok(program)
    return pickle.loads(program, **kw)


def one(write) -> bytes:
    """A program that pushes one value with ``write(asm)`` and stops."""
    asm = Assembler()
    write(asm)
    return finish(asm)


def test_empty_assembler_is_a_protocol_5_header():
    asm = Assembler()
    assert bytes(asm.out) == b"\x80\x05"
    assert asm.memo == {}


# == atoms =========================================================================================

@pytest.mark.parametrize("value, opcode", [
    (0, "BININT1"),
    (1, "BININT1"),
    (255, "BININT1"),
    (256, "BININT2"),
    (65535, "BININT2"),
    (65536, "BININT"),
    (-1, "BININT"),
    (2**31 - 1, "BININT"),
    (-(2**31), "BININT"),
    (2**31, "LONG1"),
    (-(2**31) - 1, "LONG1"),
    (2**63, "LONG1"),
    (2**64, "LONG1"),
    (-(2**64), "LONG1"),
    (2**2039 - 1, "LONG1"),  # 255 bytes of two's complement: the largest LONG1
    (2**2039, "LONG4"),  # 256 bytes
    (-(2**2039) - 1, "LONG4"),
    (-(7**5000), "LONG4"),
    (3**8000, "LONG4"),  # under 4300 digits: pickletools.dis cannot repr longer ints
], ids=lambda v: v if isinstance(v, str) else f"{'-' if v < 0 else ''}{abs(v) if abs(v) < 2**70 else f'bits{v.bit_length()}'}")
def test_int_round_trip_and_width(value, opcode):
    program = one(lambda a: a.int(value))
    assert opnames(program) == ["PROTO", opcode, "STOP"]
    got = load(program)
    assert type(got) is int and got == value


def test_bininit_payloads_are_little_endian():
    assert one(lambda a: a.int(0x1234))[2:5] == b"M\x34\x12"
    assert one(lambda a: a.int(-2))[2:7] == b"J" + struct.pack("<i", -2)


@pytest.mark.parametrize("value", [0.0, 1.5, -2.25, 1e308, 5e-324, math.pi, float("inf"), float("-inf")])
def test_float_round_trip(value):
    program = one(lambda a: a.float(value))
    assert opnames(program) == ["PROTO", "BINFLOAT", "STOP"]
    assert load(program) == value


def test_float_nan_and_negative_zero():
    assert math.isnan(load(one(lambda a: a.float(float("nan")))))
    z = load(one(lambda a: a.float(-0.0)))
    assert z == 0.0 and math.copysign(1.0, z) == -1.0


def test_none_and_bools():
    asm = Assembler()
    asm.mark()
    asm.none()
    asm.bool(True)
    asm.bool(False)
    asm.tuple_from_mark()
    program = finish(asm)
    assert opnames(program) == ["PROTO", "MARK", "NONE", "NEWTRUE", "NEWFALSE", "TUPLE", "STOP"]
    got = load(program)
    assert got == (None, True, False) and got[1] is True and got[2] is False


@pytest.mark.parametrize("value, opcode", [
    ("", "SHORT_BINUNICODE"),
    ("plain", "SHORT_BINUNICODE"),
    ("caf\u00e9 \u4e2d\u6587 \U0001f600", "SHORT_BINUNICODE"),
    ("x" * 255, "SHORT_BINUNICODE"),
    ("x" * 256, "BINUNICODE"),
    ("\u00e9" * 128, "BINUNICODE"),  # 128 characters, 256 bytes of UTF-8: the width is in bytes
    ("\u00e9" * 127 + "x", "SHORT_BINUNICODE"),  # 255 bytes
    ("y" * 100_000, "BINUNICODE"),
])
def test_str_round_trip_and_width(value, opcode):
    program = one(lambda a: a.str(value))
    assert opnames(program) == ["PROTO", opcode, "MEMOIZE", "STOP"]
    assert load(program) == value


def test_lone_surrogates_survive():
    for value in ("\ud800", "a\udfffb", "\udc80" * 300):
        got = load(one(lambda a, v=value: a.str(v)))
        assert got == value and len(got) == len(value)


def test_same_str_object_is_written_once_and_shared():
    s = "".join(["sha", "red"])  # one object, not interned
    asm = Assembler()
    asm.str(s)
    asm.str(s)
    asm.tuple_of(2)
    program = finish(asm)
    assert opnames(program) == ["PROTO", "SHORT_BINUNICODE", "MEMOIZE", "BINGET", "TUPLE2", "STOP"]
    got = load(program)
    assert got == ("shared", "shared") and got[0] is got[1]


@pytest.mark.parametrize("n, opcode", [(0, "SHORT_BINBYTES"), (1, "SHORT_BINBYTES"), (255, "SHORT_BINBYTES"),
                                       (256, "BINBYTES"), (257, "BINBYTES"), (70_000, "BINBYTES")])
def test_bytes_lengths(n, opcode):
    value = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
    assert len(value) == n
    program = one(lambda a: a.bytes(value))
    assert opnames(program) == ["PROTO", opcode, "MEMOIZE", "STOP"]
    got = load(program)
    assert type(got) is bytes and got == value


def test_same_bytes_object_is_shared():
    b = bytes(300)
    asm = Assembler()
    asm.bytes(b)
    asm.bytes(b)
    asm.tuple_of(2)
    got = load(finish(asm))
    assert got[0] == bytes(300) and got[0] is got[1]


@pytest.mark.parametrize("data", [b"", b"\x00\xff", bytes(range(256)) * 3])
def test_bytearray(data):
    program = one(lambda a: a.bytearray(bytearray(data)))
    assert opnames(program) == ["PROTO", "BYTEARRAY8", "STOP"]
    got = load(program)
    assert type(got) is bytearray and got == data


def test_bytearray_accepts_a_memoryview():
    got = load(one(lambda a: a.bytearray(memoryview(b"view"))))
    assert got == bytearray(b"view")


def test_next_buffer_readonly_and_writable():
    buf = bytearray(b"mapped")
    got = load(one(lambda a: a.next_buffer(True)), buffers=[buf])
    assert type(got) is memoryview and got.readonly and bytes(got) == b"mapped"
    got = load(one(lambda a: a.next_buffer(False)), buffers=[buf])
    assert got is buf


# == containers ====================================================================================

@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5])
def test_tuple_of_n(n):
    asm = Assembler()
    if n > 3:
        asm.mark()
    for i in range(n):
        asm.int(i * 1000)
    asm.tuple_of(n)
    program = finish(asm)
    expected = {0: "EMPTY_TUPLE", 1: "TUPLE1", 2: "TUPLE2", 3: "TUPLE3"}.get(n, "TUPLE")
    assert opnames(program)[-2] == expected
    assert ("MARK" in opnames(program)) == (n > 3)
    assert load(program) == tuple(i * 1000 for i in range(n))


def test_tuple_of_more_than_three_without_mark_is_invalid():
    asm = Assembler()
    for i in range(4):
        asm.int(i)
    asm.tuple_of(4)
    program = finish(asm)
    with pytest.raises(ValueError):
        dis_ok(program)
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(program)


def test_list_filled_with_appends():
    asm = Assembler()
    asm.empty_list()
    asm.mark()
    for v in (1, "two", 3.0):
        if isinstance(v, int):
            asm.int(v)
        elif isinstance(v, str):
            asm.str(v)
        else:
            asm.float(v)
    asm.appends()
    program = finish(asm)
    assert opnames(program)[:3] == ["PROTO", "EMPTY_LIST", "MARK"] and opnames(program)[-2] == "APPENDS"
    assert load(program) == [1, "two", 3.0]


def test_dict_filled_with_setitems_keeps_order():
    asm = Assembler()
    asm.empty_dict()
    asm.mark()
    for k, v in (("b", 1), ("a", 2), ("c", 3)):
        asm.str(k)
        asm.int(v)
    asm.setitems()
    got = load(finish(asm))
    assert got == {"b": 1, "a": 2, "c": 3} and list(got) == ["b", "a", "c"]


def test_set_filled_with_additems_and_frozenset():
    asm = Assembler()
    asm.empty_set()
    asm.mark()
    for i in (3, 1, 2, 1):
        asm.int(i)
    asm.additems()
    asm.mark()
    for i in (7, 8):
        asm.int(i)
    asm.frozenset()
    asm.tuple_of(2)
    program = finish(asm)
    got = load(program)
    assert type(got[0]) is set and got[0] == {1, 2, 3}
    assert type(got[1]) is frozenset and got[1] == frozenset({7, 8})
    assert "FROZENSET" in opnames(program) and "ADDITEMS" in opnames(program)


def test_shared_reference_and_cycle_through_the_memo():
    inner = []
    outer = []
    asm = Assembler()
    asm.empty_list()
    asm.memoize(outer)
    asm.empty_list()
    asm.memoize(inner)
    asm.pop()
    asm.mark()
    assert asm.get(inner)
    assert asm.get(inner)
    assert asm.get(outer)  # the list holds itself
    asm.appends()
    program = finish(asm)
    assert opnames(program).count("BINGET") == 3
    got = load(program)
    assert len(got) == 3 and got[0] == [] and got[0] is got[1] and got[2] is got


def test_get_of_an_unknown_object_writes_nothing():
    asm = Assembler()
    before = bytes(asm.out)
    assert asm.get(object()) is False
    assert bytes(asm.out) == before


def test_memo_indices_beyond_255_use_long_binget():
    asm = Assembler()
    strings = [f"s{i}" for i in range(300)]
    asm.empty_list()
    asm.mark()
    for s in strings:
        asm.str(s)
    asm.appends()
    assert len(asm.memo) == 300
    asm.mark()
    for i in (0, 255, 256, 299):
        assert asm.get(strings[i])
    asm.tuple_from_mark()
    asm.tuple_of(2)
    program = finish(asm)
    ops = [(op.name, arg) for op, arg, _pos in pickletools.genops(program)]
    gets = [(name, arg) for name, arg in ops if name.endswith("BINGET")]
    assert gets == [("BINGET", 0), ("BINGET", 255), ("LONG_BINGET", 256), ("LONG_BINGET", 299)]
    lst, tup = load(program)
    assert lst == strings
    assert tup == ("s0", "s255", "s256", "s299")
    assert all(t is lst[i] for t, i in zip(tup, (0, 255, 256, 299), strict=True))


def test_memo_counts_every_memoized_object():
    asm = Assembler()
    a, b, c = [], {}, "text-unique-1"
    asm.empty_list()
    asm.memoize(a)
    asm.empty_dict()
    asm.memoize(b)
    asm.str(c)
    assert len(asm.memo) == 3
    assert sorted(asm.memo.values()) == [0, 1, 2]


# == calls =========================================================================================

def test_global_and_reduce():
    asm = Assembler()
    asm.global_("collections", "OrderedDict")
    asm.mark()
    asm.str("k")
    asm.int(1)
    asm.tuple_of(2)
    asm.tuple_from_mark()
    asm.tuple_of(1)
    asm.reduce()
    program = finish(asm)
    assert "STACK_GLOBAL" in opnames(program) and "REDUCE" in opnames(program)
    got = load(program)
    assert type(got) is collections.OrderedDict and got == {"k": 1}


def test_global_of_a_dotted_qualname():
    got = load(one(lambda a: a.global_("collections", "OrderedDict.fromkeys")))
    assert got == collections.OrderedDict.fromkeys


def test_global_names_are_memoized_strings():
    asm = Assembler()
    asm.global_("builtins", "len")
    asm.pop()
    asm.global_("builtins", "len")
    program = finish(asm)
    names = opnames(program)
    # The second global finds both (interned literal) strings on the memo.
    assert names[:6] == ["PROTO", "SHORT_BINUNICODE", "MEMOIZE", "SHORT_BINUNICODE", "MEMOIZE", "STACK_GLOBAL"]
    assert names[6:] == ["POP", "BINGET", "BINGET", "STACK_GLOBAL", "STOP"]
    assert load(program) is len


class Point:
    def __init__(self):
        raise AssertionError("BUILD must not call __init__")


def test_build_sets_the_instance_dict():
    asm = Assembler()
    asm.global_("copyreg", "__newobj__")
    asm.global_(__name__, "Point")
    asm.tuple_of(1)
    asm.reduce()
    asm.empty_dict()
    asm.mark()
    asm.str("x")
    asm.int(3)
    asm.str("y")
    asm.int(-4)
    asm.setitems()
    asm.build()
    program = finish(asm)
    got = load(program)
    assert type(got) is Point and vars(got) == {"x": 3, "y": -4}


class Stateful:
    def __setstate__(self, state):
        self.got = ("setstate", state)


def test_build_calls_setstate():
    asm = Assembler()
    asm.global_("copyreg", "__newobj__")
    asm.global_(__name__, "Stateful")
    asm.tuple_of(1)
    asm.reduce()
    asm.int(42)
    asm.str("s")
    asm.tuple_of(2)
    asm.build()
    got = load(finish(asm))
    assert type(got) is Stateful and got.got == ("setstate", (42, "s"))


def test_dis_rejects_two_values_left_at_stop():
    asm = Assembler()
    asm.int(1)
    asm.int(2)
    with pytest.raises(ValueError, match="stack not empty after STOP"):
        dis_ok(finish(asm))


# == pickle_long =====================================================================================

def decode_long(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)


@pytest.mark.parametrize("v", [0, 1, -1, 127, 128, -128, -129, 255, 256, -256, -257, 2**63 - 1, -(2**63),
                               2**64, -(2**64)])
def test_pickle_long_edges(v):
    enc = pickle_long(v)
    assert decode_long(enc) == v
    assert enc == pickle.encode_long(v)


def test_pickle_long_is_minimal():
    assert pickle_long(0) == b""
    assert pickle_long(127) == b"\x7f"
    assert pickle_long(128) == b"\x80\x00"
    assert pickle_long(-128) == b"\x80"
    assert pickle_long(-129) == b"\x7f\xff"
    assert pickle_long(-(2**15)) == b"\x00\x80"


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**600), max_value=2**600))
def test_pickle_long_matches_two_complement(v):
    enc = pickle_long(v)
    assert decode_long(enc) == v
    # minimal: dropping the last byte would change the value (or there is nothing to drop)
    assert enc == b"" or decode_long(enc[:-1]) != v
    assert enc == pickle.encode_long(v)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=-(2**2100), max_value=2**2100))
def test_int_round_trips_through_the_unpickler(v):
    assert pickle.loads(one(lambda a: a.int(v))) == v
