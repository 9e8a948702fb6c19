"""Scientific start-up with scipy: a curve fit on seeded synthetic data, a cubic spline, a sparse
system and a frozen distribution, all built before the main block evaluates them. Needs: scipy, numpy."""
import numpy as np
from scipy import integrate, interpolate, optimize, sparse, stats
from scipy.sparse.linalg import spsolve


def decay(t, a, k, c):
    return a * np.exp(-k * t) + c


rng = np.random.default_rng(1234)
T = np.linspace(0, 4, 50)
Y = decay(T, 2.5, 1.3, 0.5) + rng.normal(scale=0.02, size=T.size)
PARAMS, COV = optimize.curve_fit(decay, T, Y, p0=(1, 1, 0))
SPLINE = interpolate.CubicSpline(T, Y)
N = 200
LAPLACIAN = sparse.diags([-1, 2, -1], [-1, 0, 1], shape=(N, N), format="csr", dtype=float)
DIST = stats.norm(loc=10, scale=2)

if __name__ == "__main__":
    print("fit", np.round(PARAMS, 2), "stderr small:", bool(np.all(np.sqrt(np.diag(COV)) < 0.05)))
    print("spline", round(float(SPLINE(1.234)), 3), round(float(SPLINE.derivative()(1.0)), 2))
    x = spsolve(LAPLACIAN, np.ones(N))
    print("sparse", LAPLACIAN.nnz, round(float(x.max()), 1))
    print("stats", round(DIST.cdf(12), 4), round(DIST.ppf(0.975), 3), DIST.mean())
    area, _ = integrate.quad(lambda t: decay(t, *PARAMS), 0, 4)
    print("integral", round(area, 2))
    root = optimize.brentq(lambda t: decay(t, *PARAMS) - 1.0, 0, 4)
    print("root", round(root, 3))
