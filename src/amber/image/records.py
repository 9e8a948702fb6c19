"""The image format's declarations a restore does not need (the others: :mod:`amber.image.format`).

* ``HEADER_SCHEMA``: the whole header. Its fields a restore reads are ``format.HEADER_READ``'s,
  taken from there; the others are declared here. The writer builds the header through it and
  ``amber inspect`` checks it;
* ``SNAPSHOT_POINT_SCHEMA``, ``RUN_SCHEMA``: records of the header a restore never reads;
* ``MANIFEST_SCHEMA``: what the heap program returns (read by :mod:`amber.restore.loader`, not
  checked: see the rule in :mod:`amber.image.format`); ``STATS_SCHEMA``: what ``amber inspect``
  shows;
* ``SECTIONS``: each section, in the order they are written: its encoding and record, its
  alignment, what it is for, and when its digest is checked;
* ``RECORDS``: every record of the format (for its reference and the tests).

Not on the restore path: the writer (:mod:`amber.image.writer`), ``amber inspect`` and the tests
import it.
"""

import types

from amber.image import format as fmt
from amber.image.format import (
    BUFFERS,
    FLOAT,
    FORMAT_VERSION,
    HEAP,
    INPUTS,
    INT,
    LAZY_CODE,
    PAGE_SIZE,
    PRELUDE,
    SECTION_ALIGN,
    STATS,
    STR,
    STRS,
    UINT,
)
from amber.image.schema import DictOf, Field, ListOf, Maybe, Record, Row, Scalar, Type

COUNT_BYTES = Row(("count", UINT), ("bytes", UINT))


# --- the header ---------------------------------------------------------------------------------

SNAPSHOT_POINT_SCHEMA = Record("snapshot_point", (
    Field("kind", Scalar(str, "one of 'call', 'main-guard', 'end', 'stack'",
                         values=("call", "main-guard", "end", "stack")),
          "amber.snapshot(), the main guard, the end of the script, or amber.snapshot() inside functions"),
    Field("line", UINT, "its line in the main script (for 'stack': the line the script's frame waits at)"),
    Field("script", STR, "the main script's file"),
    Field("module", STR, "the module run with -m, else ''"),
    Field("argv0", STR, "sys.argv[0] of the snapshotting process"),
    Field("frames", STRS, "for 'stack': the frames from the call of amber.snapshot() out to the main "
                          "script, for people", optional=True),
))

RUN_SCHEMA = Record("run", (
    Field("target", STR, "the script's absolute path or the module's name"),
    Field("args", STRS, "the arguments the image was built with (those in its cache key)"),
    Field("key_args", Maybe(UINT), "the arguments start-up reads (amber.startup_args), None for all"),
))

_read = fmt.HEADER_READ.field  # a field a restore reads: declared in format, where the restore is
HEADER_SCHEMA = Record("header", (
    Field("format", UINT, f"FORMAT_VERSION ({FORMAT_VERSION}), as in the prefix"),
    _read("amber"),
    Field("created", FLOAT, "when the image was written, in seconds since the epoch"),
    _read("python"),
    Field("extensions", ListOf(Row(("module", STR), ("file", STR), ("size", UINT), ("mtime_ns", INT))),
          "the extension modules loaded at the snapshot point"),
    Field("snapshot_point", SNAPSHOT_POINT_SCHEMA, "where the program was stopped"),
    _read("sections"),
    Field("key_id", STR, '"hmac:<key id>" or "ed25519:<key id>", for people (the signature block is what is '
                         'checked)', optional=True),
    Field("run", RUN_SCHEMA, "images built by amber run: what the cache built it for", optional=True),
    _read(BUFFERS),
    _read(LAZY_CODE),
), checks=fmt.HEADER_READ.checks)


# --- the records of the sections a restore does not decode ------------------------------------

MANIFEST_SCHEMA = Record("manifest", (
    Field("main", Type("module", types.ModuleType), "the restored __main__ module"),
    Field("rest", Type("code", types.CodeType), "what runs after restore: the main script after the "
                                                "snapshot point"),
    Field("order", ListOf(STR, tuple), "sys.modules' order at the snapshot point"),
    Field("registrations", Type("tuple", tuple), "atexit, codec and at-fork registrations to make again "
                                                 "(the registering function, args, kwargs)"),
    Field("lifecycle", Type("tuple", tuple), "the lifecycle hooks (amber.lifecycle)"),
    Field("by_ref", ListOf(STR, tuple), "the modules imported again"),
    Field("argv0", STR, "sys.argv[0] after restore"),
    Field("sys_main", Type("any"), "what sys.modules['__main__'] is when it is not the main module "
                                   "(IPython's user module), else None"),
    Field("stack", Type("tuple", tuple), "the running frames to resume, innermost first "
                                         "(amber.capture.stack: a snapshot inside functions), else ()"),
))

STATS_SCHEMA = Record(STATS, (
    Field("objects", UINT, "the objects in the heap"),
    Field("by_type", DictOf(STR, COUNT_BYTES), "objects and their sizes by type"),
    Field("largest", ListOf(Row(("path", STR), ("type", STR), ("bytes", UINT))),
          "the largest objects, with their paths"),
    Field("by_module", DictOf(STR, COUNT_BYTES), "objects and their sizes by the module through which they "
                                                 "were reached"),
    Field("modules_by_value", STRS, "the modules captured by value"),
    Field("modules_by_ref", DictOf(STR, STR), "the modules imported again, and why"),
    Field("startup_seconds", FLOAT, "how long start-up ran before the snapshot point"),
    Field("capture_seconds", FLOAT, "how long capturing took"),
    Field("environ_changed", STRS, "the environment variables start-up set or removed"),
    Field("replayed", STRS, "state the program changed on modules imported again (set again at restore)",
          optional=True),
    Field("hash_memos_kept", STRS, "memoised hashes that could not be reset", optional=True),
))


# --- the sections -------------------------------------------------------------------------------

class Section:
    """A kind of section: how it is encoded (and the schema of what it holds: for the sections a
    restore decodes, ``format.SECTION_RECORDS``'; or of what its program returns), its alignment,
    whether a restore reads it or maps it (``format.MAPPED``), and when its digest is checked."""

    def __init__(self, name: str, encoding: str, meaning: str, checked: str, schema: Record | None = None,
                 returns: Record | None = None, align: int = SECTION_ALIGN) -> None:
        self.name = name
        self.encoding = encoding
        self.meaning = meaning
        self.checked = checked
        self.schema = schema if schema is not None else fmt.SECTION_RECORDS.get(name)
        self.returns = returns
        self.align = align
        self.mapped = name in fmt.MAPPED


SECTIONS = {s.name: s for s in (
    Section(PRELUDE, "marshal", "applied before the heap is rebuilt", "checked before use"),
    Section(HEAP, "pickle protocol 5", "every captured object; python -m pickletools disassembles it",
            "checked on a second thread while the modules held by reference are imported",
            returns=MANIFEST_SCHEMA),
    Section(STATS, "marshal", "counts and sizes for amber inspect",
            "never used by a restore; checked by amber inspect", STATS_SCHEMA),
    Section(INPUTS, "marshal", "amber run images only: what start-up depended on", "checked before use"),
    Section(BUFFERS, "raw bytes", "the large buffers, each on a page boundary, mapped copy-on-write",
            "a BLAKE2b tree (format.tree_digest), checked on every core while the modules held by "
            "reference are imported; remembered per file identity (amber.image.remembered)",
            align=PAGE_SIZE),
    Section(LAZY_CODE, "marshal blobs", "amber snapshot --lazy-code (experimental): one tuple of code "
                                        "objects per module", "each blob checked on the first call of one "
                                                              "of its functions", align=PAGE_SIZE),
)}
RECORDS = (HEADER_SCHEMA, fmt.PYTHON_SCHEMA, SNAPSHOT_POINT_SCHEMA, RUN_SCHEMA, fmt.PRELUDE_SCHEMA,
           MANIFEST_SCHEMA, STATS_SCHEMA, fmt.INPUTS_SCHEMA)
