"""What each instance of a pool renews, so that no two instances share random state.

A plain restore gets fresh entropy because the modules that keep it (``random``, ``tempfile``,
``multiprocessing``, numpy...) are imported again in the restoring process
(:mod:`amber.capture.recorders.entropy`). A pool imports them once, in its server; its
instances are forks of it, so the rule is applied again in each one, by kind of state rather
than by module:

* **Generators held by modules imported again** (a module-level ``random.Random``, numpy's
  legacy global ``RandomState``, a ``Generator`` or bit generator): reseeded from the OS, as
  a fresh import would have seeded them. The kinds are :data:`RESEEDERS`. (``random``'s own
  global generator also reseeds itself after a fork; ``tempfile``'s name sequence notices the
  new pid.) A global generator start-up seeded on purpose gets its state back afterwards, from
  the after-restore hook a restore runs too.
* **Random bytes drawn while the server imported those modules** (``os.urandom``: the
  authentication key of ``multiprocessing``, a token a module makes at import): the server
  records what ``os.urandom`` returned during its imports (:class:`DrawRecorder`); each instance
  replaces every value it finds equal to one of them, up to three levels into those modules
  (a module's attribute, an object's attribute or a dict's item, and one more), with fresh bytes
  of the same length and type.

What start-up captured by value keeps its state in an instance as in a restore (a restore
warned about it when the image was made).
"""

import posix
import sys

DEPTH = 3  # module attribute -> object attribute / dict item -> ... (multiprocessing's authkey is at 3)


def _reseed_random(gen) -> None:
    gen.seed()


def _reseed_bit_generator(bits) -> None:
    bits.state = type(bits)().state  # a new one of the same kind, seeded from the OS


def _reseed_generator(gen) -> None:
    _reseed_bit_generator(gen.bit_generator)


# (module of the class, class name) -> how an object of that kind (or a subclass) is reseeded.
RESEEDERS = {
    ("random", "Random"): _reseed_random,
    ("numpy.random.mtrand", "RandomState"): _reseed_random,  # .seed() with no seed: from the OS
    ("numpy.random._generator", "Generator"): _reseed_generator,
    ("numpy.random.bit_generator", "BitGenerator"): _reseed_bit_generator,
}
_STATELESS = {("random", "SystemRandom")}  # draws from the OS every time: nothing to renew


class DrawRecorder:
    """Records what ``os.urandom`` returns while the server imports the modules held by
    reference (installed on ``posix`` before ``os`` is imported again, so ``os.urandom`` and
    what copies it at import are the recorder), then puts the real function back."""

    def __init__(self) -> None:
        self.drawn: set = set()
        self.original = posix.urandom
        self.recording = True
        original, drawn = self.original, self.drawn

        def urandom(size: int) -> bytes:
            value = original(size)
            if self.recording and 8 <= size <= 4096:
                drawn.add(value)
            return value
        urandom.__doc__ = original.__doc__
        self.replacement = urandom
        posix.urandom = urandom

    def stop(self) -> set:
        self.recording = False
        posix.urandom = self.original
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if type(namespace) is not dict:
                continue
            for name, value in list(namespace.items()):
                if value is self.replacement:
                    namespace[name] = self.original
        return self.drawn


class Plan:
    """Where an instance renews entropy: found once, in the server, after its imports (walking
    the modules is far slower than a fork); applied in each instance (:meth:`apply`)."""

    def __init__(self) -> None:
        self.generators: list = []  # (generator, how it is reseeded)
        self.places: list = []  # (container dict, key) holding drawn bytes

    def apply(self) -> None:
        for gen, reseed in self.generators:
            try:
                reseed(gen)
            except Exception:
                pass  # a generator that cannot be reseeded keeps the pool's state, as before
        for container, key in self.places:
            value = container.get(key)
            try:
                container[key] = type(value)(posix.urandom(len(value)))
            except Exception:
                pass


def plan(drawn: set, held_by_reference: "set[str]") -> Plan:
    """The generators and drawn bytes in the modules ``held_by_reference`` (see the module doc)."""
    found = Plan()
    seen: set = set()
    for name in sorted(held_by_reference):
        module = sys.modules.get(name)
        namespace = getattr(module, "__dict__", None)
        if type(namespace) is dict:
            _walk(namespace, drawn, seen, DEPTH, found)
    return found


def _walk(container: dict, drawn: set, seen: set, depth: int, found: Plan) -> None:
    for key, value in list(container.items()):
        if drawn and isinstance(value, bytes) and value in drawn:
            found.places.append((container, key))
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        reseed = _reseeder(type(value))
        if reseed is not None:
            found.generators.append((value, reseed))
            continue
        if depth > 1:
            inner = value if type(value) is dict else _instance_dict(value)
            if inner is not None:
                _walk(inner, drawn, seen, depth - 1, found)


def _instance_dict(value) -> "dict | None":
    """An instance's own ``__dict__`` (not a module's, a class's or a function's: those are
    reached as modules or are code)."""
    if isinstance(value, type) or type(value).__name__ in ("module", "function", "builtin_function_or_method",
                                                           "method"):
        return None
    try:
        inner = object.__getattribute__(value, "__dict__")
    except Exception:
        return None
    return inner if type(inner) is dict else None


_kinds: dict = {}


def _reseeder(cls):
    """How an object of class ``cls`` is reseeded, or None (learnt once per class)."""
    try:
        return _kinds[cls]
    except KeyError:
        pass
    except TypeError:
        return None
    found = None
    for klass in getattr(cls, "__mro__", ()):
        key = (getattr(klass, "__module__", None), getattr(klass, "__name__", None))
        if key in _STATELESS:
            break
        if key in RESEEDERS:
            found = RESEEDERS[key]
            break
    _kinds[cls] = found
    return found
