"""`--post`: pull any method's output back towards a locally affine colour map of its content.

The guided filter with the content as guide (the fast stand-in for FastPhotoStyle's
matting-affinity smoothing): halos, blotches and painted texture that the content has no
edge for are averaged away, while the content's own edges stay sharp.
"""

import numpy as np
import torch

from photostyle.training.matting import guided_filter
from photostyle.training.tensors import to_array, to_tensor

# Window radius at a longer side of 512 pixels (scaled with the image, so the effect looks
# the same at any size) and the ridge on [0, 1] colours (larger = smoother colour maps).
RADIUS_AT_512 = 4
RIDGE = 1e-4


def post_process(content: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """content and output (1, 3, H, W) in [0, 1] -> the smoothed output, same shape."""
    radius = max(1, round(RADIUS_AT_512 * max(content.shape[-2:]) / 512))
    return guided_filter(content, output, radius, RIDGE).clamp(0, 1)


def post_process_rgb(content: np.ndarray, output: np.ndarray) -> np.ndarray:
    """The same on (H, W, 3) float arrays."""
    return to_array(post_process(to_tensor(content), to_tensor(output)))
