"""The cache's size cap: least recently used images go first.

The cap is ``$AMBER_CACHE_SIZE`` (bytes, or with a K/M/G suffix; default 2G); it is enforced after
each image is written (:mod:`amber.runcache.build`), by removing the images restored least
recently (a restore touches its image's modification time). The layout is
:mod:`amber.runcache.layout`; ``amber cache list|clear`` is :mod:`amber.commands.cache`.

Not on the restore path: uses ``os``.
"""

from __future__ import annotations

import os

from amber.runcache.layout import IMAGE_SUFFIX

__all__ = ["DEFAULT_CAP", "parse_size", "cap", "images", "evict"]

DEFAULT_CAP = 2 << 30


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("B")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(text[-1:], 1)
    number = text[:-1] if scale != 1 else text
    return int(float(number) * scale)


def cap() -> int:
    text = os.environ.get("AMBER_CACHE_SIZE")
    if not text:
        return DEFAULT_CAP
    try:
        return parse_size(text)
    except ValueError:
        return DEFAULT_CAP


def images(root: str) -> list:
    """(path, size, last used) of every image in the cache."""
    out: list[tuple[str, int, float]] = []
    try:
        entries = os.listdir(root)
    except OSError:
        return out
    for entry in entries:
        d = os.path.join(root, entry)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(IMAGE_SUFFIX):
                path = os.path.join(d, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                out.append((path, st.st_size, st.st_mtime))
    return out


def evict(root: str, limit: int, keep: str | None = None) -> list:
    """Remove least recently used images until the cache fits ``limit``; return what went."""
    found = sorted(images(root), key=lambda item: item[2])
    total = sum(size for _path, size, _used in found)
    removed = []
    for path, size, _used in found:
        if total <= limit:
            break
        if path == keep:
            continue
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size
        removed.append(path)
    return removed
