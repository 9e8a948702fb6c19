"""Randomness that would repeat in every restored process, found at snapshot time, and random
state that the program set on purpose, which a restore must keep.

Each restored process gets fresh entropy where the standard library keeps it (``random``,
``tempfile``, ``multiprocessing``'s authentication key and ``os``: those modules are imported
again, see :mod:`amber.capture.world.rules`; numpy's global generator likewise, numpy being imported
again). What the program keeps itself would repeat, so it is reported, with its path:

* random generators in the heap that were seeded from the OS: ``random.Random`` instances, numpy
  ``Generator``, ``RandomState`` and bit generators (``amber.keep_state(obj)`` says one is seeded
  on purpose);
* random bytes drawn during start-up (``os.urandom``, and what calls it: ``uuid.uuid4``,
  ``secrets``, ``random.SystemRandom``), except by modules that are imported again anyway.

They are warnings; ``--strict`` makes them errors.

**Seeded on purpose.** A generator seeded with an explicit value is deterministic by the
program's choice: a cold run repeats its numbers too, so a restore must give the same ones and
no warning is due.

* ``random.Random(42)``, ``r.seed(42)``, ``r.setstate(s)``, ``numpy.random.default_rng(42)``,
  ``RandomState(42)``: no warning; like every object they are captured with their state, so the
  restored process continues their sequence. Which ones were seeded so is known exactly:
  ``random.Random.seed``/``setstate`` are watched while start-up runs (put back at the snapshot
  point), and a numpy generator's seed either was not drawn from the OS (its ``SeedSequence``
  entropy is none of the values ``os.urandom`` returned) or came from legacy seeding.
* The *global* generators (``random.seed(42)``, ``numpy.random.seed(42)``): their modules are
  imported again, which would seed them afresh, so the restored process would not continue the
  sequence a cold run gives. When start-up seeded one, its state at the snapshot point is kept:
  :func:`seeded_globals` names it and the pipeline sets it again after the import, before the
  program's own after-restore hooks. ``random``'s global generator counts as seeded when its
  state at the snapshot point is not the one it was given when ``random`` was imported,
  advanced by the numbers drawn since (searched up to :data:`DRAWS_FOLLOWED` draws); numpy's when
  ``numpy.random.seed`` was called. An unseeded global generator stays fresh in every restore.
"""

import os
import sys

from amber import _compat

TYPE_CHECKING = False  # this module is imported before the program runs: nothing more than needed
if TYPE_CHECKING:
    from types import FrameType

DRAWS_FOLLOWED = 1_000_000  # 32-bit draws of random's global generator followed since its import
_WORDS = 624  # the Mersenne Twister's table

_explicit: dict = {}  # id(random.Random instance) -> (instance, seeded with an explicit value)
_drawn: set = set()  # what os.urandom returned during start-up (up to 64 bytes, as big-endian ints)
_first_state: dict = {}  # "random" -> its global generator's state right after random was imported
_watching = [False]


class EntropyRecorder:
    """Records who draws random bytes from the OS during start-up, and which generators the
    program seeds itself (see the module doc)."""

    def __init__(self, importing) -> None:
        self.draws: list = []  # (module being imported or None, "file:line")
        self._importing = importing
        self._install()

    def resume(self) -> None:
        """Record again after :meth:`stop` (what was recorded stays)."""
        self._install()

    def _install(self) -> None:
        import posix

        importing = self._importing
        self._originals = (posix.urandom, os.urandom)
        original = posix.urandom
        draws = self.draws
        drawn = _drawn

        def urandom(size):
            data = original(size)
            draws.append((importing(), _caller()))
            if len(data) <= 64:
                drawn.add(int.from_bytes(data, "big"))
            return data

        urandom.__doc__ = original.__doc__
        posix.urandom = os.urandom = urandom
        self._replacement = urandom
        self._patched: list = []  # (class, attribute, original, replacement)
        _watching[0] = True
        self._undo_imports = _watch_imports(self._imported)
        if "random" in sys.modules:
            self._imported("random")

    def _imported(self, name: str) -> None:
        random = sys.modules.get(name)
        if name != "random" or random is None or self._patched:
            return
        if "random" not in _first_state:
            try:
                _first_state["random"] = random.getstate()
            except Exception:
                return
        cls = random.Random
        seed, setstate = cls.__dict__.get("seed"), cls.__dict__.get("setstate")
        if seed is None or setstate is None:
            return

        def recording_seed(self, a=None, version=2):
            seed(self, a, version)
            _explicit[id(self)] = (self, a is not None and not _from_os(a))

        def recording_setstate(self, state):
            setstate(self, state)
            _explicit[id(self)] = (self, True)

        for attr, original, replacement in (("seed", seed, recording_seed),
                                            ("setstate", setstate, recording_setstate)):
            replacement.__doc__ = original.__doc__
            replacement.__qualname__ = original.__qualname__
            setattr(cls, attr, replacement)
            self._patched.append((cls, attr, original, replacement))

    def stop(self) -> None:
        import posix

        for mod in (posix, os):
            if mod.urandom is self._replacement:
                mod.urandom = self._originals[0]  # type: ignore[attr-defined]  # posix has it
        # Modules imported meanwhile may hold the recorder (random's `from os import urandom as
        # _urandom`): they get the real function, as a run without Amber has it.
        for mod in list(sys.modules.values()):
            namespace = getattr(mod, "__dict__", None)
            if type(namespace) is dict:
                for key, value in list(namespace.items()):
                    if value is self._replacement:
                        namespace[key] = self._originals[0]
        for cls, attr, original, replacement in self._patched:
            if cls.__dict__.get(attr) is replacement:
                setattr(cls, attr, original)
        self._patched = []
        self._undo_imports()

    def warnings(self, by_ref) -> list:
        seen: dict[str, int] = {}
        for module, where in self.draws:
            if module is not None and by_ref(module):
                continue
            seen[where] = seen.get(where, 0) + 1
        return [f"start-up drew random bytes from the OS at {where}"
                + (f" ({n} times)" if n > 1 else "") + ": every restored process has the same ones"
                for where, n in seen.items()]


def _watch_imports(callback):
    """Call ``callback(name)`` when the import of module ``name`` has finished (as
    :func:`amber._compat.wrap_module_loading`); the function returned removes the hook if it is
    still the outermost one (the import recorder may already have put the original back)."""
    import _frozen_importlib as bootstrap


    original = bootstrap._load_unlocked

    def _load_unlocked(spec):
        module = original(spec)
        try:
            callback(spec.name)
        except Exception:
            pass
        return module

    bootstrap._load_unlocked = _compat.as_import_system_frame(_load_unlocked, original)

    def undo() -> None:
        if bootstrap._load_unlocked is _load_unlocked:  # type: ignore[attr-defined]
            bootstrap._load_unlocked = original  # type: ignore[attr-defined]

    return undo


def _from_os(seed) -> bool:
    """Whether a seed value is random bytes drawn from the OS during start-up."""
    if isinstance(seed, (bytes, bytearray)):
        seed = int.from_bytes(seed[:64], "big")
    return isinstance(seed, int) and seed in _drawn


def _caller() -> str:
    """The first frame outside the modules that hand out randomness."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name not in ("os", "random", "uuid", "secrets", "tempfile") and not name.startswith("amber."):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "?"


def generator_kind(obj) -> str | None:
    """What kind of random generator ``obj`` is, if it keeps a state that every restored process
    would repeat; None for other objects and for generators seeded with an explicit value."""
    cls = type(obj)
    random = sys.modules.get("random")
    # By type(obj), never isinstance: that reads obj.__class__, which a lazy proxy (Django's
    # LazyObject) answers by setting itself up: capture must not change the program's state.
    if random is not None and issubclass(cls, random.Random) and not issubclass(cls, random.SystemRandom):
        entry = _explicit.get(id(obj))
        if entry is not None and entry[0] is obj and entry[1]:
            return None
        return "a random.Random generator"
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("numpy.random"):
        names = {k.__name__ for k in cls.__mro__}
        if names & {"Generator", "RandomState", "BitGenerator"}:
            return None if _numpy_seeded(obj) else f"a numpy {cls.__name__} generator"
    return None


def _numpy_seeded(obj) -> bool:
    """Whether a numpy generator was seeded with an explicit value (see the module doc)."""
    bits = obj
    for attr in ("bit_generator", "_bit_generator"):
        bits = getattr(obj, attr, bits)
    try:
        seq = bits._seed_seq
    except AttributeError:
        return False
    if seq is None:  # legacy seeding: RandomState(seed), np.random.seed(seed)
        return True
    entropy = getattr(seq, "entropy", None)
    if isinstance(entropy, int):
        return not _from_os(entropy) if _watching[0] else entropy < 2 ** 64
    return entropy is not None


def global_generator_states() -> list:
    """``(setter, state)`` for the global generators of ``random`` and numpy's legacy
    ``numpy.random``, as they are now: put back in a forked writer, where ``random``'s at-fork
    handler reseeded its own (:mod:`amber.capture.detached`)."""
    random, _mtrand, rand = _global_generators()
    accessors = [] if random is None else [(random.setstate, random.getstate)]
    accessors += [] if rand is None else [(rand.set_state, rand.get_state)]
    out = []
    for setter, getter in accessors:
        try:
            out.append((setter, getter()))
        except Exception:  # (a module that is not what its name says: nothing to put back)
            continue
    return out


def _global_generators() -> tuple:
    """``random``, ``numpy.random.mtrand`` and its legacy global generator, where imported."""
    mtrand = sys.modules.get("numpy.random.mtrand")
    return sys.modules.get("random"), mtrand, getattr(mtrand, "_rand", None)


def seeded_globals() -> list:
    """(what, setter, state) for each global generator that start-up seeded on purpose: the
    restore calls ``setter(state)`` after its module is imported again (see the module doc)."""
    out = []
    random, mtrand, rand = _global_generators()
    first = _first_state.get("random")
    if random is not None and first is not None:
        try:
            now = random.getstate()
            if not _follows(first, now, random.Random):
                out.append(("random", random.setstate, now))
        except Exception:
            pass
    if rand is not None:
        try:
            legacy = rand._bit_generator._seed_seq is None
            if legacy and mtrand is not None and mtrand.set_state.__self__ is rand:
                out.append(("numpy.random", mtrand.set_state, rand.get_state()))
        except Exception:
            pass
    return out


def _follows(first: tuple, now: tuple, make) -> bool:
    """Whether the state ``now`` of random's global generator is ``first`` advanced by draws: its
    table is one of those ``first``'s table becomes, 624 draws at a time."""
    if first == now:
        return True
    version, internal, _gauss = first
    target = now[1][:_WORDS]
    if internal[:_WORDS] == target:
        return True
    r = make()
    r.setstate((version, internal[:_WORDS] + (_WORDS,), None))  # the next draw makes a new table
    for _ in range(DRAWS_FOLLOWED // _WORDS):
        r.getrandbits(32 * _WORDS)
        if r.getstate()[1][:_WORDS] == target:
            return True
    return False
