"""A ``multiprocessing`` worker restored from an image (the worker's side of
:mod:`amber.multiprocessing`).

``_boot.py worker <WorkerOptions>``: through a pool of the image when one runs (an instance
serves, with this worker's pipe and resource tracker passed to it), else the image is restored
here as ``amber restore`` does, up to and including the after-restore hooks. The rest of
``__main__`` does not run either way: the worker reads the spawn protocol's preparation data and
process object from its pipe, applies the data as a spawn worker does, except that the main
module is not run again (the restored ``__main__`` is the one functions are found in, also as
``__mp_main__``), and runs the process object; its exit code is the worker's.
"""

import sys

from amber import lifecycle
from amber.options import WorkerOptions
from amber.restore import loader
from amber.state import STATE

TYPE_CHECKING = False  # imported before the heap: only what a restore imports (no typing)
if TYPE_CHECKING:
    from typing import Any


def main(argv: list) -> None:
    """``_boot.py worker``: through a pool of the image when one runs (the instance serves on
    this process's descriptors; this process passes its exit status on), else restored here."""
    from amber.pool import client

    options = WorkerOptions.decode(argv)
    fds = [options.pipe_fd] + ([options.tracker_fd] if options.tracker_fd >= 0 else [])
    client.serve(options.image, [], worker_fds=fds)
    serve(loader.load(options.image), options.pipe_fd, options.tracker_fd)


def serve(manifest: dict, pipe_fd: int, tracker_fd: int) -> None:
    """After the heap: settle, run the after-restore hooks, then the process object."""
    loader.settle(manifest, [])
    lifecycle.install(manifest["lifecycle"])
    lifecycle.run_after_restore()
    STATE.mark_resumed()  # what the process object raises is the program's
    sys.exit(_run(WorkerOptions(STATE.image or "", pipe_fd=pipe_fd, tracker_fd=tracker_fd), manifest["main"]))


def _run(options: WorkerOptions, main: "Any") -> int:
    import os
    import pickle
    from multiprocessing import process, resource_tracker, spawn

    tracker: Any = resource_tracker
    if options.tracker_fd >= 0:
        tracker._resource_tracker._fd = options.tracker_fd  # as a spawn worker is given it
    sys.modules["__mp_main__"] = main
    parent_sentinel = os.dup(options.pipe_fd)
    current: Any = process.current_process()
    with open(options.pipe_fd, "rb", closefd=True) as from_parent:
        current._inheriting = True
        try:
            data = pickle.load(from_parent)
            for key in ("init_main_from_name", "init_main_from_path"):
                data.pop(key, None)  # the restored __main__ is the program's: not run again
            spawn.prepare(data)
            process_obj = pickle.load(from_parent)
        finally:
            del current._inheriting
    return process_obj._bootstrap(parent_sentinel)
