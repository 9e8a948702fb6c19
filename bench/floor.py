"""The floor of a restore (issue 13, section 1): what no restore of an image can avoid.

A restored process must start an interpreter (isolated, without ``site``: as the restoring one
starts) and initialise again every extension module the image imports again, because their
state lives in C. Everything else a restore does (Amber's own path, the Python modules it
imports again, rebuilding the heap) is Amber's share and could in principle go.

The interpreter's start is timed with the other contenders (``python -I -S -c pass``, in the
interleaved runs). The extension modules' initialisation is measured on its own here: a fresh
``python -X importtime`` imports what the image imports again, and the *self* time of each
extension module in its report is that module's own initialisation, the Python modules it
imports while it initialises excluded (they are Python, not the floor). The median over runs
of the sum, in ms, is added to the interpreter's start to give the floor.

    python bench/floor.py MODULE...     prints the extension modules' initialisation, ms
"""

from __future__ import annotations

import statistics
import subprocess
import sys

# Runs in the measured interpreter: import each module (one that fails is skipped, as the
# image would not have it either), then name the extension and built-in modules now loaded.
_PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
for name, mod in list(sys.modules.items()):
    spec = getattr(mod, "__spec__", None)
    origin = getattr(spec, "origin", None) or ""
    if origin == "built-in" or origin.endswith((".so", ".pyd")):
        print(name)
"""


def extension_init_ms(py: str, modules: list, env: dict, cwd: str, runs: int = 5) -> tuple[float, int]:
    """(median ms the extension modules among ``modules`` and their imports spend initialising,
    how many extension modules that is), measured in ``runs`` fresh processes."""
    sums, count = [], 0
    for _ in range(runs):
        p = subprocess.run([py, "-X", "importtime", "-c", _PROBE, *modules], env=env, cwd=cwd,
                           capture_output=True, text=True)
        extensions = set(p.stdout.split())
        total = 0
        seen = set()
        for line in p.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            fields = line[len("import time:"):].split("|")
            self_us, name = int(fields[0]), fields[2].strip()
            if name in extensions and name not in seen:
                seen.add(name)
                total += self_us
        sums.append(total / 1000)
        count = len(seen)
    return statistics.median(sums), count


if __name__ == "__main__":
    ms, n = extension_init_ms(sys.executable, sys.argv[1:], None, None)  # type: ignore[arg-type]
    print(f"{n} extension modules initialise in {ms:.1f} ms")
