"""The build side of the cache: the build lock, the failure marker, and what a finished build
records (the program record, then the size cap).

Used by the snapshotting interpreter of ``amber run``'s first run (:mod:`amber.capture.session`),
not on the restore path, so it may use ``os``.
"""

from __future__ import annotations

import os
import time

from amber._files import write_atomically
from amber.image.format import INPUTS_SCHEMA
from amber.runcache import eviction, layout

LOCK_STALE_SECONDS = 600  # a lock older than this is taken over even if its pid is alive (pid reuse)


class BuildLock:
    """The lock of one cache entry, held while its image is written: a file created exclusively,
    holding the builder's pid. A lock left by a process that is gone is taken over."""

    def __init__(self, entry: str) -> None:
        self.path = layout.lock_path(entry)
        self.held = False

    def acquire(self) -> bool:
        """Take the lock; False when another live process holds it (it builds the image)."""
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                self.held = True
                return True
            except FileExistsError:
                try:
                    with open(self.path) as f:
                        pid = int(f.read() or 0)
                    os.kill(pid, 0)
                    if time.time() - os.stat(self.path).st_mtime < LOCK_STALE_SECONDS:
                        return False
                except (OSError, ValueError):
                    pass
                try:
                    os.unlink(self.path)
                except OSError:
                    return False
        return False

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                os.unlink(self.path)
            except OSError:
                pass


def record_failure(image: str, inputs: dict) -> None:
    """The program could not be captured: leave the failure marker with its inputs (see
    :func:`amber.runcache.freshness.known_to_fail`)."""
    write_atomically(layout.failed_marker(image), INPUTS_SCHEMA.encode(**inputs))


def record_built(root: str, entry: str, image: str, target: str, key_args: int | None) -> None:
    """The image is written: record the program, then keep the cache under its cap (never
    removing the image just built)."""
    layout.write_program(entry, target, key_args)
    eviction.evict(root, eviction.cap(), keep=image)
