"""The build side of the cache: the build lock, the failure marker, and what a finished build
records (the program record, then the size cap).

Used by the snapshotting interpreter of ``amber run``'s first run (:mod:`amber.capture.session`),
not on the restore path, so it may use ``os``.
"""

from __future__ import annotations

import os
import time

from amber._files import read_regular
from amber.image.format import INPUTS_SCHEMA
from amber.runcache import eviction, keys, layout

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
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                try:
                    os.write(fd, str(os.getpid()).encode())
                except OSError:  # a full disk: no lock that names no one is left behind
                    os.close(fd)
                    os.unlink(self.path)
                    raise
                os.close(fd)
                self.held = True
                return True
            except FileExistsError:
                try:
                    data = read_regular(self.path, 32)  # (never blocks on a FIFO planted there)
                    pid = int(data or 0) if data is not None else 0
                    if pid <= 0:  # being written this instant, or left empty by a full disk
                        if time.time() - os.stat(self.path).st_mtime < 5:
                            return False
                        raise ValueError("no pid")  # (os.kill(0, 0) would signal our own group)
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


def record_failure(image: str, key: bytes, inputs: dict, reason: str) -> None:
    """No image could be built (the program cannot be captured, or start-up depended on what
    cannot be watched): leave the no-image marker with its inputs, sealed with the cache's key
    (see :func:`amber.runcache.freshness.known_to_fail`). Best effort: a marker that cannot be
    written only means the next run tries again."""
    keys.write_no_image_marker(image, key, INPUTS_SCHEMA.build(**dict(inputs, no_image=reason)))


def record_built(root: str, entry: str, image: str, key: bytes, target: str, key_args: int | None) -> None:
    """The image is written: record the program, then keep the cache under its cap (never
    removing the image just built)."""
    keys.write_program(entry, key, target, key_args)
    layout.remove(layout.failed_marker(image))
    layout.remove(layout.timings_record(image))  # the restores it measured were of the image replaced
    eviction.evict(root, eviction.cap(), keep=image)
