"""What each ``_boot.py COMMAND`` runs: the first code of a snapshotting or restoring interpreter.

The ``amber`` command re-executes the interpreter on :mod:`amber._boot`, with its options encoded once
(:mod:`amber.options`: one argv element, then the program's own arguments):

* ``python -I -S _boot.py restore OPTIONS ARGS...``: isolated, no ``site``: the restoring
  interpreter starts from the base set only, and takes ``sys.path`` and the site set-up from
  the image;
* ``python -I -S _boot.py exec IMAGE ARGS...``: the same, started by an image's launch line
  (``./app.amber ARGS``, see :mod:`amber.image.format`): a restore with the default options;
  both go through a pool of the image when one runs (:mod:`amber.pool.client`);
* ``python -I -S _boot.py pool OPTIONS``: a pool's resident parent (:mod:`amber.pool.server`);
* ``python -I -S _boot.py worker OPTIONS``: a ``multiprocessing`` worker restored from an image
  (:mod:`amber.multiprocessing`, :mod:`amber.restore.worker`);
* ``python -S _boot.py snapshot OPTIONS ARGS...``: the user's environment applies (``PYTHONPATH``...),
  ``site`` runs only after Amber has taken its baseline of the base set;
* ``python -I -S _boot.py run OPTIONS ARGS...``: ``amber run``, which restores from the cache like a restore
  or hands over to a snapshotting interpreter that builds the image (:mod:`amber.restore.run`);
* ``python -I -S _boot.py verify OPTIONS ARGS...``: restores an image just written and describes
  its state for the snapshotting process to compare (:mod:`amber.verify`);
* ``python -I -S _boot.py probe READ_FD WRITE_FD``: started like a restore, imports what the
  snapshot holds by reference and reports what that pulls in, over two pipes of its own
  (:mod:`amber.capture.world.probe`).

Both sides import exactly the same modules before the program's state is touched (Amber's
restore path: ``amber``, ``amber.pool.client``, ``amber.restore.loader`` and what they import),
so the base set is the same on both sides. Only names from that set may be imported here.

Each path is one process entry point: its Amber work runs under
:func:`amber.errors.entry_point`, the one error handler of the process (an ``AmberError`` is one
``amber: error:`` line and its exit code: 2, or 1 for after-restore hooks that failed; Ctrl-C
``amber: interrupted`` and 130).
"""

import gc
import posix
import sys


def _restore(command: str, args: list, client) -> None:
    """``restore OPTIONS ARGS`` or ``exec IMAGE ARGS``: through a pool of the image when one
    runs (:mod:`amber.pool.client`: nothing of the restore path is imported then), else here."""
    from amber.options import RestoreOptions

    options = RestoreOptions.decode(args) if command == "restore" else RestoreOptions(args[0], args=args[1:])
    if not options.no_pool and not options.verify_buffers:
        client.serve(options.image, options.args)
    from amber.restore import loader

    loader.restore(options)


def main() -> None:
    if sys.argv[1] in ("restore", "exec", "run", "verify", "pool", "worker"):
        # A restore allocates and keeps (Amber's modules, the modules imported again, the heap):
        # the collector would only walk it. It is on again when the program resumes
        # (amber.restore.loader.resume), as start-up left it.
        gc.disable()
    from amber.errors import entry_point, fail
    from amber.pool import client

    command, args = sys.argv[1], sys.argv[2:]
    if command in ("restore", "exec") and args:
        del sys.path[0]
        entry_point(lambda: _restore(command, args, client))
        return
    from amber.restore import loader  # noqa: F401 (every other path has the restore path's modules too)

    if command == "run":
        del sys.path[0]
        from amber.restore import run

        entry_point(lambda: run.main(args))
    elif command == "snapshot":
        restore_path = set(sys.modules)  # what a restore imports before the program's state
        from amber.capture.recorders.baseline import Baseline

        baseline = Baseline(restore_path)
        from amber.capture.recorders.imports import ImportRecorder

        imports = ImportRecorder()
        del sys.path[0]
        from amber.capture import session as runner

        # os._exit: the program's atexit handlers and finalizers must not run after a failed capture.
        entry_point(lambda: runner.main(args, baseline, imports), leave=posix._exit)
    elif command == "base-set":
        sys.stdout.write("\n".join(sorted(set(sys.modules) - {"__main__"})) + "\n")
    elif command == "verify":
        del sys.path[0]
        from amber.verify import child

        entry_point(lambda: child.main(args), leave=posix._exit)
    elif command == "worker":
        del sys.path[0]
        from amber.restore import worker

        entry_point(lambda: worker.main(args))
    elif command == "pool":
        del sys.path[0]
        from amber.pool import server

        instance = entry_point(lambda: server.main(args))  # returns in a forked instance only
        entry_point(instance.run)
    elif command == "probe":
        del sys.path[0]
        from amber.capture.world import probe

        entry_point(lambda: probe.child_main(args))
    else:  # pragma: no cover - only the amber command runs this file
        fail(f"unknown boot command {command!r}")
