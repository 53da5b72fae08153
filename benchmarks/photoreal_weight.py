"""What loss.photoreal_weight does: train one model per weight, side by side, and measure.

    python -m benchmarks.photoreal_weight [--weights 0 3000 10000 30000] [--steps 300] [--out outputs/photoreal_weight]
        [--reuse] [-- OVERRIDE ...]

For each weight it runs train.py (the bundled defaults plus the overrides), export.py and
`photostyle stylize` on data/samples, then prints per weight the mean over the samples of
the greyscale SSIM against the original (structure kept; 1 = untouched), the relative
Gram distance to the style photo (relu1_1..relu4_1; lower = closer to the look), and the
matting-Laplacian energy per pixel (0 = locally affine colour map of the original).
A before/after sheet per weight is written beside the runs, and `photostyle evaluate`'s
metrics of every output and of the untouched samples (identity) to OUT/metrics.csv.
--reuse measures a weight's existing run in --out instead of training it again.
"""

import sys
from pathlib import Path

from benchmarks.basics import benchmark_parser
from benchmarks.common import ROOT, baseline_method, compose_config, run_cli, stylize, train_and_export
from photostyle.evaluation.evaluate import evaluate_photo, file_method, mean_table, write_csv
from photostyle.evaluation.metrics import StyleDistance
from photostyle.photo_folders import find_photos
from photostyle.training.matting import matting_laplacian_energy
from photostyle.training.tensors import load


def train_export_stylize(run_dir: Path, weight: float, steps: int, overrides: list[str], samples: Path) -> None:
    model = train_and_export(run_dir, [f"loss.photoreal_weight={weight}", f"trainer.max_steps={steps}", *overrides])
    stylize(model, [samples], run_dir / "stylized")
    run_cli("compare", samples, run_dir / "stylized" / "samples", "-o", run_dir / "before_after.jpg")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--weights", nargs="+", type=float, default=[0, 3000, 10000, 30000], help="one run each")
    parser.add_argument("--steps", type=int, default=300, help="training steps of each run")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "photoreal_weight", help="the runs and tables")
    parser.add_argument(
        "--reuse", action="store_true", help="measure existing runs in --out instead of retraining them"
    )
    parser.add_argument("overrides", nargs="*", help="more train.py overrides")
    args = parser.parse_args()

    samples = ROOT / "data" / "samples"
    # The style photo train.py trains on: a relative path is taken from ROOT, where train_and_export runs it.
    style = ROOT / compose_config(*args.overrides).style.image
    runs = {weight: args.out / f"weight_{weight:g}" for weight in args.weights}
    for weight, run_dir in runs.items():
        if not (args.reuse and (run_dir / "stylized" / "samples").is_dir()):
            train_export_stylize(run_dir, weight, args.steps, args.overrides, samples)
        print(f"weight {weight:g} done: {run_dir}", file=sys.stderr)

    # At full size (max_side None), as `stylize` wrote the samples.
    style_image = load(style)
    distance = StyleDistance(style_image)
    methods = [
        baseline_method("identity"),
        *(file_method(run_dir.name, run_dir / "stylized" / "samples") for run_dir in runs.values()),
    ]
    rows, energies = [], {weight: [] for weight in runs}
    for photo, relative in find_photos([samples]):
        rows += evaluate_photo(photo, style_image, methods, args.out, None, distance=distance)
        original = load(photo)
        for weight, run_dir in runs.items():
            energies[weight].append(matting_laplacian_energy(original, load(run_dir / "stylized" / relative)).item())
    write_csv(args.out / "metrics.csv", rows)

    untouched, *means = mean_table(rows)
    print(
        f"{args.steps} steps per run; samples: {samples}; style: {style.name}; "
        f"untouched samples: SSIM 1, style distance {untouched['style_distance']:.2f}"
    )
    print("| photoreal_weight | SSIM vs original | style distance | matting energy / pixel |")
    print("|---|---|---|---|")
    for weight, mean in zip(runs, means):
        energy = sum(energies[weight]) / len(energies[weight])
        print(f"| {weight:g} | {mean['ssim']:.3f} | {mean['style_distance']:.2f} | {energy:.5f} |")


if __name__ == "__main__":
    main()
