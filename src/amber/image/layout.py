"""Fixed layouts: fields of fixed size, back to back, declared once with their meanings.

The image's prefix (:data:`amber.image.format.PREFIX`) and the signature block inside it
(:data:`amber.image.signing.BLOCK`) are declared with ``Layout``: readers and writers take every
offset from them, the docstrings' tables are generated from them (``doc``), and ``amber inspect
--dis header`` decodes them (``show``). A module of its own so that ``format`` and ``signing`` both
use it without importing each other in a cycle.

On the restore path: imports nothing.
"""


class Layout:
    """Fields of fixed size, back to back from offset 0: (name, size in bytes, kind, meaning); the
    kind says how ``show`` decodes a field for people: "int" (little-endian unsigned), "bytes", "hex"."""

    def __init__(self, title: str, fields: tuple) -> None:
        self.title = title
        self.fields: list[tuple[str, int, int, str]] = []  # (name, offset, size, meaning)
        self._kinds: dict[str, str] = {}
        pos = 0
        for name, size, kind, meaning in fields:
            self.fields.append((name, pos, size, meaning))
            self._kinds[name] = kind
            pos += size
        self.size = pos
        self._slices = {name: slice(off, off + size) for name, off, size, _ in self.fields}

    def __getitem__(self, name: str) -> slice:
        """Where field ``name`` is, as a slice of the bytes the layout describes."""
        return self._slices[name]

    def doc(self) -> list[str]:
        """The table of the fields, for a docstring."""
        lines = ["offset  size  field"]
        lines += [f"{off:<8}{size:<6}{name}: {meaning}" for name, off, size, meaning in self.fields]
        return lines

    def show(self, data, indent: str, nested: dict | None = None) -> list[str]:
        """The fields of ``data``, decoded, each with its meaning; ``nested`` maps a field to the
        Layout that shows its bytes instead."""
        lines = []
        for name, off, size, meaning in self.fields:
            raw = bytes(data[off:off + size])
            if nested and name in nested:
                lines.append(f"{indent}{name}:  # {meaning}")
                lines += nested[name].show(raw, indent + "    ")
                continue
            kind = self._kinds[name]
            value = (int.from_bytes(raw, "little") if kind == "int" else raw.hex() if kind == "hex"
                     else repr(raw))
            lines.append(f"{indent}{name} = {value}  # {meaning}")
        return lines
