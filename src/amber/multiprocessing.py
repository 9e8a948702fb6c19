"""``amber.multiprocessing.get_context()``: multiprocessing workers restored from the image.

A worker of python's ``spawn`` start method runs the main script's start-up again (to find the
functions it is sent by name); one of ``fork`` copies whatever the parent holds by then, its
random state included (numpy's global generator gives every worker the same numbers). A worker of
this context is a fresh restore of the image the program itself was restored from: start-up's
heap is there at once, and its entropy is its own, as every restore's. It then does what a spawn
worker does: it takes the parent's preparation data (name, authentication key, ``sys.path``,
working directory...) and the process object from a pipe, and runs it.

    import amber.multiprocessing
    ctx = amber.multiprocessing.get_context()
    with concurrent.futures.ProcessPoolExecutor(4, mp_context=ctx) as pool: ...
    multiprocessing.Pool(4, context=ctx); ctx.Process(target=f).start(); ctx.Queue()

Usable wherever a context is accepted. In a process that was not restored (a cold run, the
first run of ``amber run``) it is python's ``spawn`` context, so the same program runs either
way. The parent's side follows the spawn protocol (:class:`_Popen`); the worker's side is
:mod:`amber.restore.worker`.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
from multiprocessing import context, popen_spawn_posix, process, reduction, util
from typing import Any

from amber.state import STATE

__all__ = ["get_context", "after_fork", "AmberContext", "AmberProcess"]


def get_context(image: str | None = None) -> multiprocessing.context.BaseContext:
    """A context whose workers are restored from ``image`` (default: the image this process
    was restored from); python's ``spawn`` context in a process that was not restored."""
    path = image if image is not None else STATE.image
    if path is None:
        return multiprocessing.get_context("spawn")
    return AmberContext(os.path.abspath(path))


def after_fork() -> None:
    """In a process just forked from this one (a pre-fork server's worker: gunicorn's
    ``post_fork``), reseed from the OS the random generators a restore would have fresh: those
    held by the modules a restore imports again (:mod:`amber.pool.entropy`: ``random``'s global
    generator, numpy's legacy global one...); in a process that was not restored, those held by
    extension modules and by the modules that describe the process. A generator the program
    keeps itself is left alone, as a fork leaves it. Then no two workers draw the same numbers."""
    from amber.pool import entropy

    held = set(STATE.imported_again)
    if not held:
        from amber.capture.world.rules import PER_PROCESS_MODULES

        held = {name for name, module in list(sys.modules.items())
                if name in PER_PROCESS_MODULES
                or str(getattr(module, "__file__", "")).endswith((".so", ".pyd"))}
    entropy.plan(set(), held).apply()


class _Popen(popen_spawn_posix.Popen):
    """Starts a worker as ``python -I -S _boot.py worker`` on the image, then hands it the spawn
    protocol's two pickles (the preparation data, the process object) through a pipe."""

    method = "amber"

    def _launch(self, process_obj: Any) -> None:
        from multiprocessing import resource_tracker, spawn

        from amber._files import BOOT
        from amber.options import WorkerOptions

        me: Any = self  # (the spawn Popen's own attributes are not in the type stubs)
        mp_util: Any = util
        tracker_fd = resource_tracker.getfd()
        me._fds.append(tracker_fd)
        data = io.BytesIO()
        context.set_spawning_popen(self)
        try:
            reduction.dump(spawn.get_preparation_data(process_obj._name), data)
            reduction.dump(process_obj, data)
        finally:
            context.set_spawning_popen(None)
        # sentinel_r reads EOF once the worker (which holds sentinel_w) is gone; the worker
        # reads the pickles from work_r.
        sentinel_r, sentinel_w = os.pipe()
        work_r, work_w = os.pipe()
        try:
            tracker = -1 if tracker_fd is None else tracker_fd
            options = WorkerOptions(process_obj._amber_image, pipe_fd=work_r, tracker_fd=tracker)
            cmd = [sys.executable, "-I", "-S", BOOT, "worker", *options.encode()]
            me._fds += [work_r, sentinel_w]
            self.pid = mp_util.spawnv_passfds(os.fsencode(sys.executable), cmd, me._fds)
            self.sentinel = sentinel_r
            with open(work_w, "wb", closefd=False) as f:
                f.write(data.getbuffer())
        finally:
            self.finalizer = util.Finalize(self, mp_util.close_fds, [sentinel_r, work_w])
            os.close(work_r)
            os.close(sentinel_w)


class AmberProcess(process.BaseProcess):
    """A process restored from ``_amber_image`` (set by the context that made it; the object
    is pickled to the worker, so its class is found there by name)."""

    _start_method = None
    _amber_image = ""

    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


class AmberContext(context.BaseContext):
    """A multiprocessing context (``Process``, ``Pool``, ``Queue``, ``Manager``... as any
    context has them) whose processes are restored from ``image``."""

    _name = "amber"

    def __init__(self, image: str) -> None:
        self.image = image

    def Process(self, *args: Any, **kwargs: Any) -> AmberProcess:  # noqa: N802 (a context's name for it)
        made = AmberProcess(*args, **kwargs)
        made._amber_image = self.image
        return made

    def get_start_method(self, allow_none: bool = False) -> str:
        return self._name
