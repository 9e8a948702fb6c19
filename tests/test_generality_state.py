"""State inside objects that modules imported again own, changed by the program at start-up.

A module imported again at restore is a fresh import: its own objects (``logging.root``,
``logging.Logger.manager``, ``asyncio``'s policy slot, a library's module-level ``DEFAULTS``
instance) come back as the import makes them. What the program did to them during start-up
(``logging.basicConfig``, ``dictConfig``, ``getLogger("app").addHandler(h)``,
``asyncio.set_event_loop_policy``, ``lib.DEFAULTS.timeout = 5``) is set again on those very
objects, and an object whose reduce protocol is a lookup by name (``Logger`` reduces to
``getLogger(name)``) is the fresh process's object with the program's state. Every round trip
goes through the command line with verification on (the default), the restore in a fresh
process, and is compared with a cold run.
"""

import json
import textwrap

import pytest
from conftest import AMBER, run


def write_package(root, name: str, files: dict) -> None:
    pkg = root / name
    pkg.mkdir()
    for filename, source in files.items():
        (pkg / filename).write_text(textwrap.dedent(source))


def snapshot(p, *options):
    return run([*AMBER, "snapshot", *options, "-o", str(p.image), str(p.script)], cwd=p.dir, check=True)


def changed_state(p) -> str:
    """What ``amber inspect`` lists as set again on modules imported again."""
    out = run([*AMBER, "inspect", str(p.image)], cwd=p.dir, check=True).stdout
    return out.partition("state the program changed on modules imported again")[2]


# == logging: configured at start-up, imported again ===============================================

LOGGING_PROGRAM = '''
    {head}
    import logging, logging.config, sys

    class Tagged(logging.Filter):
        def filter(self, record):
            record.tag = "T"
            return True

    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="basic %(name)s %(levelname)s %(message)s")
    APP = logging.getLogger("app")
    APP.setLevel(logging.DEBUG)
    mine = logging.StreamHandler(sys.stdout)
    mine.setFormatter(logging.Formatter("mine %(name)s %(message)s"))
    APP.addHandler(mine)
    logging.getLogger("app.db").setLevel(logging.WARNING)
    logging.config.dictConfig({{
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {{"tagged": {{"()": Tagged}}}},
        "formatters": {{"short": {{"format": "dict[%(tag)s] %(name)s %(levelname)s %(message)s"}}}},
        "handlers": {{"out": {{"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                               "formatter": "short", "filters": ["tagged"], "level": "INFO"}}}},
        "loggers": {{"svc": {{"handlers": ["out"], "level": "INFO", "propagate": False}},
                     "svc.noisy": {{"level": "ERROR"}}}},
    }})
    import lib
    logging.getLogger("lib.worker").addHandler(mine)

    if __name__ == "__main__":
        APP.debug("app debug")
        logging.getLogger("app.db").info("db info, below its level")
        logging.getLogger("app.db").warning("db warning")
        logging.getLogger("svc").info("svc info")
        logging.getLogger("svc.noisy").warning("noisy warning, below its level")
        logging.getLogger("svc.child").info("svc child")
        logging.getLogger("other").info("other info")
        logging.getLogger("other").debug("other debug, below root's level")
        lib.emit("through the library's own logger")
        print(APP is logging.getLogger("app"), lib.held() is logging.getLogger("lib.worker"))
        print([type(h).__name__ for h in logging.root.handlers], logging.root.level,
              [h.name for h in logging.getLogger("svc").handlers], logging.getLogger("svc").propagate)
'''

# A library imported again (asyncio makes logging one, --reimport makes lib one) that keeps its
# logger in a closure only: the program's handler must reach the library's own object.
LIB = {"__init__.py": '''
    import logging

    def _make():
        log = logging.getLogger("lib.worker")
        def emit(message):
            log.warning(message)
        def held():
            return log
        return emit, held

    emit, held = _make()
'''}


@pytest.mark.parametrize("why", ["asyncio", "reimport"])
def test_logging_configured_at_start_up_reaches_the_same_handlers_and_levels(program, tmp_path, why):
    # asyncio's C part imports logging, so logging is imported again at restore; without asyncio,
    # --reimport logging makes it so.
    write_package(tmp_path, "lib", LIB)
    p = program(LOGGING_PROGRAM.format(head="import asyncio" if why == "asyncio" else ""))
    cold = p.cold(check=True)
    assert "mine lib.worker through the library's own logger" in cold.stdout
    snapshot(p, "--reimport", "lib", *(["--reimport", "logging"] if why == "reimport" else []))
    restored = p.restore()
    assert restored.stdout == cold.stdout
    assert "True True\n['StreamHandler'] 20 ['out'] False\n" in restored.stdout
    listed = changed_state(p)
    assert "root.handlers" in listed and "Logger.manager.loggerDict" in listed


def test_a_logger_a_library_made_keeps_its_identity_and_gets_the_programs_state(program, tmp_path):
    # lib.worker's logger is made by lib's import (imported again) and held only in a closure:
    # the program's logger is that very object after restore, with the program's level.
    write_package(tmp_path, "lib", LIB)
    p = program('''
        import logging, sys
        import lib
        WORKER = logging.getLogger("lib.worker")
        WORKER.setLevel(logging.ERROR)
        WORKER.addHandler(logging.StreamHandler(sys.stdout))
        WORKER.propagate = False
        if __name__ == "__main__":
            lib.emit("a warning, below the level the program set")
            WORKER.error("an error")
            print(lib.held() is WORKER, WORKER.level, WORKER.propagate, len(WORKER.handlers))
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == "an error\nTrue 40 False 1\n"
    snapshot(p, "--reimport", "lib", "--reimport", "logging")
    assert p.restore().stdout == cold.stdout


# == asyncio: the policy set or made at start-up ===================================================

def test_an_event_loop_policy_set_at_start_up_is_the_policy_after_restore(program):
    p = program('''
        import asyncio

        class CountingPolicy(asyncio.DefaultEventLoopPolicy):
            def __init__(self):
                super().__init__()
                self.made = 0
            def new_event_loop(self):
                self.made += 1
                return super().new_event_loop()

        asyncio.set_event_loop_policy(CountingPolicy())
        asyncio.get_event_loop_policy().made = 10

        async def answer():
            return 42

        if __name__ == "__main__":
            policy = asyncio.get_event_loop_policy()
            print(type(policy).__name__, policy.made)
            print(asyncio.run(answer()), policy.made)
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == "CountingPolicy 10\n42 11\n"
    p.snapshot()
    assert p.restore().stdout == cold.stdout
    assert "_event_loop_policy" in changed_state(p)


def test_the_default_policy_and_the_loop_it_was_given_at_start_up(program):
    p = program('''
        import asyncio
        LOOP = asyncio.new_event_loop()
        asyncio.get_event_loop_policy().set_event_loop(LOOP)

        async def answer():
            return 7

        if __name__ == "__main__":
            policy = asyncio.get_event_loop_policy()
            print(type(policy).__name__, policy.get_event_loop() is LOOP)
            print(LOOP.run_until_complete(answer()))
    ''')
    cold = p.cold(check=True)
    assert cold.stdout.endswith(" True\n7\n")
    p.snapshot()
    assert p.restore().stdout == cold.stdout


# == a module-level instance of a library imported again ==========================================

CFG = {"__init__.py": '''
    import os

    class Sub:
        def __init__(self):
            self.level = 0

    class Defaults:
        def __init__(self):
            self.timeout = 1
            self.hooks = []
            self.sub = Sub()
            self.legacy = True
            self.pid = os.getpid()   # differs from process to process: the fresh import's own

    class Registry:
        pass

    Registry.instance = Registry()
    Registry.instance.items = {}
    DEFAULTS = Defaults()

    def defaults():
        return DEFAULTS

    def timeout():
        return DEFAULTS.timeout
'''}


def test_a_module_level_instance_the_program_changed_is_changed_again_in_place(program, tmp_path):
    write_package(tmp_path, "cfg", CFG)
    p = program('''
        import os
        import cfg

        def hook():
            return "hooked"

        cfg.DEFAULTS.timeout = 5
        cfg.DEFAULTS.hooks.append(hook)
        cfg.DEFAULTS.sub.level = 3
        del cfg.DEFAULTS.legacy
        cfg.DEFAULTS.added = "new"
        cfg.Registry.instance.items["a"] = 1
        HOOKS = cfg.DEFAULTS.hooks
        STARTED_PID = cfg.DEFAULTS.pid

        if __name__ == "__main__":
            d = cfg.defaults()
            print(d is cfg.DEFAULTS, cfg.timeout(), [h() for h in d.hooks], d.sub.level,
                  hasattr(d, "legacy"), d.added, cfg.Registry.instance.items, HOOKS is d.hooks)
            print(d.pid == os.getpid())
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == "True 5 ['hooked'] 3 False new {'a': 1} True\nTrue\n"
    snapshot(p, "--reimport", "cfg")
    restored = p.restore()
    assert restored.stdout == cold.stdout
    listed = changed_state(p)
    for change in ("DEFAULTS.timeout", "DEFAULTS.hooks", "DEFAULTS.sub.level", "DEFAULTS.legacy (removed)",
                   "DEFAULTS.added", "Registry.instance.items"):
        assert change in listed
    assert "DEFAULTS.pid" not in listed
    info = json.loads(run([*AMBER, "inspect", "--json", str(p.image)], cwd=p.dir, check=True).stdout)
    assert "cfg" in info["modules"]["by_reference"]


def test_an_instance_the_program_left_alone_is_the_fresh_imports(program, tmp_path):
    # Values set during the import (a pid) are never set again: the restoring process's own.
    write_package(tmp_path, "cfg", CFG)
    p = program('''
        import os
        import cfg
        if __name__ == "__main__":
            print(cfg.DEFAULTS.pid == os.getpid(), cfg.timeout(), cfg.DEFAULTS.legacy)
    ''')
    cold = p.cold(check=True)
    snapshot(p, "--reimport", "cfg")
    assert p.restore().stdout == cold.stdout == "True 1 True\n"
    assert "cfg:" not in changed_state(p)


# == containers kept together: refilled in place, or left whole to the fresh import ================

CACHE = {"__init__.py": '''
    import collections

    class LRU:
        """A cache whose order lives in a deque beside its dict (jinja2's LRUCache pattern)."""
        def __init__(self, capacity):
            self.capacity = capacity
            self._mapping = {}
            self._queue = collections.deque()
            self._append = self._queue.append
            self._order = collections.OrderedDict()

        def put(self, key, value):
            self._mapping[key] = value
            self._append(key)
            self._order[key] = len(self._order)

        def newest(self):
            return self._queue[-1], self._mapping[self._queue[-1]], list(self._order)

    class Node:
        def __init__(self):
            self.items = []

    class Chained:
        """Part of its state sits one level deeper than the recorder follows."""
        def __init__(self):
            self.index = {}
            self.head = Node()
            self.head.next = Node()

        def add(self, key):
            self.index[key] = len(self.head.next.items)
            self.head.next.items.append(key)

        def consistent(self):
            return all(self.head.next.items[i] == k for k, i in self.index.items())

    CACHE = LRU(10)
    CHAIN = Chained()
'''}


def test_an_owned_cache_is_refilled_whole_and_one_it_cannot_follow_stays_fresh(program, tmp_path):
    write_package(tmp_path, "cache", CACHE)
    p = program('''
        import cache
        cache.CACHE.put("a", 1)
        cache.CACHE.put("b", 2)
        cache.CHAIN.add("x")
        if __name__ == "__main__":
            print(cache.CACHE.newest(), cache.CACHE._append.__self__ is cache.CACHE._queue)
            print(cache.CHAIN.consistent(), len(cache.CHAIN.index) in (0, 1))
    ''')
    cold = p.cold(check=True)
    assert cold.stdout == "('b', 2, ['a', 'b']) True\nTrue True\n"
    snapshot(p, "--reimport", "cache")
    assert p.restore().stdout == cold.stdout
    listed = changed_state(p)
    assert "CACHE._mapping" in listed and "CACHE._queue" in listed and "CACHE._order" in listed
    # CHAIN's items live in a Node two levels down: none of CHAIN is set again rather than half.
    assert "CHAIN" not in listed
