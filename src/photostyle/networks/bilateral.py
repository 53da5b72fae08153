"""A photoreal-by-construction network (after HDRNet, Gharbi et al. 2017).

A small network looks at a fixed-size thumbnail and predicts a bilateral grid of 3x4 affine
colour transforms; every pixel's output is the transform sliced from the grid at its position
(and, with more than one bin, at its learned grey level, one linear map of its colour) applied
to its own colour. Nothing at full resolution can move an edge or invent texture, which is
why it stays a photograph, and the full-resolution work is a few cheap passes, which is why
it is fast.
"""

import torch
from torch import nn
from torch.nn import functional as F

from photostyle.colour import apply_affine, colour_statistics, transfer_to_style
from photostyle.errors import PhotostyleError
from photostyle.networks.rounding import to_bytes
from photostyle.networks.slicing import (
    AFFINE_COLUMNS,
    AFFINE_ROWS,
    compose_affine,
    identity_affine,
    padded_width,
    row_positions,
    slice_and_apply,
)
from photostyle.structure import LUMA

# The grid network's total stride (four stride-2 convolutions): one spatial knot of the grid per
# 16x16 thumbnail pixels, so thumbnail_size // GRID_STRIDE knots a side.
GRID_STRIDE = 16


def conv_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, padding=1), nn.ReLU(inplace=True))


class GridNet(nn.Module):
    """Thumbnail (B, 3, T, T) -> grid (B, T/16, T/16, D, 4, 3) of affine transforms.

    Local features at the grid's resolution plus a global summary of the whole thumbnail,
    fused, then a 1x1 convolution to the coefficients, which starts as the identity.
    """

    def __init__(self, channels: int, grid_depth: int):
        super().__init__()
        c = 8 * channels
        self.splat = nn.Sequential(
            conv_relu(3, channels, 2),
            conv_relu(channels, 2 * channels, 2),
            conv_relu(2 * channels, 4 * channels, 2),
            conv_relu(4 * channels, c, 2),
        )
        self.local = nn.Sequential(conv_relu(c, c), nn.Conv2d(c, c, 3, padding=1))
        self.global_conv = nn.Sequential(conv_relu(c, c, 2), conv_relu(c, c, 2))
        self.global_fc = nn.Sequential(nn.Linear(c, c), nn.ReLU(inplace=True), nn.Linear(c, c))
        self.grid_depth = grid_depth
        self.to_grid = nn.Conv2d(c, grid_depth * AFFINE_ROWS * AFFINE_COLUMNS, 1)
        nn.init.zeros_(self.to_grid.weight)
        with torch.no_grad():
            self.to_grid.bias.copy_(identity_affine(grid_depth).flatten())

    def forward(self, thumbnail: torch.Tensor) -> torch.Tensor:
        features = self.splat(thumbnail)  # (B, c, G, G)
        summary = self.global_fc(self.global_conv(features).mean(dim=(2, 3)))  # (B, c)
        fused = F.relu(self.local(features) + summary[:, :, None, None])
        grid = self.to_grid(fused)  # (B, D 4 3, G, G)
        return grid.permute(0, 2, 3, 1).unflatten(
            3, (self.grid_depth, AFFINE_ROWS, AFFINE_COLUMNS)
        )  # (B, G, G, D, 4, 3)


class GuideNet(nn.Module):
    """Per-pixel colour (B, H, W, 3) -> guide (B, H, W, 1) in [0, 1]: a learned grey level that starts as the luma.

    One linear map of the colour, clamped: anything more (a hidden layer) costs several
    full-resolution passes, more than the whole slice at 1920x1080.
    """

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(LUMA))
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, pixels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        """`scale` maps the pixels' values to [0, 1] (1 / 255 for bytes)."""
        weight = self.weight if scale == 1 else self.weight * scale
        return (pixels.to(weight.dtype) @ weight[:, None] + self.bias).clamp(0, 1)  # (B, H, W, 1)


class GlobalColourMap(nn.Module):
    """The style photo's RGB mean and covariance, kept as buffers (so they travel in the
    checkpoint and the ONNX model), and the per-photo affine map that gives them to a photo.

    A content-adaptive start: before any training the network already does a global colour
    transfer suited to each photo it sees, and learning only has to add the local part.
    """

    def __init__(self, strength: float):
        super().__init__()
        self.strength = strength
        # Zeros until set_style: a network with this part is made for one style photo.
        self.register_buffer("style_mean", torch.zeros(3))
        self.register_buffer("style_covariance", torch.zeros(3, 3))

    def set_style(self, style: torch.Tensor) -> None:
        """style (1, 3, H, W) in [0, 1]."""
        mean, covariance = colour_statistics(style.flatten(2).to(self.style_mean))
        self.style_mean.copy_(mean[0])
        self.style_covariance.copy_(covariance[0])

    def forward(self, thumbnail: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, T) -> (B, 4, 3) affine maps, one per photo."""
        return transfer_to_style(thumbnail.flatten(2), self.style_mean, self.style_covariance, self.strength)


class BilateralNet(nn.Module):
    """RGB (B, 3, H, W) in [0, 1] to the same photo with a per-pixel affine colour transform applied.

    In two steps, which a deployed model exposes: `look` is everything computed from the whole
    photo (from its thumbnail), `apply` the per-pixel part. So a video can smooth the look
    from frame to frame, and a big photo can be stylized band by band.

    The float result is not clamped: an affine map may leave [0, 1] a little, and a clamp
    would be one more full-resolution pass; whoever displays or saves it clips.

    The constructor's defaults leave the global colour map out (style_colours=0.0), so a bare
    BilateralNet() is the grid alone; conf/model/bilateral.yaml holds the network train.py builds.
    """

    def __init__(
        self,
        thumbnail_size: int = 144,
        channels: int = 8,
        grid_depth: int = 1,
        thumbnail_samples: int = 1,
        style_colours: float = 0.0,
    ):
        super().__init__()
        if thumbnail_size < GRID_STRIDE or thumbnail_size % GRID_STRIDE:
            raise PhotostyleError(
                f"model.thumbnail_size={thumbnail_size} must be a positive multiple of {GRID_STRIDE}, e.g. 144"
            )
        for name, value in [
            ("channels", channels),
            ("grid_depth", grid_depth),
            ("thumbnail_samples", thumbnail_samples),
        ]:
            if value < 1:
                raise PhotostyleError(f"model.{name}={value} must be a positive whole number")
        if not 0 <= style_colours <= 1:
            raise PhotostyleError(
                f"model.style_colours={style_colours} must be in [0, 1] (0 leaves the global colour map out)"
            )
        self.thumbnail_size = thumbnail_size
        self.thumbnail_samples = thumbnail_samples
        self.grid = GridNet(channels, grid_depth)
        # With one bin the guide has nothing to choose between.
        self.guide = GuideNet() if grid_depth > 1 else None
        # style_colours > 0: first a global map to the style's colour statistics at that strength (GlobalColourMap).
        self.style_colours = GlobalColourMap(style_colours) if style_colours > 0 else None

    def set_style(self, style: torch.Tensor) -> None:
        """Remember the style photo (1, 3, H, W)'s colour statistics, where the network uses them."""
        if self.style_colours is not None:
            self.style_colours.set_style(style)

    def thumbnail(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) float in [0, 1] or uint8 -> (B, 3, T, T) float: the mean of s x s point
        samples per thumbnail pixel.

        Point samples gathered in one step rather than an antialiased resize, which onnxruntime
        runs as a full-resolution pass of its own. The x extent is the padded width that slicing
        uses, so grid knots and thumbnail agree (see slicing.py).
        """
        batch, height, width = pixels.shape[:3]
        per_pixel = self.thumbnail_samples
        side = self.thumbnail_size * per_pixel  # point samples along each side
        padded = padded_width(width, self.thumbnail_size // GRID_STRIDE)
        centres = torch.arange(side, dtype=torch.float32, device=pixels.device) + 0.5
        ys = (centres * (height / side)).long()
        xs = (centres * (padded / side)).long().clamp(max=width - 1)
        points = pixels.reshape(batch, height * width, 3).index_select(
            1, (ys[:, None] * width + xs).flatten()
        )  # (B, Ts Ts, 3)
        if not points.is_floating_point():
            points = points.to(torch.float32) / 255
        points = points.view(batch, side, side, 3).permute(0, 3, 1, 2)  # (B, 3, Ts, Ts)
        return F.avg_pool2d(points, per_pixel) if per_pixel > 1 else points

    def look(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixels (B, H, W, 3), float in [0, 1] or uint8, -> the look (B, Gh, Gw, D, 4, 3): the
        grid of affine maps of [0, 1] colours that this photo gets."""
        thumbnail = self.thumbnail(pixels)
        if self.style_colours is None:
            return self.grid(thumbnail)
        # The grid network sees the globally mapped thumbnail; the global map and each grid
        # cell's map are composed on the grid, so full resolution pays nothing.
        first = self.style_colours(thumbnail)  # (B, 4, 3)
        mapped = apply_affine(thumbnail.flatten(2), first).view_as(thumbnail)  # (B, 3, T, T)
        return compose_affine(first, self.grid(mapped))

    def apply(
        self, look: torch.Tensor, pixels: torch.Tensor, rows: torch.Tensor | None = None, height: int | None = None
    ) -> torch.Tensor:
        """A look applied to pixels (B, h, W, 3): float in [0, 1] gives float (not clamped); uint8
        gives uint8, rounded and clamped.

        rows (h,) int: which rows of a photo `height` rows tall the pixels are (None: all of it).
        """
        positions = None if rows is None else row_positions(rows, height, look.shape[1])
        if pixels.is_floating_point():
            guide = self.guide(pixels) if self.guide is not None else None
            return slice_and_apply(look, guide, pixels, positions)
        # Bytes: the maps take 0..255 as they are (the same linear part, offsets times 255), so
        # no pass scales the pixels.
        scaled = torch.cat([look[..., :3, :], look[..., 3:, :] * 255], dim=-2)
        guide = self.guide(pixels, 1 / 255) if self.guide is not None else None
        return slice_and_apply(scaled, guide, pixels, positions, finish=to_bytes)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pixels = image.permute(0, 2, 3, 1)  # (B, H, W, 3)
        return self.apply(self.look(pixels), pixels).permute(0, 3, 1, 2)
