"""Photos as torch tensors: (1, 3, H, W) float32 RGB in [0, 1], the layout the losses and metrics take."""

from pathlib import Path

import numpy as np
import torch

from photostyle.images import read_photo


def to_tensor(rgb: np.ndarray, copy: bool = True) -> torch.Tensor:
    """(H, W, 3) array -> (1, 3, H, W) tensor: a contiguous copy, or with copy=False a view of
    the array (channels-last strides), as training reads its photos.

    The layout changes the float rounding of reductions such as the colour statistics, so
    training and evaluation each keep the one their measured figures were made with.
    """
    channels_first = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
    return channels_first.contiguous() if copy else channels_first


def to_array(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) array."""
    return image[0].permute(1, 2, 0).numpy()


def load(path: Path, max_side: int | None = None, copy: bool = True) -> torch.Tensor:
    """A photo (longer side capped at max_side) as a tensor (see to_tensor)."""
    return to_tensor(read_photo(path, max_side=max_side).rgb, copy)
