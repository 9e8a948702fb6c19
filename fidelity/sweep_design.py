"""Differences between a cold process and a restored one that Amber makes on purpose, each with its reason.

fidelity/stdlib_sweep.py asks ``by_design`` about every fact that differs (after the noise of two
cold processes is left out); a difference with no reason here is a failure of the sweep.
"""

from __future__ import annotations

import sys

BASE_SET = "a restore imports Amber's restore path first (the base set: amber inspect --base-set)"


def by_design(module: str, path: str, cold: str, restored: str, base_set: set) -> str:
    """The reason a difference is Amber's design, or "" when it is not."""
    if path.startswith("@interp.sys.modules["):
        name = path[len("@interp.sys.modules["):-1]
        if cold == "<absent>" and (name in base_set or name == "amber" or name.startswith("amber.")):
            return BASE_SET
        if cold == "<absent>" and name in sys.builtin_module_names:
            return ("a builtin module Amber's snapshot imported for itself is in the image "
                    "(no Python code runs; its only trace is its sys.modules entry)")
    if path == "@interp.copyreg" and cold == "not imported" and "copyreg" in base_set:
        return BASE_SET
    if module == "sys":
        return _sys(path, cold, base_set)
    return ""


def _sys(path: str, cold: str, base_set: set) -> str:
    """The sys module describes the process: what differs there is the restoring process's own."""
    if path == "sys.orig_argv" or path.startswith("sys.orig_argv["):
        return "sys.orig_argv is the restoring command's (README: Modules imported again)"
    if path == "sys.modules" or path.startswith("sys.modules[") and cold == "<absent>":
        name = path[len("sys.modules["):].strip("[]'\"")
        if path == "sys.modules" or name in base_set or name.startswith("amber") or \
                name in sys.builtin_module_names:
            return BASE_SET
    if path == "sys.path_importer_cache" or path.startswith("sys.path_importer_cache["):
        return ("sys.path_importer_cache caches the finders of the directories the process's own "
                "imports searched: a restore imports Amber's restore path and the modules imported "
                "again, not the modules of the image")
    return ""
