"""App 8, a scipy workload: at start-up, a dense 1,200 x 1,200 system is LU-factorised, a sparse
2-D Poisson matrix (200 x 200 grid) assembled, a cubic spline fitted to 100,000 samples and a
k-d tree built on 100,000 points (a simulation or a geo service that prepares its solvers and
indexes); then it answers one solve, one sparse product, one interpolation and one
nearest-neighbour query. (A sparse ``splu`` factorisation is not used: its SuperLU object
cannot be saved, and Amber refuses it with its path; see the README's limits.)"""

import numpy as np
from scipy import interpolate, linalg, sparse, spatial

N = 1_200
_rng = np.random.default_rng(0)
SYSTEM = _rng.random((N, N)) + N * np.eye(N)
LU = linalg.lu_factor(SYSTEM)
G = 200
_one = sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(G, G))
LAPLACIAN = (sparse.kron(sparse.identity(G), _one) + sparse.kron(_one, sparse.identity(G))).tocsr()
_t = np.linspace(0.0, 10.0, 100_000)
SPLINE = interpolate.CubicSpline(_t, np.sin(_t) * np.exp(-_t / 5))
TREE = spatial.cKDTree(_rng.random((100_000, 3)))


def main() -> None:
    x = linalg.lu_solve(LU, np.ones(N))
    flux = LAPLACIAN @ np.ones(G * G)
    dist, idx = TREE.query([0.5, 0.5, 0.5])
    print(round(float(x.sum()), 6), float(flux.sum()), round(float(SPLINE(3.3)), 6), int(idx),
          round(float(dist), 6), flush=True)


if __name__ == "__main__":
    main()
