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
* asyncio event loops that are not running and have nothing pending: their self-pipe and selector
  are closed before the snapshot and made again after restore, on the same loop object
  (:mod:`amber.handlers.loops`).
* ``concurrent.futures`` executors with no work: shut down before the snapshot and made again
  after restore, on the same executor object, with the arguments they were made with
  (:mod:`amber.handlers.executors`).

What a handler leaves up (a busy loop or executor) is refused by the capture with its path
(:mod:`amber.capture.reduce.runtime`). Installed at the snapshot point only when the module
concerned is loaded, so a program that does not use it pays nothing; the objects are found in
one pass over the collector's objects. Imported by name at restore (the hooks are captured with
the heap).
"""

import sys

from amber import lifecycle


def install() -> None:
    if "logging" in sys.modules:
        lifecycle.before_snapshot(close_log_files, priority=lifecycle.BUILTIN_PRIORITY)
        lifecycle.after_restore(reopen_log_files, priority=lifecycle.BUILTIN_PRIORITY)
    if any(name in sys.modules for name in _RUNTIME_MODULES):
        taken: list = []  # filled before the snapshot, captured with the after-restore hook
        lifecycle.before_snapshot(take_down_runtime_objects, taken, priority=lifecycle.BUILTIN_PRIORITY)
        lifecycle.after_restore(bring_up_runtime_objects, taken, priority=lifecycle.BUILTIN_PRIORITY)


# Modules whose objects the run-time handlers look for.
_RUNTIME_MODULES = ("urllib3", "asyncio.base_events", "concurrent.futures.thread",
                    "concurrent.futures.process")


def take_down_runtime_objects(taken: list) -> None:
    """Before the snapshot: drop idle urllib3 connections; take idle loops and executors down,
    appending to ``taken`` (weak references: an object nothing else holds is not kept for it)
    what brings each one up again."""
    from _weakref import ref

    from amber.handlers import executors, loops

    managers = _classes("urllib3", "PoolManager")
    found = _instances(managers + loops.loop_classes() + executors.executor_classes())
    for obj in found:
        if managers and isinstance(obj, tuple(managers)):
            obj.clear()  # type: ignore[attr-defined]  # a PoolManager
    for obj in found:
        if isinstance(obj, tuple(executors.executor_classes())):
            down = executors.take_down(obj)
            if down is not None:
                taken.append((executors.bring_up, ref(obj), down))
        elif isinstance(obj, tuple(loops.loop_classes())):
            made = loops.take_down(obj)
            if made is not None:
                taken.append((loops.bring_up, ref(obj), made))


def bring_up_runtime_objects(taken: list) -> None:
    """After restore (and in amber run's first run): bring up what was taken down, in order."""
    for bring_up, target, args in taken:
        obj = target()
        if obj is not None:
            bring_up(obj, *args)
    taken.clear()


def _classes(module: str, name: str) -> list:
    cls = getattr(sys.modules.get(module), name, None)
    return [cls] if isinstance(cls, type) else []


def _instances(bases: list) -> list:
    """Every live object whose class is one of ``bases`` or a subclass, in one pass over the
    collector's objects (a set of the exact classes, so most objects cost one lookup)."""
    if not bases:
        return []
    import gc

    exact: set = set()
    todo = list(bases)
    while todo:
        cls = todo.pop()
        if cls not in exact:
            exact.add(cls)
            todo.extend(type.__subclasses__(cls))
    return [obj for obj in gc.get_objects() if type(obj) in exact]


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
