"""``amber cache list|clear``: what ``amber run``'s image cache holds, and emptying it.

The cache itself (layout, keys, freshness, the size cap) is :mod:`amber.runcache`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from amber.runcache.eviction import cap, images
from amber.runcache.layout import cache_root

__all__ = ["add_arguments", "run", "list_images", "clear"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``amber cache``'s command line (see :mod:`amber.commands.cli`)."""
    parser.usage = "%(prog)s list | %(prog)s clear"
    parser.epilog = ("The cache is $AMBER_CACHE (default ~/.cache/amber), capped at $AMBER_CACHE_SIZE "
                     "(default 2G).")
    parser.add_argument("action", choices=("list", "clear"), metavar="ACTION",
                        help="list: each image with its program and last use; clear: remove them all")


def run(opts: argparse.Namespace) -> int:
    return list_images() if opts.action == "list" else clear()


def list_images() -> int:
    root = cache_root()
    rows = []
    for path, size, used in sorted(images(root), key=lambda item: -item[2]):
        info = _describe(path)
        rows.append((time.strftime("%Y-%m-%d %H:%M", time.localtime(used)), f"{size / 1e6:.1f} MB", info))
    print(f"cache {root} ({len(rows)} image(s), cap {cap() / 1e6:.0f} MB)")
    for used, size, info in rows:
        print(f"  {used}  {size:>9}  {info}")
    return 0


def clear() -> int:
    root = cache_root()
    count = len(images(root))
    if os.path.isdir(root):
        for entry in os.listdir(root):
            path = os.path.join(root, entry)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
    print(f"removed {count} image(s) from {root}")
    return 0


def _describe(path: str) -> str:
    from amber.errors import ImageError
    from amber.image import format as fmt
    from amber.image import records

    try:  # the whole header is checked: the run record read below is not a field a restore reads
        image = fmt.read_image(path, check_interpreter=False, header_schema=records.HEADER_SCHEMA)
        image.close()
        run = image.header.get("run", {})
    except ImageError as e:
        return f"{os.path.basename(path)} (unusable: {e})"
    args = " ".join(run.get("args", ()))
    return f"{run.get('target', '?')} {args}".rstrip()
