"""Local affine colour fits, the matting Laplacian of Levin et al. (2008) built on them, and
the guided filter (He et al. 2010) that projects an image back onto them.

For a guide image I and a target channel x, every k x k window w gets the ridge-regressed
affine fit x ~ a.I + b, with a = (cov_w(I) + ridge Id)^-1 cov_w(I, x). What it leaves
unexplained is

    var_w(x) - a . cov_w(I, x)

and Levin et al.'s x^T L x is |w| times that, summed over the 3x3 windows with
ridge = eps / |w|: near zero when every window of x is an affine colour map of I (the ridge
leaves a remainder of the order of eps times the map's squared slope).
Everything here is dense box filters in O(pixels), with no sparse matrix, and matches the
explicit sparse L (tests/test_matting.py).
"""

from dataclasses import dataclass

import torch
from torch.nn import functional as F

WINDOW = 3
WINDOW_PIXELS = WINDOW * WINDOW
# The 6 distinct entries of a symmetric 3x3 matrix, as (row, column) pairs.
_SYMMETRIC = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))


def box_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over every window x window square inside the image: (B, C, H, W) -> (B, C, H-k+1, W-k+1)."""
    return F.avg_pool2d(x, window, stride=1)


def inverse_window_covariance(guide: torch.Tensor, window: int, ridge: float) -> torch.Tensor:
    """(cov_w(I) + ridge Id)^-1 of every window as its 6 distinct entries, (B, 6, h, w), in _SYMMETRIC order."""
    mean = box_mean(guide, window)  # (B, 3, h, w)
    cov = {(i, j): box_mean(guide[:, i] * guide[:, j], window) - mean[:, i] * mean[:, j] for i, j in _SYMMETRIC}
    a, b, c = cov[0, 0] + ridge, cov[1, 1] + ridge, cov[2, 2] + ridge
    d, e, f = cov[0, 1], cov[0, 2], cov[1, 2]
    # Adjugate over determinant: closed form, elementwise, far faster than batched linalg.
    adjugate = [b * c - f * f, a * c - e * e, a * b - d * d, e * f - d * c, d * f - e * b, d * e - a * f]
    determinant = a * adjugate[0] + d * adjugate[3] + e * adjugate[4]
    return torch.stack(adjugate, dim=1) / determinant.unsqueeze(1)


@dataclass
class WindowFit:
    """The best affine map guide -> target in every window (h = H - k + 1, w = W - k + 1)."""

    slopes: torch.Tensor  # (B, C, 3, h, w): target channel c ~ sum_i slopes[:, c, i] * guide_i + offsets[:, c]
    offsets: torch.Tensor  # (B, C, h, w)
    unexplained: torch.Tensor  # (B, C, h, w): var_w(target) minus what the fit explains
    variance: torch.Tensor  # (B, C, h, w): var_w(target)


def _moments(guide: torch.Tensor, target: torch.Tensor, window: int) -> tuple:
    """Window means of guide and target, cov_w(I_i, x) for each guide channel i, and var_w(x)."""
    mean_guide, mean_target = box_mean(guide, window), box_mean(target, window)  # (B, 3, h, w), (B, C, h, w)
    cov = [box_mean(guide[:, i : i + 1] * target, window) - mean_guide[:, i : i + 1] * mean_target for i in range(3)]
    variance = box_mean(target * target, window) - mean_target * mean_target
    return mean_guide, mean_target, cov, variance  # cov: three (B, C, h, w)


def fit_windows(guide: torch.Tensor, target: torch.Tensor, window: int, ridge: float) -> WindowFit:
    """Fit target (B, C, H, W) as an affine map of guide (B, 3, H, W) in every window; gradients flow to target only."""
    guide = guide.detach()
    with torch.no_grad():
        inverse = inverse_window_covariance(guide, window, ridge)  # (B, 6, h, w)
    full = [[inverse[:, _SYMMETRIC.index((min(i, j), max(i, j)))].unsqueeze(1) for j in range(3)] for i in range(3)]
    mean_guide, mean_target, cov, variance = _moments(guide, target, window)
    slopes = [sum(full[i][j] * cov[j] for j in range(3)) for i in range(3)]
    offsets = mean_target - sum(slopes[i] * mean_guide[:, i : i + 1] for i in range(3))
    unexplained = variance - sum(slopes[i] * cov[i] for i in range(3))
    return WindowFit(torch.stack(slopes, dim=2), offsets, unexplained, variance)


def matting_laplacian_energy(content: torch.Tensor, output: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """sum_c x_c^T L(content) x_c per image, divided by the pixel count: shape (B,).

    content (B, 3, H, W) in [0, 1], output (B, C, H, W) (training may pass it unclipped); gradients
    flow to `output` only.
    Computed in float64 and outside autocast: with eps = 1e-7 the window covariances are
    too ill-conditioned for float32, and the box-filter moments cancel heavily.
    """
    if content.shape[0] != output.shape[0] or content.shape[-2:] != output.shape[-2:]:
        raise ValueError(f"content {tuple(content.shape)} and output {tuple(output.shape)} differ in batch or size")
    height, width = content.shape[-2:]
    if height < WINDOW or width < WINDOW:
        return output.new_zeros(output.shape[0])
    with torch.autocast(output.device.type, enabled=False):
        image, x = content.detach().double(), output.double()
        with torch.no_grad():
            inverse = inverse_window_covariance(image, WINDOW, eps / WINDOW_PIXELS)  # (B, 6, h, w)
        _, _, cov, variance = _moments(image, x, WINDOW)
        # The explained variance as the quadratic form cov^T inverse cov over the 6 distinct
        # entries: the energy needs only that product, so the slopes fit_windows forms are skipped.
        explained = sum(
            (1 if i == j else 2) * inverse[:, k : k + 1] * cov[i] * cov[j] for k, (i, j) in enumerate(_SYMMETRIC)
        )
        energy = WINDOW_PIXELS * (variance - explained).sum(dim=(1, 2, 3))
    return (energy / (height * width)).to(output.dtype)


def guided_filter(guide: torch.Tensor, image: torch.Tensor, radius: int, ridge: float) -> torch.Tensor:
    """He et al.'s colour-guided filter: image (B, C, H, W) replaced by the average, at every
    pixel, of the affine maps of guide (B, 3, H, W) fitted in the windows that cover it.

    The result is locally an affine colour map of the guide, so it has the guide's edges and
    none of the image's own (halos, blotches, noise); `ridge` (on [0, 1] colours) limits how
    steep a map may be, so larger values smooth more. Computed in float64 with reflected borders.
    """
    window = 2 * radius + 1
    pad = min(radius, guide.shape[-2] - 1, guide.shape[-1] - 1)  # reflection needs pad < size
    window = min(window, 2 * pad + 1)
    padded_guide = F.pad(guide.double(), (pad,) * 4, mode="reflect")
    fit = fit_windows(padded_guide, F.pad(image.double(), (pad,) * 4, mode="reflect"), window, ridge)
    # Average the fits of every window covering a pixel: (B, C, 3, H, W) and (B, C, H, W).
    b, c, _, h, w = fit.slopes.shape
    slopes = box_mean(F.pad(fit.slopes.reshape(b, c * 3, h, w), (pad,) * 4, mode="reflect"), window).reshape(
        b, c, 3, h, w
    )
    offsets = box_mean(F.pad(fit.offsets, (pad,) * 4, mode="reflect"), window)
    return ((slopes * guide.double().unsqueeze(1)).sum(dim=2) + offsets).to(image.dtype)
