"""What ``amber run`` has measured of one cached image, and whether restoring it is worth it.

**Never slower than cold.** A restore is not always faster than running the program: a small
program's start-up can cost less than restoring its image. So ``amber run`` measures both, from
the same instant (``RunOptions.started``: when its own interpreter started deciding, before the
freshness check), with the system-wide monotonic clock:

* the cold start: the build run's time to the snapshot point (an ``execve`` of a new interpreter,
  ``site``, and the program's start-up, as a cold run does). It is kept in the image's inputs
  (``cold_seconds``), so it is signed with the image and goes when the image goes. The build run
  also records which modules were imported, which makes it a little slower than a true cold run:
  the estimate leans towards restoring, by the recorder's cost;
* the restores: each of the first :data:`SAMPLES` restores of the image adds its time to the
  resume point (the image read and checked, the heap rebuilt, before the after-restore hooks)
  to the **timings record** beside the image (``<args key>.times``: a keyed record, see
  :mod:`amber.runcache.keys`, naming the image by its heap digest, so a record left by an
  earlier image of the same entry is ignored; a build removes it).

Once :data:`SAMPLES` restores are recorded, a run whose image is fresh restores only if the median
restore is faster than the cold start; otherwise it runs the program cold, without a warning (it is
a choice, not a trouble; ``-v`` says it, ``amber inspect`` shows both figures). The choice holds
until the image is built again (an input changed, or ``amber run --rebuild``).

On the restore path: imports only the base set.
"""

import time

from amber._files import write_atomically
from amber.runcache.keys import read_sealed, seal
from amber.runcache.layout import timings_record

SAMPLES = 3  # restores measured before the choice is made: the median of three
TIMINGS_KIND = b"timings"


def now() -> float:
    """The clock both sides read: monotonic and system-wide (CLOCK_MONOTONIC on Linux and macOS),
    so that an instant taken in one process can be compared with one taken after an ``execve``."""
    return time.monotonic()


def restores(image: str, key: bytes | None, heap_digest: bytes) -> list:
    """The restore times recorded for this image (the one whose heap has ``heap_digest``), oldest
    first; [] if there is no record to trust, or it is of another image."""
    record = read_sealed(timings_record(image), key, TIMINGS_KIND)
    if type(record) is not dict or record.get("image") != heap_digest:
        return []
    samples = record.get("restores")
    if type(samples) is not list or not all(type(s) is float and s >= 0.0 for s in samples):
        return []
    return samples[:SAMPLES]


def add_restore(image: str, key: bytes | None, heap_digest: bytes, samples: list, seconds: float) -> None:
    """Record one more restore time while fewer than :data:`SAMPLES` are. Best effort: a record
    that cannot be written only means a later run measures again."""
    if key is None or len(samples) >= SAMPLES:
        return
    try:
        write_atomically(timings_record(image), seal(key, TIMINGS_KIND,
                                                  {"image": heap_digest, "restores": [*samples, seconds]}))
    except OSError:
        pass


def median(samples: list) -> float:
    ordered = sorted(samples)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def cold_is_faster(cold_seconds: "float | None", samples: list) -> "str | None":
    """Why this run should run the program cold rather than restore it (both figures, for ``-v``),
    or None: not measured enough yet, or restoring is faster."""
    if cold_seconds is None or len(samples) < SAMPLES:
        return None
    restore = median(samples)
    if restore < cold_seconds:
        return None
    return (f"restoring is not faster for this program (restore {restore * 1000:.0f} ms, the median of "
            f"{len(samples)}; cold start {cold_seconds * 1000:.0f} ms)")


__all__ = ["SAMPLES", "now", "restores", "add_restore", "median",
           "cold_is_faster"]
