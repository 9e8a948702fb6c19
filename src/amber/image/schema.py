"""The small type language the image format is declared in (:mod:`amber.image.format`).

``Layout`` declares the fixed-size binary parts (the prefix, the signature block): fields back to
back, each with its size and meaning; readers take every offset from it and writers make the
bytes with ``pack``.

A schema says what a marshal-encoded part of an image holds: ``Record`` (a dict of named
``Field``\\ s, each with a type and a one-line meaning, plus checks across fields), ``ListOf``,
``DictOf``, ``Row`` (a tuple of named columns), ``Maybe`` (or None), ``Scalar`` (one exact type,
optionally bounded, of one length or one of some values) and ``Type`` (any value, or an instance
of a class). Checking is all this module does: ``mismatch(value)`` is None when ``value`` has the
type, else ``(where, what is wrong)``, "where" being a path such as ``.sections[2].offset``;
``Record.problem`` makes that one line, and ``Record.build``/``encode`` are how writers make a
part, checked. Showing a value, a schema or a layout to people is :mod:`amber.image.explain`.

The header is checked on every restore, so lists are checked column by column with C-level
iteration (``set(map(type, ...))``, ``min``), and only a list found wrong is walked again in
Python to say where.

On the restore path: imports only the base set.
"""

import marshal

_ABSENT = object()
_TUPLE = frozenset((tuple,))


class Layout:
    """Fields of fixed size, back to back from offset 0, given as (name, size in bytes, kind,
    meaning); the kind says what a field holds: "int" (little-endian unsigned), "bytes", "hex"
    (bytes shown in hex). ``fields`` holds (name, offset, size, kind, meaning)."""

    def __init__(self, title: str, fields: tuple) -> None:
        self.title = title
        self.fields: list[tuple[str, int, int, str, str]] = []
        pos = 0
        for name, size, kind, meaning in fields:
            self.fields.append((name, pos, size, kind, meaning))
            pos += size
        self.size = pos
        self._slices = {name: slice(off, off + size) for name, off, size, _kind, _meaning in self.fields}

    def __getitem__(self, name: str) -> slice:
        """Where field ``name`` is, as a slice of the bytes the layout describes."""
        return self._slices[name]

    def pack(self, **values: int | bytes) -> bytes:
        """The layout's bytes: each field given, in its place (an int little-endian, bytes
        zero-padded to the field's size), zeros where a field is not given."""
        out = bytearray(self.size)
        for name, value in values.items():
            if name not in self._slices:
                raise ValueError(f"{self.title} has no field {name!r}")
            where = self._slices[name]
            size = where.stop - where.start
            if isinstance(value, int):
                fits = 0 <= value < 1 << (8 * size)
                raw = value.to_bytes(size, "little") if fits else b""
            else:
                raw = bytes(value)
                fits = len(raw) <= size
            if not fits:
                raise ValueError(f"{self.title}.{name}: {value!r} does not fit in {size} bytes")
            out[where.start:where.start + len(raw)] = raw
        return bytes(out)


def _got(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


class Type:
    """Any value, or any instance of ``cls``: documented, checked no further."""

    def __init__(self, text: str = "any", cls: type | None = None) -> None:
        self.text = text
        self.cls = cls

    def mismatch(self, value: object) -> tuple | None:
        if self.cls is None or isinstance(value, self.cls):
            return None
        return "", f"expected {self.text}, got {_got(value)}"

    def mismatch_many(self, values) -> tuple | None:
        """The first of ``values`` without the type, as ``("[i]" + where, what)``, or None."""
        for i, value in enumerate(values):
            why = self.mismatch(value)
            if why is not None:
                return f"[{i}]{why[0]}", why[1]
        return None


class Scalar(Type):
    """A value of exactly ``pytype`` (a bool is no int here), optionally at least ``minimum``,
    of length ``size``, or one of ``values``."""

    def __init__(self, pytype: type, text: str, minimum: int | None = None, size: int | None = None,
                 values: tuple = ()) -> None:
        self.text = text
        self.cls = self.pytype = pytype
        self.minimum = minimum
        self.size = size
        self.values = frozenset(values) if values else None
        self._only = frozenset((pytype,))
        self._plain = minimum is None and size is None and not values

    def mismatch(self, value: object) -> tuple | None:
        if type(value) is self.pytype and (self._plain or self._within(value)):
            return None
        return "", f"expected {self.text}, got {_got(value)}"

    def _within(self, value) -> bool:
        return ((self.minimum is None or value >= self.minimum)
                and (self.size is None or len(value) == self.size)
                and (self.values is None or value in self.values))

    def mismatch_many(self, values) -> tuple | None:
        if set(map(type, values)) <= self._only and (self._plain or not values or (
                (self.minimum is None or min(values) >= self.minimum)
                and (self.size is None or set(map(len, values)) == {self.size})
                and (self.values is None or set(values) <= self.values))):
            return None
        return Type.mismatch_many(self, values)


class Maybe(Type):
    """A value of ``inner``, or None."""

    def __init__(self, inner: Type) -> None:
        self.inner = inner
        self.text = f"{inner.text} or None"

    def mismatch(self, value: object) -> tuple | None:
        if value is None:
            return None
        why = self.inner.mismatch(value)
        if why is not None and not why[0]:  # the value itself is wrong, not something inside it
            return "", f"expected {self.text}, got {_got(value)}"
        return why

    def mismatch_many(self, values) -> tuple | None:
        if self.inner.mismatch_many([v for v in values if v is not None]) is None:
            return None
        return Type.mismatch_many(self, values)  # again, one by one, for the index


class Row(Type):
    """A tuple of named columns, ``(name: type, ...)``, given as (name, type) pairs."""

    def __init__(self, *columns: tuple) -> None:
        self.columns = columns
        self.text = "(" + ", ".join(f"{name}: {t.text}" for name, t in columns) + ")"
        self.width = len(columns)

    def mismatch(self, value: object) -> tuple | None:
        if type(value) is not tuple or len(value) != self.width:
            return "", f"expected a tuple {self.text}, got {_got(value)}"
        for (name, t), item in zip(self.columns, value, strict=True):
            why = t.mismatch(item)
            if why is not None:
                return f".{name}{why[0]}", why[1]
        return None

    def mismatch_many(self, values) -> tuple | None:
        if len(values) < 8:  # a few rows: one by one is cheaper than column by column
            return Type.mismatch_many(self, values)
        if set(map(type, values)) <= _TUPLE:
            try:
                columns = list(zip(*values, strict=True))  # rows of unequal lengths raise
            except ValueError:
                columns = []
            if len(columns) == self.width and all(t.mismatch_many(column) is None for (_name, t), column
                                                   in zip(self.columns, columns, strict=True)):
                return None
        return Type.mismatch_many(self, values)  # again, one by one, for the first wrong row


class ListOf(Type):
    """A list (or a tuple: ``container``) of values of one type."""

    def __init__(self, item: Type, container: type = list) -> None:
        self.item = item
        self.container = container
        self.text = f"{container.__name__} of {item.text}"

    def mismatch(self, value: object) -> tuple | None:
        if type(value) is not self.container:
            return "", f"expected a {self.text}, got {_got(value)}"
        return self.item.mismatch_many(value)


class DictOf(Type):
    """A dict of keys of one type to values of another."""

    def __init__(self, key: Type, value: Type) -> None:
        self.key = key
        self.value = value
        self.text = f"dict of {key.text} -> {value.text}"

    def mismatch(self, value: object) -> tuple | None:
        if type(value) is not dict:
            return "", f"expected a {self.text}, got {_got(value)}"
        keys = list(value)
        why = self.key.mismatch_many(keys)
        if why is not None:
            return f" key {why[0]}", why[1]
        why = self.value.mismatch_many(list(value.values()))
        if why is not None:  # "[i]...": name the key instead of its position
            index, _, rest = why[0][1:].partition("]")
            return f"[{keys[int(index)]!r}]{rest}", why[1]
        return None


class Field:
    """One field of a record: its name, type and one-line meaning; optional ones may be absent."""

    __slots__ = ("name", "type", "meaning", "optional")

    def __init__(self, name: str, type: Type, meaning: str, optional: bool = False) -> None:
        self.name = name
        self.type = type
        self.meaning = meaning
        self.optional = optional


class Record(Type):
    """A dict with named fields, and checks across them, each (text, check(value) -> mismatch or
    None). Keys it does not name are ignored: readers look only at what they know."""

    def __init__(self, name: str, fields: tuple, checks: tuple = ()) -> None:
        self.name = name
        self.text = f"dict {name} (below)"
        self.fields = fields
        self.checks = checks
        self.names = tuple(f.name for f in fields)

    def field(self, name: str) -> Field:
        """The field called ``name`` (a record made of another's fields takes them from it)."""
        return self.fields[self.names.index(name)]

    def mismatch(self, value: object) -> tuple | None:
        if type(value) is not dict:
            return "", f"expected a dict ({self.name}), got {_got(value)}"
        get = value.get
        for f in self.fields:
            item = get(f.name, _ABSENT)
            if item is _ABSENT:
                if f.optional:
                    continue
                return f".{f.name}", "missing"
            why = f.type.mismatch(item)
            if why is not None:
                return f".{f.name}{why[0]}", why[1]
        for _text, check in self.checks:
            why = check(value)
            if why is not None:
                return why
        return None

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value``, in one line, or None."""
        why = self.mismatch(value)
        return None if why is None else f"{self.name}{why[0]}: {why[1]}"

    def build(self, **values: object) -> dict:
        """The record, checked: writers make every marshal-encoded part through this."""
        unknown = [name for name in values if name not in self.names]
        if unknown:
            raise ValueError(f"{self.name} has no field {unknown[0]!r}")
        record = {name: values[name] for name in self.names if name in values}
        problem = self.problem(record)
        if problem is not None:
            raise ValueError(problem)
        return record

    def encode(self, **values: object) -> bytes:
        return marshal.dumps(self.build(**values))
