"""The image format and an image's parts, shown to people, from the declarations alone.

* ``document()``: the reference in :mod:`amber.image.format`'s docstring, generated from the
  layouts, schemas and sections of :mod:`amber.image.format` and :mod:`amber.image.records`
  (``tests/test_format.py`` keeps the docstring equal to it); ``layout_doc``: a layout's table;
* ``show(type, value)``: a decoded value, field by field with each field's meaning, tables as
  aligned columns (``amber inspect --dis``); ``show_layout``: a fixed layout's fields, decoded. They
  show whatever they are given as far as it goes, and never raise on a value that does not match
  its schema: checking is :mod:`amber.image.schema`'s;
* ``columns(rows)``: rows of cells as aligned columns, the one table maker of ``amber inspect``.

Not on the restore path (only ``amber inspect`` and the tests use it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from amber.image import format as fmt
from amber.image import records
from amber.image.schema import DictOf, Layout, ListOf, Maybe, Record, Row, Scalar, Type

NAME_WIDTH = 21  # the field-name column of the reference


# --- values ---------------------------------------------------------------------------------------

def cell(t: Type, value: object) -> str:
    """``value`` in one short piece: itself, or how many entries a container has."""
    return _CELL.get(type(t), _cell_plain)(t, value)


def _cell_plain(t: Type, value: object) -> str:
    return repr(value)


def _cell_scalar(t: Scalar, value: object) -> str:
    if t.pytype is bytes and t.size is not None and isinstance(value, bytes):
        return value.hex()  # a digest
    return repr(value)


def _cell_maybe(t: Maybe, value: object) -> str:
    return "None" if value is None else cell(t.inner, value)


def _cell_row(t: Row, value: object) -> str:
    if type(value) is not tuple or len(value) != t.width:
        return repr(value)
    return "(" + ", ".join(cell(c, v) for (_n, c), v in zip(t.columns, value, strict=True)) + ")"


def _cell_container(t: Type, value: object) -> str:
    return f"{len(value)} entries" if isinstance(value, list | tuple | dict) else repr(value)


def _cell_record(t: Record, value: object) -> str:
    return f"{len(value)} fields" if isinstance(value, dict) else repr(value)


_CELL: dict[type, Callable[[Any, object], str]] = {
    Scalar: _cell_scalar, Maybe: _cell_maybe, Row: _cell_row, ListOf: _cell_container,
    DictOf: _cell_container, Record: _cell_record}


def show(t: Type, value: object, indent: str = "") -> list[str]:
    """The lines that show ``value`` below its own line: a container's entries, a record's fields."""
    if isinstance(t, Maybe):
        return [] if value is None else show(t.inner, value, indent)
    if isinstance(t, Record):
        return _show_record(t, value, indent)
    if isinstance(t, ListOf) and isinstance(value, list | tuple) and value:
        if isinstance(t.item, Row) and t.item.mismatch_many(value) is None:
            return table(t.item, list(value), indent)
        return [f"{indent}[{i}] {cell(t.item, v)}" for i, v in enumerate(value)]
    if isinstance(t, DictOf) and isinstance(value, dict) and value:
        if isinstance(t.value, Row) and t.value.mismatch_many(list(value.values())) is None:
            return table(t.value, list(value.values()), indent, ("key", [cell(t.key, k) for k in value]))
        return [f"{indent}{cell(t.key, k)}: {cell(t.value, v)}" for k, v in value.items()]
    return []


def _show_record(t: Record, value: object, indent: str) -> list[str]:
    if not isinstance(value, dict):
        return [indent + repr(value)]
    lines = []
    for f in t.fields:
        if f.name not in value:
            if not f.optional:
                lines.append(f"{indent}{f.name}: MISSING  # {f.meaning}")
            continue
        item = value[f.name]
        lines.append(f"{indent}{f.name} = {cell(f.type, item)}  # {f.meaning}")
        lines += show(f.type, item, indent + "    ")
    lines += [f"{indent}{k} = {v!r}  # (not in the schema)" for k, v in value.items() if k not in t.names]
    return lines


def table(row: Row, rows: list, indent: str = "", first: tuple | None = None) -> list[str]:
    """``rows`` (which have the type ``row``) as aligned columns under a heading; ``first`` =
    (heading, cells) puts one more column in front."""
    heading = [name for name, _t in row.columns]
    cells = [[cell(t, v) for (_n, t), v in zip(row.columns, r, strict=True)] for r in rows]
    if first is not None:
        heading = [first[0], *heading]
        cells = [[key, *r] for key, r in zip(first[1], cells, strict=True)]
    return columns([heading, *cells], indent=indent)


def columns(rows: list, right: tuple = (), indent: str = "") -> list[str]:
    """``rows`` of strings (the first is the heading) as aligned columns two spaces apart, those
    whose index is in ``right`` aligned right, the others left."""
    widths = [max(len(c) for c in column) for column in zip(*rows, strict=True)]
    return [indent + "  ".join(c.rjust(w) if i in right else c.ljust(w)
                               for i, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in rows]


def show_layout(layout: Layout, data, indent: str = "", nested: dict | None = None) -> list[str]:
    """The fields of ``data`` (the bytes ``layout`` describes), decoded, each with its meaning;
    ``nested`` maps a field to the Layout that shows its bytes instead."""
    lines = []
    for name, off, size, kind, meaning in layout.fields:
        raw = bytes(data[off:off + size])
        if nested and name in nested:
            lines.append(f"{indent}{name}:  # {meaning}")
            lines += show_layout(nested[name], raw, indent + "    ")
            continue
        value = (int.from_bytes(raw, "little") if kind == "int" else raw.hex() if kind == "hex"
                 else repr(raw))
        lines.append(f"{indent}{name} = {value}  # {meaning}")
    return lines


# --- the reference --------------------------------------------------------------------------------

def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (textwrap is not worth its imports)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def record_doc(record: Record) -> list[str]:
    """Each field: name and type, then its meaning; then the checks across fields."""
    lines = []
    for f in record.fields:
        lines.append(f"{f.name:<{NAME_WIDTH}}{f.type.text}{', optional' if f.optional else ''}")
        lines += [" " * NAME_WIDTH + part for part in wrap(f.meaning, 72)]
    lines += [f"and: {text}" for text, _check in record.checks]
    return lines


def layout_doc(layout: Layout) -> list[str]:
    """The table of a layout's fields, for a docstring."""
    lines = ["offset  size  field"]
    lines += [f"{off:<8}{size:<6}{name}: {meaning}" for name, off, size, _kind, meaning in layout.fields]
    return lines


def section_doc(section: records.Section) -> list[str]:
    what = (f": dict {section.schema.name} (below)" if section.schema else "") + (
        f", returns dict {section.returns.name} (below)" if section.returns else "")
    how = "mapped" if section.mapped else "read"
    lines = [f"{section.name:<13}{section.encoding}{what}; {section.align} bytes; {how}"]
    parts = wrap(section.meaning, 80) + wrap(f"digest: {section.checked}", 80)
    return lines + [" " * 13 + part for part in parts]


def document() -> str:
    """The generated part of :mod:`amber.image.format`'s docstring."""
    def block(intro: str, lines: list[str]) -> str:
        return "\n".join(wrap(intro + "::", 96)) + "\n\n" + "\n".join("    " + line for line in lines) + "\n"

    prefix = layout_doc(fmt.PREFIX) + [
        f"{fmt.HEADER_AT:<8}H     header: marshal-encoded (only str, int, float, bytes, tuple, list, dict)"]
    read = ", ".join(fmt.HEADER_READ.names)
    header = (f"The header (a dict; each field is name, type, meaning; extra keys are ignored; a restore "
              f"checks the fields it reads, {read}; amber inspect checks them all)")
    blocks = [block(f"The prefix ({fmt.HEADER_AT} bytes, after the launch line if there is one; integers "
                         f"little-endian unsigned)", prefix),
              block(header, record_doc(records.HEADER_SCHEMA))]
    blocks += [block(f"{r.name} (a dict)", record_doc(r))
               for r in (fmt.PYTHON_SCHEMA, records.SNAPSHOT_POINT_SCHEMA, records.RUN_SCHEMA)]
    blocks.append(block("The sections, in the order they are written (name, encoding; alignment; read or "
                        "mapped)", [line for s in records.SECTIONS.values() for line in section_doc(s)]))
    blocks += [block(f"{r.name} (a dict)", record_doc(r))
               for r in (fmt.PRELUDE_SCHEMA, records.MANIFEST_SCHEMA, records.STATS_SCHEMA,
                         fmt.INPUTS_SCHEMA)]
    return "\n".join(blocks)
