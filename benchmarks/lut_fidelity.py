"""How closely a model's .cube LUT reproduces the model, on photos it was not fitted on.

    python -m benchmarks.lut_fidelity [NAME=]MODEL.onnx ... [--bench ../shared/bench]
        [--size 33] [--smoothness 1e-3 ...] [--max-side 512]

For each model, `photostyle lut`'s fit on the bundled photos (data/content and data/samples),
at each --smoothness, is compared with the model on every content photo of the bench pairs,
shrunk to --max-side: the CIEDE2000 of each pixel, its mean and 95th percentile over all
their pixels. Two bounds follow, fitted on the bench photos themselves at the smallest
smoothness: one LUT for all of them (the best a single LUT does on these photos), and one LUT
per photo. What the last leaves is the local part of the look (one colour mapped differently
in different places of a photo); the gap between the two bounds is the part that follows
each photo's own colours (the network's per-photo colour map). Prints a Markdown table.
"""

import datetime
import time
from pathlib import Path

import numpy as np

from benchmarks.basics import benchmark_parser
from benchmarks.common import add_bench_argument, read_pairs
from photostyle import settings
from photostyle.colour_difference import srgb_difference
from photostyle.images import read_photo, to_float
from photostyle.inference.lattice import apply_lattice
from photostyle.inference.lut import bundled_photos, collect_pairs, fit_lattice, read_photos
from photostyle.inference.runtime import StyleModel
from photostyle.photo_folders import find_photos

Images = list[tuple[np.ndarray, np.ndarray]]  # (photo, the model's output), (H, W, 3) each


def stylized(model: StyleModel, photos: list[np.ndarray]) -> Images:
    """uint8 photos -> (photo, the model's output) as floats."""
    return [(to_float(pixels), to_float(model.stylize(pixels)[0])) for pixels in photos]


def summary(lattice: np.ndarray, images: Images) -> tuple[float, float]:
    """Mean and 95th percentile of the CIEDE2000 between model and LUT over every pixel of the images."""
    return mean_and_p95([srgb_difference(out, apply_lattice(lattice, rgb)) for rgb, out in images])


def mean_and_p95(differences: list[np.ndarray]) -> tuple[float, float]:
    """The mean and 95th percentile of every pixel's difference, pooled over the images."""
    pooled = np.concatenate([d.ravel() for d in differences])
    return float(pooled.mean()), float(np.percentile(pooled, 95))


def fit(images: Images, size: int, smoothness: float) -> np.ndarray:
    pairs, _ = collect_pairs(images, sample_per_photo=0)
    return fit_lattice(pairs, size, smoothness)


def measure(model: StyleModel, bench: Images, size: int, smoothnesses: list[float], max_side: int) -> list[tuple]:
    """Rows (LUT fitted on, smoothness, mean, p95) on the bench images: no LUT, the default fit
    at each smoothness, then the two bounds at the smallest (the closest fit)."""
    bundled = stylized(model, list(read_photos([p for p, _ in find_photos(bundled_photos())], max_side)))
    # For scale: how far the look takes the photos, i.e. the identity LUT's difference.
    rows = [("nothing (the photo itself)", None, *mean_and_p95([srgb_difference(out, rgb) for rgb, out in bench]))]
    for smoothness in smoothnesses:
        start = time.perf_counter()
        lattice = fit(bundled, size, smoothness)
        print(
            f"  smoothness {smoothness:g}: fit on the bundled photos in {time.perf_counter() - start:.1f} s", flush=True
        )
        rows.append(("bundled photos (`photostyle lut`)", smoothness, *summary(lattice, bench)))
    closest = min(smoothnesses)
    rows.append(("all bench photos (bound)", closest, *summary(fit(bench, size, closest), bench)))
    own = [srgb_difference(out, apply_lattice(fit([(rgb, out)], size, closest), rgb)) for rgb, out in bench]
    rows.append(("each bench photo alone (bound)", closest, *mean_and_p95(own)))
    return rows


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("models", nargs="+", metavar="[NAME=]MODEL.onnx")
    add_bench_argument(parser)
    parser.add_argument("--size", type=int, default=settings.LUT_SIZE, help="points per axis of the LUT")
    parser.add_argument(
        "--smoothness", type=float, nargs="+", default=[settings.LUT_SMOOTHNESS], help="each fit's smoothness"
    )
    parser.add_argument("--max-side", type=int, default=settings.LUT_MAX_SIDE, help="the longer side photos shrink to")
    args = parser.parse_args()

    contents = sorted({row["content"] for row in read_pairs(args.bench).values()})
    photos = [read_photo(args.bench / content, args.max_side).pixels for content in contents]
    lines = [
        f"{len(photos)} bench content photos at longer side {args.max_side}, a {args.size}^3 LUT; "
        f"CIEDE2000 between the model and its LUT ({datetime.date.today()}):",
        "",
        "| model | LUT fitted on | smoothness | mean | 95th percentile |",
        "|---|---|---|---|---|",
    ]
    for spec in args.models:
        name, _, path = spec.rpartition("=")
        model = StyleModel(Path(path))
        bench = stylized(model, photos)
        print(name or path, flush=True)
        for fitted_on, smoothness, mean, p95 in measure(model, bench, args.size, args.smoothness, args.max_side):
            setting = f"{smoothness:g}" if smoothness else ""
            lines.append(f"| {name or path} | {fitted_on} | {setting} | {mean:.2f} | {p95:.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
