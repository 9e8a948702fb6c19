"""A detached writer: the process forks, and a grandchild in a session of its own writes an
image of the state the fork froze while the program goes on (``amber run``'s background build,
``amber.checkpoint``).

What the fork must not change in the writer: the program's buffered output (flushed before, so
that nothing is written twice), and the state at-fork handlers change in a child (``random``
registers its global generator's reseeding to run after every fork: the writer would capture
a generator the program never had, and every restore would draw other numbers than the
program does; the global generators' states are put back as they were before the fork,
:func:`amber.capture.recorders.entropy.global_generator_states`). The grandchild leaves by
``os._exit`` (no atexit handler or finalizer of the program runs twice), and the intermediate
child at once, so that no zombie is left.
"""

import os
import sys

from amber.errors import flush_streams


def fork_writer(write, keep_stderr: bool, seconds_limit: int) -> "tuple[OSError | None, int | None]":
    """Run ``write()`` in a detached grandchild (standard input and output on /dev/null, and
    standard error too unless ``keep_stderr``; ended after ``seconds_limit``); return at once:
    the OSError that kept the process from forking, or a descriptor that reads end-of-file
    once the writer has left (it holds the pipe's other end until then)."""
    from amber.capture.recorders.entropy import global_generator_states

    flush_streams()
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    states = global_generator_states()
    done_read, done_write = os.pipe()
    try:
        child = os.fork()
    except OSError as e:
        os.close(done_read)
        os.close(done_write)
        return e, None
    if child == 0:
        try:
            os.close(done_read)
            if os.fork() == 0:
                _in_writer(write, keep_stderr, seconds_limit, states)
        finally:
            os._exit(0)
    os.close(done_write)
    os.waitpid(child, 0)
    return None, done_read


def _in_writer(write, keep_stderr: bool, seconds_limit: int, states: list) -> None:
    import signal

    try:
        for setter, state in states:  # (what the program's own at-fork handlers reseeded)
            setter(state)
        os.setsid()  # no Ctrl-C or hang-up of the terminal reaches the writer
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1) if keep_stderr else (0, 1, 2):
            os.dup2(null, fd)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # (not the program's handler)
        signal.alarm(seconds_limit)
        write()
    finally:
        flush_streams()
        os._exit(0)
