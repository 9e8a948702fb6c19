"""App 5, a numpy/data app: loads a 512 MB array (64 MB with AMBER_BENCH_SIZE=quick) and some
tables at start; then answers one query. The array is read from a generated .npy file, as a
service loads a model or an index, so the cold start pays the read (from the page cache)."""

import os
import sys
import tempfile

import numpy as np
import pandas as pd

MB = 64 if os.environ.get("AMBER_BENCH_SIZE") == "quick" else 512
DATA = os.path.join(tempfile.gettempdir(), f"amber-bench-{MB}mb.npy")
if not os.path.exists(DATA):  # made once; later starts (cold ones too) just load it
    tmp = DATA + f".{os.getpid()}"
    np.save(tmp, np.random.default_rng(0).standard_normal(MB * 2 ** 20 // 8).reshape(-1, 1024))
    os.replace(tmp + ".npy", DATA)
WEIGHTS = np.load(DATA)
TABLE = pd.DataFrame({"id": np.arange(50_000), "group": np.arange(50_000) % 97,
                      "value": np.linspace(0.0, 1.0, 50_000)})
SUMMARY = TABLE.groupby("group")["value"].agg(["mean", "max"])


def main() -> None:
    row = WEIGHTS[1234]
    print(WEIGHTS.shape, round(float(row @ row), 6), round(float(SUMMARY.loc[42, "mean"]), 6), flush=True)
    if os.environ.get("AMBER_BENCH_HOLD"):  # the suite measures memory while it waits here
        sys.stdin.read()


if __name__ == "__main__":
    main()
