"""The saving side for asyncio event loops and ``concurrent.futures`` executors.

Amber's built-in handlers (:mod:`amber.handlers.loops`, :mod:`amber.handlers.executors`) take an
idle loop or executor down before the snapshot and bring the same object up again after restore.
What they leave up is busy, and is refused here with its path and what to do, instead of with
the sockets, selectors and threads it holds:

* a running loop (it cannot be at the top level at the snapshot point unless another thread runs
  it); a loop with callbacks or tasks pending, signal handlers, or file descriptors it watches;
  a loop of a kind the handler does not know how to reopen;
* an executor with work pending or running (its threads or processes are busy).

Anything else (a loop the handler closed, one the program closed itself; an executor taken down
or shut down) is an ordinary instance.

Also here: ``contextvars.Context`` objects (what asyncio's handles hold), made again as a new
context with the same variables set to the same values.
"""

from __future__ import annotations

import sys
from contextvars import Context

from amber.capture.reduce.recipes import Call, CallOn, Offender, Recipe, named, reconstructor
from amber.handlers import executors, loops
from amber.restore import contexts


def register(reducers) -> None:
    """Add the reducers for event loops and executors to ``reducers.by_base`` (when loaded)."""
    instances = reducers.instances
    reducers.dispatch[Context] = reduce_context
    base_events = sys.modules.get("asyncio.base_events")
    loop_type = getattr(base_events, "BaseEventLoop", None)
    if isinstance(loop_type, type):
        reducers.by_base.append((loop_type, lambda obj, cls: refuse_busy_loop(obj)
                                 or instances.reduce(obj, cls)))
    for cls in executors.executor_classes():
        reducers.by_base.append((cls, lambda obj, klass: refuse_busy_executor(obj)
                                 or instances.reduce(obj, klass)))


def refuse_busy_loop(loop) -> Offender | None:
    """Why an event loop the handler left open cannot be captured; None if it can."""
    if loop.is_closed() or loops.taken_down(loop):
        return None
    if loop.is_running():
        return Offender("a running asyncio event loop",
                        "stop it before the snapshot point (a loop runs after restore, not across it)")
    why = loops.busy(loop)
    if why is not None:
        return Offender(f"an asyncio event loop with {why}",
                        "let them finish (loop.run_until_complete) or cancel them before the snapshot "
                        "point, or set them up after restore (after the snapshot point, or in an "
                        "amber.after_restore hook)")
    return Offender(f"an open asyncio event loop of a kind Amber cannot reopen ({type(loop).__qualname__})",
                    "close it before the snapshot point and make it after restore")


def refuse_busy_executor(executor) -> Offender | None:
    """Why an executor the handler left up cannot be captured; None if it can."""
    if executors.taken_down(executor) or executors.is_shut_down(executor):
        return None
    why = executors.busy(executor)
    if why is None:
        return None  # never used: its state is plain
    name = type(executor).__qualname__
    return Offender(f"a {name} with {why}",
                    "wait for its futures (concurrent.futures.wait) before the snapshot point, or create it "
                    "after restore")


def reduce_context(context):
    r = Recipe(Call(named("_contextvars", "Context"), ()))
    if len(context):
        r.fills.append(CallOn(reconstructor(contexts.fill_context), (tuple(context.items()),)))
    return r
