"""``amber cache list|clear``: what ``amber run``'s image cache holds, and emptying it.

The cache itself (layout, keys, freshness, the size cap) is :mod:`amber.runcache`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from amber.errors import AmberError, describe_os_error, output
from amber.runcache.eviction import cap, images
from amber.runcache.layout import IMAGE_SUFFIX, cache_root

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


def _root() -> str:
    root = cache_root()
    if root is None:
        raise AmberError("no cache directory (set AMBER_CACHE, XDG_CACHE_HOME or HOME)")
    return root


def list_images() -> int:
    root = _root()
    rows = []
    for path, size, used in sorted(images(root), key=lambda item: -item[2]):
        info = _describe(path)
        rows.append((time.strftime("%Y-%m-%d %H:%M", time.localtime(used)), f"{size / 1e6:.1f} MB", info))
    lines = [f"cache {root} ({len(rows)} image(s), cap {cap() / 1e6:.0f} MB)"]
    lines += [f"  {used}  {size:>9}  {info}" for used, size, info in rows]
    output("\n".join(lines) + "\n")
    return 0


def clear() -> int:
    """Remove every entry directory of the cache (the cache's own key stays); say how many images
    went, and, when some could not be removed, which and why, with exit code 2."""
    root = _root()
    try:
        entries = sorted(os.listdir(root))
    except FileNotFoundError:
        entries = []
    except OSError as e:
        raise AmberError(f"cannot clear the cache: {describe_os_error(e)}") from None
    removed, kept = 0, 0
    problems: list[tuple[str, str]] = []
    for entry in entries:
        path = os.path.join(root, entry)
        if os.path.islink(path):  # not made by Amber: the link goes, never what it points to
            _remove(path, os.unlink, problems)
            continue
        if not os.path.isdir(path):
            continue  # the cache's key and lock files
        before = _count_images(path)
        _rmtree(path, problems)
        after = _count_images(path) if os.path.lexists(path) else 0
        removed += before - after
        kept += after
    output(f"removed {removed} image(s) from {root}\n")
    if problems:
        where, why = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        what = f"{kept} image(s)" if kept else "some of its files"
        raise AmberError(f"could not remove {what} from the cache: {where}: {why}{more}")
    return 0


def _rmtree(path: str, problems: list) -> None:
    """Remove what can be removed under ``path``; each failure is added to ``problems``."""
    def failed(_function: object, where: str, e: BaseException) -> None:
        problems.append((where, getattr(e, "strerror", None) or str(e)))

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=failed)
    else:  # pragma: no cover - 3.11: onerror, with the exception's (type, value, traceback)
        shutil.rmtree(path, onerror=lambda function, where, info: failed(function, where, info[1]))


def _remove(path: str, remove, problems: list) -> None:
    try:
        remove(path)
    except OSError as e:
        problems.append((e.filename or path, e.strerror or str(e)))


def _count_images(directory: str) -> int:
    """The images in one entry directory (0 if it cannot be listed)."""
    try:
        return sum(1 for name in os.listdir(directory) if name.endswith(IMAGE_SUFFIX))
    except OSError:
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
