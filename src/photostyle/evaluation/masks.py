"""Semantic masks as in Deep Photo Style Transfer: colour label images, snapped to a palette."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photostyle.errors import PhotostyleError
from photostyle.images import read_photo

# The label colours of Luan et al.'s masks. Drawn masks have soft, anti-aliased edges, so
# every pixel is snapped to the nearest of these.
PALETTE = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "light blue": (0, 255, 255),
    "purple": (255, 0, 255),
}
# A label must cover this share of the style photo to lend it a style.
MIN_STYLE_SHARE = 0.005


def read_labels(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A label image as palette indices, (H, W) long, resized (nearest) to size = (H, W)."""
    rgb = read_photo(path).rgb * 255  # (h, w, 3)
    palette = np.array(list(PALETTE.values()), dtype=np.float32)  # (P, 3)
    nearest = ((rgb[:, :, None, :] - palette) ** 2).sum(-1).argmin(-1).astype(np.uint8)  # (h, w)
    resized = Image.fromarray(nearest).resize((size[1], size[0]), Image.Resampling.NEAREST)
    return torch.from_numpy(np.asarray(resized, dtype=np.int64))


def shared_masks(content_labels: torch.Tensor, style_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One (K, H, W) float mask per label present in both images, for the content and the style.

    A content region whose label the style lacks gets no style loss, as in DPST.
    """
    content_ids = set(content_labels.unique().tolist())
    style_ids = {i for i in style_labels.unique().tolist() if (style_labels == i).float().mean() >= MIN_STYLE_SHARE}
    shared = sorted(content_ids & style_ids)
    if not shared:
        names = list(PALETTE)
        raise PhotostyleError(
            f"the masks share no label (content: {sorted(names[i] for i in content_ids)}, style: "
            f"{sorted(names[i] for i in style_ids)}); paint matching regions in the same palette colour"
        )
    return (
        torch.stack([(content_labels == i).float() for i in shared]),
        torch.stack([(style_labels == i).float() for i in shared]),
    )
