"""How far a colour map computed in closed form from the content's and the style photo's colour
statistics gets, with no training: the untrained network's start against richer closed forms,
measured like the quality protocol, on its pairs or on pairs kept out of tuning.

    python -m benchmarks.closed_forms [--pairs SET/ID ... | --held-out] [--maps MAP ...]
        [--size 512] [--bench ../shared/bench] [--out outputs/closed_forms]

Maps (default: global:0.9 global:1 tones:2:0.9; e.g. --maps global:0.9 curves:9:0.9):
- global:S  the bilateral network's own start (its `model.style_colours`): one affine map that
            gives the photo the style photo's RGB mean and covariance, at strength S;
- tones:K:S K tone bins: the same map fitted per bin, between the photo's colours and the style
            photo's colours in that bin, and blended per pixel by its grey level. A pixel's bin
            weights are hat functions of its luma, normalised by its photo's own luma mean and
            standard deviation (0.5 + (y - mean) / (4 std), clamped to [0, 1]), so shadows take
            the style's shadows' colours and highlights its highlights', whatever each photo's
            exposure. It is what a bilateral grid with K bins along that grey level and the same
            maps in every cell would do.
- curves:K:S the global map, then along each of the style photo's three principal colour axes a
            piecewise-linear curve through K matched quantiles (1% to 99%) of the mapped photo
            and the style photo: each axis's whole distribution, where the global map gives only
            its mean and variance (one pass of Pitie et al.'s distribution transfer, along fixed
            axes). A curve is not locally affine where it bends, so no network here can make it:
            it asks how much of the style distance the shape of the colour distribution holds.
- detail:S:F the global map with both photos' colour statistics weighted by local detail: each
            pixel by its grey level's gradient magnitude averaged over DETAIL_WINDOW pixels, plus F
            times that weight's mean over the photo (F large: the global map). It asks whether the
            Gram matrices, whose VGG features respond most where a photo has edges and texture,
            want the colours of those parts matched rather than every pixel's.

--held-out runs the bench pairs that are neither the protocol's (common.BENCH_PAIRS) nor the
confirmation pairs (common.CONFIRMATION_PAIRS), so a closed form chosen on the protocol's pairs can
be checked on photos it was not chosen on. Prints the rows per pair, the means, and each map's
style distance against the first map's (mean and median of the per-pair ratios, their range, the
pairs it is closer on, the SSIM change); writes OUT/metrics.md.
"""

import statistics
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.basics import benchmark_parser
from benchmarks.common import (
    BENCH_PAIRS,
    CONFIRMATION_PAIRS,
    PROTOCOL_SIDE,
    ROOT,
    add_bench_argument,
    add_pair_arguments,
    evaluate_pair,
    per_pair_markdown,
    read_pairs,
    require_pairs,
)
from photostyle.colour import apply_affine, at_quantiles, colour_statistics, covariance_transfer, transfer_to_style
from photostyle.evaluation.evaluate import Method, markdown, mean_table
from photostyle.evaluation.metrics import STYLE_LAYERS
from photostyle.files import write_file
from photostyle.networks.slicing import tent_weights
from photostyle.structure import LUMA
from photostyle.training.vgg import VGG19Features

# The normalised grey level spans the photo's mean +- 2 standard deviations.
LUMA_SPREAD = 4.0
# The side of the square over which detail:S:F averages the gradient magnitude, in pixels at 512.
DETAIL_WINDOW = 9


def luma(colours: torch.Tensor) -> torch.Tensor:
    """(3, N) colours -> their (N,) grey levels."""
    return torch.tensor(LUMA).to(colours) @ colours


def grey_levels(colours: torch.Tensor) -> torch.Tensor:
    """(3, N) colours -> (N,) luma normalised by the photo's own luma mean and deviation, in [0, 1]."""
    grey = luma(colours)
    return (0.5 + (grey - grey.mean()) / (LUMA_SPREAD * grey.std().clamp_min(1e-6))).clamp(0, 1)


def weighted_statistics(colours: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(3, N) colours and (N,) weights -> their weighted mean (1, 3) and covariance (1, 3, 3)."""
    weights = weights / weights.sum().clamp_min(1e-12)
    mean = colours @ weights
    centred = colours - mean[:, None]
    return mean[None], ((centred * weights) @ centred.T)[None]


def global_map(strength: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def run(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        style_mean, style_covariance = colour_statistics(style.flatten(2))
        maps = transfer_to_style(content.flatten(2), style_mean[0], style_covariance[0], strength)
        return apply_affine(content.flatten(2), maps).view_as(content)

    return run


def tone_map(bins: int, strength: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def run(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        colours, style_colours = content.flatten(2)[0], style.flatten(2)[0]  # (3, N)
        # Each pixel's weights (bins, N) of bins evenly spaced over the grey levels [0, 1], summing to 1.
        weights = tent_weights(grey_levels(colours) * (bins - 1), bins).T
        style_weights = tent_weights(grey_levels(style_colours) * (bins - 1), bins).T
        output = torch.zeros_like(colours)
        for weight, style_weight in zip(weights, style_weights):
            style_mean, style_covariance = weighted_statistics(style_colours, style_weight)
            maps = covariance_transfer(
                *weighted_statistics(colours, weight), style_mean[0], style_covariance[0], strength
            )
            output += weight * apply_affine(colours[None], maps)[0]
        return output.view_as(content)

    return run


def piecewise_linear(values: torch.Tensor, knots: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """values through the curve with knots (K,) increasing, mapped to targets (K,); straight on beyond the ends."""
    right = torch.searchsorted(knots, values).clamp(1, len(knots) - 1)
    left = right - 1
    along = (values - knots[left]) / (knots[right] - knots[left])
    return targets[left] + along * (targets[right] - targets[left])


def curve_map(knots: int, strength: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    first = global_map(strength)
    levels = torch.linspace(0.01, 0.99, knots, dtype=torch.float64)
    # Tied quantiles (a flat stretch of the photo) would make a knot of zero width: a tiny rise keeps them apart.
    rise = torch.arange(knots, dtype=torch.float64) * 1e-6

    def run(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        mapped = first(content, style).flatten(2)[0].double()  # (3, N)
        style_colours = style.flatten(2)[0].double()
        axes = torch.linalg.eigh(torch.cov(style_colours)).eigenvectors  # (3, 3), one axis a column
        curved = [
            piecewise_linear(along, at_quantiles(along.sort().values, levels) + rise, at_quantiles(style_along, levels))
            for along, style_along in zip(axes.T @ mapped, (axes.T @ style_colours).sort().values)
        ]
        return (axes @ torch.stack(curved)).to(content.dtype).view_as(content)

    return run


def detail_weights(image: torch.Tensor, floor: float) -> torch.Tensor:
    """(1, 3, H, W) -> (H * W,) weights: the grey level's gradient magnitude, box-averaged, plus
    `floor` times its mean."""
    grey = luma(image.flatten(2)[0]).view(1, 1, *image.shape[2:])  # (1, 1, H, W)
    across = F.pad(grey[..., :, 1:] - grey[..., :, :-1], (0, 1, 0, 0))
    down = F.pad(grey[..., 1:, :] - grey[..., :-1, :], (0, 0, 0, 1))
    detail = F.avg_pool2d(
        (across**2 + down**2).sqrt(), DETAIL_WINDOW, stride=1, padding=DETAIL_WINDOW // 2, count_include_pad=False
    ).flatten()
    return detail + floor * detail.mean()


def detail_map(strength: float, floor: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def run(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        style_mean, style_covariance = weighted_statistics(style.flatten(2)[0], detail_weights(style, floor))
        content_statistics = weighted_statistics(content.flatten(2)[0], detail_weights(content, floor))
        maps = covariance_transfer(*content_statistics, style_mean[0], style_covariance[0], strength)
        return apply_affine(content.flatten(2), maps).view_as(content)

    return run


def parse_map(spec: str) -> Method:
    """global:STRENGTH, tones:BINS:STRENGTH, curves:KNOTS:STRENGTH or detail:STRENGTH:FLOOR as a
    method of evaluate_photo's, clipped as a saved photo is."""
    kind, *numbers = spec.split(":")
    try:
        values = [float(number) for number in numbers]
    except ValueError:
        values = []
    if kind == "global" and len(values) == 1:
        make = global_map(values[0])
    elif kind == "tones" and len(values) == 2 and values[0] >= 2 and values[0].is_integer():
        make = tone_map(int(values[0]), values[1])
    elif kind == "curves" and len(values) == 2 and values[0] >= 2 and values[0].is_integer():
        make = curve_map(int(values[0]), values[1])
    elif kind == "detail" and len(values) == 2 and values[1] >= 0:
        make = detail_map(*values)
    else:
        raise SystemExit(
            f"--maps {spec}: write global:STRENGTH, tones:BINS:STRENGTH (BINS >= 2), curves:KNOTS:STRENGTH"
            " (KNOTS >= 2) or detail:STRENGTH:FLOOR (FLOOR >= 0), e.g. tones:2:0.9"
        )
    return Method(spec, lambda path, content, style: make(content, style).clamp(0, 1))


def held_out_pairs(pairs: dict[str, dict[str, str]]) -> list[str]:
    kept = set(BENCH_PAIRS) | set(CONFIRMATION_PAIRS)
    return [name for name in pairs if name not in kept]


def comparison(rows: list[dict], maps: list[str]) -> str:
    """Each map's style distance per pair over the first map's, and its SSIM change."""
    by = {(row["pair"], row["method"]): row for row in rows}
    pairs = list(dict.fromkeys(row["pair"] for row in rows))
    lines = [
        f"| map | style distance / {maps[0]}'s: mean | median | range | closer on | SSIM change |",
        "|---|---|---|---|---|---|",
    ]
    for name in maps[1:]:
        ratios = [by[pair, name]["style_distance"] / by[pair, maps[0]]["style_distance"] for pair in pairs]
        ssim = statistics.mean(by[pair, name]["ssim"] - by[pair, maps[0]]["ssim"] for pair in pairs)
        lines.append(
            f"| {name} | {statistics.mean(ratios):.3f} | {statistics.median(ratios):.3f} | "
            f"{min(ratios):.2f} to {max(ratios):.2f} | {sum(r < 1 for r in ratios)} of {len(pairs)} | {ssim:+.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = benchmark_parser(__doc__)
    add_pair_arguments(parser, "--held-out", "the pairs neither tuned on nor kept for confirming")
    parser.add_argument("--maps", nargs="+", default=["global:0.9", "global:1", "tones:2:0.9"], help="see Maps above")
    parser.add_argument("--size", type=int, default=PROTOCOL_SIDE, help="longer side, as the quality protocol measures")
    add_bench_argument(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "closed_forms", help="the outputs and tables")
    args = parser.parse_args()
    methods = [parse_map(spec) for spec in args.maps]
    pairs = read_pairs(args.bench)
    names = held_out_pairs(pairs) if args.held_out else require_pairs(pairs, args.pairs)
    vgg = VGG19Features(list(STYLE_LAYERS))  # one VGG for every pair
    rows = []
    for name in names:
        found = evaluate_pair(name, pairs[name], args.bench, methods, args.out, args.size, vgg=vgg)
        rows += found
        print(" | ".join(f"{name} {row['method']} {row['style_distance']:.3f}" for row in found), flush=True)
    report = (
        per_pair_markdown(rows)
        + "\n"
        + markdown(mean_table(rows))
        + "\n"
        + comparison(rows, [method.name for method in methods])
    )
    print(report)
    write_file(args.out / "metrics.md", report.encode())


if __name__ == "__main__":
    main()
