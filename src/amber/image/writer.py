"""Writing an image: the capture side of :mod:`amber.image.format` (not on the restore path).

``write_image`` lays the sections out as :data:`amber.image.records.SECTIONS` aligns them, builds
the header through ``HEADER_SCHEMA``, the prefix through ``format.PREFIX`` (``prefix``) and the
signature block through ``signing.BLOCK``, and writes the file atomically. ``lay_out_buffers``
and ``Pieces`` are the mapped buffers section: page-aligned pieces, written without joining them.
"""

import marshal
import os
from _blake2 import blake2b

from amber.image import signing
from amber.image.format import (
    DIGEST_SIZE,
    FORMAT_VERSION,
    HEADER_AT,
    MAGIC,
    PAGE_SIZE,
    PREFIX,
    SECTION_ALIGN,
    SIGNATURE_AT,
    digest,
)
from amber.image.records import HEADER_SCHEMA, SECTIONS

__all__ = ["prefix", "write_image", "lay_out_buffers", "Pieces"]


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def lay_out_buffers(sizes: list) -> tuple:
    """Offsets, within the mapped section, of buffers of ``sizes``: each on a page boundary.
    Returns (offsets, length of the section)."""
    offsets, pos = [], 0
    for size in sizes:
        offsets.append(pos)
        pos = _align(pos + size, PAGE_SIZE)
    return offsets, pos


class Pieces:
    """A section given as pieces at offsets (the mapped buffers), written without joining them."""

    def __init__(self, length: int, pieces: list) -> None:
        self.length = length
        self.pieces = pieces  # [(offset in the section, bytes-like)], in order

    def __len__(self) -> int:
        return self.length

    def digest(self) -> bytes:
        h, pos = blake2b(digest_size=DIGEST_SIZE), 0
        for start, data in self.pieces:
            h.update(bytes(start - pos))
            h.update(data)
            pos = start + len(data)
        h.update(bytes(self.length - pos))
        return h.digest()

    def write_to(self, f, at: int) -> None:
        for start, data in self.pieces:
            f.write(b"\0" * (at + start - f.tell()))
            f.write(data)
        f.write(b"\0" * (at + self.length - f.tell()))


def prefix(header: bytes) -> bytes:
    """The signed part of the prefix (all of it before the signature block) for the encoded ``header``."""
    return PREFIX.pack(magic=MAGIC, format=FORMAT_VERSION, header_length=len(header),
                       header_digest=digest(header))[:SIGNATURE_AT]


def _header(header: dict, sections: list, digests: list) -> tuple:
    """(encoded header, section table): the sections laid out after the header, whose length
    shifts them; iterated until the header's length is stable (it grows only by the width of
    the offsets)."""
    header_len = 0
    for _ in range(4):
        pos = _align(HEADER_AT + header_len, SECTION_ALIGN)
        table = []
        for (name, data), dig in zip(sections, digests, strict=True):
            pos = _align(pos, SECTIONS[name].align)
            table.append((name, pos, len(data), dig))
            pos += len(data)
        blob = marshal.dumps(HEADER_SCHEMA.build(**dict(header, format=FORMAT_VERSION, sections=table)))
        if len(blob) == header_len:
            return blob, table
        header_len = len(blob)
    raise AssertionError("image header did not converge")  # pragma: no cover - it does in two rounds


def write_image(path: str, header: dict, sections: list, signature: tuple | None = None) -> int:
    """Write ``sections`` (a list of (name, bytes-like or Pieces), aligned as ``SECTIONS`` says)
    atomically to ``path``, signed by ``signature`` = (scheme, key id, sign) (unsigned without one).
    ``header`` has every field of ``HEADER_SCHEMA`` but ``format`` and ``sections``.

    Returns the size of the file. The file appears under its name only when complete.
    """
    digests = [data.digest() if isinstance(data, Pieces) else digest(data) for _, data in sections]
    blob, table = _header(header, sections, digests)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        # 0600: an image holds the program's whole state.
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            signed = prefix(blob)
            f.write(signed)
            f.write(signing.sign_block(signature, signed + blob))
            f.write(blob)
            for (_name, offset, _length, _digest), (_, data) in zip(table, sections, strict=True):
                f.write(b"\0" * (offset - f.tell()))
                if isinstance(data, Pieces):
                    data.write_to(f, offset)
                else:
                    f.write(data)
            size = f.tell()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return size
