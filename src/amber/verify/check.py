"""The live side of a verification: describe the state, have a fresh process restore the image
and describe its state, compare.

:func:`describe_live` runs at the snapshot point, before the capture looks at anything (so the
capture's own traces are in neither description); :func:`check_image` runs once the image is
written to its temporary file, before it appears under its name: an image that fails is never
seen by anyone. The child is started as a restore is (``python -I -S _boot.py verify``, see
:mod:`amber.verify.child`) with the environment of this process, and writes its description
to a private file beside the image.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from types import ModuleType

from amber._files import BOOT, create_temporary
from amber.errors import CaptureError
from amber.options import VerifyOptions
from amber.verify import walker
from amber.verify.meaning import Difference, differences

CHILD_TIMEOUT = 600.0  # seconds; a restore that takes longer is a failed verification
SHOWN = 12  # differences listed in a report


class VerificationFailed(CaptureError):
    """The restored state differs from the live one (``differences``), or the image did not
    restore at all (no differences, the child's own error in the message)."""

    def __init__(self, message: str, found: list[Difference] | None = None,
                 by_value: set[str] | None = None) -> None:
        super().__init__(message)
        self.found = found or []
        self.by_value = by_value or set()  # the modules captured by value


def scope(modules: dict[str, ModuleType]) -> list[tuple[str, ModuleType]]:
    """The modules a verification compares: the program's, not Amber's own (which knows, on
    purpose, whether it runs restored: they are named, never walked)."""
    return [(name, mod) for name, mod in modules.items() if not _is_amber(name)]


def hidden(modules: dict[str, ModuleType]) -> list[tuple[str, ModuleType]]:
    return [(name, mod) for name, mod in modules.items() if _is_amber(name)]


def _is_amber(name: str) -> bool:
    return name == "amber" or name.startswith("amber.")


def describe_live(modules: dict[str, ModuleType], by_ref: set[str], unchanged=None) -> walker.Description:
    """The live state; ``unchanged(module, name)``: whether a value of a module imported again is
    the one its import left (then a restore's fresh import sets its own, as a cold run would:
    addresses, strings built in hash order)."""
    from amber import lifecycle
    from amber.capture.recorders.inputs import stood_in_for

    listed = scope(modules)
    deep = {name for name, _ in listed if name not in by_ref}

    def walk() -> walker.Description:
        # What amber run's recorders stand in for is what the image holds (the capture maps them back).
        live = walker.describe(listed, deep, keep_objects=True, real_of=stood_in_for, unchanged=unchanged,
                               hidden=hidden(modules))
        # amber.transient objects are made again by their factory at restore: different on purpose.
        objects = live.objects or {}
        made_again = {id(obj) for obj, _factory in lifecycle.transients()}
        live.renewed = [path for path, obj in objects.items() if id(obj) in made_again]
        live.again = walk
        return live

    return walk()


def check_image(image: str, live: walker.Description, args: list[str]) -> None:
    """Restore ``image`` in a fresh process; raise :class:`VerificationFailed` if what it rebuilt
    differs from ``live``."""
    restored = _restored_facts(image, args, live.getstate_asked)
    found = differences(live, restored)
    if found and live.again is not None:
        # The objects' own reduce protocols, which the walk (and the capture after it) calls, may
        # fill caches of the program's as they run (mpmath's constants, computed once): the
        # image holds the state after them. The state is walked once more, as it is now.
        live = live.again()
        found = differences(live, restored)
    listing = os.environ.get("AMBER_VERIFY_LIST")
    if listing:  # every difference, for whoever debugs Amber itself
        with open(listing, "a") as f:
            f.write(f"== {image}: {len(found)} difference(s)\n")
            f.writelines(f"{d}\n    {d.live!r}\n    {d.restored!r}\n" for d in found)
    if found:
        raise VerificationFailed(report(found, live.anchors), found, live.deep)


def _restored_facts(image: str, args: list[str], asked: list) -> dict:
    fd, result = create_temporary(image + ".facts")
    with open(fd, "wb") as f:  # read by the child first: the instances whose __getstate__ was asked
        f.write(marshal.dumps(asked))
    try:
        options = VerifyOptions(image, result, args=args)
        cmd = [sys.executable, "-I", "-S", BOOT, "verify", *options.encode()]
        try:
            child = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                   timeout=CHILD_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise VerificationFailed(f"the image did not restore within {CHILD_TIMEOUT:.0f} s "
                                     "in a fresh process") from None
        if child.returncode != 0:
            said = child.stderr.decode("utf-8", "replace").strip().splitlines()
            last = said[-1] if said else f"exit code {child.returncode}"
            raise VerificationFailed(f"the image does not restore in a fresh process: "
                                     f"{last.removeprefix('amber: error: ')}")
        with open(result, "rb") as f:
            # Read whole, then decoded: marshal.load on a file reads it piece by piece through
            # the file object (0.7 s for the example's 28 MB of facts, 0.15 s this way).
            facts = marshal.loads(f.read())
        if type(facts) is not dict:
            raise VerificationFailed("the restoring process sent no description of its state")
        return facts
    finally:
        try:
            os.unlink(result)
        except OSError:
            pass


def report(found: list[Difference], anchors: dict) -> str:
    lines = [f"the restored state differs from the program's at {len(found)} place(s); no image was "
             f"written:"]
    lines += [f"  {d.spelled(anchors)}" for d in found[:SHOWN]]
    if len(found) > SHOWN:
        lines.append(f"  ... and {len(found) - SHOWN} more")
    lines.append("      hint: --reimport the package named in the path (it is then imported again at "
                 "restore), or set the value in an amber.after_restore hook; --no-verify writes the "
                 "image anyway. A difference Amber does not explain is a bug: please report it")
    return "\n".join(lines)


def modules_involved(found: list[Difference], names: set[str]) -> set[str]:
    """The modules (of ``names``) whose state the differences are in: for each path, the
    longest module name it starts with."""
    out = set()
    for d in found:
        path = d.path
        best = ""
        for name in names:
            if len(name) > len(best) and (path == name or path.startswith((name + ".", name + "["))):
                best = name
        if best:
            out.add(best)
    return out
