"""Colour-transfer baselines that any style model must beat; each maps (content, style),
(1, 3, H, W) and (1, 3, H', W') in [0, 1], to a (1, 3, H, W) result."""

import torch

from photostyle.colour import at_quantiles, lab_to_srgb, srgb_to_lab


def identity(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    return content.clone()


def reinhard(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Reinhard et al. (2001): give each CIELAB channel the style's mean and standard deviation."""
    source, target = srgb_to_lab(content.double()), srgb_to_lab(style.double())
    mean, std = source.mean(dim=(2, 3), keepdim=True), source.std(dim=(2, 3), keepdim=True)
    target_mean, target_std = target.mean(dim=(2, 3), keepdim=True), target.std(dim=(2, 3), keepdim=True)
    return lab_to_srgb((source - mean) / std.clamp_min(1e-6) * target_std + target_mean).to(content.dtype)


def histogram_matching(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Per RGB channel, map each value to the style value at the same quantile.

    Equal content values get equal outputs (the quantile of a value is the middle of its
    run of ties), so flat areas stay flat.
    """
    result = torch.empty_like(content)
    for channel in range(3):
        values = content[0, channel].reshape(-1)
        ordered = values.sort().values
        target = style[0, channel].reshape(-1).sort().values
        below = torch.searchsorted(ordered, values, right=False)
        through = torch.searchsorted(ordered, values, right=True)
        quantile = (below + through - 1).double() / 2 / max(len(values) - 1, 1)  # in [0, 1]
        result[0, channel] = at_quantiles(target, quantile).view_as(content[0, channel])
    return result


BASELINES = {"identity": identity, "reinhard": reinhard, "histogram": histogram_matching}
