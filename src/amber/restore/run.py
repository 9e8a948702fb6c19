"""``amber run``: restore from the cache when the cached image is fresh, else build one; and when
anything goes wrong, run the program cold.

Runs in the isolated restoring interpreter (``python -I -S _boot.py run OPTIONS ARGS``, a
:class:`amber.options.RunOptions` encoded by the ``amber`` command), so the common case (a fresh
image) costs one interpreter start, the freshness check (:mod:`amber.runcache.freshness`) and the
restore. Otherwise it hands over, with ``execv``, to a snapshotting interpreter that runs the
program normally, writes the image at the snapshot point and keeps going
(:mod:`amber.capture.session`), with a :class:`amber.options.SnapshotOptions`.

**Never worse than running the program.** Until the program's own code resumes, every failure is
Amber's, and Amber's failures end in a cold run: this interpreter is replaced (``execve``, with
the environment as it was when this process started) by ``python SCRIPT ARGS`` (or ``python -m
MODULE ARGS``), after one ``amber: warning:`` line. What each trouble does to the cache:

==========================================  =========================================================
no usable cache (unset, unsafe, not a dir)  runs cold; nothing is written
damaged image (signature, digest, shape)    the image is removed; this run builds a new one
image made for another program              likewise
restore fails (an import again, the heap)   runs cold; a no-image marker: later runs run cold at once
                                            until an input changes
known not to build (a marker that holds)    runs cold (no warning: the first run gave it)
restoring measured slower than cold         runs cold (no warning: a choice; ``-v`` says it), until
                                            the image is built again (:mod:`amber.runcache.timings`)
==========================================  =========================================================

Imports only the base set.
"""

import posix
import sys

from amber import lifecycle
from amber._files import is_regular
from amber.errors import AmberError, ImageError, describe_error, flush_streams, say, warn
from amber.image import format as fmt
from amber.options import RunOptions, SnapshotOptions
from amber.restore import loader
from amber.runcache import freshness, keys, layout, timings
from amber.state import STATE

TYPE_CHECKING = False  # typing is not in the base set
if TYPE_CHECKING:
    from typing import NoReturn

_ENVIRON = dict(posix.environ)  # as this process started: a cold run gets exactly this


class _Cache:
    """Where this run's image is, once the cache is known to be usable."""

    __slots__ = ("root", "entry", "program", "key", "image")

    def __init__(self, root: str, entry: str, program: str, key: bytes | None, image: str) -> None:
        self.root = root
        self.entry = entry
        self.program = program
        self.key = key
        self.image = image


def main(argv: list) -> None:
    """``_boot.py run <RunOptions>``: restore and resume, or hand over to a build, or run cold."""
    started = timings.now()  # both the cold start and the restore are measured from here
    options = RunOptions.decode(argv)
    try:
        cache = _find_cache(options)
    except (OSError, ValueError, UnicodeError) as e:
        run_cold(options, f"the cache cannot be used ({describe_error(e)})")
    if isinstance(cache, str):
        run_cold(options, cache)
    reason = "asked to rebuild" if options.rebuild else _restore_if_fresh(cache, options, started)
    if reason is None:
        return  # restored, and the program ran
    failed = None if options.rebuild else freshness.known_to_fail(cache.image, cache.key, cache.program)
    if failed is not None:
        # Plain python, not the snapshotting interpreter: its recorders would make this run
        # slower than cold, and its hooks would run where a cold run runs none.
        say(f"no image can be built for this program ({failed}); running it cold",
            verbose=options.verbose)
        cold_exec(options.target, options.is_module, options.args, _ENVIRON)
    say(f"building an image: {reason}", verbose=options.verbose)
    _hand_over_to_build(options, cache, started)


def cached_image(options: RunOptions) -> str:
    """Where ``amber run`` with ``options`` keeps its image (``amber pool start SCRIPT``); an
    AmberError says why there is no cache to look in."""
    try:
        cache = _find_cache(options)
    except (OSError, ValueError, UnicodeError) as e:
        raise AmberError(f"the cache cannot be used ({describe_error(e)})") from None
    if isinstance(cache, str):
        raise AmberError(cache)
    return cache.image


def _find_cache(options: RunOptions) -> "_Cache | str":
    """The cache entry of this run, or why there is no cache to use."""
    root = layout.cache_root()
    if root is None:
        return "no cache directory (set AMBER_CACHE, XDG_CACHE_HOME or HOME)"
    unsafe = layout.unsafe_reason(root)
    if unsafe is not None:
        return f"the cache {root} is not safe to use: {unsafe}"
    cwd = posix.getcwd()
    target = options.target
    if not options.is_module and not target.startswith("/"):
        target = cwd.rstrip("/") + "/" + target
    program = keys.program_key(target, options.is_module, cwd, options.build_key())
    entry = layout.entry_dir(root, program)
    unsafe = layout.unsafe_reason(entry)
    if unsafe is not None:
        return f"the cache entry {entry} is not safe to use: {unsafe}"
    key = keys.secret_key(root)
    key_args = keys.read_program(entry, key).get("key_args")
    return _Cache(root, entry, program, key, layout.image_path(entry, keys.args_key(options.args, key_args)))


def _restore_if_fresh(cache: _Cache, options: RunOptions, started: float) -> str | None:
    """Restore and resume if the image is fresh (returning None); else say why not. A damaged
    image is removed (it is rebuilt); a restore that fails runs the program cold, and so does one
    measured slower than the cold start (:mod:`amber.runcache.timings`)."""
    if not is_regular(cache.image):  # (a FIFO planted there must not hang the run)
        try:
            posix.stat(cache.image)
        except FileNotFoundError:
            return "no image yet"
        except OSError:
            pass
        return _drop(cache, "the cached image is not a regular file")
    try:
        image = fmt.read_image(cache.image)
        inputs = image.decode(fmt.INPUTS)  # checked against its schema
    except ImageError as e:
        if "no such image file" in str(e):
            return "no image yet"
        return _drop(cache, f"the cached image is unusable ({e})")
    except AmberError as e:  # no key to check it with...: the build says what is wrong
        return _drop(cache, f"the cached image cannot be checked ({e})")
    except (OSError, ValueError, MemoryError) as e:
        return _drop(cache, f"the cached image is unusable ({describe_error(e)})")
    reason = freshness.stale_reason(inputs, cache.key, cache.program)
    if reason is not None:
        image.close()
        return reason
    heap = image.entry(fmt.HEAP)[2]  # names the image in its timings record
    samples = timings.restores(cache.image, cache.key, heap)
    slower = timings.cold_is_faster(inputs.get("cold_seconds"), samples)
    if slower is not None:
        image.close()
        say(f"{slower}; running it cold", verbose=options.verbose)
        cold_exec(options.target, options.is_module, options.args, _ENVIRON)
    layout.mark_used(cache.image)  # for the cache's eviction
    _through_a_pool(cache, options)
    say(f"restoring {cache.image}", verbose=options.verbose)

    def before_hooks() -> None:
        timings.add_restore(cache.image, cache.key, heap, samples, timings.now() - started)
        _print_again(inputs["output"])
    try:
        manifest = loader.load_image(image)
        loader.resume(manifest, options.args, argv0=None if options.is_module else options.target,
                      before_hooks=before_hooks)
    except BaseException as e:
        if STATE.resumed or isinstance(e, (KeyboardInterrupt, SystemExit, lifecycle.HookErrors)):
            raise  # the program's own (its after-restore hooks are its code too), or the user's Ctrl-C
        if isinstance(e, ImageError):  # a section that fails its digest: damaged, not unrestorable
            return _drop(cache, f"the cached image is unusable ({e})")  # (the build is a fresh process)
        _restore_failed(cache, options, inputs, e)
    return None


def _through_a_pool(cache: _Cache, options: RunOptions) -> None:
    """When a pool of this image runs (amber pool start), an instance of it is this run (and
    this process leaves with its status); else this returns."""
    if options.no_pool:
        return
    from amber.pool import client

    client.serve(cache.image, options.args, argv0=None if options.is_module else options.target,
                 print_output=True)


def _print_again(output: list) -> None:
    """What start-up printed, printed again, in order, as a cold run prints it."""
    for fd, text in output:
        stream = sys.stdout if fd == 1 else sys.stderr
        if stream is not None:
            stream.write(text)
            stream.flush()


def _drop(cache: _Cache, reason: str) -> str:
    warn(f"{reason}; it is removed and built again")
    layout.remove(cache.image)
    return reason


def _restore_failed(cache: _Cache, options: RunOptions, inputs: dict, error: BaseException) -> "NoReturn":
    """The image is sound but does not restore here: later runs run cold while its inputs hold."""
    why = f"its image did not restore: {describe_error(error)}"
    marker = dict(inputs, no_image=why)
    if cache.key is not None and keys.write_no_image_marker(cache.image, cache.key, marker):
        layout.remove(cache.image)
    run_cold(options, f"the cached image did not restore ({describe_error(error)})")


def _hand_over_to_build(options: RunOptions, cache: _Cache, started: float) -> None:
    from amber._files import BOOT as boot

    snapshot = SnapshotOptions(cache.image, options.target, options.is_module, reimport=options.reimport,
                               allowed_secrets=options.allowed_secrets, strict=options.strict,
                               verify=options.verify, root=cache.root, entry=cache.entry, build=True,
                               verbose=options.verbose,
                               program=cache.program, started=started, wait=options.wait,
                               args=options.args)
    cmd = [sys.executable, "-S", boot, "snapshot", *snapshot.encode()]
    flush_streams()
    posix.execve(cmd[0], cmd, _ENVIRON)


def run_cold(options: RunOptions, reason: str, environ: "dict | None" = None) -> "NoReturn":
    """Replace this process by the program run as python would run it, after one warning line."""
    warn(f"{reason}; running the program without Amber")
    cold_exec(options.target, options.is_module, options.args, _ENVIRON if environ is None else environ)


def cold_exec(target: str, is_module: bool, args: list, environ: dict) -> "NoReturn":
    """``python SCRIPT ARGS`` or ``python -m MODULE ARGS``, in place of this process."""
    cmd = [sys.executable, *(("-m", target) if is_module else (target,)), *args]
    flush_streams()
    try:
        posix.execve(cmd[0], cmd, environ)
    except OSError as e:  # pragma: no cover - the interpreter that runs this is gone
        raise AmberError(f"cannot run {sys.executable}: {e.strerror}") from None
