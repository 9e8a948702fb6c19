"""``amber run``: restore from the cache when the cached image is fresh, else build one.

Runs in the isolated restoring interpreter (``python -I -S _boot.py run OPTIONS ARGS``, a
:class:`amber.options.RunOptions` encoded by the ``amber`` command), so the common
case (a fresh image) costs one interpreter start, the freshness check
(:mod:`amber.runcache.freshness`) and the restore. Otherwise it hands over, with ``execv``, to a
snapshotting interpreter that runs the program normally, writes the image at the snapshot point
and keeps going (:mod:`amber.capture.session`), with a :class:`amber.options.SnapshotOptions`.
Imports only the base set.
"""

import posix
import sys

from amber.errors import ImageError, flush_streams, say
from amber.image import format as fmt
from amber.options import RunOptions, SnapshotOptions
from amber.restore import loader
from amber.runcache import freshness, keys, layout


def main(argv: list) -> None:
    """``_boot.py run <RunOptions>``: restore and resume, or hand over to a build."""
    options = RunOptions.decode(argv)
    target, is_module, args, verbose = options.target, options.is_module, options.args, options.verbose
    cwd = posix.getcwd()
    if not is_module and not target.startswith("/"):
        target = cwd.rstrip("/") + "/" + target
    root = layout.cache_root()
    entry = layout.entry_dir(root, keys.program_key(target, is_module, cwd, options.build_key()))
    image_path = layout.image_path(entry, keys.args_key(args, layout.read_program(entry).get("key_args")))
    reason = "asked to rebuild" if options.rebuild else _restore_if_fresh(image_path, root, args, verbose)
    if reason is None:
        return  # restored and ran
    build = True
    if not options.rebuild and freshness.known_to_fail(image_path, root):
        say("the program cannot be captured (see the first run's warning); running it cold", verbose=verbose)
        build = False
    else:
        say(f"building an image: {reason}", verbose=verbose)
    from amber._files import BOOT as boot

    snapshot = SnapshotOptions(image_path, target, is_module, reimport=options.reimport,
                               allowed_secrets=options.allowed_secrets, strict=options.strict, root=root,
                               entry=entry, build=build, verbose=verbose, args=args)
    cmd = [sys.executable, "-S", boot, "snapshot", *snapshot.encode()]
    flush_streams()
    posix.execv(cmd[0], cmd)


def _restore_if_fresh(image_path: str, root: str, args: list, verbose: bool) -> str | None:
    """Restore and resume if the image is fresh (returning None); else say why not."""
    try:
        image = fmt.read_image(image_path)
        inputs = image.decode(fmt.INPUTS)  # checked against its schema
    except ImageError as e:
        return "no image yet" if "no such image file" in str(e) else f"the cached image is unusable ({e})"
    reason = freshness.stale_reason(inputs, keys.secret_key(root))
    if reason is not None:
        image.close()
        return reason
    try:
        posix.utime(image_path)  # last use, for the cache's eviction
    except OSError:
        pass
    say(f"restoring {image_path}", verbose=verbose)
    loader.resume(loader.load_image(image), args)  # an AmberError: one line, from the entry point
    return None
