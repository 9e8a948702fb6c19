"""Run the bundled example with ``amber run`` twice, showing the timings (the README's first command).

Runs whole processes the way a user would: the program cold with ``python``, then ``amber run``
twice: the first run runs the program normally while a background fork writes (and verifies)
the image, the second, once the image is there, restores from it. Then ``amber snapshot`` and
``amber restore`` by hand. Checks that every output equals the cold output. Bytecode caching
is left on (PYTHONDONTWRITEBYTECODE is removed) so the comparison is fair; the image cache is a
temporary directory.
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "service.py")
AMBER = [sys.executable, "-m", "amber"]


def timed(cmd: list, env: dict) -> tuple[float, str]:
    print("$", " ".join(os.path.relpath(c) if c.startswith(HERE) else c for c in cmd))
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    return (time.perf_counter() - t0) * 1000, out


def wait_for_image(cache: str, limit: float = 600.0) -> float:
    """Seconds until the first run's background build has put an image into the cache."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        if any(name.endswith(".amber") for _dir, _subdirs, names in os.walk(cache) for name in names):
            return time.perf_counter() - t0
        time.sleep(0.1)
    sys.exit(f"no image in {cache} after {limit:.0f} s")


def main() -> None:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, SCRIPT], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # warm-up: writes the .pyc files a user would have
    with tempfile.TemporaryDirectory() as tmp:
        env["AMBER_CACHE"] = os.path.join(tmp, "cache")
        image = os.path.join(tmp, "service.amber")
        cold_ms, cold_out = timed([sys.executable, SCRIPT], env)
        first_ms, first_out = timed([*AMBER, "run", SCRIPT], env)
        build_s = wait_for_image(env["AMBER_CACHE"])
        second_ms, second_out = timed([*AMBER, "run", SCRIPT], env)
        snap_ms, _ = timed([*AMBER, "snapshot", "-o", image, SCRIPT], env)
        restore_ms, restored_out = timed([*AMBER, "restore", image], env)
        size = os.path.getsize(image)
    print()
    print(second_out, end="")
    print()
    print(f"python service.py           {cold_ms:8.0f} ms  (cold start)")
    print(f"amber run service.py        {first_ms:8.0f} ms  (first run: runs it; the image, "
          f"{size / 1e6:.1f} MB, was ready {build_s:.1f} s later)")
    print(f"amber run service.py        {second_ms:8.0f} ms  (restored from the image: "
          f"{cold_ms / second_ms:.1f}x faster than cold)")
    print(f"amber snapshot / restore    {snap_ms:8.0f} / {restore_ms:.0f} ms  (the same, by hand)")
    if not cold_out == first_out == second_out == restored_out:
        sys.exit("an output differs from the cold output")
    print("every output == the cold output")


if __name__ == "__main__":
    main()
