"""`photostyle optimize`: the per-image method of Gatys et al. with Luan et al.'s
photorealism regulariser and semantic masks (Deep Photo Style Transfer), the quality
reference that feed-forward models are measured against; or, with a grid, the same kind of
fit over the bilateral network's look instead of the pixels."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from photostyle.errors import PhotostyleError
from photostyle.evaluation.baselines import reinhard
from photostyle.images import to_uint8
from photostyle.networks.bilateral import GRID_STRIDE, BilateralNet
from photostyle.networks.slicing import compose_affine, identity_affine
from photostyle.settings import OptimizeSettings
from photostyle.training.loss import PhotorealStyleLoss
from photostyle.training.tensors import to_array

# Rows of a full-resolution photo that take the fitted look at a time: bounds the memory.
BAND_ROWS = 256


class FittedLook(nn.Module):
    """One photo's look in the bilateral network's form: the network's closed-form global map of
    that photo (if it has one), then a grid of affine colour maps, the free parameter.

    Whatever the grid holds, the result is an affine map of each pixel's colour that varies
    smoothly over the photo, so it stays a photograph, and it applies at any size of the photo.
    """

    def __init__(self, net: BilateralNet, content: torch.Tensor, start: torch.Tensor | None = None):
        """net: set_style already called; content (1, 3, H, W) in [0, 1]; start: a look (1, Gh, Gw, D, 4, 3)
        to begin from (a trained model's for this photo) instead of the global map and identity grid."""
        super().__init__()
        self.net = net
        first = None  # a model's look (start) already holds its global map
        if start is None:
            knots, depth = net.thumbnail_size // GRID_STRIDE, net.grid.grid_depth
            start = identity_affine(depth).expand(1, knots, knots, depth, 4, 3)
            if net.style_colours is not None:
                first = net.style_colours(net.thumbnail(content.permute(0, 2, 3, 1))).detach()
        self.register_buffer("first", first)  # (1, 4, 3) or None
        self.grid = nn.Parameter(start.clone())

    def fitted_parameters(self) -> list[nn.Parameter]:
        """The grid, and the guide where the grid has tone bins; not the unused grid network."""
        return [self.grid, *(self.net.guide.parameters() if self.net.guide is not None else [])]

    def look(self) -> torch.Tensor:
        """(1, Gh, Gw, D, 4, 3): the global map and the grid composed, as a network's look."""
        return self.grid if self.first is None else compose_affine(self.first, self.grid)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) in [0, 1] -> the same photo with the look, not clipped."""
        return self.net.apply(self.look(), image.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    @torch.no_grad()
    def stylize_bytes(self, photo: np.ndarray, band_rows: int = BAND_ROWS) -> np.ndarray:
        """A photo (H, W, 3) uint8 of any size -> the same with the look, rounded to bytes, a band of rows at a time."""
        # Decoded photos are read-only arrays, which torch will not wrap: copied only then.
        pixels = torch.from_numpy(np.require(photo, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"]))[None]  # (1, H, W, 3)
        height, look = pixels.shape[1], self.look()
        bands = [
            self.net.apply(
                look, pixels[:, top : top + band_rows], torch.arange(top, min(top + band_rows, height)), height
            )
            for top in range(0, height, band_rows)
        ]
        return torch.cat(bands, dim=1)[0].numpy()


def look_network(settings: OptimizeSettings, loss: PhotorealStyleLoss) -> BilateralNet:
    """A bilateral network whose look has settings.grid knots a side, starting (init "reinhard") from
    the global map at the strength the content loss anchors to."""
    strength = loss.content_colours if settings.init == "reinhard" else 0.0
    return BilateralNet(thumbnail_size=GRID_STRIDE * settings.grid, style_colours=strength)


def optimize_look(
    content: torch.Tensor,
    style: torch.Tensor,
    loss: PhotorealStyleLoss,
    settings: OptimizeSettings,
    content_masks: torch.Tensor | None = None,
    style_masks: torch.Tensor | None = None,
    progress: bool = True,
    net: BilateralNet | None = None,
    start: torch.Tensor | None = None,
) -> tuple[FittedLook, list[float]]:
    """Fit a look (FittedLook) to (1, 3, H, W) content; the look, and the loss at every step and of the result.

    net: whose form the look takes (default: look_network's, settings.grid knots a side).
    start: the look (1, settings.grid, settings.grid, 1, 4, 3) to start from, e.g. a trained model's
    for this photo (model_look); by default the network's global map of the photo.
    """
    settings.check()
    if start is not None and start.shape[3] != 1:
        raise PhotostyleError(
            f"a look of {start.shape[3]} tone bins cannot start a grid fit, which fits one bin; "
            "start from a model trained with model.grid_depth=1 (the default)"
        )
    if start is not None and tuple(start.shape[1:3]) != (settings.grid, settings.grid):
        raise PhotostyleError(
            f"a look of {start.shape[1]}x{start.shape[2]} knots cannot start a {settings.grid}x{settings.grid} grid; "
            f"give --grid {start.shape[1]}, the model's"
        )
    torch.manual_seed(settings.seed)
    net = look_network(settings, loss) if net is None else net
    net.set_style(style)
    look = FittedLook(net, content, start)
    with torch.enable_grad():
        losses = _descend(
            look.fitted_parameters(),
            lambda: look(content),
            content,
            style,
            loss,
            settings,
            content_masks,
            style_masks,
            progress,
        )
    return look, losses


def model_look(model: Path, content: torch.Tensor) -> torch.Tensor:
    """A trained bilateral model's (.onnx) look (1, Gh, Gw, D, 4, 3) for (1, 3, H, W) content, as it stylizes it."""
    from photostyle.inference.runtime import StyleModel  # onnxruntime, only where a model is given

    style_model = StyleModel(model)
    if not style_model.has_look:
        raise PhotostyleError(
            f"{model} has no look to start a grid from; give a bilateral model (export.py of model=bilateral)"
        )
    _, look = style_model.stylize(to_uint8(to_array(content)))
    return torch.from_numpy(look)


def optimize_photo(
    content: torch.Tensor,
    style: torch.Tensor,
    loss: PhotorealStyleLoss,
    settings: OptimizeSettings,
    content_masks: torch.Tensor | None = None,
    style_masks: torch.Tensor | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, list[float]]:
    """Optimise (1, 3, H, W) content towards the style; the result, and the loss at every step and of the result.

    Without masks the style loss is Gatys et al.'s; with (K, H, W) masks for the content and
    (K, H', W') for the style, label k of the output is matched to label k of the style.

    With settings.grid the look is fitted (optimize_look) and the result is its output;
    otherwise the pixels are, starting from the content photo (as DPST does) or its Reinhard
    colour transfer, so the output keeps its structure from the first step. The same settings
    and inputs give the same result.
    """
    if settings.grid:  # optimize_look checks the settings
        look, losses = optimize_look(content, style, loss, settings, content_masks, style_masks, progress)
        return look(content).detach().clamp(0, 1), losses
    settings.check()
    torch.manual_seed(settings.seed)
    start = reinhard(content, style) if settings.init == "reinhard" else content
    image = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)  # L-BFGS views its gradient flat
    with torch.enable_grad():  # callers may run everything else under no_grad
        losses = _descend([image], lambda: image, content, style, loss, settings, content_masks, style_masks, progress)
    return image.detach().clamp(0, 1), losses


def _descend(
    parameters: list[torch.Tensor],
    render: Callable[[], torch.Tensor],
    content: torch.Tensor,
    style: torch.Tensor,
    loss: PhotorealStyleLoss,
    settings: OptimizeSettings,
    content_masks: torch.Tensor | None,
    style_masks: torch.Tensor | None,
    progress: bool,
) -> list[float]:
    """settings.steps evaluations of the loss and its gradient (a VGG pass forward and back each) on
    `parameters`, which `render` turns into the output: Adam's steps, or L-BFGS's iterations and
    their line searches together (its last line search may take one more). The loss at each
    evaluation, then the loss of the result."""
    loss.set_style(style, style_masks)
    content_features = loss.content_features(content)  # the content never changes: its features once
    losses: list[float] = []
    bar = tqdm(total=settings.steps, desc="optimize", unit="step", disable=not progress)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        # The loss judges the output clipped to [0, 1] (all but the photorealism term under --grid,
        # whose loss has photoreal_clipped=False), so those terms' gradients stop at the range's edges.
        value = loss(render(), content, content_features, content_masks)["loss"]
        value.backward()
        losses.append(float(value.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        bar.update()
        return value

    if settings.optimizer == "lbfgs":
        # The whole budget in one call, with no tolerance to stop early: torch's L-BFGS gives each
        # line search what is left of max_eval, and a line search evaluates once before it checks.
        optimizer = torch.optim.LBFGS(
            parameters,
            max_iter=settings.steps,
            max_eval=settings.steps,
            history_size=20,
            line_search_fn="strong_wolfe",
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
        optimizer.step(closure)
    else:
        optimizer = torch.optim.Adam(parameters, lr=settings.lr)
        for _ in range(settings.steps):
            optimizer.step(closure)
    bar.close()
    with torch.no_grad():  # the result's own loss: after one step the loss before it says nothing of the step
        losses.append(float(loss(render(), content, content_features, content_masks)["loss"]))
    return losses
