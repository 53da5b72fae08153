"""The lattice fit's normal equations against their definitions, and its solver against a dense solve."""

import numpy as np

from photostyle.inference import lattice_fit
from photostyle.inference.lattice import trilinear_corners
from photostyle.inference.lattice_fit import data_term, fit_deviation, thin_plate


def random_pairs(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    inputs = rng.random((count, 3)) * 0.6 + 0.2  # the cube's corners stay empty
    return inputs, np.clip(inputs**1.5 + rng.normal(0, 0.02, inputs.shape), 0, 1), rng.integers(1, 5, count) * 1.0


def test_thin_plate_energy_is_the_sum_of_squared_second_differences():
    size, weight = 6, 0.3
    lattice = np.random.default_rng(1).random((3, size, size, size))  # (3, S, S, S)
    energy = np.vdot(lattice, thin_plate(size, weight)(lattice))
    axes = (1, 2, 3)
    pure = sum(np.square(np.diff(lattice, n=2, axis=a)).sum() for a in axes)
    mixed = sum(np.square(np.diff(np.diff(lattice, axis=a), axis=b)).sum() for a in axes for b in axes if a != b)
    np.testing.assert_allclose(energy, weight * (size - 1) ** 4 / size**3 * (pure + mixed), rtol=1e-12)


def test_data_term_is_the_normal_equations_of_trilinear_interpolation():
    size = 4
    inputs, outputs, weights = random_pairs(200)
    operator, rhs = data_term(inputs, outputs, weights, size)
    corners, corner_weights = trilinear_corners(inputs, size)
    interpolation = np.zeros((len(inputs), size**3))  # A: lattice -> values at the inputs
    np.add.at(interpolation, (np.arange(len(inputs))[:, None], corners), corner_weights)
    shares = weights / weights.sum()
    np.testing.assert_allclose(operator.dense(), interpolation.T @ (shares[:, None] * interpolation), atol=1e-15)
    expected_rhs = interpolation.T @ (shares[:, None] * (outputs - inputs))  # (S^3, 3)
    np.testing.assert_allclose(rhs.reshape(3, -1).T, expected_rhs, atol=1e-15)


def test_multigrid_conjugate_gradients_match_a_dense_solve(monkeypatch):
    monkeypatch.setattr(lattice_fit, "TOLERANCE", 1e-10)
    size, smoothness = 9, 1e-4
    inputs, outputs, weights = random_pairs(3000, seed=2)
    deviation, iterations = fit_deviation(inputs, outputs, weights, size, smoothness)
    data, rhs = data_term(inputs, outputs, weights, size)
    matrix = (data + thin_plate(size, smoothness)).dense() + lattice_fit.IDENTITY_WEIGHT / size**3 * np.eye(size**3)
    expected = np.linalg.solve(matrix, rhs.reshape(3, -1).T)  # (S^3, 3)
    np.testing.assert_allclose(deviation.reshape(-1, 3), expected, atol=1e-7)
    assert iterations < 50
