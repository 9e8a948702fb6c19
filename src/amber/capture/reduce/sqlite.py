"""The saving side for ``sqlite3`` connections (the restore side: :mod:`amber.restore.sqlite_connections`).

A connection keeps no Python-visible record of how it was opened, so what it was opened with is
read off the connection, without changing what the program sees:

* the database: ``PRAGMA database_list`` (a file's path, or none for an in-memory or temporary
  database, whose pages ``serialize()`` gives);
* ``detect_types``: the column name ``a [t]`` comes back as ``a`` under ``PARSE_COLNAMES``; under
  ``PARSE_DECLTYPES`` a converter registered for a moment converts a value of a column declared
  of that type, in a temporary table made and dropped inside a savepoint (rolled back);
* ``check_same_thread``: whether another thread may use it; ``timeout``: ``PRAGMA
  busy_timeout``; ``cached_statements``: the size of its statement cache; ``isolation_level``,
  ``autocommit`` (3.12+), ``row_factory`` and ``text_factory``: its attributes.

Refused with the path and what to do, because a restore could not reproduce it: a connection
with a transaction open; one made in another thread that only that thread may use; SQL
functions, aggregates or collations registered from Python (their callables are not reachable
from the connection: only their names are), or an authorizer, progress handler or trace
callback; attached databases; tables of its ``temp`` schema.
"""

from __future__ import annotations

import sys

from amber.capture.reduce.recipes import Call, InstanceState, Offender, Recipe, reconstructor
from amber.restore import sqlite_connections

_PROBE = "amber_probe"
_HINT_OPEN_LATER = "open it after the snapshot point, or make it with amber.transient(conn, factory)"


def register(reducers) -> None:
    """Add the connection reducer to ``reducers.by_base`` when ``sqlite3`` is loaded."""
    module = sys.modules.get("sqlite3")
    connection = getattr(module, "Connection", None)
    if isinstance(connection, type):
        reducers.by_base.append((connection, lambda obj, cls: reduce_connection(module, obj, cls)))


def reduce_connection(sqlite3, conn, cls) -> Recipe | Offender:
    try:
        conn.total_changes  # noqa: B018 - raises on a closed connection
    except sqlite3.ProgrammingError:  # closed
        return Recipe(Call(reconstructor(sqlite_connections.closed_connection), (cls,)))
    try:
        conn.cursor().close()
    except sqlite3.ProgrammingError:
        return Offender("an sqlite3 connection that only the thread that made it may use",
                        "make it in the main thread, or " + _HINT_OPEN_LATER)
    row_factory, text_factory = conn.row_factory, conn.text_factory
    conn.row_factory, conn.text_factory = None, str  # the probes read plain rows of str
    try:
        why = _unreproducible(sqlite3, conn, (row_factory, text_factory))
        if why is not None:
            return Offender(f"an sqlite3 connection with {why}", _HINT_OPEN_LATER)
        databases = conn.execute("PRAGMA database_list").fetchall()
        path = next((file for _seq, name, file in databases if name == "main"), "")
        empty = conn.execute("PRAGMA page_count").fetchone()[0] == 0  # nothing to serialize yet
        pages = bytes(conn.serialize()) if not path and not empty else None
        settings = [("detect_types", _detect_types(sqlite3, conn)),
                    ("check_same_thread", _thread_checked(sqlite3, conn)),
                    ("isolation_level", conn.isolation_level),
                    ("timeout", conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000),
                    ("cached_statements", _cache_size(conn))]
    finally:
        conn.row_factory, conn.text_factory = row_factory, text_factory
    autocommit = getattr(conn, "autocommit", None)
    if autocommit is not None and autocommit != getattr(sqlite3, "LEGACY_TRANSACTION_CONTROL", None):
        settings.append(("autocommit", autocommit))
    r = Recipe(Call(reconstructor(sqlite_connections.connect_again),
                    (cls, path, pages, tuple(settings), row_factory, text_factory)))
    attrs = getattr(conn, "__dict__", None)  # a subclass's own attributes
    if attrs:
        r.fills.append(InstanceState(list(attrs.items()), None))
    return r


def _unreproducible(sqlite3, conn, factories: tuple) -> str | None:
    """What about ``conn`` a new connection would not have, or None."""
    if conn.in_transaction:
        return "a transaction open (commit or roll back before the snapshot point)"
    fresh = sqlite3.connect(":memory:")
    try:
        for kind, pragma in (("SQL function(s) registered from Python", "function_list"),
                             ("collation(s) registered from Python", "collation_list")):
            added = _names(conn, pragma) - _names(fresh, pragma)
            if added:
                return f"{kind} ({', '.join(sorted(added))}), which Amber cannot find to register again"
        if _callbacks(conn, factories):
            return "a callback set (an authorizer, a progress handler or a trace callback)"
    finally:
        fresh.close()
    databases = conn.execute("PRAGMA database_list").fetchall()
    attached = [name for _seq, name, _file in databases if name not in ("main", "temp")]
    if attached:
        return f"attached database(s) ({', '.join(attached)})"
    if any(name == "temp" for _seq, name, _file in databases) and \
            conn.execute("SELECT count(*) FROM temp.sqlite_master").fetchone()[0]:
        return "tables of its temp schema, which only this connection sees"
    return None


def _callbacks(conn, factories: tuple) -> list:
    """What the connection holds for the collector besides its class, statement cache, lists
    of cursors and blobs, factories and ``__dict__``: the callbacks set on it."""
    import functools
    import gc

    known = [type(conn), *factories, conn.row_factory, conn.text_factory, getattr(conn, "__dict__", None)]
    rest = []
    for ref in gc.get_referents(conn):
        if type(ref) in (list, functools._lru_cache_wrapper) or ref is None:
            continue
        if any(ref is k for k in known):
            continue
        rest.append(ref)
    return rest


def _names(conn, pragma: str) -> set:
    return {row[0] for row in conn.execute(f"SELECT name FROM pragma_{pragma}")}


def _detect_types(sqlite3, conn) -> int:
    found = 0
    cursor = conn.execute(f'SELECT 1 AS "a [{_PROBE}]"')
    if cursor.description[0][0] == "a":
        found |= sqlite3.PARSE_COLNAMES
    cursor.close()
    converters = sqlite3.converters
    key = _PROBE.upper()
    if key in converters:  # (the program's own: not touched, and not probed)
        return found
    converters[key] = lambda data: _PROBE
    try:
        conn.execute(f"SAVEPOINT {_PROBE}")
        try:
            conn.execute(f"CREATE TEMP TABLE {_PROBE} (x {_PROBE})")
            conn.execute(f"INSERT INTO temp.{_PROBE} VALUES (1)")
            if conn.execute(f"SELECT x FROM temp.{_PROBE}").fetchone()[0] == _PROBE:
                found |= sqlite3.PARSE_DECLTYPES
        finally:
            conn.execute(f"ROLLBACK TO {_PROBE}")
            conn.execute(f"RELEASE {_PROBE}")
    finally:
        del converters[key]
    return found


def _thread_checked(sqlite3, conn) -> bool:
    """Whether another thread is refused the connection (``check_same_thread``)."""
    import _thread

    answer: list = []
    done = _thread.allocate_lock()
    done.acquire()

    def other() -> None:
        try:
            conn.cursor().close()
            answer.append(False)
        except sqlite3.ProgrammingError:
            answer.append(True)
        except BaseException:  # noqa: BLE001 - any other failure: judged as checked (the safe side)
            answer.append(True)
        finally:
            done.release()

    _thread.start_new_thread(other, ())
    done.acquire()
    return answer[0]


def _cache_size(conn) -> int:
    import functools
    import gc

    for ref in gc.get_referents(conn):
        if type(ref) is functools._lru_cache_wrapper:
            size = ref.cache_info().maxsize
            if isinstance(size, int):
                return size
    return 128
