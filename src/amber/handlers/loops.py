"""Asyncio event loops made during start-up and not running (``asyncio.new_event_loop()``, the
loop ``asyncio.get_event_loop()`` makes through the policy).

An idle selector loop holds what cannot be captured: its self-pipe (a socket pair) and its
selector (an epoll object). Before the snapshot the handler closes both, as ``loop.close()``
would, but leaves the loop open; after restore it gives the same loop object a new selector of the
same class and a new self-pipe, as the loop's ``__init__`` does, and makes it the main thread's
current loop again if it was (``asyncio.get_event_loop()`` gives it). Everything else the program set
on the loop (debug mode, exception handler, task factory, default executor) is captured with it,
and the module global that refers to the loop still does.

Idle means: not running, not closed, no callback or task pending (cancelled ones are dropped),
no signal handler, no file descriptor watched besides the self-pipe. A loop that is not idle is
left as it is and refused with its path (:func:`busy` says why).
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_down: dict = {}  # id(loop) -> loop: taken down in this process, not yet brought up


def busy(loop: "Any") -> "str | None":
    """Why ``loop`` cannot be taken down (what it still has to do), or None."""
    pending = sum(1 for handles in (getattr(loop, "_ready", ()), getattr(loop, "_scheduled", ()))
                  for h in handles if not getattr(h, "_cancelled", False))
    if pending:
        return f"{pending} callback(s) or task(s) pending"
    if getattr(loop, "_signal_handlers", None):
        return "signal handlers (loop.add_signal_handler)"
    selector = getattr(loop, "_selector", None)
    ssock = getattr(loop, "_ssock", None)
    if selector is not None:
        own = ssock.fileno() if ssock is not None else None
        others = [fd for fd in selector.get_map() if fd != own]
        if others:
            return f"{len(others)} file descriptor(s) watched (add_reader/add_writer, or open transports)"
    return None


def reopenable(loop: "Any") -> bool:
    """A selector loop whose self-pipe and selector this module knows how to make again."""
    return all(hasattr(loop, name) for name in ("_close_self_pipe", "_make_self_pipe")) \
        and getattr(loop, "_selector", None) is not None and getattr(loop, "_ssock", None) is not None


def take_down(loop: "Any") -> "tuple | None":
    """Close an idle loop's self-pipe and selector; return what :func:`bring_up` needs besides
    the loop (None: left as it is)."""
    if loop.is_closed() or loop.is_running() or not reopenable(loop) or busy(loop) is not None:
        return None
    _drop_cancelled(loop)
    selector_class = type(loop._selector)
    loop._close_self_pipe()
    loop._selector.close()
    loop._selector = None
    _down[id(loop)] = loop
    return selector_class, _is_current(loop)


def _is_current(loop: "Any") -> bool:
    """Is ``loop`` this (main) thread's current loop in the event-loop policy? The policy lives
    in asyncio.events, which a restore may import again: the loop is made current again then."""
    policy = getattr(sys.modules.get("asyncio.events"), "_event_loop_policy", None)
    local = getattr(policy, "_local", None)
    return getattr(local, "_loop", None) is loop


def _drop_cancelled(loop: "Any") -> None:
    # Cancelled handles are never run; they hold a contextvars.Context, which cannot be captured.
    import heapq

    ready = getattr(loop, "_ready", None)
    if ready:
        kept = [h for h in ready if not h._cancelled]
        ready.clear()
        ready.extend(kept)
    scheduled = getattr(loop, "_scheduled", None)
    if scheduled:
        scheduled[:] = [h for h in scheduled if not h._cancelled]
        heapq.heapify(scheduled)
        loop._timer_cancelled_count = 0


def taken_down(loop: "Any") -> bool:
    return _down.get(id(loop)) is loop


def bring_up(loop: "Any", selector_class: type, current: bool) -> None:
    """Give a loop taken down a new selector and self-pipe, and make it the current loop again if
    it was (after restore, or in amber run's first run once its image is written)."""
    _down.pop(id(loop), None)
    if loop.is_closed() or getattr(loop, "_selector", None) is not None:
        return
    loop._selector = selector_class()
    loop._make_self_pipe()
    if current and not _is_current(loop):
        import asyncio

        asyncio.set_event_loop(loop)


def loop_classes() -> list:
    """The event-loop base class, when asyncio is loaded."""
    base_events = sys.modules.get("asyncio.base_events")
    cls = getattr(base_events, "BaseEventLoop", None)
    return [cls] if isinstance(cls, type) else []
