"""``cd bench && python -m peers APP [PEER ...]``: try the peers on one app by hand."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from . import PEERS, Unavailable
from .common import TRIAL_TIMEOUT_S


def main() -> None:
    import argparse
    import statistics

    parser = argparse.ArgumentParser(description="Try the peers on one app by hand.")
    parser.add_argument("app")
    parser.add_argument("peers", nargs="*", help=f"some of {sorted(PEERS)} (default: all)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--fast-exit", action="store_true", help="dill and CRIU copies end with os._exit")
    args = parser.parse_intermixed_args()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    app = os.path.abspath(args.app)
    cold = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        p = subprocess.run([args.python, app], env=env, cwd=os.path.dirname(app), capture_output=True,
                           text=True, timeout=TRIAL_TIMEOUT_S)
        cold.append((time.perf_counter() - t0) * 1000)
    if p.returncode != 0:
        raise SystemExit(f"cold run failed: {p.stderr}")
    print(f"{'cold':30s} median {statistics.median(cold):8.1f} ms")
    for key in args.peers or list(PEERS):
        kw = {"fast_exit": True} if args.fast_exit and key != "zygote" else {}
        with PEERS[key](app, args.python, p.stdout, env, **kw) as peer:
            try:
                peer.prepare()
            except Unavailable as e:
                print(f"{peer.name:30s} unavailable: {e}")
                continue
            times = [peer.trial() for _ in range(args.runs)]
            print(f"{peer.name:30s} median {statistics.median(times):8.1f} ms  "
                  f"min {min(times):7.1f}  max {max(times):7.1f}  {peer.extra}")


if __name__ == "__main__":
    main()
