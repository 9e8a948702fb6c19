"""The peers of the benchmark: the tools a user would pick instead of Amber to skip start-up.

This module owns how each peer is set up, timed, checked and torn down; the suite driver owns
which apps run, how often, the cold baseline and the table. A peer takes one benchmark app
(``bench/apps/<name>.py``: start-up work at module top level, then ``def main()`` that prints the
first useful output, called from an ``if __name__ == "__main__":`` block) and runs its ``main()``
without redoing the start-up. One trial, in milliseconds, is:

``zygote``        fork from a pre-loaded parent (gunicorn ``--preload``, multiprocessing forkserver).
                  prepare: a parent runs the start-up, calls ``gc.freeze()`` and waits on a Unix
                  socket. trial: request sent (with a stdout and a stderr pipe, SCM_RIGHTS) -> the
                  parent forks, the child runs ``main()``, flushes and ``os._exit``s -> all output
                  read (EOF) and the exit status, reaped by the parent, received.
``dill_session``  prepare: a process runs the start-up and ``dill.dump_module()``. trial: a fresh
                  ``python`` started -> ``dill.load_module()``, the restored ``main()``, exit ->
                  the process has exited.
``criu``          prepare: a process (own session, stdio on pipes) runs the start-up and parks in a
                  read of stdin; ``criu dump`` takes it (and ends it). trial: ``criu restore``
                  started, with new pipes in place of the old stdio and one byte waiting on stdin
                  -> the restored process runs ``main()`` and exits -> all output read and
                  ``criu restore`` (which waits for it) has exited. ``build_criu()`` provides a
                  criu >= 4.1, the first that works on this kernel (see ``bench/setup_criu.sh``).

The dill and CRIU copies end with a normal interpreter exit, as the cold run does (for sympy that
finalization is ~80 ms); ``fast_exit=True`` makes them flush and ``os._exit`` like the zygote's
child. ``extra["exit"]`` says which.

The start-up is the app's module body run as ``__main__`` (``__file__``, ``sys.argv`` and
``sys.path[0]`` as with ``python app.py``) minus its top-level ``if __name__ == "__main__":``
block; ``main()`` is then called directly. Whatever the start-up prints is captured by
``prepare()`` and must be how the cold output begins; each trial must print the rest, exactly.
``prepare()`` ends with one unmeasured trial, so an app a peer cannot carry through (dill cannot
pickle it, CRIU cannot dump or restore it, the output differs) raises Unavailable there, with a
one-line reason for the table; ``trial()`` raises TrialFailed (OutputMismatch for wrong output).

``extra`` after prepare(): ``prepare_ms`` (start-up + dump, wall), ``startup_ms`` (the start-up
inside the helper), ``exit``; zygote: ``parent_rss_bytes``; dill: ``dump_ms``, ``image_bytes``
(the session file), ``dill_version``; CRIU: ``dump_ms`` (``criu dump``, wall), ``image_bytes``
(the image directory), ``criu_version``, ``criu`` (binary path).

Use::

    peer = criu(app, python, expected=cold_stdout, env=env)   # or zygote(...), dill_session(...)
    try:
        peer.prepare()                              # may raise Unavailable: str(e) for the table
        times = [peer.trial() for _ in range(n)]    # ms each; TrialFailed / OutputMismatch
        print(peer.extra)
    finally:
        peer.close()                                # also: ``with criu(...) as peer:``

Every factory takes keywords ``cwd`` (default: the app's directory), ``timeout_s`` (per trial)
and ``prepare_timeout_s``; ``dill_session`` and ``criu`` also ``fast_exit``; ``dill_session``
``install`` (default True: ``pip install dill`` into the interpreter's environment if it is
missing, see ``ensure_dill``); ``criu`` ``criu_bin`` and ``build_timeout_s``. Helper processes
run with the given interpreter and environment as they are (the caller removes
``PYTHONDONTWRITEBYTECODE``); every wait has a timeout, and close() (also called on errors) ends
every process a peer started and deletes its files. Trials of one peer must be sequential (a CRIU
restore needs the dumped process's PID free). ``cd bench && python -m peers APP [PEER ...]``
tries the peers on one app by hand.
"""

from __future__ import annotations

from .common import ANSWERED_AT, OutputMismatch, Peer, TrialFailed, Unavailable, _pump  # noqa: F401
from .criu import _Criu, build_criu  # noqa: F401
from .dill_session import _Dill, ensure_dill  # noqa: F401
from .zygote import _Zygote

__all__ = [
    "Unavailable", "TrialFailed", "OutputMismatch", "Peer", "zygote", "dill_session", "criu",
    "build_criu", "ensure_dill", "PEERS",
]

# --------------------------------------------------------------------------------------------
# The factories the driver calls.


def zygote(app: str, python: str, expected: str, env: dict, **kw) -> Peer:
    """Fork from a pre-loaded parent (gunicorn --preload / forkserver style); see the module doc."""
    return _Zygote(app, python, expected, env, **kw)


def dill_session(app: str, python: str, expected: str, env: dict, **kw) -> Peer:
    """dill.dump_module() after start-up, dill.load_module() + main() in a fresh interpreter per trial."""
    return _Dill(app, python, expected, env, **kw)


def criu(app: str, python: str, expected: str, env: dict, **kw) -> Peer:
    """CRIU dump of the process parked after start-up; ``criu restore`` + main() per trial.

    Extra keywords: ``criu_bin`` (else build_criu() is called by prepare()), ``build_timeout_s``.
    """
    return _Criu(app, python, expected, env, **kw)


PEERS = {"zygote": zygote, "dill": dill_session, "criu": criu}
