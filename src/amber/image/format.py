r"""The Amber image format, declared once: the layouts and schemas here and in
:mod:`amber.image.records` *are* the format.

An image is one file, written once (to a temporary name, then renamed) and never modified: an
optional launch line, a fixed prefix, a signature block, the header, then the sections, each at the
offset (from the start of the file) the header gives.

**The launch line** makes an image a program: ``amber snapshot`` starts the file with one line
``#!/usr/bin/env -S PYTHON -I -S BOOT exec`` (the interpreter that made it and Amber's
:mod:`amber._boot`), and makes it executable, so ``./app.amber ARGS`` starts the restoring
interpreter directly (one interpreter, not ``amber``'s and then the restoring one). It is at most
``LAUNCH_LINE_MAX`` bytes with its newline, and the signature covers it: an image whose launch line
was changed does not restore. Where the paths do not fit such a line (too long, or characters a
``#!`` line cannot carry), the image has none and is restored with ``amber restore``.

Every declaration is made once, in one of two modules:

* this one, on the restore path, holds what a restore acts on: the constants, the section names
  and which sections are mapped, the prefix (``PREFIX``), the records a restore decodes
  (``HEADER_READ``, the header's fields a restore reads; ``PRELUDE_SCHEMA``; ``INPUTS_SCHEMA``,
  for ``amber run``) and the reader (``read_image``, ``Image``);
* :mod:`amber.image.records` holds the rest, for the writer (:mod:`amber.image.writer`), ``amber
  inspect`` and the tests: the whole header (``HEADER_SCHEMA``, made of ``HEADER_READ``'s fields
  and the others), the records a restore never checks (the manifest, the stats) and each
  section's description (``SECTIONS``: encoding, alignment, when its digest is checked).

**One rule on the restore path:** every record a restore decodes is checked against its schema
before any of it is used: the header (against ``HEADER_READ``: checking the fields it does not
read would only cost time; ``amber inspect`` checks all of them, against ``HEADER_SCHEMA``), the
prelude and the inputs. The heap is a program, not a record: the signature and its digest vouch
for it, and the manifest it returns is read as ``MANIFEST_SCHEMA`` declares, not checked (a heap
program that could return a wrong manifest could as well run anything).

The writer builds every marshal-encoded part through its schema (``Record.build``/``encode``)
and the fixed parts through their layouts (``Layout.pack``); ``amber inspect IMAGE`` decodes
every part for people from the declarations (``--sections``: the section table with every
digest checked; ``--dis NAME``: a section, or ``header``, field by field, the heap through
``pickletools``; ``--extract NAME``: a section's verified bytes).

The types the declarations are written in are :mod:`amber.image.schema`'s. The reference that
follows is generated from the declarations (:func:`amber.image.explain.document`);
``tests/test_format.py`` keeps it equal to them.

The prefix (128 bytes, after the launch line if there is one; integers little-endian unsigned)::

    offset  size  field
    0       8     magic: MAGIC, b"\x89AMB\r\n\x1a\n" (the CR LF and ^Z catch text-mode copies)
    8       2     format: FORMAT_VERSION (5)
    10      2     flags: 0 (reserved)
    12      4     header_length: H, the length of the header in bytes
    16      32    header_digest: BLAKE2b-256 of the header
    48      80    signature: over the launch line, bytes 0-48 and the header (see amber.image.signing)
    128     H     header: marshal-encoded (only str, int, float, bytes, tuple, list, dict)

The header (a dict; each field is name, type, meaning; extra keys are ignored; a restore checks
the fields it reads, amber, python, sections, buffers, lazy_code; amber inspect checks them
all)::

    format               int >= 0
                         FORMAT_VERSION (5), as in the prefix
    amber                str
                         the version of Amber that made the image; a restore needs the same one
    created              float
                         when the image was written, in seconds since the epoch
    python               dict python (below)
                         the interpreter that made the image (interpreter_identity())
    extensions           list of (module: str, file: str, size: int >= 0, mtime_ns: int)
                         the extension modules loaded at the snapshot point
    snapshot_point       dict snapshot_point (below)
                         where the program was stopped
    sections             list of (name: str, offset: int >= 0, length: int >= 0, digest: 32 bytes)
                         the section table: where each section is, and its BLAKE2b-256 digest
    key_id               str, optional
                         "hmac:<key id>" or "ed25519:<key id>", for people (the signature block
                         is what is checked)
    run                  dict run (below), optional
                         images built by amber run: what the cache built it for
    buffers              list of (start: int >= 0, length: int >= 0, readonly: bool), optional
                         the large buffers, in the order the heap program takes them, within the
                         buffers section
    lazy_code            list of (start: int >= 0, length: int >= 0, digest: 32 bytes), optional
                         one blob of code objects per module, within the lazy_code section
    and: section names are unique
    and: every entry of buffers lies inside the buffers section
    and: every entry of lazy_code lies inside the lazy_code section

python (a dict)::

    implementation       str
                         sys.implementation.name
    version              str
                         sys.version
    hexversion           int
                         sys.hexversion
    cache_tag            str or None
                         sys.implementation.cache_tag
    bytecode_magic       bytes
                         the magic number of the interpreter's .pyc files
    platform             str
                         sys.platform
    abiflags             str
                         sys.abiflags ('' where there is none)
    maxsize              int
                         sys.maxsize
    byteorder            str
                         sys.byteorder
    executable           str
                         sys.executable, named in the error when another interpreter restores

snapshot_point (a dict)::

    kind                 one of 'call', 'main-guard', 'end', 'stack'
                         amber.snapshot(), the main guard, the end of the script, or
                         amber.snapshot() inside functions
    line                 int >= 0
                         its line in the main script (for 'stack': the line the script's frame
                         waits at)
    script               str
                         the main script's file
    module               str
                         the module run with -m, else ''
    argv0                str
                         sys.argv[0] of the snapshotting process
    frames               list of str, optional
                         for 'stack': the frames from the call of amber.snapshot() out to the
                         main script, for people

run (a dict)::

    target               str
                         the script's absolute path or the module's name
    args                 list of str
                         the arguments the image was built with (those in its cache key)
    key_args             int >= 0 or None
                         the arguments start-up reads (amber.startup_args), None for all

The sections, in the order they are written (name, encoding; alignment; read or mapped)::

    prelude      marshal: dict prelude (below); 64 bytes; read
                 applied before the heap is rebuilt
                 digest: checked before use
    heap         pickle protocol 5, returns dict manifest (below); 64 bytes; read
                 every captured object; python -m pickletools disassembles it
                 digest: checked on a second thread while the modules held by reference are
                 imported
    stats        marshal: dict stats (below); 64 bytes; read
                 counts and sizes for amber inspect
                 digest: never used by a restore; checked by amber inspect
    inputs       marshal: dict inputs (below); 64 bytes; read
                 amber run images only: what start-up depended on
                 digest: checked before use
    buffers      raw bytes; 4096 bytes; mapped
                 the large buffers, each on a page boundary, mapped copy-on-write
                 digest: a BLAKE2b tree (format.tree_digest), checked on every core while the
                 modules held by reference are imported; remembered per file identity
                 (amber.image.remembered)
    lazy_code    marshal blobs; 4096 bytes; mapped
                 amber snapshot --lazy-code (experimental): one tuple of code objects per module
                 digest: each blob checked on the first call of one of its functions

prelude (a dict)::

    environ              dict of bytes -> bytes or None
                         the changes start-up made to its environment (None: removed), applied
                         over the restoring process's environment
    path                 list of str
                         sys.path at the snapshot point
    prefix               list of str
                         sys.prefix, sys.exec_prefix and sys._home ('' for None) at the snapshot
                         point (the interpreter's configuration and site set them in a virtual
                         environment; modules imported again read them: sysconfig)
    imports              list of str
                         the modules imported again, in the order the program first imported them
    distributions        list of (name: str, version: str, metadata: str)
                         the installed distributions those modules come from: name, version,
                         metadata directory (a restore where one changed version says so:
                         amber.restore.loader.check_distributions)

manifest (a dict)::

    main                 module
                         the restored __main__ module
    rest                 code
                         what runs after restore: the main script after the snapshot point
    order                tuple of str
                         sys.modules' order at the snapshot point
    registrations        tuple
                         atexit, codec and at-fork registrations to make again (the registering
                         function, args, kwargs)
    lifecycle            tuple
                         the lifecycle hooks (amber.lifecycle)
    by_ref               tuple of str
                         the modules imported again
    argv0                str
                         sys.argv[0] after restore
    sys_main             any
                         what sys.modules['__main__'] is when it is not the main module
                         (IPython's user module), else None
    stack                tuple
                         the running frames to resume, innermost first (amber.capture.stack: a
                         snapshot inside functions), else ()

stats (a dict)::

    objects              int >= 0
                         the objects in the heap
    by_type              dict of str -> (count: int >= 0, bytes: int >= 0)
                         objects and their sizes by type
    largest              list of (path: str, type: str, bytes: int >= 0)
                         the largest objects, with their paths
    by_module            dict of str -> (count: int >= 0, bytes: int >= 0)
                         objects and their sizes by the module through which they were reached
    modules_by_value     list of str
                         the modules captured by value
    modules_by_ref       dict of str -> str
                         the modules imported again, and why
    startup_seconds      float
                         how long start-up ran before the snapshot point
    capture_seconds      float
                         how long capturing took
    environ_changed      list of str
                         the environment variables start-up set or removed
    replayed             list of str, optional
                         state the program changed on modules imported again (set again at
                         restore)
    hash_memos_kept      list of str, optional
                         memoised hashes that could not be reset

inputs (a dict)::

    program              str
                         the cache key of the program the image was made for
                         (amber.runcache.keys)
    watched              list of (path: str, how: int >= 0, stamp: list of int, names: 32 bytes or None)
                         the paths start-up depended on, each with how it is watched (WATCH_*)
                         and what was seen
    cwd                  str or None
                         the working directory, if start-up depended on it (relative paths,
                         os.getcwd)
    output               list of (stream: int >= 0, text: str)
                         what start-up printed (1: sys.stdout, 2: sys.stderr), in order: a
                         restore prints it again
    env                  list of (name: str, digest: 16 bytes)
                         the environment variables start-up read, with a keyed digest of each
                         value
    env_names            16 bytes or None
                         a keyed digest of the variables' names if the program iterated the
                         environment, else None
    cold_seconds         float or None, optional
                         the build run's time from amber run's start to the snapshot point: its
                         estimate of a cold start (amber.runcache.timings)
    no_image             str, optional
                         in a no-image marker only: why no image was built (said by later runs'
                         -v)




The heap program (:mod:`amber.capture.compile`) is run by the C unpickler; it takes the large
buffers in order with the protocol-5 ``NEXT_BUFFER``/``READONLY_BUFFER`` opcodes and returns the
manifest (read by :mod:`amber.restore.loader`). Only raw-byte buffers of at least ``MAPPED_MIN``
bytes go there (numpy arrays, bytes, bytearray, array.array). A buffer is not harmless data: a
changed index array of a sparse matrix makes C code read out of bounds, a pickle kept as bytes
runs what it says when loaded. So a restore checks the buffers' digest too, before the heap
program runs: the digest of the buffers section is a BLAKE2b tree (``tree_digest``: BLAKE2b-256
in tree mode, unlimited fanout, depth 2, leaves of ``BUFFER_LEAF`` bytes), whose leaves are
hashed on every core while the modules held by reference are imported, and a check that passed
is remembered for that very file (:mod:`amber.image.remembered`: device, inode, size, mtime and
ctime, in a keyed record in the cache), so later restores of an unchanged file map it unread. An
image that another user could write is read into the process's own memory instead of mapped,
and checked on every restore (its writer could change pages after a check). The lazy code blobs
are checked against the digests of the header's ``lazy_code`` table (:mod:`amber.restore.lazy`);
the inputs are checked by :mod:`amber.runcache`.

The signature and the header's digest are verified before the header is decoded, the header's
shape before any of it is used, and each section's digest before that section is decoded, so a
damaged, truncated or forged file is refused before any of it is used.
An image is code: restoring one runs code it contains. Only restore images you trust.

This module is on the restore path: it imports only the base set (see amber.restore.loader), and
neither :mod:`amber.image.records` nor :mod:`amber.image.writer`.
"""

import marshal
import posix
import sys
import time
from _blake2 import blake2b
from _operator import add  # operator itself is not in the base set
from itertools import count

from amber.errors import ImageError
from amber.image import signing
from amber.image.schema import DictOf, Field, Layout, ListOf, Maybe, Record, Row, Scalar

MAGIC = b"\x89AMB\r\n\x1a\n"
FORMAT_VERSION = 5  # 3: the buffers section's digest is a tree (tree_digest); 4: the prelude's prefix
# 5: a launch line may come first (the signature covers it); the inputs' cold_seconds
LAUNCH_LINE_MAX = 256  # a launch line and its newline: what Linux reads of a #! line (BINPRM_BUF_SIZE)
DIGEST_SIZE = 32  # BLAKE2b-256: the header's and every section's digest
VARIABLE_DIGEST_SIZE = 16  # keyed BLAKE2b of an environment variable (amber.runcache.freshness)
SECTION_ALIGN = 64
PAGE_SIZE = 4096  # the mapped sections' alignment (also the mmap granularity on Linux and macOS)
MAPPED_MIN = 256 * 1024  # smaller buffers are cheaper inline in the heap than as a page-aligned mapping
BUFFER_LEAF = 8 << 20  # the leaves of the buffers section's tree digest: hashed in parallel
_HASHING_THREADS = 8  # at most, and never more than the cores this process may run on
INLINE_CHECK_BYTES = 64 * 1024  # hashed here in less time than a checking thread takes to start

# Section names: the only place they are spelt.
PRELUDE = "prelude"
HEAP = "heap"
STATS = "stats"
INPUTS = "inputs"
BUFFERS = "buffers"  # large buffers: a restore maps this section instead of reading it
LAZY_CODE = "lazy_code"  # code on first call: mapped too, each blob checked when first used
MAPPED = frozenset((BUFFERS, LAZY_CODE))  # the sections a restore maps; it reads the others
TREE_HASHED = frozenset((BUFFERS,))  # the sections whose digest is tree_digest's, not digest's


# --- the prefix ---------------------------------------------------------------------------------

PREFIX = Layout("prefix", (
    ("magic", 8, "bytes", 'MAGIC, b"\\x89AMB\\r\\n\\x1a\\n" (the CR LF and ^Z catch text-mode copies)'),
    ("format", 2, "int", f"FORMAT_VERSION ({FORMAT_VERSION})"),
    ("flags", 2, "int", "0 (reserved)"),
    ("header_length", 4, "int", "H, the length of the header in bytes"),
    ("header_digest", DIGEST_SIZE, "hex", "BLAKE2b-256 of the header"),
    ("signature", signing.BLOCK.size, "hex", "over the launch line, bytes 0-48 and the header "
                                             "(see amber.image.signing)"),
))
SIGNATURE_AT = PREFIX["signature"].start  # everything before the signature block is signed
SIGNATURE_SIZE = signing.BLOCK.size
HEADER_AT = PREFIX.size
_VERSION, _HEADER_LENGTH, _HEADER_DIGEST = PREFIX["format"], PREFIX["header_length"], PREFIX["header_digest"]


# --- the types the schemas are made of (amber.image.schema) ----------------------------------

UINT = Scalar(int, "int >= 0", minimum=0)
INT = Scalar(int, "int")
STR = Scalar(str, "str")
FLOAT = Scalar(float, "float")
BOOL = Scalar(bool, "bool")
BYTES = Scalar(bytes, "bytes")
DIGEST = Scalar(bytes, f"{DIGEST_SIZE} bytes", size=DIGEST_SIZE)
VARIABLE_DIGEST = Scalar(bytes, f"{VARIABLE_DIGEST_SIZE} bytes", size=VARIABLE_DIGEST_SIZE)
STRS = ListOf(STR)


# --- the header fields a restore reads (the whole header: amber.image.records.HEADER_SCHEMA) ----

def _unique_section_names(header: dict) -> tuple | None:
    names = [entry[0] for entry in header["sections"]]
    return None if len(set(names)) == len(names) else (".sections", "a section name is repeated")


def _within(table: str, section: str):
    """A check: every (start, length, ...) entry of ``header[table]`` lies inside ``section``."""

    def check(header: dict) -> tuple | None:
        rows = header.get(table)
        if not rows:
            return None
        lengths = [entry[2] for entry in header["sections"] if entry[0] == section]
        if len(lengths) != 1:
            return f".{table}", f"needs exactly one {section} section"
        starts, sizes = list(zip(*rows, strict=True))[:2]  # rows have their shape: checked first
        if max(map(add, starts, sizes)) <= lengths[0]:
            return None
        first = next(i for i, row in enumerate(rows) if row[0] + row[1] > lengths[0])
        return f".{table}[{first}]", f"lies outside the {section} section"

    return f"every entry of {table} lies inside the {section} section", check


PYTHON_SCHEMA = Record("python", (
    Field("implementation", STR, "sys.implementation.name"),
    Field("version", STR, "sys.version"),
    Field("hexversion", INT, "sys.hexversion"),
    Field("cache_tag", Maybe(STR), "sys.implementation.cache_tag"),
    Field("bytecode_magic", BYTES, "the magic number of the interpreter's .pyc files"),
    Field("platform", STR, "sys.platform"),
    Field("abiflags", STR, "sys.abiflags ('' where there is none)"),
    Field("maxsize", INT, "sys.maxsize"),
    Field("byteorder", STR, "sys.byteorder"),
    Field("executable", STR, "sys.executable, named in the error when another interpreter restores"),
))
# What must match between the snapshotting and the restoring interpreter (all but the executable).
_MUST_MATCH = tuple(name for name in PYTHON_SCHEMA.names if name != "executable")

SECTION_ENTRY = Row(("name", STR), ("offset", UINT), ("length", UINT), ("digest", DIGEST))
BUFFER_ENTRY = Row(("start", UINT), ("length", UINT), ("readonly", BOOL))
LAZY_CODE_ENTRY = Row(("start", UINT), ("length", UINT), ("digest", DIGEST))

HEADER_READ = Record("header", (
    Field("amber", STR, "the version of Amber that made the image; a restore needs the same one"),
    Field("python", PYTHON_SCHEMA, "the interpreter that made the image (interpreter_identity())"),
    Field("sections", ListOf(SECTION_ENTRY),
          "the section table: where each section is, and its BLAKE2b-256 digest"),
    Field(BUFFERS, ListOf(BUFFER_ENTRY), f"the large buffers, in the order the heap program takes them, "
                                         f"within the {BUFFERS} section", optional=True),
    Field(LAZY_CODE, ListOf(LAZY_CODE_ENTRY), f"one blob of code objects per module, within the {LAZY_CODE} "
                                              f"section", optional=True),
), checks=(("section names are unique", _unique_section_names), _within(BUFFERS, BUFFERS),
           _within(LAZY_CODE, LAZY_CODE)))


# --- the records of the sections a restore decodes ---------------------------------------------

PRELUDE_SCHEMA = Record(PRELUDE, (
    Field("environ", DictOf(BYTES, Maybe(BYTES)),
          "the changes start-up made to its environment (None: removed), applied over the restoring "
          "process's environment"),
    Field("path", STRS, "sys.path at the snapshot point"),
    Field("prefix", STRS, "sys.prefix, sys.exec_prefix and sys._home ('' for None) at the snapshot point "
          "(the interpreter's configuration and site set them in a virtual environment; modules imported "
          "again read them: sysconfig)"),
    Field("imports", STRS, "the modules imported again, in the order the program first imported them"),
    Field("distributions", ListOf(Row(("name", STR), ("version", STR), ("metadata", STR))),
          "the installed distributions those modules come from: name, version, metadata directory "
          "(a restore where one changed version says so: amber.restore.loader.check_distributions)"),
))

# How amber run watches a path it recorded (amber.capture.recorders.inputs records it,
# amber.runcache.freshness checks it)
WATCH_CONTENT = 0  # a file read: its identity (size, mtime_ns, ctime_ns, inode, device); [] if absent
WATCH_KIND = 1  # an existence check: the file type bits of its mode; [] if absent
WATCH_LISTING = 2  # a directory listed: (mtime_ns, ctime_ns, inode) and the digest of its names
WATCH_SEARCHED = 3  # a directory the import system searched: likewise, with the names a module could have
WATCH_LINK = 4  # a symbolic link read (os.readlink, os.path.realpath): [1] and the digest of its target; []

INPUTS_SCHEMA = Record(INPUTS, (
    Field("program", STR, "the cache key of the program the image was made for (amber.runcache.keys)"),
    Field("watched", ListOf(Row(("path", STR), ("how", UINT), ("stamp", ListOf(INT)),
                                ("names", Maybe(DIGEST)))),
          "the paths start-up depended on, each with how it is watched (WATCH_*) and what was seen"),
    Field("cwd", Maybe(STR), "the working directory, if start-up depended on it (relative paths, os.getcwd)"),
    Field("output", ListOf(Row(("stream", UINT), ("text", STR))),
          "what start-up printed (1: sys.stdout, 2: sys.stderr), in order: a restore prints it again"),
    Field("env", ListOf(Row(("name", STR), ("digest", VARIABLE_DIGEST))),
          "the environment variables start-up read, with a keyed digest of each value"),
    Field("env_names", Maybe(VARIABLE_DIGEST),
          "a keyed digest of the variables' names if the program iterated the environment, else None"),
    Field("cold_seconds", Maybe(FLOAT),
          "the build run's time from amber run's start to the snapshot point: its estimate of a cold "
          "start (amber.runcache.timings)", optional=True),
    Field("no_image", STR, "in a no-image marker only: why no image was built (said by later runs' -v)",
          optional=True),
))

SECTION_RECORDS = {PRELUDE: PRELUDE_SCHEMA, INPUTS: INPUTS_SCHEMA}  # by section: what Image.decode checks


def digest(data) -> bytes:
    return blake2b(data, digest_size=DIGEST_SIZE).digest()


# --- the tree digest of the buffers section -------------------------------------------------------

def leaf_count(length: int) -> int:
    """How many leaves the tree digest of ``length`` bytes has (one, empty, for no bytes)."""
    return max(1, -(-length // BUFFER_LEAF))


def leaf_hasher(index: int, leaves: int):
    """The BLAKE2b-256 state of leaf ``index`` of ``leaves`` (tree mode: unlimited fanout, depth 2)."""
    return blake2b(digest_size=DIGEST_SIZE, fanout=0, depth=2, leaf_size=BUFFER_LEAF, inner_size=DIGEST_SIZE,
                   node_offset=index, node_depth=0, last_node=index == leaves - 1)


def tree_root(leaf_digests: bytes) -> bytes:
    """The root of the tree digest: BLAKE2b-256 of the leaves' digests, concatenated in order."""
    return blake2b(leaf_digests, digest_size=DIGEST_SIZE, fanout=0, depth=2, leaf_size=BUFFER_LEAF,
                   inner_size=DIGEST_SIZE, node_offset=0, node_depth=1, last_node=True).digest()


def _cores() -> int:
    try:
        cores = len(posix.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = posix.cpu_count() or 1
    return max(1, min(cores, _HASHING_THREADS))


def tree_digest_meanwhile(view):
    """Start hashing the leaves of ``view`` on one thread per core (the hash releases the GIL)
    and return a function that waits for them and returns the tree digest."""
    import _thread

    leaves = leaf_count(len(view))
    digests = [b""] * leaves  # a leaf whose thread failed stays empty: the root cannot match
    next_leaf = count()  # shared by the threads: next() is atomic under the GIL

    def hash_leaves(done) -> None:
        try:
            for i in next_leaf:
                if i >= leaves:
                    break
                h = leaf_hasher(i, leaves)
                h.update(view[i * BUFFER_LEAF:(i + 1) * BUFFER_LEAF])
                digests[i] = h.digest()
        finally:
            done.release()

    locks = []
    for _ in range(min(_cores(), leaves)):
        done = _thread.allocate_lock()
        done.acquire()
        locks.append(done)
        _thread.start_new_thread(hash_leaves, (done,))

    def wait() -> bytes:
        for done in locks:
            done.acquire()
        return tree_root(b"".join(digests))
    return wait


def tree_digest(view) -> bytes:
    """The tree digest of ``view`` (the buffers section's digest), hashed on every core."""
    return tree_digest_meanwhile(view)()


def section_digest(name: str, view) -> bytes:
    """The digest of section ``name`` as the section table holds it."""
    return tree_digest(view) if name in TREE_HASHED else digest(view)


def writable_by_others(st) -> bool:
    """Whether someone but this user (and root) could write the file of ``st`` (a stat result)."""
    return st.st_uid not in (0, posix.geteuid()) or bool(st.st_mode & 0o022)


# marshal type codes (Python/marshal.c) a record may hold, by how their payload is laid out
_MARKERS = frozenset(b"0NFT{")  # no payload (a dict's items end with "0")
_FIXED = {ord("i"): 4, ord("g"): 8, ord("r"): 4}  # a payload of fixed size (r: a reference)
_SHORT = frozenset(b"zZ")  # 1-byte length, then that many bytes
_SIZED = frozenset(b"stuaA")  # 4-byte length, then that many bytes
_COUNTED = frozenset(b"([<>")  # 4-byte count of items that follow
_SMALL_TUPLE = ord(")")  # 1-byte count
_LONG = ord("l")  # 4-byte signed count of 2-byte digits


def plausible_record(data) -> bool:
    """Whether ``data`` can be a marshal-encoded record: only the types records hold, and no
    length or count claiming more than the bytes that are left. ``marshal.loads`` allocates a
    list or tuple of the size it is told before it reads the items, so a few bytes claiming
    2**31 items cost gigabytes and tens of seconds before it fails."""
    view = bytes(data)
    end, p = len(view), 0
    while p < end:
        kind = view[p] & 0x7F  # the high bit: FLAG_REF, "remember this object"
        p += 1
        if kind in _MARKERS:
            continue
        if kind in _FIXED:
            p += _FIXED[kind]
            continue
        if kind in _SHORT or kind == _SMALL_TUPLE:
            if p >= end:
                return False
            n = view[p]
            p += 1 + (n if kind in _SHORT else 0)
            if kind == _SMALL_TUPLE and n > end - p:
                return False
            continue
        if p + 4 > end:
            return False
        n = int.from_bytes(view[p:p + 4], "little", signed=True)
        p += 4
        if kind == _LONG:
            n = abs(n) * 2
        elif kind not in _SIZED and kind not in _COUNTED:
            return False  # code, complex, text-encoded floats...: never in a record
        if n < 0 or n > end - p:
            return False
        if kind not in _COUNTED:
            p += n
    return p == end


def load_record(data):
    """``marshal.loads(data)`` of a record, or ValueError if it cannot be one (see plausible_record)."""
    if not plausible_record(data):
        raise ValueError("not a marshal-encoded record")
    return marshal.loads(data)


def interpreter_identity() -> dict:
    """What must match between the snapshotting and the restoring interpreter (PYTHON_SCHEMA)."""
    import _frozen_importlib_external  # in every interpreter from start-up

    # A plain dict (this runs on every restore); the writer checks it against the schema.
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


# --- the errors of an image that fails a check --------------------------------------------------

def damaged(path: str, what: str) -> ImageError:
    """``PATH: image is damaged (WHAT)``."""
    return ImageError(f"{path}: image is damaged ({what})")


def fails_checksum(path: str, name: str, failing: int = 1) -> ImageError:
    """The error of a section whose digest does not match; ``failing``: how many sections fail."""
    return damaged(path, f"section {name!r} fails its checksum"
                         + (f"; {failing} sections fail" if failing > 1 else ""))


def _cut_short(path: str, name: str) -> ImageError:
    return ImageError(f"{path}: image is truncated (section {name!r} is cut short)")


# --- reading ------------------------------------------------------------------------------------

class Image:
    """A verified view of an image file. Each section's digest is checked when the section is
    first asked for (once for the sections that are read: their bytes are in memory).

    ``data`` holds the file from its start to the end of the last section that is read (every
    section but the mapped ones); ``buffers()`` and ``lazy_code()`` map the rest.
    """

    def __init__(self, path: str, data: bytes, header: dict, size: int = 0, file=None, stat=None,
                 wary: bool = True, launch: bytes = b""):
        self.path = path
        self.launch = launch  # the launch line (b"" if none); the prefix follows it
        self.wary = wary  # records checked by plausible_record before marshal reads them (see read_image)
        self.data = data
        self.header = header
        self.size = size or len(data)
        self._file = file  # kept open from verification to mapping: the same file, even if renamed over
        self._stat = stat  # the open file's posix.fstat, taken before anything of it was read
        # A file someone else could write is read into this process's memory, not mapped: its
        # writer could change a mapped page after the check (private mappings share unwritten pages).
        self._private = stat is not None and writable_by_others(stat)
        self._whole: memoryview | None = None  # the file, mapped, once a mapped section is asked for
        self._sections = {name: (off, length, dig) for name, off, length, dig in header["sections"]}
        self._checked: set = set()  # the sections read whose digest matched

    def entry(self, name: str) -> tuple:
        """(offset, length, digest) of section ``name``, from the section table."""
        try:
            return self._sections[name]
        except KeyError:
            raise ImageError(f"{self.path}: image has no {name!r} section") from None

    def has_section(self, name: str) -> bool:
        return name in self._sections

    def section(self, name: str) -> memoryview:
        """A section that is read, its digest checked."""
        view, dig = self._read_section(name)
        if name not in self._checked:
            if digest(view) != dig:
                raise fails_checksum(self.path, name)
            self._checked.add(name)
        return view

    def decode(self, name: str, schema: Record | None = None, check: bool = True) -> dict:
        """A marshal-encoded section, verified, decoded and checked against ``schema`` (by default
        the one ``SECTION_RECORDS`` gives: a record a restore decodes). ``check=False`` leaves the
        check to the caller (``check_record``): ``amber inspect --dis`` shows a record first."""
        if schema is None:
            schema = SECTION_RECORDS.get(name)
            if schema is None:
                raise ImageError(f"{self.path}: section {name!r} is not a marshal-encoded record")
        try:
            data = self.section(name)
            value = load_record(data) if self.wary else marshal.loads(data)
        except (ValueError, EOFError, TypeError):
            raise damaged(self.path, f"section {name!r} cannot be decoded") from None
        if check:
            self.check_record(name, schema, value)
        return value

    def check_record(self, name: str, schema: Record, value: object) -> None:
        """Refuse ``value``, decoded from section ``name``, if it does not match ``schema``."""
        problem = schema.problem(value)
        if problem is not None:
            raise damaged(self.path, f"section {name!r} has the wrong shape: {problem}")

    def _read_section(self, name: str) -> tuple:
        """(view, expected digest) of a section that was read, bounds-checked, not yet verified."""
        off, length, dig = self.entry(name)
        view = memoryview(self.data)[off:off + length]
        if len(view) != length:
            raise _cut_short(self.path, name)
        return view, dig

    def section_checked_meanwhile(self, name: str):
        """Start checking a section's digest on another thread (the hash releases the GIL)
        and return a function that waits for the check and returns the section: the restore
        imports modules meanwhile. Nothing of the section is used before the check passes."""
        import _thread

        view, dig = self._read_section(name)
        if len(view) <= INLINE_CHECK_BYTES:  # sooner checked than a thread started
            if digest(view) != dig:
                raise fails_checksum(self.path, name)
            return lambda: view
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
                raise fails_checksum(self.path, name)
            return view
        return wait

    def buffers(self, verify: bool = False) -> list:
        """The large buffers, as memoryviews of a copy-on-write mapping of the file; ``verify``:
        their digest checked first (``amber inspect`` checks every section before it asks)."""
        if not self.header.get(BUFFERS):
            return []
        if verify:
            self.verify_mapped(BUFFERS)
        return self._buffer_views(self._mapped(BUFFERS))

    def buffers_checked_meanwhile(self, recheck: bool = False):
        """What a restore does with the large buffers: map them, start checking their digest on
        every core, and return a function that waits for the check and returns the buffers (as
        ``buffers``): the restore imports modules meanwhile. No buffer is used before the check
        passes. A check that passed is remembered for this file (its device, inode, size, mtime
        and ctime: :mod:`amber.image.remembered`), so later restores of the unchanged file skip
        it; ``recheck`` checks anyway (``amber restore --verify-buffers``)."""
        if not self.header.get(BUFFERS):
            return list
        entry = self.entry(BUFFERS)
        memo = None
        if self._stat is not None and not self._private:  # only a file no one else can write
            from amber.image import remembered

            memo = remembered.Check(self._stat, entry)
            if not recheck and memo.holds():
                views = self._buffer_views(self._mapped(BUFFERS))
                return lambda: views
        section = self._mapped(BUFFERS)
        started = time.time_ns()  # file times come from this clock
        root_when_hashed = tree_digest_meanwhile(section)

        def wait() -> list:
            if root_when_hashed() != entry[2]:
                raise fails_checksum(self.path, BUFFERS)
            if memo is not None:
                memo.remember(started)
            return self._buffer_views(section)
        return wait

    def _buffer_views(self, section: memoryview) -> list:
        views = []
        for start, size, readonly in self.header.get(BUFFERS) or ():
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
        if name in self._sections and section_digest(name, self._mapped(name)) != self._sections[name][2]:
            raise fails_checksum(self.path, name)

    def state(self, name: str) -> str:
        """"ok", "DAMAGED" or "cut short": a section's digest, checked (``amber inspect --sections``)."""
        off, length, dig = self.entry(name)
        if name in MAPPED:
            try:
                view = self._mapped(name)
            except ImageError:
                return "cut short"
        else:
            view = memoryview(self.data)[off:off + length]
            if len(view) != length:
                return "cut short"
        return "ok" if section_digest(name, view) == dig else "DAMAGED"

    def verified(self, name: str) -> memoryview:
        """Any section, its digest checked, whether a restore reads or maps it (for ``amber inspect``)."""
        if name in MAPPED and name in self._sections:
            self.verify_mapped(name)
            return self._mapped(name)
        return self.section(name)

    def _mapped(self, name: str) -> memoryview:
        """A section not read but mapped (copy-on-write), bounds-checked."""
        off, length, _dig = self.entry(name)
        if self._whole is None:
            file, self._file = self._file, None
            if off + length > self.size or file is None:
                if file is not None:
                    file.close()
                raise _cut_short(self.path, name)
            try:
                self._whole = self._read_private(file) if self._private else self._map(file)
            finally:
                file.close()
        if len(self._whole) < off + length:  # the file shrank after it was verified
            raise _cut_short(self.path, name)
        return self._whole[off:off + length]

    def _map(self, file) -> memoryview:
        from amber._compat import map_file_private

        try:
            return memoryview(map_file_private(file.fileno()))
        except (OSError, ValueError) as e:
            raise ImageError(f"{self.path}: cannot map the image: {e}") from None

    def _read_private(self, file) -> memoryview:
        """The whole file, read into this process's memory (an image someone else could write)."""
        whole = bytearray(self.size)
        try:
            file.seek(0)
            got = file.readinto(whole)
        except OSError as e:
            raise ImageError(f"{self.path}: cannot read image: {e.strerror or e}") from None
        return memoryview(whole)[:got]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_image(path: str, check_interpreter: bool = True, insecure: bool = False,
               header_schema: Record = HEADER_READ) -> Image:
    """Open and verify ``path``; raise ImageError with a one-line reason if it cannot be used.

    Reads the prefix, the header and every section but the mapped ones (see ``Image``). The header
    is checked against ``header_schema``: the fields a restore reads, or (``amber inspect``) the
    whole header, :data:`amber.image.records.HEADER_SCHEMA`."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise ImageError(f"{path}: no such image file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot read image: {e.strerror or e}") from None
    try:
        image = _read_verified(path, f, insecure, header_schema)
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


def launch_length(path: str, start: bytes) -> int:
    """The length of the launch line ``start`` (the file's first bytes) begins with, 0 if none."""
    if not start.startswith(b"#!"):
        return 0
    end = start.find(b"\n", 0, LAUNCH_LINE_MAX)
    if end < 0:
        raise ImageError(f"{path}: not an Amber image (a #! line longer than {LAUNCH_LINE_MAX} bytes)")
    return end + 1


def _read_verified(path: str, f, insecure: bool, header_schema: Record) -> Image:
    try:
        stat = posix.fstat(f.fileno())
        size = stat.st_size
        data = f.read(LAUNCH_LINE_MAX + HEADER_AT)
        base = launch_length(path, data)
        prefix = data[base:base + HEADER_AT]
        if prefix[:len(MAGIC)] != MAGIC:
            raise ImageError(f"{path}: not an Amber image (bad magic)")
        if len(prefix) < HEADER_AT:
            raise ImageError(f"{path}: image is truncated (incomplete prefix)")
        version = int.from_bytes(prefix[_VERSION], "little")
        if version != FORMAT_VERSION:
            raise ImageError(f"{path}: image format {version} is not supported (this Amber reads "
                             f"format {FORMAT_VERSION})")
        hlen = int.from_bytes(prefix[_HEADER_LENGTH], "little")
        blob = data[base + HEADER_AT:base + HEADER_AT + hlen]
        if len(blob) < hlen:
            blob += f.read(min(hlen - len(blob), max(size - base - HEADER_AT - len(blob), 0)))
    except OSError as e:
        raise ImageError(f"{path}: cannot read image: {e.strerror or e}") from None
    if len(blob) != hlen:
        raise ImageError(f"{path}: image is truncated (incomplete header)")
    launch = data[:base]
    data = launch + prefix + blob
    signing.verify(path, prefix[SIGNATURE_AT:HEADER_AT], launch + prefix[:SIGNATURE_AT] + blob, insecure)
    if digest(blob) != prefix[_HEADER_DIGEST]:
        raise damaged(path, "header fails its checksum")
    # A restore of a signed image trusts its signer's records as it trusts the heap program (a
    # signer can make that run anything); amber inspect, which runs nothing, and --insecure do not.
    wary = insecure or header_schema is not HEADER_READ
    try:
        header = load_record(blob) if wary else marshal.loads(blob)
    except (ValueError, EOFError, TypeError):
        raise damaged(path, "header cannot be decoded") from None
    problem = header_schema.problem(header)
    if problem is not None:
        raise damaged(path, f"the header has the wrong shape: {problem}")
    read_end = max([off + length for name, off, length, _ in header["sections"] if name not in MAPPED],
                   default=0)
    try:
        if read_end > len(data):
            f.seek(0)  # one read of everything that is read: one allocation, one copy
            data = f.read(min(read_end, size))
    except OSError as e:
        raise ImageError(f"{path}: cannot read image: {e.strerror or e}") from None
    if not any(name in MAPPED for name, _off, _length, _dig in header["sections"]):
        f.close()  # nothing to map
        f = None
    return Image(path, data, header, size, f, stat, wary, launch)


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
