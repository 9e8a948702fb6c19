"""``amber run``: restore from the cache when the cached image is fresh, else build one.

Runs in the isolated restoring interpreter (``python -I -S _boot.py run ...``), so the common
case (a fresh image) costs one interpreter start, the freshness check
(:mod:`amber.runcache.freshness`) and the restore. Otherwise it hands over, with ``execv``, to a
snapshotting interpreter that runs the program normally, writes the image at the snapshot point
and keeps going (:mod:`amber.capture.session`). Imports only the base set.
"""

import marshal
import posix
import sys

from amber.errors import AmberError, ImageError
from amber.image import format as fmt
from amber.restore import loader
from amber.runcache import freshness


def main(argv: list) -> None:
    """``_boot.py run [--rebuild] [--verbose] [--reimport PKG]... [--allow-secret NAME]... [--strict]
    (-m MODULE | -s SCRIPT) -- ARGS``"""
    i = 0
    rebuild = verbose = False
    build_flags: list = []
    while argv[i] in ("--rebuild", "--verbose", "--allow-secret", "--reimport", "--strict"):
        if argv[i] in ("--allow-secret", "--reimport"):  # for the build
            build_flags += [argv[i], argv[i + 1]]
            i += 2
            continue
        if argv[i] == "--strict":
            build_flags.append("--strict")
            i += 1
            continue
        rebuild = rebuild or argv[i] == "--rebuild"
        verbose = verbose or argv[i] == "--verbose"
        i += 1
    mode, target, args = argv[i], argv[i + 1], argv[i + 3:]
    is_module = mode == "-m"
    cwd = posix.getcwd()
    if not is_module and not target.startswith("/"):
        target = cwd.rstrip("/") + "/" + target
    root = freshness.cache_root()
    entry = root.rstrip("/") + "/" + freshness.program_key(target, is_module, cwd, tuple(build_flags))
    info = freshness.read_program(entry)
    image_path = f"{entry}/{freshness.args_key(args, info.get('key_args'))}.amber"
    reason = "asked to rebuild" if rebuild else _restore_if_fresh(image_path, root, args, verbose)
    if reason is None:
        return  # restored and ran
    if not rebuild and _known_to_fail(image_path, root):
        _say(verbose, "the program cannot be captured (see the first run's warning); running it cold")
        hand_over = ["--no-build"]
    else:
        _say(verbose, f"building an image: {reason}")
        hand_over = []
    from amber._files import BOOT as boot

    cmd = [sys.executable, "-S", boot, "snapshot", image_path, "-m" if is_module else "-s", target,
           *build_flags, "--run", root, entry, *hand_over, *(["--verbose"] if verbose else []), "--", *args]
    sys.stdout.flush()
    sys.stderr.flush()
    posix.execv(cmd[0], cmd)


def _restore_if_fresh(image_path: str, root: str, args: list, verbose: bool) -> str | None:
    """Restore and resume if the image is fresh (returning None); else say why not."""
    try:
        image = fmt.read_image(image_path)
        inputs = marshal.loads(image.section("inputs"))
    except ImageError as e:
        return "no image yet" if "no such image file" in str(e) else f"the cached image is unusable ({e})"
    except (ValueError, EOFError, TypeError):
        return "the cached image is unusable (its inputs cannot be read)"
    reason = freshness.stale_reason(inputs, freshness.secret_key(root))
    if reason is not None:
        image.close()
        return reason
    try:
        posix.utime(image_path)  # last use, for the cache's eviction
    except OSError:
        pass
    _say(verbose, f"restoring {image_path}")
    try:
        manifest = loader.load_image(image)
    except AmberError as e:
        loader.fail(str(e))
    loader.resume(manifest, args)
    return None


def _known_to_fail(image_path: str, root: str) -> bool:
    """A first run that could not capture the program leaves a marker with its inputs: while
    they hold, later runs go straight to running cold instead of trying again."""
    try:
        with open(image_path[:-len(".amber")] + ".failed", "rb") as f:
            inputs = marshal.loads(f.read())
        return freshness.stale_reason(inputs, freshness.secret_key(root)) is None
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        return False


def _say(verbose: bool, message: str) -> None:
    if verbose:
        sys.stderr.write(f"amber: {message}\n")
        sys.stderr.flush()
