"""`photostyle optimize`: the per-image method of Gatys et al. with Luan et al.'s
photorealism regulariser and semantic masks (Deep Photo Style Transfer), the quality
reference that feed-forward models are measured against."""

import torch
from tqdm import tqdm

from photostyle.baselines import reinhard
from photostyle.losses import content_loss, masked_gram_matrices, relative_mse, total_variation
from photostyle.matting import matting_laplacian_energy
from photostyle.settings import OptimizeSettings
from photostyle.vgg import VGG19Features


class PhotoObjective:
    """Content + masked style + matting-Laplacian + TV loss of one image against one style photo.

    Without masks, one all-ones mask: the plain Gatys style loss. With masks, (K, H, W) for
    the content and (K, H', W') for the style, label k of the output is matched to label k
    of the style, each weighted by its share of the content.
    """

    def __init__(self, content: torch.Tensor, style: torch.Tensor, settings: OptimizeSettings,
                 content_masks: torch.Tensor | None = None, style_masks: torch.Tensor | None = None):
        self.settings, self.content = settings, content
        self.vgg = VGG19Features(settings.content_layers + list(settings.style_layers))
        if content_masks is None:
            content_masks, style_masks = torch.ones(1, *content.shape[-2:]), torch.ones(1, *style.shape[-2:])
        self.content_masks = content_masks
        self.label_weights = content_masks.mean(dim=(1, 2)) / content_masks.mean(dim=(1, 2)).sum()  # (K,)
        with torch.no_grad():
            self.content_features = self.vgg(content)
            style_features = self.vgg(style)
        self.style_grams = {n: masked_gram_matrices(style_features[n], style_masks) for n in settings.style_layers}

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        s = self.settings
        features = self.vgg(image)
        style = sum(
            weight * sum(k_weight * relative_mse(gram, target) for k_weight, gram, target in
                         zip(self.label_weights, masked_gram_matrices(features[name], self.content_masks), self.style_grams[name]))
            for name, weight in s.style_layers.items()
        )
        terms = {"content": s.content_weight * content_loss(features, self.content_features, s.content_layers),
                 "style": s.style_weight * style}
        if s.photoreal_weight > 0:
            terms["photoreal"] = s.photoreal_weight * matting_laplacian_energy(self.content, image, s.matting_eps).mean()
        if s.tv_weight > 0:
            terms["tv"] = s.tv_weight * total_variation(image)
        terms["loss"] = sum(terms.values())
        return terms


def optimize_photo(content: torch.Tensor, style: torch.Tensor, settings: OptimizeSettings,
                   content_masks: torch.Tensor | None = None, style_masks: torch.Tensor | None = None,
                   progress: bool = True) -> tuple[torch.Tensor, list[float]]:
    """Optimise the pixels of (1, 3, H, W) content towards the style; the result and the loss at every step.

    Starts from the content photo (as DPST does) or its Reinhard colour transfer, so the
    output keeps its structure from the first step; the same settings and inputs give the
    same result.
    """
    settings.check()
    with torch.enable_grad():  # callers may run everything else under no_grad
        return _optimize(content, style, settings, content_masks, style_masks, progress)


def _optimize(content: torch.Tensor, style: torch.Tensor, settings: OptimizeSettings, content_masks: torch.Tensor | None,
              style_masks: torch.Tensor | None, progress: bool) -> tuple[torch.Tensor, list[float]]:
    torch.manual_seed(settings.seed)
    objective = PhotoObjective(content, style, settings, content_masks, style_masks)
    start = reinhard(content, style) if settings.init == "reinhard" else content
    image = start.clone(memory_format=torch.contiguous_format).requires_grad_(True)  # L-BFGS views its gradient flat
    losses: list[float] = []

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        terms = objective(image.clamp(0, 1))  # the gradient stops at the colour range's edges
        terms["loss"].backward()
        return terms["loss"]

    bar = tqdm(total=settings.steps, desc="optimize", unit="step", disable=not progress)
    if settings.optimizer == "lbfgs":
        # One iteration per step, with room for its line search (max_eval defaults to 1 here),
        # and no early stop: the run does exactly `steps` iterations.
        optimizer = torch.optim.LBFGS([image], max_iter=1, max_eval=25, history_size=20, line_search_fn="strong_wolfe",
                                      tolerance_grad=0.0, tolerance_change=0.0)
    else:
        optimizer = torch.optim.Adam([image], lr=settings.lr)
    for _ in range(settings.steps):
        losses.append(float(optimizer.step(closure).detach()))  # the loss before this step
        bar.set_postfix(loss=f"{losses[-1]:.4g}")
        bar.update()
    bar.close()
    return image.detach().clamp(0, 1), losses
