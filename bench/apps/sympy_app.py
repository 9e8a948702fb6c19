"""App 4, a sympy workload: builds and simplifies expressions at start; then prints results."""

import os
import sys

import sympy
from sympy import Matrix, cos, exp, integrate, series, simplify, sin, symbols

x, y, z = symbols("x y z")
EXPRS = [simplify(sin(x) ** 2 + cos(x) ** 2), integrate(x ** 3 * exp(x), x), series(exp(x) * sin(x), x, 0, 8),
         simplify((x ** 3 - y ** 3) / (x - y)), sympy.factor(x ** 6 - y ** 6), integrate(1 / (1 + x ** 2), x)]
M = Matrix([[x, y, 1], [z, 1, x], [2, y, z]])
DET = M.det()


def main() -> None:
    for e in EXPRS:
        print(e)
    print(sympy.expand(DET), simplify(M.inv()[0, 0] * DET))
    if os.environ.get("AMBER_BENCH_HOLD"):  # the suite measures memory while it waits here
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
