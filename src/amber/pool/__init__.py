"""Pools: many instances from one image, each started in milliseconds by a fork of a resident
parent that restored the image once (``amber pool start IMAGE``).

The parent (:mod:`~amber.pool.server`) loads the image as a restore does, up to the point where
a restore would resume the program, freezes its heap for the collector and listens on a socket
of its own user. A caller (``amber restore IMAGE``, ``./IMAGE``, a cached ``amber run``) that
finds that socket (:mod:`~amber.pool.client`) hands its whole situation over (arguments,
environment, working directory, umask, standard streams as descriptors, ignored signals,
resource limits); the parent forks, and the child (:mod:`~amber.pool.instance`) takes that
situation on, renews what must differ per instance (:mod:`~amber.pool.entropy`), runs the
after-restore hooks and resumes the program. The caller waits, forwards its signals to the
instance and leaves with the instance's exit status, death by a signal included.

* :mod:`~amber.pool.paths`: where a pool's socket and record are, and whether they can be trusted;
* :mod:`~amber.pool.wire`: what crosses the socket (one request, reply lines), declared once;
* :mod:`~amber.pool.client`, :mod:`~amber.pool.server`, :mod:`~amber.pool.instance`,
  :mod:`~amber.pool.entropy`: the three processes' parts and per-instance entropy.

``amber pool start|list|stop`` is :mod:`amber.commands.pool`.
"""
