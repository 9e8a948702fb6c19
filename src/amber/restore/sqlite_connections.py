"""``sqlite3`` connections made during start-up: the restore side.

Rule (decided by the capture side, :mod:`amber.capture.reduce.sqlite`): a connection is opened
again at restore with the settings it was opened with (``detect_types``, ``isolation_level``,
``check_same_thread``, ``timeout``, ``cached_statements``, ``autocommit`` on 3.12+, its
``factory`` class) and its ``row_factory`` and ``text_factory``:

* to a database file, by the file's path (what the file holds at restore is what a cold start
  would read);
* to an in-memory (or temporary) database, with its contents: the pages ``serialize()`` gave at
  the snapshot, loaded with ``deserialize()``.

A closed connection is restored closed. Imported by name at restore (the heap calls it).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def connect_again(cls: type, path: str, pages: bytes | None, settings: tuple, row_factory: object,
                  text_factory: object) -> object:
    """A connection like the one captured (see the module doc); ``settings`` are keyword
    arguments of ``sqlite3.connect`` as (name, value) pairs."""
    import sqlite3

    conn: Any = sqlite3.connect(path or ":memory:", factory=cls, **dict(settings))
    if pages is not None:
        conn.deserialize(pages)
    conn.row_factory = row_factory
    conn.text_factory = text_factory
    return conn


def closed_connection(cls: type) -> object:
    """A closed connection of class ``cls``, as the program's was at the snapshot."""
    import sqlite3

    conn: Any = sqlite3.connect(":memory:", factory=cls)
    conn.close()
    return conn
