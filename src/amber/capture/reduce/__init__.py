"""The saving side: each object reduced to a :class:`~amber.capture.reduce.recipes.Recipe`
(one reduce function per kind of object, found by type)."""
