"""The ``amber`` command: its parser, and the commands that run in the invoking process
(``inspect``, ``cache``, ``keygen``, ``trust``). ``snapshot``, ``restore`` and ``run`` hand over
to a fresh interpreter (:mod:`amber._boot`)."""
