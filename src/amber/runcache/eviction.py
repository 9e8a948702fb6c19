"""``amber cache list|clear`` and the cache's size cap (least recently used images go first).

The layout is declared in :mod:`amber.runcache.freshness`. The cap is ``$AMBER_CACHE_SIZE``
(bytes, or with a K/M/G suffix; default 2G); it is enforced after each image is written, by
removing the images restored least recently (a restore touches its image's modification time).
"""

from __future__ import annotations

import marshal
import os
import shutil
import sys
import time

from amber._files import write_atomically
from amber.runcache.freshness import cache_root

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
    out = []
    try:
        entries = os.listdir(root)
    except OSError:
        return out
    for entry in entries:
        d = os.path.join(root, entry)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(".amber"):
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


def list_main() -> int:
    root = cache_root()
    rows = []
    for path, size, used in sorted(images(root), key=lambda item: -item[2]):
        info = _describe(path)
        rows.append((time.strftime("%Y-%m-%d %H:%M", time.localtime(used)), f"{size / 1e6:.1f} MB", info))
    print(f"cache {root} ({len(rows)} image(s), cap {cap() / 1e6:.0f} MB)")
    for used, size, info in rows:
        print(f"  {used}  {size:>9}  {info}")
    return 0


def clear_main() -> int:
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

    try:
        image = fmt.read_image(path, check_interpreter=False)
        image.close()
        run = image.header.get("run", {})
    except ImageError as e:
        return f"{os.path.basename(path)} (unusable: {e})"
    args = " ".join(run.get("args", ()))
    return f"{run.get('target', '?')} {args}".rstrip()


def main(args: list) -> int:
    if args == ["list"]:
        return list_main()
    if args == ["clear"]:
        return clear_main()
    sys.stderr.write("amber: error: usage: amber cache list | amber cache clear\n")
    return 2


def write_program_info(entry: str, target: str, key_args) -> None:
    os.makedirs(entry, exist_ok=True)
    write_atomically(os.path.join(entry, "program"), marshal.dumps({"target": target, "key_args": key_args}))
