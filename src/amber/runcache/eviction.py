"""The cache's size cap and its sweep: least recently used images go first, and files left by
writers that died are removed.

The cap is ``$AMBER_CACHE_SIZE``: bytes, or with a K/M/G/T suffix (``500M``); default 2G. A value
that is not such a size (``abc``, ``-1``, ``inf``) is ignored with a warning: the default applies.
It is enforced after each image is written (:mod:`amber.runcache.build`), by removing the images
restored least recently (a restore touches its image's modification time). Temporary files
(:mod:`amber._files`) count towards the cap; one whose writer is gone (its pid is in its name),
or that is older than a day, is removed by the same sweep. The layout is
:mod:`amber.runcache.layout`; ``amber cache list|clear`` is :mod:`amber.commands.cache`.

Not on the restore path: uses ``os``.
"""

from __future__ import annotations

import os
import re
import time

from amber._files import TEMP_SUFFIX, writer_pid
from amber.errors import warn
from amber.runcache import layout
from amber.runcache.layout import IMAGE_SUFFIX, last_used

__all__ = ["DEFAULT_CAP", "parse_size", "cap", "images", "evict", "sweep_temporaries"]

DEFAULT_CAP = 2 << 30
TEMPORARY_MAX_AGE = 24 * 3600
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)I?B?\s*", re.IGNORECASE)
_SCALE = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes in ``text`` (``2G``, ``500 MB``, ``1.5g``, ``4096``); ValueError if it is not a size."""
    found = _SIZE.fullmatch(text)
    if found is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(found[1]) * _SCALE[found[2].upper()])


def cap() -> int:
    text = os.environ.get("AMBER_CACHE_SIZE")
    if not text:
        return DEFAULT_CAP
    try:
        return parse_size(text)
    except ValueError:
        warn(f"AMBER_CACHE_SIZE={text!r} is not a size (such as 500M or 2G); the default, 2G, applies")
        return DEFAULT_CAP


def _files(root: str) -> list:
    """(path, size, last used, is a temporary) of every image and temporary in the cache."""
    out: list[tuple[str, int, float, bool]] = []
    try:
        entries = os.listdir(root)
    except OSError:
        return out
    places = [(root, [e for e in entries if e.endswith(TEMP_SUFFIX)])]  # the key's temporaries
    for entry in entries:
        d = os.path.join(root, entry)
        try:
            places.append((d, os.listdir(d) if os.path.isdir(d) and not os.path.islink(d) else []))
        except OSError:
            continue
    for d, names in places:
        for name in names:
            temporary = name.endswith(TEMP_SUFFIX)
            if name.endswith(IMAGE_SUFFIX) or temporary:
                path = os.path.join(d, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                used = st.st_mtime if temporary else last_used(path, st.st_mtime)
                out.append((path, st.st_size, used, temporary))
    return out


def images(root: str) -> list:
    """(path, size, last used) of every image in the cache."""
    return [(path, size, used) for path, size, used, temporary in _files(root) if not temporary]


def _writer_gone(path: str, modified: float) -> bool:
    if time.time() - modified > TEMPORARY_MAX_AGE:
        return True
    pid = writer_pid(path)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def sweep_temporaries(root: str) -> list:
    """Remove the temporaries whose writer died; return what went."""
    removed = []
    for path, _size, modified, temporary in _files(root):
        if temporary and _writer_gone(path, modified):
            try:
                os.unlink(path)
                removed.append(path)
            except OSError:
                pass
    return removed


def evict(root: str, limit: int, keep: str | None = None) -> list:
    """Sweep dead temporaries, then remove least recently used images until the cache (images
    and live temporaries) fits ``limit``; return what went."""
    removed = sweep_temporaries(root)
    found = _files(root)
    total = sum(size for _path, size, _used, _temporary in found)
    for path, size, _used, temporary in sorted(found, key=lambda item: item[2]):
        if total <= limit:
            break
        if path == keep or temporary:
            continue
        try:
            os.unlink(path)
        except OSError:
            continue
        layout.remove(layout.used_marker(path))
        total -= size
        removed.append(path)
    return removed
