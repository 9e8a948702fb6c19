"""``concurrent.futures`` executors made during start-up (``ThreadPoolExecutor``,
``ProcessPoolExecutor``, and subclasses).

Rule (decided here): an executor that is *idle* (no work item queued, pending or running) is shut
down before the snapshot (``shutdown(wait=True)``: its idle worker threads or processes exit) and
made again after restore by calling its base class's ``__init__`` on the *same* object with the
arguments it was made with (``max_workers``, thread name prefix, initializer and its arguments,
the multiprocessing context by its start method, ``max_tasks_per_child``). So the module global
still refers to it and ``submit()`` works; workers start on demand, as in a new executor, running
the initializer again. Attributes a subclass added are kept. ``max_workers`` is the number the
executor had (a default computed from the snapshot machine's CPU count stays that number).

An executor with work queued, pending or running, or one that is broken, is left as it is and
refused with its path (:func:`busy` says why); one the program shut down itself is captured shut
down.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_down: dict = {}  # id(executor) -> executor: taken down in this process, not yet brought up


def executor_classes() -> list:
    """The executor classes this module handles, of the modules loaded."""
    out = []
    for module, name in (("concurrent.futures.thread", "ThreadPoolExecutor"),
                         ("concurrent.futures.process", "ProcessPoolExecutor")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            out.append(cls)
    return out


def _base_of(executor: "Any") -> "type | None":
    for cls in executor_classes():
        if isinstance(executor, cls):
            return cls
    return None


def is_shut_down(executor: "Any") -> bool:
    d = executor.__dict__
    return bool(d.get("_shutdown") or d.get("_shutdown_thread"))


def busy(executor: "Any") -> "str | None":
    """What ``executor`` still has to do, or None if it is idle."""
    d = executor.__dict__
    if d.get("_broken"):
        return "a broken pool (a worker died)"
    pending = d.get("_pending_work_items")  # ProcessPoolExecutor: until the result is back
    if pending:
        return f"{len(pending)} work item(s) pending or running"
    queue = d.get("_work_queue")
    if queue is not None and hasattr(queue, "qsize") and queue.qsize():
        return f"{queue.qsize()} work item(s) queued"
    threads = [t for t in d.get("_threads", ()) if t.is_alive()]
    semaphore = d.get("_idle_semaphore")
    idle = getattr(semaphore, "_value", len(threads))  # a worker releases it when it goes idle
    if len(threads) > idle:
        return f"{len(threads) - idle} worker thread(s) running work"
    return None


def _init_arguments(executor: "Any", base: type) -> tuple:
    """(args, kwargs) that make the executor again with its base class's ``__init__``."""
    d = executor.__dict__
    if base.__name__ == "ThreadPoolExecutor":
        return (d["_max_workers"], d["_thread_name_prefix"], d["_initializer"], d["_initargs"]), {}
    kwargs: dict = {}
    if "_max_tasks_per_child" in d:
        kwargs["max_tasks_per_child"] = d["_max_tasks_per_child"]
    return (d["_max_workers"], _context_name(d["_mp_context"]), d["_initializer"], d["_initargs"]), kwargs


def _context_name(context: "Any") -> "Any":
    """A multiprocessing context by its start method (one of the module's own: found again by name
    after restore), or the object itself."""
    import multiprocessing

    name = getattr(context, "_name", None)
    try:
        if isinstance(name, str) and multiprocessing.get_context(name) is context:
            return name
    except ValueError:
        pass
    return context


def take_down(executor: "Any") -> "tuple | None":
    """Shut an idle executor down and strip what its ``__init__`` set; return (base, args,
    kwargs) to make it again (None: left as it is)."""
    base = _base_of(executor)
    if base is None or is_shut_down(executor) or busy(executor) is not None:
        return None
    args, kwargs = _init_arguments(executor, base)
    vars(base)["shutdown"](executor, wait=True)  # the base's: its __init__ makes it again
    own = set(vars(base)["__init__"].__code__.co_names)  # the attributes the base's __init__ sets
    for name in [k for k in executor.__dict__ if k in own]:
        del executor.__dict__[name]
    _down[id(executor)] = executor
    return base, args, kwargs


def taken_down(executor: "Any") -> bool:
    return _down.get(id(executor)) is executor


def bring_up(executor: "Any", base: type, args: tuple, kwargs: dict) -> None:
    """Make a taken-down executor again, as new, on the same object."""
    _down.pop(id(executor), None)
    if isinstance(args[1], str) and base.__name__ == "ProcessPoolExecutor":
        import multiprocessing

        args = (args[0], multiprocessing.get_context(args[1]), *args[2:])
    vars(base)["__init__"](executor, *args, **kwargs)
