"""How much of a restored heap does the program use? The measure lazy restore is built on.

    python bench/touched.py IMAGE [ARGS...]

Restores IMAGE the way ``amber restore`` does (an isolated interpreter on ``amber/_boot.py``'s
path), then counts the distinct code objects that run from the resume to the exit, against the
code objects the image holds. Prints one line, e.g. ``sympy_app.amber: 16,432 code objects in the
image, 812 ran after restore (4.9%)``. The program's own output goes to stdout as usual.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = r"""
import atexit, gc, sys, types
amber_src = sys.argv.pop(1)
sys.path.insert(0, amber_src)
from amber.restore import loader
sys.path.remove(amber_src)
path, args = sys.argv[1], sys.argv[2:]
manifest = loader.load(path, insecure=True)
in_image = {id(o.__code__) for o in gc.get_objects() if type(o) is types.FunctionType}
ran = set()

def count(frame, event, arg):
    if event == "call":
        ran.add(id(frame.f_code))

def report():
    sys.setprofile(None)
    used = len(ran & in_image)
    sys.stderr.write(f"@@touched {len(in_image)} {used}\n")

atexit.register(report)
sys.setprofile(count)
loader.resume(manifest, args)
"""


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python bench/touched.py IMAGE [ARGS...]")
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    p = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, src, *sys.argv[1:]], stderr=subprocess.PIPE,
                       text=True)
    line = next((x for x in p.stderr.splitlines() if x.startswith("@@touched")), None)
    if line is None:
        sys.exit(f"touched: the restore failed: {p.stderr.strip()[-300:]}")
    total, used = map(int, line.split()[1:])
    print(f"{os.path.basename(sys.argv[1])}: {total:,} functions' code objects in the image, {used:,} ran "
          f"after restore ({used / max(total, 1):.1%})")


if __name__ == "__main__":
    main()
