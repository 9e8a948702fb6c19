"""``amber.checkpoint(path)``: an image of the program as it runs, written while it goes on
(issue 15, section 3).

At each call the process forks; a detached grandchild (its own session, standard input and
output on /dev/null, standard error the program's, so that a checkpoint not written is said)
captures the state the fork froze: the running stack from the call out to the main script's
frame (:mod:`amber.capture.stack`), the heap, and what the recorders saw since the program
started; it runs the before-snapshot hooks on its own copy, writes the image as ``amber
snapshot`` does (signed, verified, mode 0600, through a temporary renamed into place), and
leaves by ``os._exit`` (nothing of the program runs twice: no atexit handler, no finalizer).
The program returns from the call at once. ``amber restore PATH`` then returns from that same
call, and the computation goes on from there: with its random generators as they were (a
checkpoint is the computation's own state: no warning that a restore repeats them).

Where Amber watches the program: a main script that calls ``amber.checkpoint`` (the split
marks it: :attr:`amber.capture.mainsplit.Split.checkpoints`), run by ``amber run`` or ``amber
snapshot``; the recorders then watch its whole run, not only its start-up (they are resumed
after its snapshot point, and ``amber run`` keeps no start-up image of it, whose restores
could not take checkpoints). Not yet: checkpoints taken by a restored process
(``docs/wip/capture-anywhere.md``), or while other threads run (a fork keeps only the calling
one).
"""

import os
import sys
import time

from amber.errors import CaptureError, describe_error, warn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from amber.capture.mainsplit import Split
    from amber.capture.recorders.baseline import Baseline
    from amber.capture.session import Recorders
    from amber.options import SnapshotOptions

CHECKPOINT_SECONDS_LIMIT = 900  # a checkpoint still being written then is ended (a capture that hung)


class Checkpoints:
    """What ``amber.checkpoint(path)`` calls while Amber watches the program
    (``STATE.checkpoint_hook``)."""

    def __init__(self, options: "SnapshotOptions", baseline: "Baseline", recorders: "Recorders",
                 main: "ModuleType", split: "Split", filename: str) -> None:
        self.options, self.baseline, self.recorders = options, baseline, recorders
        self.main, self.split, self.filename = main, split, filename
        self.started = time.perf_counter()
        self.writing: int | None = None  # reads end-of-file once the last writer has left
        self.imported_by_amber: set = set()  # what reading stacks imported here (not the program's)
        self.said: set = set()  # reasons already given: each is one warning, not one a call

    def __call__(self, call_frame, path: str) -> None:
        """Read the stack here (it is cheap, and a stack that cannot be resumed is said at
        once), then fork the writer."""
        from amber.capture import stack
        from amber.capture.detached import fork_writer

        path = os.path.abspath(path) if path else path
        threading = sys.modules.get("threading")
        if not path:
            self._say("an empty path")
            return
        if not hasattr(os, "fork") or threading is not None and threading.active_count() > 1:
            self._say("other threads run (a fork keeps only this one)")
            return
        modules_before = set(sys.modules)
        try:  # (the main script's frame runs the part before its snapshot point or the one after it)
            captured = stack.capture(call_frame, (self.split.first, self.split.rest),
                                     call="amber.checkpoint()")
        except stack.Refusal as e:
            self._say(str(e))
            return
        self.imported_by_amber |= set(sys.modules) - modules_before
        self._wait_for_the_last_writer()
        failed, self.writing = fork_writer(lambda: self._write(path, captured), keep_stderr=True,
                                           seconds_limit=CHECKPOINT_SECONDS_LIMIT)
        if failed is not None:
            self._say(f"cannot fork ({failed.strerror})")

    def _say(self, reason: str) -> None:
        if reason not in self.said:
            self.said.add(reason)
            warn(f"checkpoint not written: {reason} (said once)")

    def _wait_for_the_last_writer(self) -> None:
        """Checkpoints are written one after the other, so that the last call's is the file:
        a call that comes while the last one is still being written waits for it (the
        computation is paused only where it asks for checkpoints faster than they are written)."""
        if self.writing is not None:
            try:
                while os.read(self.writing, 1024):
                    pass
            except OSError:
                pass
            os.close(self.writing)
            self.writing = None

    def _write(self, path: str, captured) -> None:
        """In the detached writer (:mod:`amber.capture.detached`): capture, write. Nothing it
        raises reaches the program's code (its copy of it: an ``except`` there would run the
        program on in this child): one warning on the program's standard error instead."""
        try:
            self._capture_and_write(path, captured)
        except CaptureError as e:
            lines = str(e).splitlines()
            warn(f"checkpoint {path} not written: {' '.join(line.strip() for line in lines[:2])}")
        except BaseException as e:
            warn(f"checkpoint {path} not written ({describe_error(e)})")

    def _capture_and_write(self, path: str, captured) -> None:
        from amber.capture.mainsplit import Split
        from amber.capture.pipeline import write_snapshot
        from amber.capture.session import RunningStack, Startup, run_before_snapshot
        from amber.options import SnapshotOptions
        from amber.state import PLAIN, STATE

        modules_before = set(sys.modules)
        running = RunningStack(captured)
        main_code = captured.frames[-1].f_code
        options = self.options
        image_options = SnapshotOptions(path, options.target, options.is_module, reimport=options.reimport,
                                        allowed_secrets=options.allowed_secrets, strict=options.strict,
                                        lazy_code=options.lazy_code, verify=options.verify, args=options.args)
        STATE.set_point_hook(None)
        STATE.set_checkpoint_hook(None)
        STATE.enter(PLAIN)
        run_before_snapshot(image_options)  # (a hook that fails: CaptureError)
        self.recorders.stop()
        # After the main frame returns, what is left of the script: nothing if it runs the rest.
        rest = self.split.rest if main_code is self.split.first else compile("", self.filename, "exec")
        split = Split(main_code, rest, self.split.kind, self.split.line)
        startup = Startup(image_options, self.baseline, self.recorders, self.main, split, self.filename,
                          time.perf_counter() - self.started, stack=running,
                          imported_by_amber=self.imported_by_amber | (set(sys.modules) - modules_before))
        write_snapshot(startup.request(path, leaves=True, quiet=True, checkpoint=True))


class NotWatched:
    """``amber.checkpoint`` under Amber when the main script itself does not call it (a module
    does): its run after start-up is not watched, so nothing is written; said once, with why."""

    def __init__(self) -> None:
        self.said = False

    def __call__(self, call_frame, path: str) -> None:
        if not self.said:
            self.said = True
            warn("amber.checkpoint() writes nothing here: Amber watches the whole run only of a main "
                 "script that calls amber.checkpoint itself (this one does not; a module it imports "
                 "does): call it from the main script")

