"""Colour maths: sRGB <-> CIELAB (D65) on (B, 3, H, W) tensors (sRGB in [0, 1], L in
[0, 100]), the affine map that gives one photo's RGB mean and covariance to another, and
reading sorted colour distributions at quantiles.
"""

import torch

from photostyle.colour_difference import D65_WHITE, SRGB_TO_XYZ

_RGB_TO_XYZ = torch.tensor(SRGB_TO_XYZ, dtype=torch.float64)
_WHITE = torch.tensor(D65_WHITE, dtype=torch.float64)
_DELTA = 6 / 29


def _channels(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", matrix.to(image), image)


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0) + 0.055) / 1.055) ** 2.4)
    xyz = _channels(_RGB_TO_XYZ, linear) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _DELTA**3, xyz.clamp_min(_DELTA**3) ** (1 / 3), xyz / (3 * _DELTA**2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """The inverse of srgb_to_lab, clipped to [0, 1] (Lab holds colours sRGB cannot show)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f > _DELTA, f**3, 3 * _DELTA**2 * (f - 4 / 29)) * _WHITE.to(lab).view(1, 3, 1, 1)
    linear = _channels(torch.linalg.inv(_RGB_TO_XYZ), xyz).clamp(0, 1)
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).clamp(0, 1)


def colour_statistics(colours: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, N) colours (an image's channels, flattened) -> their mean (B, 3) and covariance (B, 3, 3).

    Channels first, as images are laid out: with the 3 innermost, onnxruntime's broadcasts
    and transposes over a thumbnail cost several times more than the rest of the map.
    """
    mean = colours.mean(dim=2)
    centred = colours - mean[:, :, None]
    return mean, centred @ centred.transpose(1, 2) / colours.shape[2]


def square_roots(matrix: torch.Tensor, iterations: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """A^(1/2) and A^(-1/2) of symmetric positive definite (..., 3, 3) matrices.

    Coupled Newton-Schulz iterations (matrix products only, so they export to ONNX, which
    has no eigendecomposition). Scaled by the trace, every eigenvalue lies in (0, 1], where
    the iteration converges; in float64, 30 steps give A^(-1/2) to better than 1e-6
    (relative) up to a condition number of 1e9.
    """
    eye = torch.eye(3, dtype=matrix.dtype, device=matrix.device).expand_as(matrix)
    scale = matrix.diagonal(dim1=-2, dim2=-1).sum(-1)[..., None, None]  # (..., 1, 1) trace
    root, inverse_root = matrix / scale, eye
    for _ in range(iterations):
        step = 0.5 * (3 * eye - inverse_root @ root)
        root, inverse_root = root @ step, step @ inverse_root
    return root * scale.sqrt(), inverse_root / scale.sqrt()


def covariance_transfer(
    content_mean: torch.Tensor,
    content_covariance: torch.Tensor,
    style_mean: torch.Tensor,
    style_covariance: torch.Tensor,
    strength: float = 1.0,
    ridge: float = 1e-4,
) -> torch.Tensor:
    """(B, 4, 3) matrices M, rgb' = [r, g, b, 1] @ M, that give the content the style's colour mean and covariance.

    Content statistics are (B, 3) and (B, 3, 3); the style's the same, or one (3,) and
    (3, 3) for every photo. The linear map is the one that moves colours least while doing
    so (the Monge-Kantorovich solution for Gaussians, as in Pitie and Kokaram 2007): the
    symmetric positive definite A with A C A = S, A = S^1/2 (S^1/2 C S^1/2)^-1/2 S^1/2.
    In that form the style's root is a constant of a style model (onnxruntime works it out
    once, when it loads the model), so each photo costs one root. The middle matrix is as
    ill-conditioned as C and S together (a black-and-white photo and style: ~1e8), beyond
    float32, so the roots are taken in float64. `ridge` adds a little variance to both, so
    that a nearly flat channel is not stretched without bound; `strength` blends the map
    with the identity.
    """
    dtype = content_covariance.dtype
    eye = torch.eye(3, dtype=torch.float64, device=content_covariance.device)
    style_root, _ = square_roots(style_covariance.double() + ridge * eye)
    _, inverse_middle = square_roots(style_root @ (content_covariance.double() + ridge * eye) @ style_root)
    linear = (strength * (style_root @ inverse_middle @ style_root) + (1 - strength) * eye).to(
        dtype
    )  # (B, 3, 3), symmetric
    target_mean = strength * style_mean + (1 - strength) * content_mean  # (B, 3)
    offset = target_mean - (content_mean[:, None] @ linear)[:, 0]  # (B, 3)
    return torch.cat([linear, offset[:, None]], dim=1)


def transfer_to_style(
    colours: torch.Tensor, style_mean: torch.Tensor, style_covariance: torch.Tensor, strength: float
) -> torch.Tensor:
    """covariance_transfer's (B, 4, 3) maps from each photo's colours (B, 3, N) to one style's
    mean (3,) and covariance (3, 3)."""
    return covariance_transfer(*colour_statistics(colours), style_mean, style_covariance, strength)


def apply_affine(colours: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """[r, g, b, 1] @ M for colours (B, 3, N) and one map (B, 4, 3) per photo."""
    return maps[:, :3].transpose(1, 2) @ colours + maps[:, 3:].transpose(1, 2)


def at_quantiles(ordered: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Values sorted along the last dimension, read at quantiles in [0, 1] by linear interpolation."""
    position = quantiles * (ordered.shape[-1] - 1)
    low = position.floor().long()
    high = (low + 1).clamp_max(ordered.shape[-1] - 1)
    weight = (position - low).to(ordered.dtype)
    return ordered[..., low] * (1 - weight) + ordered[..., high] * weight
