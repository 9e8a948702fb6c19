"""Amber's own lifecycle handlers for well-known resources, registered with
``BUILTIN_PRIORITY`` (they run after the program's hooks before a snapshot, before them after a
restore). Each is small and fixes one thing that would otherwise stop a snapshot:

* ``logging.FileHandler`` (and subclasses such as ``RotatingFileHandler``): the open log file is
  flushed and closed before the snapshot; after restore it is opened again with the handler's
  mode (a restored process starts its log as a cold start would). In ``amber run``'s first run,
  which keeps going in the same process, it is reopened for appending.
* ``urllib3`` connection pools (and so ``requests.Session``): idle keep-alive connections are
  dropped before the snapshot (``PoolManager.clear()``); the pools open new ones when next used.
  A connection in use (a response still being read) cannot be captured and is reported as such.

Installed at the snapshot point only when the module concerned is loaded, so a program that does
not use it pays nothing. Imported by name at restore (the hooks are captured with the heap).
"""

import sys

from amber import lifecycle


def install() -> None:
    if "logging" in sys.modules:
        lifecycle.before_snapshot(close_log_files, priority=lifecycle.BUILTIN_PRIORITY)
        lifecycle.after_restore(reopen_log_files, priority=lifecycle.BUILTIN_PRIORITY)
    if "urllib3" in sys.modules:
        lifecycle.before_snapshot(drop_idle_connections, priority=lifecycle.BUILTIN_PRIORITY)


def drop_idle_connections() -> None:
    import gc

    urllib3 = sys.modules["urllib3"]
    manager_type = getattr(urllib3, "PoolManager", None)
    if manager_type is None:
        return
    for obj in gc.get_objects():
        if isinstance(obj, manager_type):
            obj.clear()


def _file_handlers() -> list:
    logging = sys.modules.get("logging")
    if logging is None:
        return []
    handlers = [ref() for ref in list(getattr(logging, "_handlerList", ()))]
    return [h for h in handlers if isinstance(h, logging.FileHandler)]


def close_log_files() -> None:
    for handler in _file_handlers():
        stream = handler.stream
        if stream is not None:
            handler.acquire()
            try:
                stream.flush()
                stream.close()
                handler.stream = None
                handler._amber_reopen = True
            finally:
                handler.release()


def reopen_log_files() -> None:
    import amber

    for handler in _file_handlers():
        if handler.__dict__.pop("_amber_reopen", False) and handler.stream is None:
            mode = handler.mode
            if not amber.is_restored():
                handler.mode = "a"  # the same process goes on: keep what it wrote
            try:
                handler.stream = handler._open()
            finally:
                handler.mode = mode
