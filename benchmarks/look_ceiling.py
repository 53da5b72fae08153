"""How close the bilateral network's kind of output can come to each bench style, with no
generalising asked of it: one look (the grid of affine maps, and the guide) fitted to the
pair's own content photo against the training loss, then measured like the quality protocol.

    python -m benchmarks.look_ceiling [--pairs SET/ID ...] [--steps 80] [--lr 0.01] [--optimizer adam] [--size 256]
        [--start DIR [--start-seed 0]] [--carry-from FOLDER [--predict]] [--bench ../shared/bench]
        [--out outputs/look_ceiling] [-- OVERRIDE ...]

OVERRIDEs are train.py's model.* and loss.* keys (e.g. model.grid_depth=4
loss.content_weight=4). A trained model ends no closer to the style than this fit of the same
network and loss: a ceiling near the untrained global map says the network's form or the loss
holds the look back; a ceiling far below the trained model says generalising from the training
photos does. Prints per-pair rows and the means of "fitted" and "untrained" (the global map
alone), and writes OUT/metrics.md.

--start DIR starts each fit from a trained model's look instead of the global map: the
quality protocol's DIR/SET_ID/seedN/model.onnx (N from --start-seed, 0 unless given), which also
gives a row "trained" (its look unfitted). Fewer steps from it than from the global map for the
same result is what training saves the per-photo fit.

--carry-from FOLDER also fits the look to each photo in FOLDER (the training photos, say) with the
pair's style, and measures the pair's photo with each of those fitted grids after its own global
map ("fit of NAME") and with their mean ("mean of N fits"). A fitted correction that carries from
photo to photo is one a model could learn from those photos as one look; one that does not has to
be predicted from the photo itself. Copies of the pair's own photo in FOLDER are left out.

--predict asks whether it can be, from FOLDER's fits: instead of a row per photo of FOLDER, the
pair's photo gets the mean of the PREDICT_NEAREST fits of the photos nearest to it in colour_layout,
and the fits' ridge regression on colour_layout ("ridge on colours").
"""

from pathlib import Path

import torch
from hydra.utils import instantiate

from benchmarks.basics import benchmark_parser
from benchmarks.common import (
    BENCH_PAIRS,
    ROOT,
    add_bench_argument,
    compose_config,
    evaluate_pair,
    per_pair_markdown,
    protocol_run,
    read_pairs,
    require_pairs,
)
from photostyle.colour import colour_statistics
from photostyle.evaluation.evaluate import Method, markdown, mean_table
from photostyle.evaluation.optimize import FittedLook, model_look, optimize_look
from photostyle.files import write_file
from photostyle.networks.bilateral import GRID_STRIDE, BilateralNet
from photostyle.photo_folders import list_photos
from photostyle.settings import OPTIMIZERS, OptimizeSettings
from photostyle.training.tensors import load

PREDICT_NEAREST = 5
PREDICT_RIDGE = 100.0


def look_method(name: str, look: FittedLook) -> Method:
    return Method(name, lambda path, content, style: look(content).clamp(0, 1))


def carried_look(net: BilateralNet, content: torch.Tensor, grid: torch.Tensor) -> FittedLook:
    """The content's own global map, then a grid fitted to another photo."""
    look = FittedLook(net, content)
    look.grid.data.copy_(grid)
    return look


def colour_layout(photo: torch.Tensor) -> torch.Tensor:
    """36 numbers that describe a (1, 3, H, W) photo's colours: their mean, the covariance's 6
    entries, and the mean colour of each cell of a 3x3 layout."""
    mean, covariance = colour_statistics(photo.double().flatten(2))
    layout = torch.nn.functional.adaptive_avg_pool2d(photo.double(), 3).flatten()
    return torch.cat([mean[0], covariance[0][tuple(torch.triu_indices(3, 3))], layout])


def predicted_grids(features: torch.Tensor, grids: torch.Tensor, photo: torch.Tensor) -> dict[str, torch.Tensor]:
    """A photo's grid predicted from other photos' (features (N, F), grids (N, ...)) from its own
    features (F,): the mean of its nearest photos' grids, and a ridge regression, both on the
    features standardised over the N photos."""
    centre, scale = features.mean(0), features.std(0) + 1e-8
    standard, own = (features - centre) / scale, (photo - centre) / scale
    targets = grids.flatten(1).double()
    nearest = (standard - own).norm(dim=1).argsort()[:PREDICT_NEAREST]
    mean = targets.mean(0)
    gram = standard.T @ standard + PREDICT_RIDGE * torch.eye(standard.shape[1], dtype=standard.dtype)
    weights = torch.linalg.solve(gram, standard.T @ (targets - mean))
    return {
        f"{PREDICT_NEAREST} nearest fits": targets[nearest].mean(0).view_as(grids[0]).to(grids.dtype),
        "ridge on colours": (mean + own @ weights).view_as(grids[0]).to(grids.dtype),
    }


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--pairs", nargs="+", default=BENCH_PAIRS, help="SET/ID from pairs.csv")
    parser.add_argument("--steps", type=int, default=80, help="optimisation steps of each fit")
    parser.add_argument("--lr", type=float, default=0.01, help="the fit's learning rate")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="the fit's optimiser")
    parser.add_argument("--size", type=int, default=256, help="longer side of the content and style photos in the fit")
    parser.add_argument("--start", type=Path, help="a quality protocol's --out: start from its models' looks")
    parser.add_argument("--start-seed", type=int, default=0, help="the seed of --start's models to start from")
    parser.add_argument("--carry-from", type=Path, help="a folder of photos whose fitted grids to carry to each pair")
    parser.add_argument("--predict", action="store_true", help="predict each pair's grid from --carry-from's fits")
    add_bench_argument(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "look_ceiling", help="the outputs and tables")
    parser.add_argument("overrides", nargs="*", help="model.* and loss.* overrides (after --)")
    args = parser.parse_args()
    pairs = read_pairs(args.bench)
    require_pairs(pairs, args.pairs)
    if args.predict and not args.carry_from:
        raise SystemExit("--predict predicts from the fits of --carry-from FOLDER's photos; give that folder")
    config = compose_config(*args.overrides)
    loss = instantiate(config.loss)

    # The photos whose fits are carried, loaded once: each pair fits them again, with its own style.
    carried = {}
    if args.carry_from:
        photos = list_photos(args.carry_from) if args.carry_from.is_dir() else []
        if not photos:
            raise SystemExit(f"--carry-from {args.carry_from}: no photos there; give a folder of photos")
        # Named by their path in the folder: photos in two of its folders may share a name.
        carried = {str(photo.relative_to(args.carry_from).with_suffix("")): load(photo, args.size) for photo in photos}

    rows = []
    for name in args.pairs:
        pair = pairs[name]
        torch.manual_seed(0)
        net = instantiate(config.model)
        style = load(args.bench / pair["style"], args.size)
        content = load(args.bench / pair["content"], args.size)
        settings = OptimizeSettings(
            grid=net.thumbnail_size // GRID_STRIDE, steps=args.steps, lr=args.lr, optimizer=args.optimizer
        )
        start = (
            model_look(protocol_run(args.start, name, args.start_seed) / "model.onnx", content) if args.start else None
        )
        fitted, losses = optimize_look(content, style, loss, settings, progress=False, net=net, start=start)
        print(f"{name}: training loss on the photo {losses[0]:.4g} -> {losses[-1]:.4g}", flush=True)
        methods = [look_method("fitted", fitted), look_method("untrained", FittedLook(net, content))]
        if start is not None:
            methods.append(look_method("trained", FittedLook(net, content, start)))
        if carried:
            grids = {
                stem: optimize_look(photo, style, loss, settings, progress=False, net=net)[0].grid.detach()
                for stem, photo in carried.items()
                if not torch.equal(photo, content)
            }
            stacked = torch.stack(list(grids.values()))
            methods.append(look_method(f"mean of {len(grids)} fits", carried_look(net, content, stacked.mean(dim=0))))
            if args.predict:
                features = torch.stack([colour_layout(carried[stem]) for stem in grids])
                predicted = predicted_grids(features, stacked, colour_layout(content))
                methods += [look_method(name, carried_look(net, content, grid)) for name, grid in predicted.items()]
            else:
                methods += [
                    look_method(f"fit of {stem}", carried_look(net, content, grid)) for stem, grid in grids.items()
                ]
        rows += evaluate_pair(name, pair, args.bench, methods, args.out)

    means = {row["method"]: row for row in mean_table(rows)}
    fitted, untrained = means["fitted"], means["untrained"]
    per_pair = {(row["pair"], row["method"]): row["style_distance"] for row in rows}
    closer = sum(per_pair[name, "fitted"] < per_pair[name, "untrained"] for name in args.pairs)
    report = (
        f"overrides: {' '.join(args.overrides) or '(defaults)'}; fit at {args.size} px, "
        f"{args.steps} {args.optimizer} steps, "
        f"from {f'{args.start} seed {args.start_seed}' if args.start else 'the global map'}\n\n"
        + per_pair_markdown(rows)
        + "\nMeans over the pairs:\n\n"
        + markdown(list(means.values()))
        + f"\nfitted / untrained style distance: {fitted['style_distance'] / untrained['style_distance']:.3f}; "
        f"SSIM change {fitted['ssim'] - untrained['ssim']:+.3f}; closer on {closer} of {len(args.pairs)} pairs\n"
    )
    print(report, end="")
    write_file(args.out / "metrics.md", report.encode())


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
