"""`photostyle optimize`: the per-image method of Gatys et al. with Luan et al.'s
photorealism regulariser and semantic masks (Deep Photo Style Transfer), the quality
reference that feed-forward models are measured against."""

import torch
from tqdm import tqdm

from photostyle.evaluation.baselines import reinhard
from photostyle.settings import OptimizeSettings
from photostyle.training.loss import PhotorealStyleLoss


def optimize_photo(
    content: torch.Tensor,
    style: torch.Tensor,
    loss: PhotorealStyleLoss,
    settings: OptimizeSettings,
    content_masks: torch.Tensor | None = None,
    style_masks: torch.Tensor | None = None,
    progress: bool = True,
) -> tuple[torch.Tensor, list[float]]:
    """Optimise the pixels of (1, 3, H, W) content towards the style; the result and the loss at every step.

    Without masks the style loss is Gatys et al.'s; with (K, H, W) masks for the content and
    (K, H', W') for the style, label k of the output is matched to label k of the style.

    Starts from the content photo (as DPST does) or its Reinhard colour transfer, so the
    output keeps its structure from the first step; the same settings and inputs give the
    same result.
    """
    settings.check()
    with torch.enable_grad():  # callers may run everything else under no_grad
        return _optimize(content, style, loss, settings, content_masks, style_masks, progress)


def _optimize(
    content: torch.Tensor,
    style: torch.Tensor,
    loss: PhotorealStyleLoss,
    settings: OptimizeSettings,
    content_masks: torch.Tensor | None,
    style_masks: torch.Tensor | None,
    progress: bool,
) -> tuple[torch.Tensor, list[float]]:
    torch.manual_seed(settings.seed)
    loss.set_style(style, style_masks)
    content_features = loss.content_features(content)  # the content never changes: its features once
    start = reinhard(content, style) if settings.init == "reinhard" else content
    image = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)  # L-BFGS views its gradient flat
    losses: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        # The gradient stops at the colour range's edges.
        terms = loss(image, content, content_features, content_masks)
        terms["loss"].backward()
        return terms["loss"]

    bar = tqdm(total=settings.steps, desc="optimize", unit="step", disable=not progress)
    if settings.optimizer == "lbfgs":
        # One iteration per step, with room for its line search (max_eval defaults to 1 here),
        # and no early stop: the run does exactly `steps` iterations.
        optimizer = torch.optim.LBFGS(
            [image],
            max_iter=1,
            max_eval=25,
            history_size=20,
            line_search_fn="strong_wolfe",
            tolerance_grad=0.0,
            tolerance_change=0.0,
        )
    else:
        optimizer = torch.optim.Adam([image], lr=settings.lr)
    for _ in range(settings.steps):
        losses.append(float(optimizer.step(closure).detach()))  # the loss before this step
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        bar.update()
    bar.close()
    return image.detach().clamp(0, 1), losses
