"""Restoring: the isolated restore path. Everything under this package imports only the base set."""
