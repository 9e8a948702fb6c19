"""Reconstructor for ``contextvars.Context`` objects kept in the heap (asyncio handles and the
callbacks of a loop hold the context they were scheduled in): the loading side of
:func:`amber.capture.reduce.runtime.reduce_context`. Part of the image format (called by name).
Imports only the base set.
"""


def fill_context(context, items: tuple) -> None:
    """Set each (ContextVar, value) pair in ``context``, a new empty ``contextvars.Context``."""
    for var, value in items:
        context.run(var.set, value)
