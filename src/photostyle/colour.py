"""sRGB <-> CIELAB (D65) on (B, 3, H, W) tensors; sRGB in [0, 1], L in [0, 100]."""

import torch

_RGB_TO_XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                            [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float64)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)
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
