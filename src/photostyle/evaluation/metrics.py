"""Image-quality measures for comparing stylized photos (all on (1, 3, H, W) tensors in [0, 1])."""

import torch

from photostyle.colour import at_quantiles, srgb_to_lab
from photostyle.structure import grey_ssim_maps
from photostyle.training.loss import gram_matrix, style_loss
from photostyle.training.matting import WINDOW, fit_windows
from photostyle.training.vgg import VGG19Features

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
# Sliced Wasserstein: this many fixed random directions in CIELAB, compared at this many quantiles.
SLICES = 64
QUANTILES = 256
# Ridge of the local affine fit, on [0, 1] colours: small enough that a contrast boost
# (slopes > 1) costs nothing, large enough that a flat window of the content (JPEG noise
# of ~0.1%) cannot "explain" texture the output invented there.
AFFINE_RIDGE = 1e-6


def grey_ssim_terms(image: torch.Tensor, reference: torch.Tensor) -> tuple[float, float, float]:
    """Mean SSIM of the greyscale images, and the means of its two factors (see
    structure.grey_ssim_maps)."""
    luminance, contrast_structure = grey_ssim_maps(image, reference)
    return float((luminance * contrast_structure).mean()), float(luminance.mean()), float(contrast_structure.mean())


def grey_ssim(image: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean SSIM of the greyscale images (see grey_ssim_terms)."""
    return grey_ssim_terms(image, reference)[0]


class StyleDistance:
    """Sum over relu1_1..relu4_1 of the relative Gram-matrix error to one style photo."""

    def __init__(self, style: torch.Tensor, vgg: VGG19Features | None = None):
        self.vgg = vgg or VGG19Features(list(STYLE_LAYERS))
        with torch.no_grad():
            features = self.vgg(style)
        self.targets = {name: gram_matrix(features[name]) for name in STYLE_LAYERS}

    def __call__(self, image: torch.Tensor) -> float:
        with torch.no_grad():
            features = self.vgg(image)
        return float(style_loss(features, self.targets, dict.fromkeys(STYLE_LAYERS, 1.0)))


def colour_distance(image: torch.Tensor, style: torch.Tensor) -> float:
    """Sliced Wasserstein distance between the CIELAB colour distributions, in Lab units.

    The mean over SLICES fixed directions of the RMS difference between the two images'
    projected colours at QUANTILES evenly spaced quantiles; sizes may differ.
    """
    generator = torch.Generator().manual_seed(0)
    directions = torch.randn(SLICES, 3, generator=generator, dtype=torch.float64)
    directions /= directions.norm(dim=1, keepdim=True)  # (S, 3)
    levels = (torch.arange(QUANTILES, dtype=torch.float64) + 0.5) / QUANTILES

    def projected_quantiles(rgb: torch.Tensor) -> torch.Tensor:
        pixels = srgb_to_lab(rgb.double()).flatten(2)[0]  # (3, N)
        ordered = (directions @ pixels).sort(dim=1).values  # (S, N)
        return at_quantiles(ordered, levels)  # (S, QUANTILES)

    difference = projected_quantiles(image) - projected_quantiles(style)
    return float(difference.square().mean(dim=1).sqrt().mean())


def affine_residual(image: torch.Tensor, content: torch.Tensor) -> float:
    """The share of the image's local colour variance (3x3 windows) that no affine colour map
    of the content explains: 0 for a photo that is locally an affine recolouring of the
    content, about 0.5 or more for noise or painted texture. Sizes must match.
    """
    fit = fit_windows(content.double(), image.double(), WINDOW, AFFINE_RIDGE)
    return float(fit.unexplained.sum() / fit.variance.sum().clamp_min(1e-12))
