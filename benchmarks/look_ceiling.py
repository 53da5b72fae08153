"""How close the bilateral network's kind of output can come to each bench style, with no
generalising asked of it: one look (the grid of affine maps, and the guide) fitted to the
pair's own content photo against the training loss, then measured like the quality protocol.

    python -m benchmarks.look_ceiling [--pairs SET/ID ...] [--steps 80] [--size 256]
        [--out outputs/look_ceiling] [-- OVERRIDE ...]

OVERRIDEs are train.py's model.* and loss.* keys (e.g. model.grid_depth=4
loss.content_weight=4). A trained model ends no closer to the style than this fit of the same
network and loss: a ceiling near the untrained global map says the network's form or the loss
holds the look back; a ceiling far below the trained model says generalising from the training
photos does. Prints per-pair rows and the means of "fitted" and "untrained" (the global map
alone), and writes OUT/metrics.md.
"""

import argparse
from pathlib import Path

import torch
from hydra.utils import instantiate
from torch import nn

from benchmarks.common import BENCH_PAIRS, ROOT, SHARED_BENCH, compose_config, per_pair_markdown, read_pairs
from photostyle.evaluation.evaluate import Method, evaluate_photo, markdown, mean_table, write_text
from photostyle.networks.bilateral import BilateralNet
from photostyle.networks.slicing import identity_affine, then
from photostyle.training.loss import PhotorealStyleLoss
from photostyle.training.tensors import load

SIDE = 512


def global_map(net: BilateralNet, pixels: torch.Tensor) -> torch.Tensor | None:
    """The network's per-photo global map (B, 4, 3), or None where it has none."""
    return None if net.style_colours is None else net.style_colours(net.thumbnail(pixels))


def stylized(net: BilateralNet, grid: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """image (1, 3, H, W) through the global map, then the grid (1, Gh, Gw, D, 4, 3); not clipped."""
    pixels = image.permute(0, 2, 3, 1)
    first = global_map(net, pixels)
    look = grid if first is None else then(first, grid)
    return net.apply(look, pixels).permute(0, 3, 1, 2)


def grid_method(name: str, net: BilateralNet, grid: torch.Tensor) -> Method:
    return Method(name, lambda path, content, style: stylized(net, grid, content).clamp(0, 1))


def fit_grid(net: BilateralNet, loss: PhotorealStyleLoss, content: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """The grid (and, through the network's parameters, the guide) that minimises the loss on this one photo."""
    knots = net.thumbnail_size // 16
    depth = net.grid.grid_depth
    grid = nn.Parameter(identity_affine(depth).expand(1, knots, knots, depth, 4, 3).clone())
    parameters = [grid, *(net.guide.parameters() if net.guide is not None else [])]
    optimizer = torch.optim.Adam(parameters, lr=lr)
    targets = loss.content_features(content)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            terms = loss(stylized(net, grid, content), content, targets)
            losses.append(terms["loss"].item())
            optimizer.zero_grad()
            terms["loss"].backward()
            optimizer.step()
    return grid.detach(), losses[0], losses[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=BENCH_PAIRS, help="SET/ID from pairs.csv")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--size", type=int, default=256, help="longer side of the content and style photos in the fit")
    parser.add_argument("--bench", type=Path, default=SHARED_BENCH)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "look_ceiling")
    parser.add_argument("overrides", nargs="*", help="model.* and loss.* overrides (after --)")
    args = parser.parse_args()
    pairs = read_pairs(args.bench)
    config = compose_config(*args.overrides)
    loss = instantiate(config.loss)

    rows = []
    for name in args.pairs:
        pair = pairs[name]
        content_path, style_path = args.bench / pair["content"], args.bench / pair["style"]
        torch.manual_seed(0)
        net = instantiate(config.model)
        style = load(style_path, args.size)
        net.set_style(style)
        loss.set_style(style)
        grid, start, end = fit_grid(net, loss, load(content_path, args.size), args.steps, args.lr)
        print(f"{name}: training loss on the photo {start:.4g} -> {end:.4g}", flush=True)
        untouched = identity_affine(grid.shape[3]).expand_as(grid)
        methods = [grid_method("fitted", net, grid), grid_method("untrained", net, untouched)]
        out_dir = args.out / name.replace("/", "_")
        pair_rows = evaluate_photo(content_path, load(style_path, SIDE), methods, out_dir, SIDE)
        for row in pair_rows:
            row["pair"] = name
        rows += pair_rows

    means = {row["method"]: row for row in mean_table(rows)}
    fitted, untrained = means["fitted"], means["untrained"]
    closer = sum(
        a["style_distance"] < b["style_distance"]
        for a, b in zip(rows[::2], rows[1::2])  # (fitted, untrained) per pair
    )
    report = (
        f"overrides: {' '.join(args.overrides) or '(defaults)'}; fit at {args.size} px, {args.steps} steps\n\n"
        + per_pair_markdown(rows)
        + "\nMeans over the pairs:\n\n"
        + markdown(list(means.values()))
        + f"\nfitted / untrained style distance: {fitted['style_distance'] / untrained['style_distance']:.3f}; "
        f"SSIM change {fitted['ssim'] - untrained['ssim']:+.3f}; closer on {closer} of {len(rows) // 2} pairs\n"
    )
    print(report, end="")
    write_text(args.out / "metrics.md", report)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
