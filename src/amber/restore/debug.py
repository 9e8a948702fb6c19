"""``amber debug IMAGE [ARGS]``: a restore whose program resumes under pdb, stopped at the first
line after the snapshot point, as often as wanted and each time without the start-up's cost.

The rest of ``__main__`` runs under ``pdb.Pdb().run`` with the main module's namespace (its
globals are the restored ones: ``p`` any of them, ``n``, ``s``, ``b``, ``c`` as under
``python -m pdb``). For an image of a snapshot inside functions, pdb is set to stop at the
first line the innermost resumed frame runs after ``amber.snapshot()`` returns, with every
frame of the stack above it (``bt``, ``up``, ``p`` of their locals); Amber's own frames, which
drive the resumed ones, are skipped by pdb's stepping. An exception the program does not handle
opens a post-mortem session on its traceback (as ``python -m pdb`` does), then the process
leaves as python would, with the traceback and exit code 1. Imported only then: a plain restore
never imports pdb.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType

    from amber.restore.stack import ResumedStack


def run_under_pdb(code: "CodeType", namespace: dict) -> None:
    import pdb

    debugger = pdb.Pdb()
    with _post_mortem_on_error():
        debugger.run(code, namespace)


def resume_stack_under_pdb(resumed: "ResumedStack", rest: "CodeType", namespace: dict) -> None:
    """Run the frames of an image's stack on (:class:`amber.restore.stack.ResumedStack`) under
    pdb, stopped in the innermost one, then the ``rest`` of ``__main__`` unless pdb's ``q``
    ended the program."""
    import bdb
    import pdb

    class ResumedPdb(pdb.Pdb):
        resumed: tuple = ()

        def user_call(self, frame, argument_list):
            if frame not in self.resumed:  # (a resumed frame goes on: it is not called anew)
                super().user_call(frame, argument_list)

        def set_stepinstr(self):
            # 3.13's set_trace stops at the next instruction, 3.11's and 3.12's at the next
            # line: here, the next line on each.
            self.set_step()

    debugger = ResumedPdb(skip=["amber", "amber.*"])

    def stop_in(frames: list) -> None:
        debugger.resumed = tuple(frames)
        debugger.set_trace(frames[0])

    with _post_mortem_on_error():
        try:
            resumed.run(before=stop_in)
        except bdb.BdbQuit:
            return
        finally:
            sys.settrace(None)
        exec(rest, namespace)


class _post_mortem_on_error:
    """An exception the program does not handle (not SystemExit) opens pdb's post-mortem on its
    traceback, then goes on out."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> None:
        if error is not None and not isinstance(error, SystemExit):
            import pdb

            sys.stderr.write("amber: the program raised; post-mortem debugging (q leaves)\n")
            pdb.post_mortem(tb)
