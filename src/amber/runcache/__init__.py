"""``amber run``'s image cache, owned here whole:

* :mod:`~amber.runcache.layout`: where everything is (root, entries, images, failure markers,
  program record, lock, key) and the program record;
* :mod:`~amber.runcache.keys`: the program key, the args key, the secret key of variable digests;
* :mod:`~amber.runcache.freshness`: whether an image's recorded inputs still hold, and whether a
  failure marker does;
* :mod:`~amber.runcache.build`: the build lock, the failure marker, what a finished build records;
* :mod:`~amber.runcache.eviction`: the size cap.

``layout``, ``keys`` and ``freshness`` are on the restore path (``amber run`` decides and restores
in one isolated interpreter) and import only the base set; ``build`` and ``eviction`` run only in
the building interpreter and use ``os``.
"""
