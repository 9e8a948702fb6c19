"""The Amber image format, declared in one place.

An image is one file, written once (to a temporary name, then renamed) and never modified::

    offset  size  field
    0       8     MAGIC  b"\\x89AMB\\r\\n\\x1a\\n"  (the CR LF and ^Z catch text-mode copies)
    8       2     FORMAT_VERSION, little-endian unsigned
    10      2     flags (0; reserved)
    12      4     H = length of the header, little-endian unsigned
    16      32    BLAKE2b-256 digest of the header bytes
    48      80    signature block over bytes 0-48 and the header (see amber.image.signing)
    128     H     header: a ``marshal``-encoded dict (only str, int, float, bytes, tuple, list, dict)
    ...           sections, each starting at the offset the header gives, aligned to SECTION_ALIGN

The header says who made the image and where its sections are::

    {"format": 1, "amber": "0.1.0", "created": 1764050000.0,
     "python": {...interpreter identity, see interpreter_identity()...},
     "extensions": [(module name, file, size, mtime_ns), ...],
     "snapshot_point": {"kind": "call" | "main-guard" | "end", "line": 12, "script": "app.py"},
     "sections": [(name, offset, length, digest), ...]}

Sections (their digests are checked before they are decoded):

``prelude``
    ``marshal``: ``{"environ": {name: value or None}, "path": [...]}``: the changes the program
    made to its environment during start-up (bytes, applied over the restoring process's
    environment) and ``sys.path``; both are applied before the heap is rebuilt.
``heap``
    A pickle (protocol 5) program compiled by :mod:`amber.capture.compile.assembler`. Running it with the
    C unpickler rebuilds every captured object and returns the manifest (see
    :mod:`amber.restore.loader`). ``python -m pickletools`` disassembles it.
``stats``
    ``marshal``: counts and sizes for ``amber inspect``; never read by a restore.
``buffers`` (only when the heap holds large buffers)
    Raw bytes, each buffer starting on a page boundary of the file; the header's ``"buffers"``
    lists ``(offset in the section, length, read-only)``. The heap program takes them in order
    with the protocol-5 ``NEXT_BUFFER``/``READONLY_BUFFER`` opcodes. A restore maps this
    section copy-on-write instead of reading it, so processes restored from one image share
    these pages until they write, and restoring a 1 GB array costs a few page-table entries.
    Because it is mapped, its digest is checked only by ``amber restore --verify-buffers``
    (reading every byte is what mapping avoids). Buffers are plain data: the heap program that
    interprets them (dtype, shape, which object owns them) is always verified, so a changed
    buffer changes values, never which code runs. Only raw-byte buffers of at least
    ``MAPPED_MIN`` bytes go here (numpy arrays, bytes, bytearray, array.array).
``lazy_code`` (``amber snapshot --lazy-code`` only, experimental)
    One ``marshal``-encoded tuple of code objects per module, back to back; the header's
    ``"lazy_code"`` lists ``(start, length, BLAKE2b digest)`` for each. Mapped, not read: a
    blob is checked and unmarshalled when one of its functions is first called (see
    :mod:`amber.restore.lazy`).
``inputs`` (images built by ``amber run`` only)
    ``marshal``: ``{"files": [(path, size, mtime_ns) or (path, -1, -1) if absent], "env": [(name,
    keyed digest)], "env_names": keyed digest of the variable names or None}``: what start-up
    depended on (see :mod:`amber.capture.recorders.inputs`, checked by :mod:`amber.runcache.freshness`).
    Such images also carry ``"run": {"target", "args", "key_args"}`` in the header.

The signature and the header's digest are verified before the header is decoded, and each
section's digest before that section is decoded, so a damaged, truncated or forged file is
refused before any of it is used.
An image is code: restoring one runs code it contains. Only restore images you trust.

This module is on the restore path: it imports only the base set (see amber.restore.loader).
"""

import marshal
import sys
from _blake2 import blake2b

from amber.errors import ImageError
from amber.image import signing

MAGIC = b"\x89AMB\r\n\x1a\n"
FORMAT_VERSION = 2
PREFIX_SIZE = 48
HEADER_AT = PREFIX_SIZE + 80  # after the signature block
DIGEST_SIZE = 32
SECTION_ALIGN = 64
PAGE_SIZE = 4096  # the mapped buffers' alignment (also the mmap granularity on Linux and macOS)
MAPPED_MIN = 256 * 1024  # smaller buffers are cheaper inline in the heap than as a page-aligned mapping
MAPPED = "buffers"  # large buffers: a restore maps this section instead of reading it
LAZY_CODE = "lazy_code"  # code on first call: mapped too, each blob checked when first used
_NOT_READ = (MAPPED, LAZY_CODE)


def digest(data) -> bytes:
    return blake2b(data, digest_size=DIGEST_SIZE).digest()


def interpreter_identity() -> dict:
    """What must match between the snapshotting and the restoring interpreter."""
    import _frozen_importlib_external  # in every interpreter from start-up

    return {
        "implementation": sys.implementation.name,
        "version": sys.version,
        "hexversion": sys.hexversion,
        "cache_tag": sys.implementation.cache_tag,
        "bytecode_magic": bytes(_frozen_importlib_external.MAGIC_NUMBER),
        "platform": sys.platform,
        "abiflags": getattr(sys, "abiflags", ""),
        "maxsize": sys.maxsize,
        "byteorder": sys.byteorder,
        "executable": sys.executable,
    }


_MUST_MATCH = ("implementation", "version", "hexversion", "cache_tag", "bytecode_magic", "platform",
               "abiflags", "maxsize", "byteorder")


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


def write_image(path: str, header: dict, sections: list, signature: tuple | None = None) -> int:
    """Write ``sections`` (a list of (name, bytes-like or Pieces, alignment)) atomically to
    ``path``, signed by ``signature`` = (scheme, key id, sign) (unsigned without one).

    Returns the size of the file. The file appears under its name only when complete.
    """
    import os

    digests = [data.digest() if isinstance(data, Pieces) else digest(data) for _, data, _ in sections]
    # Lay the sections out first: their offsets go into the header, whose length shifts them.
    # Iterate until the header length is stable (it grows only by the width of the offsets).
    table: list = []
    header_len = 0
    for _ in range(4):
        pos = _align(HEADER_AT + header_len, SECTION_ALIGN)
        table = []
        for (name, data, align), dig in zip(sections, digests, strict=True):
            pos = _align(pos, max(align, SECTION_ALIGN))
            table.append((name, pos, len(data), dig))
            pos += len(data)
        full = dict(header, format=FORMAT_VERSION, sections=table)
        blob = marshal.dumps(full)
        if len(blob) == header_len:
            break
        header_len = len(blob)
    else:  # pragma: no cover - the header length converges in two rounds
        raise AssertionError("image header did not converge")

    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        # 0600: an image holds the program's whole state.
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            prefix = MAGIC + FORMAT_VERSION.to_bytes(2, "little") + (0).to_bytes(2, "little") + \
                len(blob).to_bytes(4, "little") + digest(blob)
            f.write(prefix)
            f.write(signing.sign_block(signature, prefix + blob))
            f.write(blob)
            for (_name, offset, _length, _digest), (_, data, _) in zip(table, sections, strict=True):
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


class Image:
    """A verified view of an image file. Sections are checked when first asked for.

    ``data`` holds the file from its start to the end of the last section that is read (every
    section but the mapped buffers); ``buffers()`` maps the rest.
    """

    def __init__(self, path: str, data: bytes, header: dict, size: int = 0, file=None):
        self.path = path
        self.data = data
        self.header = header
        self.size = size or len(data)
        self._file = file  # kept open from verification to mapping: the same file, even if renamed over
        self._whole: memoryview | None = None  # the file, mapped, once a mapped section is asked for
        self._sections = {name: (off, length, dig) for name, off, length, dig in header["sections"]}

    def section(self, name: str) -> memoryview:
        view, dig = self._read_section(name)
        if digest(view) != dig:
            raise ImageError(f"{self.path}: image is damaged (section {name!r} fails its checksum)")
        return view

    def _read_section(self, name: str) -> tuple:
        """(view, expected digest) of a section that was read, bounds-checked, not yet verified."""
        try:
            off, length, dig = self._sections[name]
        except KeyError:
            raise ImageError(f"{self.path}: image has no {name!r} section") from None
        view = memoryview(self.data)[off:off + length]
        if len(view) != length:
            raise ImageError(f"{self.path}: image is truncated (section {name!r} is cut short)")
        return view, dig

    def section_checked_meanwhile(self, name: str):
        """Start checking a section's digest on another thread (the hash releases the GIL)
        and return a function that waits for the check and returns the section: the restore
        imports modules meanwhile. Nothing of the section is used before the check passes."""
        import _thread

        view, dig = self._read_section(name)
        done = _thread.allocate_lock()
        done.acquire()
        verdict: list = []

        def check() -> None:
            try:
                verdict.append(digest(view) == dig)
            finally:
                done.release()

        _thread.start_new_thread(check, ())

        def wait() -> memoryview:
            done.acquire()
            if verdict != [True]:
                raise ImageError(f"{self.path}: image is damaged (section {name!r} fails its checksum)")
            return view
        return wait

    def has_section(self, name: str) -> bool:
        return name in self._sections

    def buffers(self, verify: bool = False) -> list:
        """The large buffers, as memoryviews of a copy-on-write mapping of the file."""
        table = self.header.get("buffers") or []
        if not table:
            return []
        if verify:
            self.verify_mapped(MAPPED)
        section = self._mapped(MAPPED)
        views = []
        for start, size, readonly in table:
            view = section[start:start + size]
            views.append(view.toreadonly() if readonly else view)
        return views

    def lazy_code(self) -> tuple:
        """(section view, [(start, length, digest) per module blob]) of the code that comes on first
        call (``amber snapshot --lazy-code``); each blob's digest is checked when it is used."""
        table = self.header.get(LAZY_CODE) or []
        return (self._mapped(LAZY_CODE), table) if table else (None, [])

    def verify_mapped(self, name: str) -> None:
        """Check the digest of a mapped section (reads it all: ``amber inspect`` does)."""
        if name in self._sections and digest(self._mapped(name)) != self._sections[name][2]:
            raise ImageError(f"{self.path}: image is damaged (section {name!r} fails its checksum)")

    def _mapped(self, name: str) -> memoryview:
        """A section not read but mapped (copy-on-write), bounds-checked."""
        off, length, _dig = self._sections[name]
        if self._whole is None:
            file, self._file = self._file, None
            if off + length > self.size or file is None:
                raise ImageError(f"{self.path}: image is truncated (section {name!r} is cut short)")
            from amber._compat import map_file_private

            try:
                self._whole = memoryview(map_file_private(file.fileno()))
            except (OSError, ValueError) as e:
                raise ImageError(f"{self.path}: cannot map the image: {e}") from None
            finally:
                file.close()
        if len(self._whole) < off + length:  # the file shrank after it was verified
            raise ImageError(f"{self.path}: image is truncated (section {name!r} is cut short)")
        return self._whole[off:off + length]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_image(path: str, check_interpreter: bool = True, insecure: bool = False) -> Image:
    """Open and verify ``path``; raise ImageError with a one-line reason if it cannot be used.

    Reads the prefix, the header and every section but the mapped buffers (see ``Image``)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such image file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read image: {e.strerror or e}") from None
    try:
        image = _read_verified(path, f, insecure)
    except BaseException:
        f.close()
        raise
    if check_interpreter:
        try:
            check_compatible(image)
        except BaseException:
            image.close()
            raise
    return image


def _read_verified(path: str, f, insecure: bool) -> Image:
    try:
        size = _file_size(f)
        data = f.read(HEADER_AT)
        if data[:8] != MAGIC:
            raise ImageError(f"{path}: not an Amber image (bad magic)")
        if len(data) < HEADER_AT:
            raise ImageError(f"{path}: image is truncated (incomplete prefix)")
        version = int.from_bytes(data[8:10], "little")
        if version != FORMAT_VERSION:
            raise ImageError(f"{path}: image format {version} is not supported (this Amber reads "
                             f"format {FORMAT_VERSION})")
        hlen = int.from_bytes(data[12:16], "little")
        blob = f.read(min(hlen, max(size - HEADER_AT, 0)))
    except OSError as e:
        raise ImageError(f"{path}: cannot read image: {e.strerror or e}") from None
    if len(blob) != hlen:
        raise ImageError(f"{path}: image is truncated (incomplete header)")
    data += blob
    signing.verify(path, data, HEADER_AT + hlen, insecure)
    if digest(blob) != data[16:48]:
        raise ImageError(f"{path}: image is damaged (header fails its checksum)")
    try:
        header = marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        raise ImageError(f"{path}: image is damaged (header cannot be decoded)") from None
    if not _well_formed(header, size):
        raise ImageError(f"{path}: image is damaged (header has the wrong shape)")
    read_end = max([off + length for name, off, length, _ in header["sections"] if name not in _NOT_READ],
                   default=0)
    try:
        if read_end > len(data):
            f.seek(0)  # one read of everything that is read: one allocation, one copy
            data = f.read(min(read_end, size))
    except OSError as e:
        raise ImageError(f"{path}: cannot read image: {e.strerror or e}") from None
    if not header.get("buffers") and not header.get(LAZY_CODE):
        f.close()
        f = None
    return Image(path, data, header, size, f)


def _file_size(f) -> int:
    import posix

    return posix.fstat(f.fileno()).st_size


def _well_formed(header, size: int) -> bool:
    """The header's shape, checked before any of it is used (an image is untrusted input)."""
    if not isinstance(header, dict) or not isinstance(header.get("sections"), list):
        return False
    for entry in header["sections"]:
        if not (isinstance(entry, tuple) and len(entry) == 4):
            return False
        name, offset, length, dig = entry
        if not (isinstance(name, str) and type(offset) is int and type(length) is int
                and isinstance(dig, bytes) and 0 <= offset and 0 <= length):
            return False
    if not all(isinstance(header.get(k), t) for k, t in
               (("amber", str), ("python", dict), ("snapshot_point", dict), ("extensions", list))):
        return False
    return _buffers_well_formed(header) and _lazy_code_well_formed(header)


def _table_well_formed(header: dict, key: str, section: str, third) -> bool:
    """Each (start, length, x) entry of ``header[key]`` lies inside ``section``; x is a ``third``."""
    table = header.get(key, [])
    if not isinstance(table, list):
        return False
    if not table:
        return True
    lengths = [length for name, _off, length, _dig in header["sections"] if name == section]
    if len(lengths) != 1:
        return False
    return all(isinstance(e, tuple) and len(e) == 3 and type(e[0]) is int and type(e[1]) is int
               and type(e[2]) is third and 0 <= e[0] and 0 <= e[1] and e[0] + e[1] <= lengths[0]
               for e in table)


def _lazy_code_well_formed(header: dict) -> bool:
    """Every blob of code-on-first-call lies inside its section."""
    return _table_well_formed(header, LAZY_CODE, LAZY_CODE, bytes)


def _buffers_well_formed(header: dict) -> bool:
    """Every mapped buffer lies inside the mapped section."""
    return _table_well_formed(header, "buffers", MAPPED, bool)


def check_compatible(image: Image) -> None:
    from amber import __version__

    made_by = image.header.get("amber")
    if made_by != __version__:
        raise ImageError(f"{image.path}: image was made by Amber {made_by}, this is Amber {__version__}; "
                         f"snapshot again")
    theirs = image.header.get("python", {})
    ours = interpreter_identity()
    for key in _MUST_MATCH:
        if theirs.get(key) != ours[key]:
            want = (str(theirs.get(key)).split() or ["?"])[0]
            have = (str(ours[key]).split() or ["?"])[0]
            raise ImageError(f"{image.path}: image was made by another interpreter ({key} {want}, this "
                             f"one has {have}); restore it with {theirs.get('executable', 'that python')}")
