"""Self-verifying images: after an image is written, a fresh process restores it and the state it
rebuilt is compared with the live process's, by a walker that shares no code with the capture.

* :mod:`amber.verify.walker`: describes a process's state as ``{path: fact}`` (both sides run it);
* :mod:`amber.verify.meaning`: which differences are not differences (ids, memoised hashes);
* :mod:`amber.verify.check`: the live side: start the restoring child, compare, report;
* :mod:`amber.verify.child`: the restoring child's side (``_boot.py verify``).

Why independent: a walker that reused the capture's reducers would agree with them by
construction, and a state they forget would be forgotten on both sides. This walker reads each
object the way the interpreter stores it (real ``__dict__``, slots by their member descriptors,
containers by their C methods), never through the program's own overrides.
"""
