"""Photos as torch tensors: (1, 3, H, W) float32 RGB in [0, 1], the layout the losses and metrics take."""

from pathlib import Path

import numpy as np
import torch

from photostyle.images import read_photo


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) array -> (1, 3, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()


def to_array(image: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) array."""
    return image[0].permute(1, 2, 0).numpy()


def load(path: Path, max_side: int | None = None) -> torch.Tensor:
    """A photo (longer side capped at max_side) as a tensor."""
    return to_tensor(read_photo(path, max_side=max_side).rgb)
