"""Memoised hashes: values of ``hash()`` that objects keep, and that must not reach an image.

A restored process has its own hash seed, so a hash computed before the snapshot (of a str, or
of anything whose ``__hash__`` hashes a str) is wrong there: an object that kept one would sit in
the wrong bucket of every set or dict built after restore, and an equal object made after
restore would not find it (``PurePath._hash``, sympy's ``Basic._mhash``).

Amber recognises a memo as an attribute (in ``__dict__`` or a slot) whose name contains "hash",
whose class has a ``__hash__`` written in Python, and whose value equals ``hash(obj)``. Which
"not yet computed" state the class expects is learnt once per class and attribute by trying it
on one instance, in this process: first ``None``, then the attribute being absent; the one after
which ``hash(obj)`` recomputes the same value is what the image records. A memo that neither
resets is left as it is and reported (``amber inspect`` lists it).
"""

from __future__ import annotations

RESET_TO_NONE = "none"
RESET_BY_ABSENCE = "absent"


class HashMemos:
    def __init__(self) -> None:
        self._python_hash: dict[type, bool] = {}
        self._how: dict[tuple[type, str], str | None] = {}
        self.unresettable: set[str] = set()

    def reset(self, obj, cls, attrs, slots):
        """``attrs``/``slots`` (lists of (name, value) or None) with memoised hashes reset."""
        if not self._has_python_hash(cls):
            return attrs, slots
        return self._filter(obj, cls, attrs, slot=False), self._filter(obj, cls, slots, slot=True)

    def _has_python_hash(self, cls) -> bool:
        known = self._python_hash.get(cls)
        if known is None:
            hash_fn = getattr(cls, "__hash__", None)
            known = self._python_hash[cls] = hash_fn is not None and hasattr(hash_fn, "__code__")
        return known

    def _filter(self, obj, cls, pairs, slot: bool):
        if not pairs or not any("hash" in name.lower() for name, _ in pairs):
            return pairs
        out = []
        for name, value in pairs:
            if "hash" in name.lower() and type(value) is int and _hash_or_none(obj) == value:
                how = self._learn(obj, cls, name, value, slot)
                if how == RESET_TO_NONE:
                    out.append((name, None))
                    continue
                if how == RESET_BY_ABSENCE:
                    continue
            out.append((name, value))
        return out or None

    def _learn(self, obj, cls, name: str, value: int, slot: bool) -> str | None:
        key = (cls, name)
        if key in self._how:
            return self._how[key]
        how = None
        setter, deleter = _accessors(obj, cls, name, slot)
        try:
            for candidate in (RESET_TO_NONE, RESET_BY_ABSENCE):
                try:
                    if candidate == RESET_TO_NONE:
                        setter(None)
                    else:
                        deleter()
                    if hash(obj) == value:
                        how = candidate
                        break
                except Exception:
                    pass
                finally:
                    setter(value)
        except Exception:
            how = None
        if how is None:
            self.unresettable.add(f"{cls.__module__}.{cls.__qualname__}.{name}")
        self._how[key] = how
        return how


def _hash_or_none(obj):
    try:
        return hash(obj)
    except Exception:
        return None


def _accessors(obj, cls, name: str, slot: bool):
    if not slot:
        from amber.capture.reduce.layout import instance_dict

        d = instance_dict(obj, cls)  # the real dict (a class may define a __dict__ property)
        if d is None:
            raise AttributeError("__dict__")
        return (lambda v: d.__setitem__(name, v)), (lambda: d.pop(name, None))
    member = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
    if member is None or not hasattr(member, "__set__") or not hasattr(member, "__delete__"):
        raise AttributeError(name)
    return (lambda v: member.__set__(obj, v)), (lambda: member.__delete__(obj))
