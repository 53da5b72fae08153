"""Grey-level SSIM (Wang et al. 2004) as maps: the structure the evaluation measures and the
training loss's structure term protects, computed one way for both."""

import torch
from torch.nn import functional as F

# Rec. 601 luma weights, as in the usual greyscale SSIM.
LUMA = (0.299, 0.587, 0.114)
SSIM_WINDOW = 7
# Wang et al.'s constants for values in [0, 1]: (0.01 L)^2 and (0.03 L)^2 with L = 1.
C1, C2 = 0.01**2, 0.03**2


def grey_ssim_maps(image: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM's two factors over 7x7 uniform windows of the greyscale images, (B, 3, H, W) each
    -> two (B, 1, H - 6, W - 6) maps: the luminance term (local mean brightness kept; a tone
    change lowers it) and the contrast-structure term (local detail kept, whatever the
    brightness). Their product is the SSIM map.

    In float32 at least, even for bf16 inputs (training under autocast): the window variances
    are differences of means of squares, which bf16's 8-bit mantissa would drown."""
    dtype = torch.promote_types(image.dtype, torch.float32)
    image, reference = image.to(dtype), reference.to(dtype)
    weights = torch.tensor(LUMA, dtype=dtype, device=image.device).view(1, 3, 1, 1)
    a, b = (image * weights).sum(1, keepdim=True), (reference * weights).sum(1, keepdim=True)
    mean_a, mean_b = F.avg_pool2d(a, SSIM_WINDOW, 1), F.avg_pool2d(b, SSIM_WINDOW, 1)
    var_a = F.avg_pool2d(a * a, SSIM_WINDOW, 1) - mean_a**2
    var_b = F.avg_pool2d(b * b, SSIM_WINDOW, 1) - mean_b**2
    cov = F.avg_pool2d(a * b, SSIM_WINDOW, 1) - mean_a * mean_b
    luminance = (2 * mean_a * mean_b + C1) / (mean_a**2 + mean_b**2 + C1)
    contrast_structure = (2 * cov + C2) / (var_a + var_b + C2)
    return luminance, contrast_structure
