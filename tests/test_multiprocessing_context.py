"""``amber.multiprocessing.get_context()`` (issue 14): workers restored from the image, for real.

A restored program's ProcessPoolExecutor, multiprocessing.Pool and Process with this context
get workers that are fresh restores of its image: start-up does not run again in them (spawn's
workers would run it), each has its own random state (fork's would share numpy's), and the
results are a cold run's. In a cold run the context is spawn's, so the program works either way.
"""

import os

import pytest
from conftest import AMBER, run

pytest.importorskip("numpy")

PROGRAM = '''
import concurrent.futures, multiprocessing, os, random, sys, time
import amber, amber.multiprocessing
import numpy

with open(os.environ["STARTUPS"], "a") as f:  # one line per run of start-up
    f.write("start-up\\n")
SQUARES = {i: i * i for i in range(50_000)}
FIRST = []


def first_draws():
    FIRST.append((random.random(), float(numpy.random.random())))


def work(i):
    time.sleep(0.2)  # long enough that every worker takes a task
    return SQUARES[i], os.getpid(), FIRST[0]


def put(queue, i):
    queue.put(SQUARES[i] + 1)


if __name__ == "__main__":
    ctx = amber.multiprocessing.get_context()
    with concurrent.futures.ProcessPoolExecutor(3, mp_context=ctx, initializer=first_draws) as pool:
        results = list(pool.map(work, [3, 5, 7, 9, 11, 13]))
    pids = {pid for _, pid, _ in results}
    draws = {pid: first for _, pid, first in results}
    print([r[0] for r in results], ctx.get_start_method())
    print(len(pids) == 3, len({d[0] for d in draws.values()}) == 3, len({d[1] for d in draws.values()}) == 3)
    with ctx.Pool(2) as mp_pool:
        print(mp_pool.map(SQUARES.get, [2, 4]))
    queue = ctx.Queue()
    p = ctx.Process(target=put, args=(queue, 6))
    p.start()
    print(queue.get(timeout=60))
    p.join()
    print(p.exitcode)
'''


def test_workers_are_restored_from_the_image(program, tmp_path):
    p = program(PROGRAM)
    startups = tmp_path / "startups"
    env = {"STARTUPS": str(startups)}
    p.snapshot(env=env)
    assert startups.read_text() == "start-up\n"
    r = run([*AMBER, "restore", str(p.image)], cwd=p.dir, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[9, 25, 49, 81, 121, 169] amber\nTrue True True\n[4, 16]\n37\n0\n", r.stdout
    assert startups.read_text() == "start-up\n"  # no worker ran start-up again
    startups.unlink()
    cold = p.cold(env=env)
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.replace("spawn", "amber") == r.stdout  # the same program, under spawn
    assert startups.read_text().count("start-up") > 1  # spawn's workers run start-up again


def test_workers_come_from_a_pool_of_the_image_when_one_runs(program, tmp_path):
    import pathlib

    p = program(PROGRAM)
    startups = tmp_path / "startups"
    env = {"STARTUPS": str(startups)}
    p.snapshot(env=env)
    plain = run([*AMBER, "restore", "--no-pool", str(p.image)], cwd=p.dir, env=env)
    run([*AMBER, "pool", "start", str(p.image)], env=env, check=True)
    try:
        r = run([*AMBER, "restore", "--no-pool", str(p.image)], cwd=p.dir, env=env)
        assert r.returncode == 0 and r.stdout == plain.stdout, (r.stdout, r.stderr)
        record = next(pathlib.Path(os.environ["AMBER_POOL_DIR"]).glob("*.pool")).read_text()
        assert "served=6\n" in record, record  # 3 executor workers, 2 of the Pool, 1 Process
    finally:
        run([*AMBER, "pool", "stop", str(p.image)])
    assert startups.read_text() == "start-up\n"


def test_a_worker_that_fails_is_reported_as_under_spawn(program, tmp_path):
    p = program('''
        import concurrent.futures, amber, amber.multiprocessing

        def boom(i):
            raise ValueError(f"task {i}")

        if __name__ == "__main__":
            ctx = amber.multiprocessing.get_context()
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                try:
                    pool.submit(boom, 4).result()
                except ValueError as e:
                    print("raised", e)
            p = ctx.Process(target=boom, args=(5,))
            p.start()
            p.join()
            print(p.exitcode)
    ''')
    p.snapshot()
    r = p.restore()
    assert r.stdout == "raised task 4\n1\n", (r.stdout, r.stderr)
    assert "ValueError: task 5" in r.stderr
    assert os.path.exists(p.image)
