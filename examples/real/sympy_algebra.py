"""Builds and simplifies sympy expressions at start-up; prints them after the snapshot point.
Needs: sympy."""
import sympy
from sympy import symbols, sin, cos, exp, simplify, integrate, series, Matrix
x, y, z = symbols("x y z")
EXPRS = [simplify(sin(x)**2 + cos(x)**2), integrate(x**3 * exp(x), x), series(exp(x) * sin(x), x, 0, 6)]
M = Matrix([[x, y], [z, 1]])
if __name__ == "__main__":
    for e in EXPRS:
        print(e)
    print(M.det(), M.inv()[0, 0])
    print(simplify((x**2 - 1)/(x - 1)), sympy.factor(x**4 - y**4))
