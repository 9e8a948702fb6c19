"""Snapshot and restore the bundled example, showing both timings (the README's first command).

Runs whole processes the way a user would: the cold program, ``amber snapshot``, then
``amber restore``; checks that the restored output equals the cold output. Bytecode caching is
left on for the cold run (PYTHONDONTWRITEBYTECODE is removed) so the comparison is fair.
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


def main() -> None:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, SCRIPT], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # warm-up: writes the .pyc files a user would have
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "service.amber")
        cold_ms, cold_out = timed([sys.executable, SCRIPT], env)
        snap_ms, _ = timed([*AMBER, "snapshot", "-o", image, SCRIPT], env)
        restore_ms, restored_out = timed([*AMBER, "restore", image], env)
        size = os.path.getsize(image)
    print()
    print(restored_out, end="")
    print()
    print(f"cold start      {cold_ms:8.0f} ms")
    print(f"amber snapshot  {snap_ms:8.0f} ms  (once; image {size / 1e6:.1f} MB)")
    print(f"amber restore   {restore_ms:8.0f} ms  ({cold_ms / restore_ms:.1f}x faster than cold)")
    if restored_out != cold_out:
        sys.exit("restored output differs from the cold output")
    print("restored output == cold output")


if __name__ == "__main__":
    main()
