"""The image format as declared in amber.image.format and amber.image.records: the schemas reject
every malformed header field, the documentation is the declarations', the writers go through the
schemas and the layouts, and ``amber inspect`` decodes an image for people (--sections, --dis,
--extract)."""

import io
import marshal
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AMBER, run

from amber.errors import ImageError
from amber.image import explain, records, signing, writer
from amber.image import format as fmt

SRC = Path(__file__).resolve().parent.parent / "src" / "amber"
D = bytes(range(32))  # a digest-sized value


def valid_header() -> dict:
    return {
        "format": fmt.FORMAT_VERSION, "amber": "0.1.0", "created": 1.5,
        "python": fmt.interpreter_identity(),
        "extensions": [("_json", "/x/_json.so", 10, 20)],
        "snapshot_point": {"kind": "main-guard", "line": 3, "script": "/a/app.py", "module": "", "argv0": "app.py"},
        "sections": [(fmt.PRELUDE, 4096, 10, D), (fmt.HEAP, 4160, 20, D), (fmt.STATS, 4224, 30, D),
                     (fmt.BUFFERS, 8192, 8192, D), (fmt.LAZY_CODE, 16384, 100, D)],
        "key_id": "hmac:0011223344556677",
        "run": {"target": "/a/app.py", "args": ["x"], "key_args": None},
        fmt.BUFFERS: [(0, 4096, True), (4096, 4096, False)],
        fmt.LAZY_CODE: [(0, 60, D), (60, 40, D)],
    }


def read_header(tmp_path, header, header_schema=records.HEADER_SCHEMA) -> fmt.Image:
    """Write an image with ``header`` (unsigned) and read it with --insecure, checking the whole
    header as amber inspect does (or, given ``fmt.HEADER_READ``, as a restore does)."""
    blob = marshal.dumps(header)
    path = tmp_path / "made.amber"
    path.write_bytes(writer.prefix(blob) + signing.BLOCK.pack() + blob)
    return fmt.read_image(str(path), check_interpreter=False, insecure=True, header_schema=header_schema)


def _set(path: str, value):
    """A change to the header: set the value at ``path`` ("python.version", "sections"...)."""
    def change(h):
        *parents, last = path.split(".")
        for p in parents:
            h = h[p]
        h[last] = value
    return change


def _drop(path: str):
    def change(h):
        *parents, last = path.split(".")
        for p in parents:
            h = h[p]
        del h[last]
    return change


MALFORMED = [
    # (what is changed, expected start of the message after "wrong shape: ")
    (_set("format", "2"), "header.format: expected int >= 0"),
    (_set("created", 1), "header.created: expected float"),
    (_set("python", []), "header.python: expected a dict"),
    (_drop("python.version"), "header.python.version: missing"),
    (_set("python.hexversion", "3.11"), "header.python.hexversion: expected int"),
    (_set("python.cache_tag", 3), "header.python.cache_tag: expected str or None"),
    (_set("extensions", (("m", "", 0, 0),)), "header.extensions: expected a list"),
    (_set("extensions", [("_json", "/x.so", -1, 0)]), "header.extensions[0].size: expected int >= 0"),
    (_set("extensions", [("m", "", 0, 0)] * 9 + [("m", "", 0)]), "header.extensions[9]: expected a tuple"),
    (_set("snapshot_point.kind", "later"), "header.snapshot_point.kind: expected one of"),
    (_set("snapshot_point.line", True), "header.snapshot_point.line: expected int >= 0"),
    (_set("sections", [(fmt.HEAP, 0, 1)]), "header.sections[0]: expected a tuple"),
    (_set("sections", [(fmt.HEAP, -5, 1, D)]), "header.sections[0].offset: expected int >= 0"),
    (_set("sections", [(fmt.HEAP, 0, 1, b"short")]), "header.sections[0].digest: expected 32 bytes"),
    (_set("sections", [(f"s{i}", 0, 1, D) for i in range(9)] + [("s9", 0, 1.0, D)]),
     "header.sections[9].length: expected int >= 0"),
    (_set("sections", [(fmt.HEAP, 0, 1, D), (fmt.HEAP, 64, 1, D)]), "header.sections: a section name is repeated"),
    (_set("key_id", 5), "header.key_id: expected str"),
    (_set("run.args", ["x", 3]), "header.run.args[1]: expected str"),
    (_set("run.key_args", -1), "header.run.key_args: expected int >= 0 or None"),
    (_drop("run.target"), "header.run.target: missing"),
    (_set(fmt.BUFFERS, [(0, 4096, 1)]), "header.buffers[0].readonly: expected bool"),
    (_set(fmt.BUFFERS, [(0, 4096, True), (8000, 4096, True)]), "header.buffers[1]: lies outside the buffers"),
    (_set(fmt.LAZY_CODE, [(0, 60, D[:16])]), "header.lazy_code[0].digest: expected 32 bytes"),
    (_set(fmt.LAZY_CODE, [(i * 5, 5, D) for i in range(20)] + [(99, 2, D)]),
     "header.lazy_code[20]: lies outside the lazy_code section"),
    (_set("sections", [(fmt.HEAP, 0, 1, D)]), "header.buffers: needs exactly one buffers section"),
] + [(_drop(f.name), f"header.{f.name}: missing") for f in records.HEADER_SCHEMA.fields if not f.optional]


def test_a_valid_header_reads(tmp_path):
    image = read_header(tmp_path, valid_header())
    assert image.header["sections"][1][0] == fmt.HEAP
    h = valid_header()
    for name in ("key_id", "run", fmt.BUFFERS, fmt.LAZY_CODE):  # the optional fields may be absent
        del h[name]
    h["unknown_later_field"] = [1, 2]  # readers ignore fields they do not know
    read_header(tmp_path, h)


@pytest.mark.parametrize("change, expected", MALFORMED, ids=[e for _c, e in MALFORMED])
def test_each_malformed_header_field_is_refused(tmp_path, change, expected):
    h = valid_header()
    change(h)
    with pytest.raises(ImageError) as e:
        read_header(tmp_path, h)
    message = str(e.value)
    assert "image is damaged (the header has the wrong shape: " + expected in message, message
    assert "\n" not in message


def test_a_header_that_is_no_dict_is_refused(tmp_path):
    for schema in (records.HEADER_SCHEMA, fmt.HEADER_READ):
        with pytest.raises(ImageError, match=r"wrong shape: header: expected a dict"):
            read_header(tmp_path, [valid_header()], schema)


def test_a_restore_checks_the_header_fields_it_reads(tmp_path):
    """A restore checks the fields it reads (HEADER_READ) and only those; inspect checks them all.
    The whole header is made of HEADER_READ's very fields and the others: each declared once."""
    assert fmt.HEADER_READ.names == ("amber", "python", "sections", fmt.BUFFERS, fmt.LAZY_CODE)
    assert read_header(tmp_path, valid_header(), fmt.HEADER_READ).header == valid_header()
    for name in fmt.HEADER_READ.names:
        assert records.HEADER_SCHEMA.field(name) is fmt.HEADER_READ.field(name)
    assert records.HEADER_SCHEMA.checks == fmt.HEADER_READ.checks
    unread = {"created": "today", "extensions": None, "snapshot_point": 7, "run": [], "key_id": 5}
    assert set(unread) | set(fmt.HEADER_READ.names) | {"format"} == set(records.HEADER_SCHEMA.names)
    h = {**valid_header(), **unread}
    del h["format"]
    assert read_header(tmp_path, h, fmt.HEADER_READ).header == h  # a restore never reads them
    with pytest.raises(ImageError, match="wrong shape: header.format: missing"):
        read_header(tmp_path, h)
    for change, expected in MALFORMED:
        if expected.split(":")[0].split(".")[1].split("[")[0] in fmt.HEADER_READ.names:
            h = valid_header()
            change(h)
            with pytest.raises(ImageError, match=re.escape("wrong shape: " + expected)):
                read_header(tmp_path, h, fmt.HEADER_READ)


def test_writers_go_through_the_schemas():
    with pytest.raises(ValueError, match="manifest has no field 'extra'"):
        records.MANIFEST_SCHEMA.build(extra=1)
    with pytest.raises(ValueError, match="prelude.prefix: missing"):
        fmt.PRELUDE_SCHEMA.encode(environ={}, path=[])
    with pytest.raises(ValueError, match=r"stats.by_type\['code'\].count: expected int >= 0"):
        records.STATS_SCHEMA.build(objects=1, by_type={"dict": (1, 2), "code": ("1", 2)}, largest=[],
                                   by_module={}, modules_by_value=[], modules_by_ref={}, startup_seconds=0.0,
                                   capture_seconds=0.0, environ_changed=[])
    blob = fmt.INPUTS_SCHEMA.encode(program="k", watched=[("/a", fmt.WATCH_CONTENT, [1, 2], None)], cwd=None,
                                    output=[(1, "loading\n")], env=[("HOME", bytes(16))], env_names=None)
    assert fmt.INPUTS_SCHEMA.problem(marshal.loads(blob)) is None
    assert fmt.PYTHON_SCHEMA.problem(fmt.interpreter_identity()) is None
    with pytest.raises(ValueError, match="header.created: expected float"):  # write_image checks the header
        writer.write_image("/nonexistent/x.amber", {**valid_header(), "created": "today"}, [])


def test_the_fixed_layouts_are_packed_from_their_declarations():
    blob = marshal.dumps(valid_header())
    signed = writer.prefix(blob)
    assert len(signed) == fmt.SIGNATURE_AT
    assert signed[fmt.PREFIX["magic"]] == fmt.MAGIC
    assert int.from_bytes(signed[fmt.PREFIX["format"]], "little") == fmt.FORMAT_VERSION
    assert signed[fmt.PREFIX["flags"]] == bytes(2)
    assert int.from_bytes(signed[fmt.PREFIX["header_length"]], "little") == len(blob)
    assert signed[fmt.PREFIX["header_digest"]] == fmt.digest(blob)
    block = signing.sign_block((signing.HMAC_SHA256, b"K" * 8, lambda message: b"s" * 32), signed + blob)
    assert block == bytes([signing.HMAC_SHA256]) + b"K" * 8 + bytes([32]) + b"s" * 32 + bytes(32 + 6)
    assert signing.sign_block(None, signed) == bytes(signing.BLOCK.size)
    with pytest.raises(ValueError, match="signature block has no field 'extra'"):
        signing.BLOCK.pack(extra=1)
    with pytest.raises(ValueError, match="signature block.length: 256 does not fit in 1 bytes"):
        signing.BLOCK.pack(length=256)
    with pytest.raises(ValueError, match="prefix.magic: .* does not fit in 8 bytes"):
        fmt.PREFIX.pack(magic=fmt.MAGIC + b"!")


@pytest.mark.parametrize("length", [0, 1, 4097, fmt.BUFFER_LEAF - 1, fmt.BUFFER_LEAF, fmt.BUFFER_LEAF + 1,
                                    2 * fmt.BUFFER_LEAF + 12345])
def test_the_buffers_digest_is_a_blake2b_tree(length):
    """The buffers section's digest: BLAKE2b tree mode over BUFFER_LEAF-byte leaves, the same
    whether the writer streams it in pieces or a restore hashes the leaves on every core; every
    leaf counts, and it is not the flat digest (the format says which a section has)."""
    import hashlib
    import random

    data = random.Random(length).randbytes(length)
    leaves = max(1, -(-length // fmt.BUFFER_LEAF))
    tree = dict(digest_size=32, fanout=0, depth=2, leaf_size=fmt.BUFFER_LEAF, inner_size=32)
    expected = hashlib.blake2b(b"".join(
        hashlib.blake2b(data[i * fmt.BUFFER_LEAF:(i + 1) * fmt.BUFFER_LEAF], node_offset=i, node_depth=0,
                        last_node=i == leaves - 1, **tree).digest() for i in range(leaves)),
        node_offset=0, node_depth=1, last_node=True, **tree).digest()
    assert fmt.tree_digest(memoryview(data)) == expected
    assert writer.section_digest(fmt.BUFFERS, data) == expected
    streamed = writer.TreeHash(length)
    for i in range(0, length, 1_000_003):
        streamed.update(data[i:i + 1_000_003])
    assert streamed.digest() == expected
    padded = writer.Pieces(length + 8192, [(4096, data)])
    assert padded.digest() == fmt.tree_digest(memoryview(bytes(4096) + data + bytes(4096)))
    assert fmt.section_digest(fmt.BUFFERS, memoryview(data)) == expected != fmt.digest(data)
    if length:
        changed = bytearray(data)
        changed[-1] ^= 1
        assert fmt.tree_digest(memoryview(changed)) != expected


def test_the_docstrings_are_the_declarations():
    """The reference in format's docstring is generated from the schemas (explain.document());
    when a schema changes, paste the new text printed here into the docstring."""
    generated = explain.document()
    assert generated in fmt.__doc__, "format.py's docstring drifted from the schemas; it should hold:\n" + generated
    for record in records.RECORDS:
        for field in record.fields:
            assert re.search(rf"^    {re.escape(field.name)} ", fmt.__doc__, re.M), (record.name, field.name)
    assert list(records.SECTIONS) == [fmt.PRELUDE, fmt.HEAP, fmt.STATS, fmt.INPUTS, fmt.BUFFERS, fmt.LAZY_CODE]
    for name, section in records.SECTIONS.items():
        assert re.search(rf"^    {name} ", fmt.__doc__, re.M), name
        assert section.mapped == (name in fmt.MAPPED)
        assert section.schema is fmt.SECTION_RECORDS.get(name, section.schema), name
    assert {name for name, s in records.SECTIONS.items() if s.schema is not None} == {
        fmt.PRELUDE, fmt.STATS, fmt.INPUTS}
    assert f"FORMAT_VERSION ({fmt.FORMAT_VERSION})" in fmt.__doc__
    block = "\n".join("    " + line for line in explain.layout_doc(signing.BLOCK))
    assert block in signing.__doc__, "signing.py's docstring drifted from BLOCK:\n" + block
    # One layout: the prefix places the signature block, whose size signing declares.
    assert fmt.PREFIX["signature"] == slice(fmt.SIGNATURE_AT, fmt.HEADER_AT) == slice(48, 128)
    assert signing.BLOCK.size == fmt.SIGNATURE_SIZE == 80


def test_section_names_and_manifest_fields_are_spelt_once():
    """Readers name sections by the constants of amber.image.format, and read only manifest
    fields the schema declares."""
    names = "|".join(records.SECTIONS)
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        bare = re.findall(rf"""(?:section|has_section|decode|verified|section_checked_meanwhile)\(\s*["']({names})["']""",
                          text)
        assert not bare, (path, bare)
    loader = (SRC / "restore" / "loader.py").read_text()
    used = set(re.findall(r"""manifest\[["'](\w+)["']\]""", loader))
    assert used and used <= set(records.MANIFEST_SCHEMA.names), used - set(records.MANIFEST_SCHEMA.names)


def test_record_show_names_every_field_with_its_meaning():
    h = valid_header()
    lines = explain.show(records.HEADER_SCHEMA, h)
    text = "\n".join(lines)
    for f in records.HEADER_SCHEMA.fields:
        assert f"{f.name} = " in text and f.meaning in text, f.name
    del h["amber"]
    h["sections"] = [("x", "not an int", 1, D)]  # shown as far as it goes, never an exception
    text = "\n".join(explain.show(records.HEADER_SCHEMA, h))
    assert "amber: MISSING" in text and "'not an int'" in text


def test_columns_are_the_one_table_maker():
    assert explain.columns([["name", "n"], ["a", "12"], ["bbb", "3"]], right=(1,)) == [
        "name   n", "a     12", "bbb    3"]
    row = fmt.BUFFER_ENTRY
    assert explain.table(row, [(0, 4096, True)], "  ") == ["  start  length  readonly", "  0      4096    True"]


# --- amber inspect, end to end -------------------------------------------------------------------

# Registers a class on an ABC of the base set: the heap program ends with late steps (after the
# heap is complete), the case that once left the pickle stack non-empty after STOP.
PROGRAM = """\
import collections.abc
import json
class Seq:
    pass
collections.abc.Sequence.register(Seq)
CONFIG = json.loads('{"n": 1}')
if __name__ == "__main__":
    print(issubclass(Seq, collections.abc.Sequence), CONFIG)
"""


@pytest.fixture
def image(program):
    p = program(PROGRAM)
    p.snapshot()
    return p


def inspect(p, *args, check=True):
    return run([*AMBER, "inspect", *args, str(p.image)], cwd=p.dir, check=check)


def test_inspect_sections(image):
    out = inspect(image, "--sections").stdout
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["section", "offset", "length", "align", "digest"]
    header = fmt.read_image(str(image.image)).header
    for (name, offset, length, _digest), line in zip(header["sections"], lines[1:], strict=True):
        assert line.split()[:5] == [name, str(offset), str(length), str(records.SECTIONS[name].align), "ok"], line


def test_inspect_dis_heap_and_extract_heap_for_pickletools(image, tmp_path):
    r = inspect(image, "--dis", "heap")
    assert r.stdout.rstrip().splitlines()[-2].split()[-1] == "STOP", r.stdout[-300:]
    pickle = tmp_path / "heap.pickle"
    with open(pickle, "wb") as f:
        subprocess.run([*AMBER, "inspect", "--extract", "heap", str(image.image)], stdout=f, check=True)
    assert pickle.read_bytes() == bytes(fmt.read_image(str(image.image)).section(fmt.HEAP))
    r = run([sys.executable, "-m", "pickletools", str(pickle)])
    assert r.returncode == 0, r.stderr[-500:]  # a valid pickle program: nothing left on the stack
    assert image.restore().stdout == "True {'n': 1}\n"


def test_inspect_dis_prelude_stats_header(image):
    prelude = inspect(image, "--dis", "prelude").stdout
    for field in fmt.PRELUDE_SCHEMA.fields:
        assert f"{field.name} = " in prelude and field.meaning in prelude
    assert "'json'" in prelude or "'_json'" in prelude  # a module imported again
    stats = inspect(image, "--dis", "stats").stdout
    assert re.search(r"^objects = \d+", stats, re.M) and "modules_by_value = " in stats
    header = inspect(image, "--dis", "header").stdout
    assert f"format = {fmt.FORMAT_VERSION}" in header and "kind = 'main-guard'" in header
    assert "scheme = 1" in header  # HMAC-signed, shown from signing.BLOCK


def test_inspect_decoder_on_damaged_images(image, tmp_path):
    data = image.image.read_bytes()
    _name, at, length, _digest = next(s for s in fmt.read_image(str(image.image)).header["sections"]
                                      if s[0] == fmt.STATS)
    damaged = tmp_path / "damaged.amber"
    damaged.write_bytes(data[:at + length // 2] + bytes([data[at + length // 2] ^ 1]) + data[at + length // 2 + 1:])
    r = run([*AMBER, "inspect", "--sections", str(damaged)])
    assert r.returncode == 2 and "DAMAGED" in r.stdout.splitlines()[3], r.stdout
    assert r.stderr.strip().splitlines() == [f"amber: error: {damaged}: image is damaged (section 'stats' "
                                             f"fails its checksum)"]
    for args in (["--dis", "stats"], ["--extract", "stats"], ["--dis", "nothing"], ["--dis", "heap", "--json"]):
        r = run([*AMBER, "inspect", *args, str(damaged)])
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("amber: error: "), (args, r.stderr)


def _hand_made(tmp_path, good: fmt.Image, **replaced: bytes) -> fmt.Image:
    """``good`` written again (unsigned) with some sections replaced; read with --insecure."""
    header = {k: v for k, v in good.header.items() if k not in ("format", "sections")}
    sections = [(name, replaced.get(name, bytes(good.verified(name)))) for name, *_ in good.header["sections"]]
    path = tmp_path / "handmade.amber"
    writer.write_image(str(path), header, sections)
    return fmt.read_image(str(path), insecure=True)


def test_a_restore_checks_the_prelude_against_its_schema(image, tmp_path):
    """Every record a restore decodes is checked before it is used: the prelude too."""
    from amber.restore import loader

    made = _hand_made(tmp_path, fmt.read_image(str(image.image)),
                      prelude=marshal.dumps({"environ": 5, "path": [], "imports": []}))
    with pytest.raises(ImageError, match=r"image is damaged \(section 'prelude' has the wrong shape: "
                                         r"prelude.environ: expected a dict"):
        loader.load_image(made)
    r = run([*AMBER, "restore", "--insecure", str(tmp_path / "handmade.amber")])
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "'prelude' has the wrong shape" in r.stderr


def test_each_section_digest_is_checked_once(image, monkeypatch):
    """inspect verifies every section, then decodes some: a section read is hashed once."""
    hashed = []
    real = fmt.digest
    monkeypatch.setattr(fmt, "digest", lambda data: hashed.append(len(data)) or real(data))
    img = fmt.read_image(str(image.image))
    hashed.clear()
    img.verified(fmt.STATS)
    stats = img.decode(fmt.STATS, records.STATS_SCHEMA)
    img.section(fmt.STATS)
    assert len(hashed) == 1 and stats["objects"] > 0
    img.decode(fmt.PRELUDE)
    assert len(hashed) == 2


def test_a_record_shown_before_it_is_refused(image, tmp_path):
    made = _hand_made(tmp_path, fmt.read_image(str(image.image)), stats=marshal.dumps({"objects": "many"}))
    value = made.decode(fmt.STATS, records.STATS_SCHEMA, check=False)
    assert value == {"objects": "many"}
    with pytest.raises(ImageError, match=r"section 'stats' has the wrong shape: stats.objects: expected int"):
        made.check_record(fmt.STATS, records.STATS_SCHEMA, value)
    with pytest.raises(ImageError, match=r"section 'stats' has the wrong shape"):
        made.decode(fmt.STATS, records.STATS_SCHEMA)
    from amber.commands import inspect as inspect_command

    out = io.StringIO()
    with pytest.raises(ImageError, match=r"section 'stats' has the wrong shape"):
        inspect_command.disassemble(made, fmt.STATS, out)
    assert "objects = 'many'  # the objects in the heap" in out.getvalue()


def test_dis_heap_shows_ints_past_the_digit_limit():
    """A heap holding an int of more than 4300 digits: pickletools must repr it whole."""
    from types import SimpleNamespace

    from amber.commands import inspect as inspect_command

    big = 7 ** 6000  # 5071 digits
    out = io.StringIO()
    limit = sys.get_int_max_str_digits()
    inspect_command._dis_heap(SimpleNamespace(path="x.amber"), memoryview(pickle.dumps(big, protocol=5)), out)
    assert sys.get_int_max_str_digits() == limit  # put back
    with pytest.raises(ValueError):
        str(big)
    sys.set_int_max_str_digits(0)
    try:
        assert str(big) in out.getvalue()
    finally:
        sys.set_int_max_str_digits(limit)


def test_records_that_claim_more_items_than_bytes_are_refused_at_once(tmp_path):
    """marshal.loads allocates the list a count claims before it reads the items: five bytes
    claiming 2**31 - 1 items cost gigabytes and half a minute (found by bench/fuzz.py in a stats
    section, re-signed). Records are checked first (plausible_record) wherever they are not the
    signer's own word: amber inspect, --insecure."""
    import time

    for value in ([1, 2, 3], (1, "a", b"x"), {"a": [1.5, None, True, False, 2 ** 100, -2 ** 70]}, {1, 2},
                  frozenset({1}), "é" * 300, ("a",) * 300, [], {}, (), 2 ** 31, -5, valid_header()):
        blob = marshal.dumps(value)
        assert fmt.plausible_record(blob) and fmt.load_record(blob) == value, value
    hostile = [b"[" + (2 ** 31 - 1).to_bytes(4, "little"), b"(" + (2 ** 30).to_bytes(4, "little") + b"N",
               b"l" + (2 ** 31 - 1).to_bytes(4, "little"), b"s" + (2 ** 31 - 1).to_bytes(4, "little"),
               b"u\xff\xff\xff\xff", b")\xff" + b"N" * 10, marshal.dumps(compile("1", "x", "eval")),
               marshal.dumps([1, 2])[:-1]]
    for blob in hostile:
        assert not fmt.plausible_record(blob), blob
    header = valid_header()
    header["stats"] = None
    image_path = tmp_path / "hostile.amber"
    blob = marshal.dumps(header)
    body = b"[" + (2 ** 31 - 1).to_bytes(4, "little")
    header["sections"] = [(fmt.STATS, 4096, len(body), fmt.digest(body))]
    for name in (fmt.BUFFERS, fmt.LAZY_CODE):
        del header[name]
    blob = marshal.dumps(header)
    raw = writer.prefix(blob) + signing.BLOCK.pack() + blob
    image_path.write_bytes(raw + bytes(4096 - len(raw)) + body)
    started = time.monotonic()
    image = fmt.read_image(str(image_path), check_interpreter=False, insecure=True)
    with pytest.raises(ImageError, match=r"section 'stats' cannot be decoded"):
        image.decode(fmt.STATS, records.STATS_SCHEMA)
    assert time.monotonic() - started < 2
