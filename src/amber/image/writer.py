"""Writing an image: the capture side of :mod:`amber.image.format` (not on the restore path).

``write_image`` lays the sections out as :data:`amber.image.records.SECTIONS` aligns them, builds
the header through ``HEADER_SCHEMA``, the prefix through ``format.PREFIX`` (``prefix``) and the
signature block through ``signing.BLOCK``, and writes the file atomically. ``lay_out_buffers``
and ``Pieces`` are the mapped buffers section: page-aligned pieces, written without joining them.
"""

import marshal
import os
from _blake2 import blake2b
from collections.abc import Callable

from amber._files import create_temporary
from amber.image import signing
from amber.image.format import (
    BUFFER_LEAF,
    FORMAT_VERSION,
    HEADER_AT,
    LAUNCH_LINE_MAX,
    MAGIC,
    PAGE_SIZE,
    PREFIX,
    SECTION_ALIGN,
    SIGNATURE_AT,
    TREE_HASHED,
    digest,
    leaf_count,
    leaf_hasher,
    tree_root,
)
from amber.image.records import HEADER_SCHEMA, SECTIONS

__all__ = ["prefix", "write_image", "lay_out_buffers", "Pieces", "TreeHash"]


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


class TreeHash:
    """``format.tree_digest`` of ``length`` bytes given in parts, in order (``update``)."""

    def __init__(self, length: int) -> None:
        self.leaves = leaf_count(length)
        self.done: list[bytes] = []
        self.current = leaf_hasher(0, self.leaves)
        self.room = BUFFER_LEAF  # what the current leaf still takes

    def update(self, data) -> None:
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        while len(view) > self.room:
            self.current.update(view[:self.room])
            view = view[self.room:]
            self._next_leaf()
        self.current.update(view)
        self.room -= len(view)
        if not self.room and len(self.done) + 1 < self.leaves:
            self._next_leaf()

    def _next_leaf(self) -> None:
        self.done.append(self.current.digest())
        self.current = leaf_hasher(len(self.done), self.leaves)
        self.room = BUFFER_LEAF

    def digest(self) -> bytes:
        return tree_root(b"".join([*self.done, self.current.digest()]))


def section_digest(name: str, data) -> bytes:
    """The digest of section ``name`` holding ``data`` (bytes-like or Pieces), as ``format.
    section_digest`` checks it."""
    if isinstance(data, Pieces):
        return data.digest() if name in TREE_HASHED else data.flat_digest()
    if name in TREE_HASHED:
        h = TreeHash(len(data))
        h.update(data)
        return h.digest()
    return digest(data)


class Pieces:
    """A section given as pieces at offsets (the mapped buffers), written without joining them."""

    def __init__(self, length: int, pieces: list) -> None:
        self.length = length
        self.pieces = pieces  # [(offset in the section, bytes-like)], in order

    def __len__(self) -> int:
        return self.length

    def digest(self) -> bytes:
        """The tree digest (``format.tree_digest``): the buffers section's."""
        return self._hash(TreeHash(self.length))

    def flat_digest(self) -> bytes:
        """The plain digest (``format.digest``), for a section that is not tree-hashed."""
        return self._hash(blake2b(digest_size=32))

    def _hash(self, h) -> bytes:
        pos = 0
        for start, data in self.pieces:
            h.update(bytes(start - pos))
            h.update(data)
            pos = start + memoryview(data).nbytes
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


def _header(header: dict, sections: list, digests: list, base: int = 0) -> tuple:
    """(encoded header, section table): the sections laid out after the header (which starts
    ``base`` + the prefix into the file), whose length shifts them; iterated until the header's
    length is stable (it grows only by the width of the offsets)."""
    header_len = 0
    for _ in range(4):
        pos = _align(base + HEADER_AT + header_len, SECTION_ALIGN)
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


def launch_line(python: str, boot: str) -> bytes | None:
    """The launch line that makes an image start ``python -I -S boot exec IMAGE ARGS`` when run
    (see :mod:`amber.image.format`), or None where no ``#!`` line can say it: a path with a
    character ``env -S`` would split or interpret, or a line longer than Linux reads."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-,:@%=")
    if os.name != "posix" or not all(p.startswith("/") and set(p) <= safe for p in (python, boot)):
        return None
    line = f"#!/usr/bin/env -S {python} -I -S {boot} exec\n".encode()
    return line if len(line) <= LAUNCH_LINE_MAX else None


def write_image(path: str, header: dict, sections: list, signature: tuple | None = None,
                before_publish: Callable[[str], None] | None = None, launch: bytes = b"") -> int:
    """Write ``sections`` (a list of (name, bytes-like or Pieces), aligned as ``SECTIONS`` says)
    atomically to ``path``, signed by ``signature`` = (scheme, key id, sign) (unsigned without one).
    ``header`` has every field of ``HEADER_SCHEMA`` but ``format`` and ``sections``.
    ``before_publish(temporary)`` runs on the complete file before it gets its name (a
    verification); if it raises, the file is removed and the exception propagates. ``launch``: a
    launch line (:func:`launch_line`) to start the file with; the file is then executable (0700).

    Returns the size of the file. The file appears under its name only when complete.
    """
    digests = [section_digest(name, data) for name, data in sections]
    blob, table = _header(header, sections, digests, len(launch))
    # 0600: an image holds the program's whole state. The temporary is created exclusively under
    # an unpredictable name (amber._files): a file or symlink planted beside the image is never
    # followed, and a temporary left by a writer that was killed is swept by its dead pid.
    fd, tmp = create_temporary(os.path.abspath(path), 0o700 if launch else 0o600)
    try:
        with open(fd, "wb") as f:
            signed = prefix(blob)
            f.write(launch)
            f.write(signed)
            f.write(signing.sign_block(signature, launch + signed + blob))
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
        if before_publish is not None:
            before_publish(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return size
