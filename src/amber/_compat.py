"""Interpreter-version-specific knowledge, kept in one place.

Amber targets CPython 3.11 first; 3.12 and 3.13 are tested as support grows. Anything that
depends on CPython internals or on how a given version lays out the standard library belongs
here, with the versions it was checked on.
"""

import sys

PY_VERSION = sys.version_info[:2]

# Type flags (Include/object.h), stable from 3.10 on.
TPFLAGS_IMMUTABLETYPE = 1 << 8
TPFLAGS_HEAPTYPE = 1 << 9

# Types that no module exports under their own name, so they cannot be found by name at restore.
# Each is re-derived at restore from the restored (complete) heap; the expressions are fixed here,
# never read from an image. Checked on 3.11, 3.12, 3.13.
# re.Pattern/re.Match come from re._compiler (3.11+), which does not need the re module itself
# to be complete (re's own functions refer to re.Pattern).
UNEXPORTED_TYPES = {
    ("re", "Pattern"): "type(__import__('re._compiler', fromlist=['_']).compile('', 0))",
    ("re", "Match"): "type(__import__('re._compiler', fromlist=['_']).compile('', 0).match(''))",
}


def is_python_class(cls) -> bool:
    """Was ``cls`` made by a class statement (or type()), so that it can be rebuilt by value?"""
    flags = cls.__flags__
    return bool(flags & TPFLAGS_HEAPTYPE) and not flags & TPFLAGS_IMMUTABLETYPE


def known_type_key(cls):
    key = (getattr(cls, "__module__", None), getattr(cls, "__qualname__", None))
    return key if UNEXPORTED_TYPES.get(key) else None
