"""The lifecycle API: what the application does around a snapshot and after a restore.

The analogue of CRaC's ``Resource``, OpenJ9's checkpoint hooks and Lambda SnapStart's runtime
hooks. Re-exported from :mod:`amber` (``amber.before_snapshot`` ...), documented there.

Order. Hooks carry a priority (default 0). Before a snapshot, lower priorities run first and,
within one priority, the hooks registered last run first (reverse order). After a restore,
higher priorities run first and, within one priority, in registration order. So a hook
registered after another (that depends on it) is torn down first and set up again last. Amber's
own built-in handlers use ``BUILTIN_PRIORITY`` (1000): they run after the user's before a
snapshot and before them after a restore.

Errors. Every hook runs even when an earlier one raised (CRaC's rule); the errors are reported
together, each with the hook that raised. An error before a snapshot means no image, and the
``after_restore`` of every resource whose ``before_snapshot`` ran is called, so the program is
left as it was (``amber snapshot`` then says so and exits 2). An error after a restore is the
restored program's failure: exit code 1 (:attr:`HookErrors.exit_code`).

This module is on the restore path: it imports only the base set. The hooks the program
registers during start-up are captured with the heap (``registered()``: :class:`Hook` records),
and installed again in the restored process before its after-restore hooks run. The capture side
reads the transient and kept objects through :func:`transients` and :func:`kept`.
"""

from _operator import itemgetter

from amber.errors import AmberError

__all__ = ["Resource", "HookErrors", "Hook", "before_snapshot", "after_restore", "register", "transient",
           "keep_state", "run_before_snapshot", "run_after_restore", "registered", "install", "transients",
           "kept", "BUILTIN_PRIORITY", "BEFORE", "AFTER", "RESOURCE"]

BUILTIN_PRIORITY = 1000

# Kinds of hook: a function run before a snapshot, one run after a restore, or a Resource (both).
BEFORE = "before"
AFTER = "after"
RESOURCE = "resource"


class Hook(tuple):
    """One registration: a tuple ``(kind, priority, sequence, fn, args, kwargs)`` with named fields.

    ``sequence`` orders registrations within a priority; ``fn`` is the resource itself for
    RESOURCE. Captured with the heap and made again from its fields at restore. (What
    ``collections.namedtuple`` would make; importing collections would be most of the cost of
    ``import amber`` in a program or command that has not imported it yet.)
    """

    __slots__ = ()
    _fields = ("kind", "priority", "sequence", "fn", "args", "kwargs")

    def __new__(cls, kind: str, priority: int, sequence: int, fn, args: tuple, kwargs: dict) -> "Hook":
        return tuple.__new__(cls, (kind, priority, sequence, fn, args, kwargs))

    def __getnewargs__(self) -> tuple:  # copied (and captured) as Hook(*fields)
        return tuple(self)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self, strict=True))
        return f"Hook({fields})"

    kind = property(itemgetter(0), doc="BEFORE, AFTER or RESOURCE")
    priority = property(itemgetter(1))
    sequence = property(itemgetter(2))
    fn = property(itemgetter(3))
    args = property(itemgetter(4))
    kwargs = property(itemgetter(5))


_hooks: list[Hook] = []
_transients: dict = {}  # id(obj) -> (obj, factory); the object is held so that its id stays its own
_kept: dict = {}  # id(obj) -> obj: generators seeded on purpose (amber.keep_state)
_sequence = [0]


class Resource:
    """What ``amber.register`` expects: an object with these two methods (subclassing this
    class is optional, any object with them will do)."""

    def before_snapshot(self) -> None:
        """Close or release what cannot be captured (sockets, files, threads)."""

    def after_restore(self) -> None:
        """Open or re-create it in the restored process (and after a failed snapshot)."""


class HookErrors(AmberError):
    """Hooks raised; ``errors`` holds (hook description, exception) pairs. ``when`` is
    ``"before-snapshot"`` (exit code 2: no image) or ``"after-restore"`` (exit code 1: the restored
    program failed, as it would have with an exception of its own)."""

    def __init__(self, when: str, errors: list) -> None:
        self.errors = errors
        self.exit_code = 1 if when == "after-restore" else 2
        parts = "; ".join(f"{name} raised {type(e).__name__}: {e}" for name, e in errors)
        super().__init__(f"{len(errors)} {when} hook(s) failed: {parts}")


def _add(kind: str, fn, args: tuple, kwargs: dict, priority: int) -> None:
    if not isinstance(priority, int):
        raise TypeError("priority must be an int")
    _sequence[0] += 1
    _hooks.append(Hook(kind, priority, _sequence[0], fn, args, kwargs))


def _hook_decorator(kind: str):
    def register_hook(fn=None, *args, priority: int = 0, **kwargs):
        if fn is None:  # @amber.before_snapshot(priority=N)
            def decorate(f):
                _add(kind, f, (), {}, priority)
                return f
            return decorate
        if not callable(fn):
            raise TypeError(f"amber.{kind}_hook: {fn!r} is not callable")
        _add(kind, fn, args, kwargs, priority)
        return fn
    return register_hook


before_snapshot = _hook_decorator(BEFORE)
before_snapshot.__name__ = "before_snapshot"
before_snapshot.__doc__ = """Run ``fn(*args, **kwargs)`` before a snapshot is taken.

Usable as ``@amber.before_snapshot``, ``@amber.before_snapshot(priority=N)`` or
``amber.before_snapshot(fn, *args, priority=0, **kwargs)``."""
after_restore = _hook_decorator(AFTER)
after_restore.__name__ = "after_restore"
after_restore.__doc__ = """Run ``fn(*args, **kwargs)`` in every restored process before it
resumes (and in ``amber run``'s first run once its image is written). Same forms as
``before_snapshot``."""


def register(resource, priority: int = 0):
    """Register a :class:`Resource`; Amber holds it strongly until the process ends."""
    for name in ("before_snapshot", "after_restore"):
        if not callable(getattr(resource, name, None)):
            raise TypeError(f"amber.register: {type(resource).__name__} has no {name}() method")
    _add(RESOURCE, resource, (), {}, priority)
    return resource


def transient(obj, factory):
    """Do not write ``obj``: every reference to it in the restored heap refers to ``factory()``,
    called once after restore. Returns ``obj``."""
    if not callable(factory):
        raise TypeError("amber.transient: factory must be callable")
    _transients[id(obj)] = (obj, factory)
    return obj


def keep_state(obj):
    """Say that ``obj`` (a random generator) is seeded on purpose: no warning that every restored
    process repeats its numbers. Returns ``obj``."""
    _kept[id(obj)] = obj
    return obj


def _describe(fn) -> str:
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None) or type(fn).__module__
    return f"{module}.{name}"


def _run(kinds: tuple, order, method: str, ran: list | None = None) -> list:
    """Call the hooks of ``kinds`` in ``order``; return (hook description, error) for each that
    raised. Resources whose method was called are appended to ``ran``."""
    errors = []
    for hook in sorted((h for h in _hooks if h.kind in kinds), key=order):
        try:
            if hook.kind == RESOURCE:
                if ran is not None:
                    ran.append(hook.fn)
                getattr(hook.fn, method)()
            else:
                hook.fn(*hook.args, **hook.kwargs)
        except Exception as e:
            errors.append((_describe(hook.fn) + (f".{method}" if hook.kind == RESOURCE else ""), e))
    return errors


def run_before_snapshot() -> list:
    """Run the before-snapshot side (lower priority first, last registered first); return the
    resources whose before_snapshot ran. Raises HookErrors, after undoing (see the module's
    docstring), if any hook raised."""
    ran: list = []
    errors = _run((BEFORE, RESOURCE), lambda h: (h.priority, -h.sequence), "before_snapshot", ran)
    if errors:
        raise HookErrors("before-snapshot", errors + _call_after(ran))
    return ran


def run_after_restore() -> None:
    """Run every after-restore hook and resource (higher priority first, in registration order);
    raise HookErrors naming each that raised."""
    errors = _run((AFTER, RESOURCE), lambda h: (-h.priority, h.sequence), "after_restore")
    if errors:
        raise HookErrors("after-restore", errors)


def _call_after(resources: list) -> list:
    errors = []
    for resource in reversed(resources):
        try:
            resource.after_restore()
        except Exception as e:
            errors.append((_describe(resource) + ".after_restore", e))
    return errors


def registered() -> tuple[Hook, ...]:
    """The hooks registered so far, to be captured with the heap."""
    return tuple(_hooks)


def install(hooks: tuple[Hook, ...]) -> None:
    """In a restored process: the captured hooks (:class:`Hook` records, as :func:`registered`
    gave them: an image is restored only by the Amber that wrote it) become this process's."""
    _hooks[:] = hooks
    _sequence[0] = max((h.sequence for h in _hooks), default=0)


def transients() -> tuple:
    """(object, factory) for every ``amber.transient`` so far (for the capture side)."""
    return tuple(_transients.values())


def kept() -> tuple:
    """Every object passed to ``amber.keep_state`` so far (for the capture side)."""
    return tuple(_kept.values())
