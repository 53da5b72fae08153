"""The loss terms of Gatys et al. and Johnson et al., as small vectorised functions.

The normalisation differs from Gatys et al.: content and style terms are squared errors
relative to their target's mean square, so every layer starts near 1 whatever its scale
(relu4_1 Gram entries are ~300x relu1_1's) and the same weights serve both VGG19 weight
sets (Caffe's 0..255 input and torchvision's standardised one).
"""

import torch
from torch.nn import functional as F

from photostyle.baselines import at_quantiles


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C): mean outer product of the feature vectors.

    Normalised by H*W, so a training crop and the whole style image give comparable values.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / (h * w)


def masked_gram_matrices(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) features and (K, H0, W0) masks -> (K, C, C): one Gram matrix per mask.

    Each is the mask-weighted mean outer product, the masks resized to the layer's
    resolution, so an all-ones mask gives gram_matrix's value.
    """
    _, c, h, w = features.shape
    weights = F.interpolate(masks[:, None], size=(h, w), mode="area").flatten(1)  # (K, hw)
    flat = features.reshape(c, h * w)  # (C, hw)
    weighted = flat[None] * weights[:, None]  # (K, C, hw)
    return weighted @ flat.T / weights.sum(dim=1).clamp_min(1e-6)[:, None, None]


def relative_mse(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error divided by the target's mean square (a scale-free error)."""
    return F.mse_loss(value, target) / target.square().mean().clamp_min(1e-12)


def content_loss(output: dict[str, torch.Tensor], content: dict[str, torch.Tensor], layers: list[str]) -> torch.Tensor:
    """Sum over layers of the relative feature MSE between output and content."""
    return sum(relative_mse(output[name], content[name]) for name in layers)


def style_loss(output: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor], layer_weights: dict[str, float]) -> torch.Tensor:
    """Weighted sum over layers of the relative MSE between the output's Gram matrices and the style's.

    target_grams[name] is (1, C, C) or (B, C, C).
    """
    return sum(
        weight * relative_mse(gram_matrix(output[name]), target_grams[name].expand(output[name].shape[0], -1, -1))
        for name, weight in layer_weights.items()
    )


def sliced_colour_loss(colours: torch.Tensor, style_sorted: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Squared sliced Wasserstein distance between each photo's colour distribution and the
    style's, relative to the style's variance along the directions.

    colours (B, 3, N), channels first like colour.colour_statistics; style_sorted (D, M), the
    style's colours projected on directions (D, 3) and sorted along M. Each photo's
    projections, sorted, are compared with the style's at the same quantiles, so the whole
    distribution counts, not its first moments.
    """
    projected = (directions @ colours).sort(dim=-1).values  # (B, D, N)
    levels = (torch.arange(colours.shape[2], device=colours.device, dtype=colours.dtype) + 0.5) / colours.shape[2]
    target = at_quantiles(style_sorted, levels)  # (D, N)
    return (projected - target).square().mean() / style_sorted.var(dim=-1).mean().clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, (B, C, H, W) -> scalar."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.square().mean() + dx.square().mean()
