"""The installed distributions that modules come from, found without ``importlib.metadata``.

Used at the snapshot point: ``amber run`` watches their metadata directories (an upgrade replaces
``name-1.0.dist-info`` by ``name-2.0.dist-info``), and every image records the name, version and
metadata directory of the distributions of the modules it imports again, so that a restore in an
environment where one of them changed version says so in one line
(:func:`amber.restore.loader.check_distributions`) instead of failing somewhere in the heap.

Read straight from ``sys.path`` (``*.dist-info``/``*.egg-info``, their ``top_level.txt`` or
``RECORD``, and ``METADATA``/``PKG-INFO`` for the version): importing ``importlib.metadata`` here
would add to the state being captured.
"""

import os
import sys

METADATA_ENDINGS = (".dist-info", ".egg-info")


def metadata_dirs(top_names: set) -> list:
    """The metadata directories of the distributions that provide any of ``top_names``."""
    out = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if not name.endswith(METADATA_ENDINGS):
                continue
            meta = os.path.join(entry or ".", name)
            if top_names & _provided_by(meta):
                out.append(os.path.abspath(meta))
    return out


def of_modules(modules) -> list:
    """[(name, version, metadata directory)] of the distributions the named modules come from."""
    out = []
    for meta in metadata_dirs({name.partition(".")[0] for name in modules}):
        name, version = name_and_version(meta)
        if name:
            out.append((name, version, meta))
    return out


def name_and_version(meta: str) -> tuple:
    """(name, version) from a metadata directory's METADATA or PKG-INFO (or its name)."""
    name = version = ""
    for file in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta, file), encoding="utf-8", errors="replace") as f:
                for line in f:
                    if not line.strip():
                        break  # the headers end at the first blank line
                    key, _, value = line.partition(":")
                    if key == "Name":
                        name = value.strip()
                    elif key == "Version":
                        version = value.strip()
            break
        except OSError:
            continue
    if not name:
        stem = os.path.basename(meta).rsplit(".", 1)[0]
        name, _, version = stem.partition("-")
        version = version.split("-")[0]
    return name, version


def _provided_by(meta: str) -> set:
    try:
        with open(os.path.join(meta, "top_level.txt"), encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except OSError:
        pass
    provides = set()
    try:
        with open(os.path.join(meta, "RECORD"), encoding="utf-8") as f:
            for line in f:
                first = line.split(",", 1)[0].split("/", 1)[0]
                provides.add(first[:-3] if first.endswith(".py") else first)
    except OSError:
        pass
    return provides
