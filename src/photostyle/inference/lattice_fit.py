"""Fitting a lattice (a 3D LUT) to colour pairs by smooth least squares.

The lattice L (S, S, S, 3) minimises

    mean over pixels |L(input) - output|^2                    (L(.): trilinear interpolation)
    + smoothness * mean over nodes |Hessian of L|^2           (the thin-plate energy)
    + IDENTITY_WEIGHT * mean over nodes |L - identity|^2

The thin-plate energy is zero for every affine colour map, so where the photos have no
colours the lattice carries the nearby look on smoothly instead of bending back to the
identity; the tiny identity term only settles what nothing else does (the chroma of a LUT
fitted on grey photos). Its normal equations couple each node with its neighbours up to two
steps away: they are kept as a stencil, and solved by conjugate gradients preconditioned
with a multigrid V-cycle over the sizes 5, 9, 17, ... up to S, which takes a few tens of
steps at any size where plain conjugate gradients take thousands.
"""

import numpy as np

from photostyle.inference.lattice import CORNERS, trilinear_corners

IDENTITY_WEIGHT = 1e-6
TOLERANCE = 1e-4  # relative residual at which conjugate gradients stop: the lattice is then within ~1e-4
MAX_ITERATIONS = 500
COARSEST_SIZE = 5  # solved directly
SMOOTHING_SWEEPS = 2  # Jacobi sweeps before and after each coarse correction
# Steps (red, green, blue) from a node to the nodes its equation involves: the data term
# couples the 27 of a 3x3x3 block, the thin-plate energy reaches two steps along each axis.
_BLOCK = [(r, g, b) for b in (-1, 0, 1) for g in (-1, 0, 1) for r in (-1, 0, 1)]
OFFSETS = _BLOCK + [(-2, 0, 0), (2, 0, 0), (0, -2, 0), (0, 2, 0), (0, 0, -2), (0, 0, 2)]
_INDEX = {offset: index for index, offset in enumerate(OFFSETS)}
_PAD = 2


class Stencil:
    """A symmetric linear operator on lattices, the same for each channel: coefficients[o, b, g, r]
    weighs node (b, g, r) + OFFSETS[o] in the row of node (b, g, r) (zero where that node is off
    the lattice). It acts on channels-first lattices (3, S, S, S), whose rows of red are
    contiguous: several times faster to shift and multiply than (S, S, S, 3)."""

    def __init__(self, coefficients: np.ndarray):
        self.coefficients = coefficients  # (O, S, S, S)
        self.size = coefficients.shape[1]

    def __add__(self, other: "Stencil") -> "Stencil":
        return Stencil(self.coefficients + other.coefficients)

    def __call__(self, lattice: np.ndarray) -> np.ndarray:
        size, padded = self.size, np.pad(lattice, [(0, 0)] + [(_PAD, _PAD)] * 3)
        out, term = np.zeros_like(lattice), np.empty_like(lattice)
        for coefficients, (r, g, b) in zip(self.coefficients, OFFSETS):
            shifted = padded[:, _PAD + b : _PAD + b + size, _PAD + g : _PAD + g + size, _PAD + r : _PAD + r + size]
            out += np.multiply(coefficients, shifted, out=term)
        return out

    def diagonal(self) -> np.ndarray:
        return self.coefficients[_INDEX[(0, 0, 0)]]

    def absolute_row_sums(self) -> np.ndarray:
        """(S, S, S): sum of |coefficients| per row, the l1-Jacobi smoother's divisor (always convergent)."""
        return np.abs(self.coefficients).sum(axis=0)

    def dense(self) -> np.ndarray:
        """(S^3, S^3): the operator as a matrix, for the coarsest size."""
        size = self.size
        b, g, r = np.meshgrid(*[np.arange(size)] * 3, indexing="ij")
        matrix = np.zeros((size**3, size**3))
        for coefficients, (dr, dg, db) in zip(self.coefficients, OFFSETS):
            inside = np.all([(0 <= i + d) & (i + d < size) for i, d in ((b, db), (g, dg), (r, dr))], axis=0)
            rows = ((b * size + g) * size + r)[inside]
            matrix[rows, rows + (db * size + dg) * size + dr] = coefficients[inside]
        return matrix


def _band(matrix: np.ndarray, step: int) -> np.ndarray:
    """(S,): matrix[i, i + step], zero where i + step is off the end."""
    band = np.zeros(len(matrix))
    if abs(step) < len(matrix):
        rows = np.arange(max(0, -step), min(len(matrix), len(matrix) - step))
        band[rows] = matrix[rows, rows + step]
    return band


def kronecker_stencil(terms: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Stencil:
    """The sum of operators that each apply one (S, S) matrix along each axis (red, green,
    blue): Kronecker products, of matrices no wider than the stencil's offsets."""
    size = len(terms[0][0])
    coefficients = np.empty((len(OFFSETS), size, size, size))
    for index, (r, g, b) in enumerate(OFFSETS):
        coefficients[index] = sum(
            _band(blue, b)[:, None, None] * _band(green, g)[None, :, None] * _band(red, r)[None, None, :]
            for red, green, blue in terms
        )
    return Stencil(coefficients)


def thin_plate(size: int, weight: float) -> Stencil:
    """weight * the thin-plate energy's operator, sum over axes a, b of (D_a D_b)^T D_a D_b.

    Second differences are scaled to the colour domain 0..1 and averaged over the nodes, so
    that one weight means the same at every size.
    """
    first, second, eye = (np.diff(np.eye(size), n=n, axis=0) for n in (1, 2, 0))
    scale = weight * (size - 1) ** 4 / size**3
    laplacian, biharmonic = first.T @ first, scale * second.T @ second  # (S, S) each
    # D_a and D_b act on different axes, so (D_a D_b)^T D_a D_b = (D_a^T D_a)(D_b^T D_b).
    mixed = 2 * scale * laplacian
    return kronecker_stencil(
        [
            (biharmonic, eye, eye),
            (eye, biharmonic, eye),
            (eye, eye, biharmonic),
            (mixed, laplacian, eye),
            (mixed, eye, laplacian),
            (eye, mixed, laplacian),
        ]
    )


def data_term(inputs: np.ndarray, outputs: np.ndarray, weights: np.ndarray, size: int) -> tuple[Stencil, np.ndarray]:
    """The normal equations of the weighted mean of |L(input) - output|^2 over pairs (N, 3),
    written for the deviation L - identity: the operator A^T W A and the right-hand side
    A^T W (output - input) (3, S, S, S), where A interpolates a lattice at the inputs."""
    corners, corner_weights = trilinear_corners(inputs, size)  # (N, 8) each
    shares = corner_weights * (weights / weights.sum())[:, None]  # (N, 8)
    # The identity lattice interpolates every input to itself.
    residuals = outputs - inputs  # (N, 3)
    rhs = np.stack([np.bincount(corners.ravel(), (shares * residuals[:, c, None]).ravel(), size**3) for c in range(3)])
    coefficients = np.zeros((len(OFFSETS), size**3))
    for k, corner in enumerate(CORNERS):
        for other, neighbour in zip(corner_weights.T, CORNERS):
            offset = _INDEX[tuple(int(step) for step in neighbour - corner)]
            coefficients[offset] += np.bincount(corners[:, k], shares[:, k] * other, size**3)
    cube = (size, size, size)
    return Stencil(coefficients.reshape(-1, *cube)), rhs.reshape(3, *cube)


def _prolong(lattice: np.ndarray) -> np.ndarray:
    """(3, S, S, S) -> (3, 2S - 1, 2S - 1, 2S - 1) by trilinear interpolation."""
    for axis in (1, 2, 3):
        coarse = np.moveaxis(lattice, axis, 0)
        fine = np.empty((2 * len(coarse) - 1, *coarse.shape[1:]))
        fine[0::2], fine[1::2] = coarse, (coarse[:-1] + coarse[1:]) / 2
        lattice = np.moveaxis(fine, 0, axis)
    return lattice


def _restrict(lattice: np.ndarray) -> np.ndarray:
    """The transpose of _prolong: (3, 2S - 1, 2S - 1, 2S - 1) -> (3, S, S, S)."""
    for axis in (1, 2, 3):
        fine = np.moveaxis(lattice, axis, 0)
        coarse = fine[0::2].copy()
        coarse[:-1] += fine[1::2] / 2
        coarse[1:] += fine[1::2] / 2
        lattice = np.moveaxis(coarse, 0, axis)
    return lattice


class Multigrid:
    """A V-cycle over a hierarchy of operators, coarsest first (each size 2S - 1 of the one
    before), as a symmetric positive definite preconditioner for conjugate gradients."""

    def __init__(self, operators: list[Stencil]):
        self.operators = operators
        self.smoothing = [1.0 / operator.absolute_row_sums() for operator in operators]
        self.coarsest = np.linalg.inv(operators[0].dense())

    def __call__(self, residual: np.ndarray, level: int = -1) -> np.ndarray:
        level %= len(self.operators)
        if level == 0:
            return (residual.reshape(3, -1) @ self.coarsest).reshape(residual.shape)  # the inverse is symmetric
        operator, smoothing = self.operators[level], self.smoothing[level]
        correction = smoothing * residual
        for _ in range(SMOOTHING_SWEEPS - 1):
            correction += smoothing * (residual - operator(correction))
        correction += _prolong(self(_restrict(residual - operator(correction)), level - 1))
        for _ in range(SMOOTHING_SWEEPS):
            correction += smoothing * (residual - operator(correction))
        return correction


def conjugate_gradients(operator: Stencil, rhs: np.ndarray, preconditioner: Multigrid) -> tuple[np.ndarray, int]:
    """Solve operator(x) = rhs from x = 0: the solution and the iterations it took."""
    x = np.zeros_like(rhs)
    residual = rhs.copy()
    direction = preconditioner(residual)
    product = np.vdot(residual, direction)
    stop = TOLERANCE * np.linalg.norm(rhs)
    for iteration in range(MAX_ITERATIONS):
        if np.linalg.norm(residual) <= stop:
            return x, iteration
        image = operator(direction)
        step = product / np.vdot(direction, image)
        x += step * direction
        residual -= step * image
        preconditioned = preconditioner(residual)
        product, previous = np.vdot(residual, preconditioned), product
        direction = preconditioned + (product / previous) * direction
    return x, MAX_ITERATIONS


def level_sizes(size: int) -> list[int]:
    """The sizes of the hierarchy, coarsest first: 5, 9, 17, 33 for 33. Each halves the
    spacing of the one before, so a size above COARSEST_SIZE must be 2^k + 1."""
    sizes = [size]
    while sizes[-1] > COARSEST_SIZE:
        if (sizes[-1] - 1) % 2:
            raise ValueError(f"a lattice of size {size} has no coarser sizes down to {COARSEST_SIZE}; use 2^k + 1")
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes[::-1]


def fit_deviation(
    inputs: np.ndarray, outputs: np.ndarray, weights: np.ndarray, size: int, smoothness: float
) -> tuple[np.ndarray, int]:
    """The lattice's deviation from the identity (S, S, S, 3) that minimises the module's
    objective over pairs (N, 3) weighted by pixels (N,), and the iterations it took."""
    operators = []
    for level in level_sizes(size):
        data, rhs = data_term(inputs, outputs, weights, level)  # the last, finest rhs is the one solved for
        operator = data + thin_plate(level, smoothness)
        operator.diagonal()[...] += IDENTITY_WEIGHT / level**3
        operators.append(operator)
    deviation, iterations = conjugate_gradients(operators[-1], rhs, Multigrid(operators))
    return np.moveaxis(deviation, 0, -1), iterations  # (S, S, S, 3)
