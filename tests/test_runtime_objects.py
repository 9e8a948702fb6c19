"""Asyncio event loops and ``concurrent.futures`` executors made at start-up: the same objects work
after restore (amber.handlers), busy ones are refused with their path; each in fresh processes."""

from conftest import AMBER, run

LOOPS = '''
import asyncio, sys
LOOP = asyncio.new_event_loop()
LOOP.set_debug(False)
LOOP.slow_callback_duration = 0.25
ERRORS = []
LOOP.set_exception_handler(lambda loop, context: ERRORS.append(context["message"]))
WARM = LOOP.run_until_complete(asyncio.sleep(0, "warm"))   # used once during start-up
SEVEN = LOOP.run_until_complete(LOOP.run_in_executor(None, int, "7"))  # its default executor too
DEFAULT_EXECUTOR = LOOP._default_executor
LATE = LOOP.call_later(3600, print, "never")               # cancelled: dropped, never run
LATE.cancel()
HOLDER = {"loop": LOOP}
CLOSED = asyncio.new_event_loop()
CLOSED.close()

async def work(n):
    await asyncio.sleep(0.01)
    done = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(done.set_result, n * 2)
    blocking = await asyncio.get_running_loop().run_in_executor(None, sum, [n, n])
    return await done, blocking

if __name__ == "__main__":
    print(WARM, LOOP.run_until_complete(work(21)), HOLDER["loop"] is LOOP, LOOP.slow_callback_duration,
          SEVEN, LOOP._default_executor is DEFAULT_EXECUTOR)
    LOOP.call_soon(lambda: 1 / 0)
    LOOP.run_until_complete(asyncio.sleep(0.01))
    print("handler kept:", ERRORS[0].startswith("Exception in callback"), "closed stays closed:", CLOSED.is_closed())
    print(asyncio.run(work(1)))
    LOOP.close()
'''


def test_event_loop_made_at_start_up(program):
    p = program(LOOPS)
    cold = p.cold(check=True).stdout
    assert cold.startswith("warm (42, 42) True 0.25 7 True\nhandler kept: True closed stays closed: True\n(2, 2)")
    p.snapshot()
    assert p.restore().stdout == cold


def test_policy_loop(program):
    """The loop asyncio.get_event_loop() made through the policy is the one it gives after restore."""
    p = program('''
        import asyncio, warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: no current loop
            LOOP = asyncio.get_event_loop()
        if __name__ == "__main__":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                same = asyncio.get_event_loop() is LOOP
            print(same, LOOP.run_until_complete(asyncio.sleep(0, "ran")))
    ''')
    cold = p.cold(check=True).stdout
    assert cold == "True ran\n"
    p.snapshot()
    assert p.restore().stdout == cold


def test_busy_loops_are_refused_with_their_path(program):
    p = program('''
        import asyncio
        async def forever():
            await asyncio.Event().wait()
        PENDING = asyncio.new_event_loop()
        PENDING.call_soon(print, "later")
        TASKS = asyncio.new_event_loop()
        TASK = TASKS.create_task(forever())
        import socket
        a, b = socket.socketpair()
        WATCHING = asyncio.new_event_loop()
        WATCHING.add_reader(a.fileno(), print)
        import threading, time
        RUNNING = asyncio.new_event_loop()
        threading.Thread(target=RUNNING.run_forever, daemon=True).start()
        while not RUNNING.is_running():
            time.sleep(0.01)
        if __name__ == "__main__":
            pass
    ''')
    r = p.snapshot(check=False)
    assert r.returncode == 2 and not p.image.exists()
    err = r.stderr
    assert "__main__.PENDING -> asyncio.unix_events._UnixSelectorEventLoop: an asyncio event loop with 1 " \
        "callback(s) or task(s) pending" in err, err
    assert "__main__.TASKS -> asyncio.unix_events._UnixSelectorEventLoop: an asyncio event loop with 1 callback(s)" in err
    assert "__main__.WATCHING -> asyncio.unix_events._UnixSelectorEventLoop: an asyncio event loop with 1 file " \
        "descriptor(s) watched" in err
    assert "__main__.RUNNING -> asyncio.unix_events._UnixSelectorEventLoop: a running asyncio event loop" in err
    assert "loop.run_until_complete" in err
    assert "_ssock" not in err and "epoll" not in err  # the loop is named, not its parts


EXECUTORS = '''
import concurrent.futures, os, threading
NAMES = []
def init(tag):
    NAMES.append((tag, threading.current_thread().name))
UNUSED = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="unused")
USED = concurrent.futures.ThreadPoolExecutor(3, initializer=init, initargs=("used",))
WARM = [f.result() for f in [USED.submit(pow, 2, n) for n in range(4)]]  # idle threads now
class Mine(concurrent.futures.ThreadPoolExecutor):
    pass
SUB = Mine(1)
SUB.label = "kept"
PROCESSES = concurrent.futures.ProcessPoolExecutor(2)
WARM_PROCESSES = concurrent.futures.ProcessPoolExecutor(1)
WARM_PROCESSES.submit(pow, 3, 3).result()
HOLDER = [UNUSED, USED, PROCESSES]
DONE = concurrent.futures.ThreadPoolExecutor(1)
DONE.shutdown()

if __name__ == "__main__":
    print(WARM, UNUSED.submit(pow, 2, 10).result(), USED.submit(sum, [1, 2]).result())
    print(UNUSED.submit(lambda: threading.current_thread().name).result())
    print(sorted(set(NAMES))[0][0], SUB.submit(len, "abc").result(), SUB.label, isinstance(SUB, Mine))
    print(PROCESSES.submit(pow, 2, 20).result(), WARM_PROCESSES.submit(pow, 3, 4).result())
    print(HOLDER[0] is UNUSED and HOLDER[1] is USED and HOLDER[2] is PROCESSES)
    try:
        DONE.submit(pow, 1, 1)
    except RuntimeError as e:
        print("shut down stays shut down:", e)
    for ex in (UNUSED, USED, SUB, PROCESSES, WARM_PROCESSES):
        ex.shutdown()
'''


def test_executors_made_at_start_up(program):
    p = program(EXECUTORS)
    cold = p.cold(check=True, timeout=120).stdout
    assert cold.splitlines() == ["[1, 2, 4, 8] 1024 3", "unused_0", "used 3 kept True", "1048576 81", "True",
                                 "shut down stays shut down: cannot schedule new futures after shutdown"]
    p.snapshot(timeout=120)
    assert p.restore(timeout=120).stdout == cold


def test_busy_executors_are_refused_with_their_path(program):
    p = program('''
        import concurrent.futures, threading
        GATE = threading.Event()
        POOL = concurrent.futures.ThreadPoolExecutor(1)
        RUNNING = POOL.submit(GATE.wait)
        QUEUED = POOL.submit(print, "queued")
        if __name__ == "__main__":
            pass
    ''')
    r = p.snapshot(check=False, timeout=120)
    assert r.returncode == 2 and not p.image.exists()
    assert "__main__.POOL -> concurrent.futures.thread.ThreadPoolExecutor: a ThreadPoolExecutor with 1 work " \
        "item(s) queued" in r.stderr, r.stderr
    assert "concurrent.futures.wait" in r.stderr


def test_amber_run_goes_on_with_the_same_objects(program, tmp_path):
    """amber run's first run keeps going after writing its image: the loop and executors are
    brought up again in that very process; the second run restores. Both print a cold run's output."""
    p = program('''
        import asyncio, concurrent.futures
        LOOP = asyncio.new_event_loop()
        POLICY_LOOP = asyncio.get_event_loop_policy().get_event_loop()
        THREADS = concurrent.futures.ThreadPoolExecutor(2)
        THREADS.submit(pow, 2, 2).result()
        PROCESSES = concurrent.futures.ProcessPoolExecutor(1)
        if __name__ == "__main__":
            print(LOOP.run_until_complete(asyncio.sleep(0, "loop")), POLICY_LOOP.run_until_complete(asyncio.sleep(0, "policy")),
                  asyncio.get_event_loop_policy().get_event_loop() is POLICY_LOOP)
            print(THREADS.submit(pow, 2, 3).result(), PROCESSES.submit(pow, 2, 4).result())
            THREADS.shutdown(); PROCESSES.shutdown(); LOOP.close(); POLICY_LOOP.close()
    ''')
    cold = p.cold(check=True, timeout=120).stdout
    assert cold == "loop policy True\n8 16\n", cold
    env = {"AMBER_CACHE": str(tmp_path / "cache")}
    first = run([*AMBER, "run", "--wait", "-v", str(p.script)], cwd=p.dir, env=env, check=True, timeout=120)
    assert "built" in first.stderr and first.stdout == cold, first.stderr
    second = run([*AMBER, "run", "--wait", "-v", str(p.script)], cwd=p.dir, env=env, check=True, timeout=120)
    assert "built" not in second.stderr and second.stdout == cold


def test_process_exits_after_restore(program):
    """Executors captured by value register their exit hook in threading (imported again): the
    registration is made again, so the restored process joins its workers and exits."""
    p = program('''
        import concurrent.futures
        EX = concurrent.futures.ThreadPoolExecutor(2)
        if __name__ == "__main__":
            print(EX.submit(pow, 2, 5).result())   # a worker thread stays until interpreter exit
    ''')
    p.snapshot()
    r = run([*AMBER, "restore", str(p.image)], cwd=p.dir, timeout=60, check=True)
    assert r.stdout == "32\n"  # and it exited: a missed exit hook hangs at the end (the timeout)
