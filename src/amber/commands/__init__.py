"""The ``amber`` command: its parser, and the commands that run in the invoking process
(``inspect``, ``cache``, ``keygen``, ``trust``). ``snapshot``, ``restore`` and ``run`` hand over
to a fresh interpreter (:mod:`amber._boot`)."""

import gc

# The amber command only parses its command line and hands over (or inspects, lists, makes a
# key): nothing it allocates is garbage worth a collection, and a collection during its imports
# costs more than the rest of its work. The interpreter it hands over to starts afresh.
gc.disable()
