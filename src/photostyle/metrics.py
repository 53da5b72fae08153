"""Image-quality measures for comparing stylized photos (all on (1, 3, H, W) tensors in [0, 1])."""

import torch
from torch.nn import functional as F

from photostyle.losses import gram_matrix, relative_mse
from photostyle.vgg import VGG19Features

# Rec. 601 luma weights, as in the usual greyscale SSIM.
LUMA = (0.299, 0.587, 0.114)
SSIM_WINDOW = 7
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def grey_ssim(image: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean SSIM (Wang et al. 2004; 7x7 uniform windows) of the greyscale images."""
    weights = torch.tensor(LUMA, dtype=image.dtype).view(1, 3, 1, 1)
    a, b = (image * weights).sum(1, keepdim=True), (reference * weights).sum(1, keepdim=True)  # (1, 1, H, W)
    mean_a, mean_b = F.avg_pool2d(a, SSIM_WINDOW, 1), F.avg_pool2d(b, SSIM_WINDOW, 1)
    var_a = F.avg_pool2d(a * a, SSIM_WINDOW, 1) - mean_a**2
    var_b = F.avg_pool2d(b * b, SSIM_WINDOW, 1) - mean_b**2
    cov = F.avg_pool2d(a * b, SSIM_WINDOW, 1) - mean_a * mean_b
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)) / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim.mean())


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
        return float(sum(relative_mse(gram_matrix(features[n]), self.targets[n]) for n in STYLE_LAYERS))
