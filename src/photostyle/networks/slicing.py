"""Slicing a bilateral grid of affine colour transforms and applying it, as plain tensor maths.

Layouts (channels last, so that a pixel's colour is one contiguous row):
  grid    (B, Gh, Gw, D, 4, 3)  for each spatial knot and guide bin, the 4x3 matrix M of
                                rgb' = [r, g, b, 1] @ M
  guide   (B, H, W, 1)          in [0, 1]: where a pixel sits between the bins (None when D = 1)
  pixels  (B, H, W, 3)          RGB in [0, 1], or uint8 (padded as bytes, then made float; the grid
                                must then map 0..255 values, see BilateralNet.apply)

Every pixel gets the grid interpolated linearly in y, in x and along the guide, with the
knots at the corners: knot g of G sits at g / (G - 1) of the extent. Along x the extent is
the width padded to a whole number of strips of `strip_width(W, Gw)` pixels, one strip
between each pair of neighbouring knots; the padding (under one pixel per strip) is cut off
again at the end.

Why this shape: the obvious slice (grid_sample, or a resize of the grid to full resolution,
then a per-pixel 3x4 product) writes 12 full-resolution coefficient planes per bin, and in
onnxruntime writing them alone takes several times as long as this whole slice. Here the y interpolation is a
tiny product on the grid (one row of knots per image row), and within a strip a pixel's
matrix is M_left + f (M_right - M_left), f its fraction of the way across. So two batched
3x3 products over (row, strip) blocks, a row-wise scaling by f and one plain matrix product
for the offsets do the whole slice and apply, and no coefficient plane ever exists
(`python -m benchmarks.latency` measures it; docs/benchmarks.md).

Bands: the rows given may be any rows of a taller photo (`row_positions` says where they sit),
so a caller can stylize a big photo band by band, with the same result as in one piece; the
runtime does, which keeps each pass's output in the processor's cache and bounds the memory.
"""

from collections.abc import Callable

import torch
from torch.nn import functional as F

AFFINE_ROWS, AFFINE_COLUMNS = 4, 3  # [r, g, b, 1] @ M -> [r', g', b']


def identity_affine(depth: int) -> torch.Tensor:
    """(D, 4, 3) matrices that leave every colour unchanged."""
    return torch.eye(AFFINE_ROWS, AFFINE_COLUMNS).expand(depth, AFFINE_ROWS, AFFINE_COLUMNS)


def compose_affine(first: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """One affine map per image (B, 4, 3) followed by each of a grid's (B, ..., 4, 3), as one (B, ..., 4, 3) grid."""
    batch = first.shape[0]
    # Made on the photo's device: a tensor from a Python list would be a host copy on every call.
    last_column = torch.eye(4, dtype=first.dtype, device=first.device)[:, 3:].expand(batch, 4, 1)
    square = torch.cat([first, last_column], dim=2)  # (B, 4, 4): [r, g, b, 1] @ square = [r', g', b', 1]
    return square.view(batch, *[1] * (grid.dim() - 3), 4, 4) @ grid


def strip_width(width: int | torch.SymInt, knots: int) -> int | torch.SymInt:
    """Pixels per strip between neighbouring knots along x: the fewest that cover `width`."""
    return (width + knots - 2) // (knots - 1)


def padded_width(width: int | torch.SymInt, knots: int) -> int | torch.SymInt:
    """The x extent the knots span: `width` rounded up to whole strips."""
    return (knots - 1) * strip_width(width, knots)


def tent(position: torch.Tensor, knot: torch.Tensor | int) -> torch.Tensor:
    """Weight of `knot` in the linear interpolation at `position` (both in knot units)."""
    return F.relu(1 - (position - knot).abs())


def tent_weights(position: torch.Tensor, knots: int) -> torch.Tensor:
    """Linear-interpolation weights (*position.shape, knots) for positions in knot units."""
    position = position.clamp(0, knots - 1)
    return tent(position[..., None], torch.arange(knots, dtype=position.dtype, device=position.device))


def pixel_centres(size: int | torch.SymInt, knots: int, like: torch.Tensor) -> torch.Tensor:
    """Positions, in knot units, of the centres of `size` pixels whose ends are the outer knots' far sides."""
    return (torch.arange(size, dtype=like.dtype, device=like.device) + 0.5) * ((knots - 1) / size)


def row_positions(
    rows: torch.Tensor, height: int | torch.SymInt, knots: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Positions, in knot units, of the centres of rows `rows` (int indices) of a photo `height` rows tall."""
    return (rows.to(dtype) + 0.5) * ((knots - 1) / height)


def slice_and_apply(
    grid: torch.Tensor,
    guide: torch.Tensor | None,
    pixels: torch.Tensor,
    positions: torch.Tensor | None = None,
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """out = [r, g, b, 1] @ M(pixel), M the grid interpolated at the pixel: (B, h, W, 3).

    `positions` (h,) are the rows' positions in knot units along y (see row_positions); None: the
    pixels are the whole photo. The maths runs in the positions' float type (the pixels', or for
    bytes the grid's). Along the guide, the result under each bin's (spatially
    interpolated) matrices is blended with tent weights, which is the same as blending the
    matrices: the map is linear in them. `finish` (rounding to bytes, say) comes before the
    padding is cut off, so that the crop moves finished values: bytes are a quarter of floats.
    """
    batch, height, width, _ = pixels.shape
    if positions is None:
        positions = pixel_centres(height, grid.shape[1], pixels if pixels.is_floating_point() else grid)
    weights = tent_weights(positions, grid.shape[1])  # (h, Gh): each row's share of each row of knots
    padded = padded_width(width, grid.shape[2])
    # Padding by concatenation and cropping by splitting: onnxruntime runs Concat and Split on
    # both cores, Pad and Slice on one.
    colour = torch.cat([pixels, pixels.new_zeros(batch, height, padded - width, 3)], dim=2)  # (B, h, P, 3)
    depth = grid.shape[3]
    if depth == 1:
        out = slice_bin(grid[:, :, :, 0], colour, weights)
    else:
        position = torch.cat([guide, guide.new_zeros(batch, height, padded - width, 1)], dim=2) * (depth - 1)
        out = 0
        for d in range(depth):
            # One bin at a time: whole planes, where a trailing axis of D bins is slow in onnxruntime.
            out = out + tent(position, d) * slice_bin(grid[:, :, :, d], colour, weights)
    if finish is not None:
        out = finish(out)
    return out.split([width, padded - width], dim=2)[0]


def slice_bin(grid: torch.Tensor, colour: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """One bin: grid (B, Gh, Gw, 4, 3) interpolated in y (with the rows' tent weights (h, Gh)) and
    in x, and applied to pixels padded to whole strips (B, h, P, 3)."""
    batch, height, padded, _ = colour.shape
    knots_x = grid.shape[2]
    strip = padded // (knots_x - 1)

    # The y interpolation on the grid itself: one row of knots per image row.
    knot_rows = (weights @ grid.flatten(2)).view(batch, height, knots_x, 4, 3)  # (B, h, Gw, 4, 3)
    # Strip k reads knot k (its left side) and knot k + 1 (its right side).
    left, right = knot_rows[:, :, :-1], knot_rows[:, :, 1:]  # (B, h, S, 4, 3)
    linear, change = left[..., :3, :], right[..., :3, :] - left[..., :3, :]  # (B, h, S, 3, 3)
    offsets = torch.stack([left[..., 3, :], right[..., 3, :]], dim=3)  # (B, h, S, 2, 3)

    like = weights  # the float type of the rows' positions
    f = pixel_centres(strip, 2, like)  # (w,) fraction of the way across a strip: one knot interval
    # f scales whole rows of w x 3 numbers by one w x 3 pattern: onnxruntime does that in one
    # dense pass, where scaling each pixel's triple by its own scalar is many times slower.
    f3 = f[:, None].expand(strip, 3).flatten()  # (w 3,)
    # The offsets, (1 - f) o_left + f o_right, as one plain matrix product: blocks x (side, rgb)
    # times (side, rgb) x (pixel, rgb); a batched product per block is slower.
    sides = torch.stack([1 - f, f], dim=1)  # (w, 2)
    spread = torch.einsum("is,cd->scid", sides, torch.eye(3, dtype=like.dtype, device=like.device)).reshape(
        6, 3 * strip
    )

    blocks = colour.view(-1, strip, 3).to(like.dtype)  # one (row, strip) block of w pixels each
    # A pixel's result under the left matrix, plus f times the change to the right one.
    changed = torch.bmm(blocks, change.reshape(-1, 3, 3)).view(-1, 3 * strip) * f3
    mapped = torch.bmm(blocks, linear.reshape(-1, 3, 3)).view(-1, 3 * strip) + changed
    return torch.addmm(mapped, offsets.reshape(-1, 6), spread).view(colour.shape)
