"""The file every Amber interpreter starts on: ``python [-I] -S .../amber/_boot.py COMMAND ...``
(the ``amber`` command, an image's launch line, a pool, a worker). It puts Amber's directory
on ``sys.path`` and runs :func:`amber.entries.main`, where the commands are described. It is
kept this small because a script is compiled from its source at every start; modules are not.
"""

import posix
import sys


def _dirname(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut > 0 else path


def _run() -> None:
    amber_dir = _dirname(__file__)
    # Never leave amber/ itself on sys.path: its modules would shadow the standard library's.
    sys.path[:] = [p for p in sys.path if p != amber_dir]
    sys.path.insert(0, _dirname(amber_dir))
    from amber.entries import main

    main()


try:
    _run()
except KeyboardInterrupt:  # before (or after) the entry point's own handler: Amber's imports
    from amber.state import STATE

    if STATE.resumed:
        raise  # the program's own
    try:
        sys.stderr.write("amber: interrupted\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    posix._exit(130)
