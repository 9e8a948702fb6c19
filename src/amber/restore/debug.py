"""``amber debug IMAGE [ARGS]``: a restore whose program resumes under pdb, stopped at the first
line after the snapshot point, as often as wanted and each time without the start-up's cost.

The rest of ``__main__`` runs under ``pdb.Pdb().run`` with the main module's namespace (its
globals are the restored ones: ``p`` any of them, ``n``, ``s``, ``b``, ``c`` as under
``python -m pdb``). An exception the program does not handle opens a post-mortem session on its
traceback (as ``python -m pdb`` does), then the process leaves as python would, with the
traceback and exit code 1. Imported only then: a plain restore never imports pdb.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType


def run_under_pdb(code: "CodeType", namespace: dict) -> None:
    import pdb

    debugger = pdb.Pdb()
    try:
        debugger.run(code, namespace)
    except SystemExit:
        raise
    except BaseException:
        error = sys.exc_info()[1]
        sys.stderr.write("amber: the program raised; post-mortem debugging (q leaves)\n")
        pdb.post_mortem(error.__traceback__ if error is not None else None)
        raise
