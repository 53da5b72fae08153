"""The matting Laplacian of Levin et al. (2008), as Luan et al.'s photorealism loss.

For a content image I and an output channel x, x^T L x sums over every 3x3 window w of I
the residual of the best affine fit x ~ a.I + b with a ridge eps |a|^2:

    |w| * (var_w(x) - cov_w(I, x)^T (cov_w(I) + eps / |w| * Id)^-1 cov_w(I, x))

so the loss is zero exactly when every window of the output is an affine colour map of
the content. This computes that dense form with 3x3 box filters in O(pixels), with no
sparse matrix, and matches the explicit sparse L (tests/test_matting.py).
"""

import torch
from torch.nn import functional as F

WINDOW = 3
WINDOW_PIXELS = WINDOW * WINDOW
# The 6 distinct entries of a symmetric 3x3 matrix, as (row, column) pairs.
_SYMMETRIC = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def _box(x: torch.Tensor) -> torch.Tensor:
    """Mean over every 3x3 window that fits inside the image: (B, C, H, W) -> (B, C, H-2, W-2)."""
    return F.avg_pool2d(x, WINDOW, stride=1)


def inverse_window_covariance(content: torch.Tensor, eps: float) -> torch.Tensor:
    """(cov_w(I) + eps/|w| Id)^-1 of every window as its 6 distinct entries: (B, 6, h, w).

    The entries follow _SYMMETRIC; float64, no gradient (only the output is optimised).
    """
    with torch.no_grad():
        image = content.double()
        mean = _box(image)  # (B, 3, h, w)
        cov = {(i, j): _box(image[:, i] * image[:, j]) - mean[:, i] * mean[:, j] for i, j in _SYMMETRIC}
        ridge = eps / WINDOW_PIXELS
        a, b, c = cov[0, 0] + ridge, cov[1, 1] + ridge, cov[2, 2] + ridge
        d, e, f = cov[0, 1], cov[0, 2], cov[1, 2]
        # Adjugate over determinant: closed form, elementwise, far faster than batched linalg.
        adjugate = [b * c - f * f, a * c - e * e, a * b - d * d, e * f - d * c, d * f - e * b, d * e - a * f]
        determinant = a * adjugate[0] + d * adjugate[3] + e * adjugate[4]
        return torch.stack(adjugate, dim=1) / determinant.unsqueeze(1)


def matting_laplacian_energy(content: torch.Tensor, output: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """sum_c x_c^T L(content) x_c per image, divided by the pixel count: shape (B,).

    content (B, 3, H, W) and output (B, C, H, W) in [0, 1]; gradients flow to `output` only.
    Computed in float64 and outside autocast: with eps = 1e-7 the window covariances are
    too ill-conditioned for float32, and the box-filter moments cancel heavily.
    """
    if content.shape[0] != output.shape[0] or content.shape[-2:] != output.shape[-2:]:
        raise ValueError(f"content {tuple(content.shape)} and output {tuple(output.shape)} differ in batch or size")
    height, width = content.shape[-2:]
    if height < WINDOW or width < WINDOW:
        return output.new_zeros(output.shape[0])
    with torch.autocast(output.device.type, enabled=False):
        inverse = inverse_window_covariance(content, eps)  # (B, 6, h, w)
        image, x = content.detach().double(), output.double()
        mean_image, mean_x = _box(image), _box(x)  # (B, 3, h, w), (B, C, h, w)
        # cov_w(I_i, x_c) for the three content channels i: each (B, C, h, w).
        cov = [_box(image[:, i : i + 1] * x) - mean_image[:, i : i + 1] * mean_x for i in range(3)]
        explained = sum(
            (1 if i == j else 2) * inverse[:, k : k + 1] * cov[i] * cov[j] for k, (i, j) in enumerate(_SYMMETRIC)
        )
        variance = _box(x * x) - mean_x * mean_x
        energy = WINDOW_PIXELS * (variance - explained).sum(dim=(1, 2, 3))
    return (energy / (height * width)).to(output.dtype)
