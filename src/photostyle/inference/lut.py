"""`photostyle lut`: a style model's look as a 3D LUT (.cube). The model runs on a set of
photos; the pairs (photo colour, model output) it gives are fitted by a lattice (lattice_fit)."""

import math
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from photostyle import settings
from photostyle.colour_difference import srgb_difference
from photostyle.errors import PhotostyleError
from photostyle.files import check_output_file, write_failure
from photostyle.images import IMAGE_EXTENSIONS, read_photo, to_float
from photostyle.inference.lattice import apply_lattice, identity_lattice, write_cube
from photostyle.inference.lattice_fit import fit_deviation
from photostyle.inference.runtime import StyleModel
from photostyle.photo_folders import find_photos

SAMPLE_PER_PHOTO = 20_000  # pixels of each photo kept to measure the fit with
# The photos the project ships (data/README.md), the default set to fit on.
BUNDLED_PHOTOS = Path(__file__).resolve().parents[3] / "data"
BUNDLED_FOLDERS = ("content", "samples")


@dataclass
class ColourPairs:
    """Input colours (N, 3) in [0, 1], the model's output for each (N, 3), and the pixels each stands for (N,)."""

    inputs: np.ndarray
    outputs: np.ndarray
    weights: np.ndarray

    @classmethod
    def of_image(cls, rgb: np.ndarray, stylized: np.ndarray) -> "ColourPairs":
        """One pair per pixel of a photo (H, W, 3) and the model's output for it."""
        inputs, outputs = rgb.reshape(-1, 3).astype(np.float64), stylized.reshape(-1, 3).astype(np.float64)
        return cls(inputs, outputs, np.ones(len(inputs)))

    @classmethod
    def empty(cls) -> "ColourPairs":
        return cls(np.empty((0, 3)), np.empty((0, 3)), np.empty(0))

    def __add__(self, other: "ColourPairs") -> "ColourPairs":
        return ColourPairs(
            np.concatenate([self.inputs, other.inputs]),
            np.concatenate([self.outputs, other.outputs]),
            np.concatenate([self.weights, other.weights]),
        )

    def sample(self, count: int, rng: np.random.Generator) -> "ColourPairs":
        """At most `count` pairs, drawn without replacement."""
        chosen = rng.choice(len(self.weights), size=min(count, len(self.weights)), replace=False)
        return ColourPairs(self.inputs[chosen], self.outputs[chosen], self.weights[chosen])


def by_input_colour(pairs: ColourPairs) -> ColourPairs:
    """One pair per 8-bit input colour: the weighted mean of its outputs, weights summed.

    Least squares over the merged pairs is least squares over the originals (up to a
    constant), so a fit over millions of pixels costs only their distinct colours.
    """
    levels = np.rint(pairs.inputs * 255).astype(np.int64)  # (N, 3)
    codes = (levels[:, 0] << 16) | (levels[:, 1] << 8) | levels[:, 2]
    distinct, which = np.unique(codes, return_inverse=True)
    weights = np.bincount(which, pairs.weights)
    sums = np.stack([np.bincount(which, pairs.weights * pairs.outputs[:, c]) for c in range(3)], axis=1)
    colours = np.stack([distinct >> 16, (distinct >> 8) & 255, distinct & 255], axis=1) / 255.0
    return ColourPairs(colours, sums / weights[:, None], weights)


def collect_pairs(
    images: Iterable[tuple[np.ndarray, np.ndarray]], sample_per_photo: int
) -> tuple[ColourPairs, ColourPairs]:
    """(photo, the model's output) (H, W, 3) each -> all their pixels' pairs merged by input
    colour (to fit), and `sample_per_photo` random pixels of each photo (to measure the fit with),
    the same ones every run."""
    rng = np.random.default_rng(0)
    merged, sampled = ColourPairs.empty(), ColourPairs.empty()
    for rgb, stylized in images:
        pixels = ColourPairs.of_image(rgb, stylized)
        merged = by_input_colour(merged + pixels)  # merged as it grows, so it never exceeds 256^3 colours
        sampled = sampled + pixels.sample(sample_per_photo, rng)
    return merged, sampled


def fit_lattice(pairs: ColourPairs, size: int, smoothness: float = settings.LUT_SMOOTHNESS) -> np.ndarray:
    """The (S, S, S, 3) lattice in [0, 1] whose trilinear interpolation reproduces the pairs
    best (see lattice_fit)."""
    deviation, _ = fit_deviation(pairs.inputs, pairs.outputs, pairs.weights, size, smoothness)
    return np.clip(identity_lattice(size) + deviation, 0.0, 1.0)


@dataclass
class LutReport:
    """What `photostyle lut` did: the pixels and distinct colours fitted, the fit's time, and
    the CIEDE2000 between the model and the LUT at SAMPLE_PER_PHOTO pixels of each photo."""

    pixels: int
    colours: int
    fit_seconds: float
    delta_e_mean: float
    delta_e_p95: float
    skipped: int  # photos that could not be read


def bundled_photos() -> list[Path]:
    folders = [BUNDLED_PHOTOS / name for name in BUNDLED_FOLDERS]
    if not all(folder.is_dir() for folder in folders):
        raise PhotostyleError(
            f"the bundled photos ({BUNDLED_PHOTOS}) are not installed with this copy of photostyle;"
            " pass --photos with a folder of photos"
        )
    return folders


def check_output(output: Path, overwrite: bool) -> None:
    """Refuse, before any work, an output that is not a .cube file that may be written."""
    if output.suffix.lower() != ".cube":
        raise PhotostyleError(f"-o {output}: a LUT file is named .cube (for example -o look.cube)")
    check_output_file(output, overwrite)


def read_photos(paths: list[Path], max_side: int, skipped: list[Path] | None = None) -> Iterator[np.ndarray]:
    """Each photo (H, W, 3) uint8 shrunk to max_side, with a progress bar; unreadable ones are skipped with a
    note, and added to `skipped`."""
    for path in tqdm(paths, desc="lut", unit="photo"):
        try:
            yield read_photo(path, max_side).pixels
        except PhotostyleError as error:
            tqdm.write(f"photostyle: skipped: {error}", file=sys.stderr)
            if skipped is not None:
                skipped.append(path)


def make_lut(
    model_path: Path,
    output: Path,
    size: int = settings.LUT_SIZE,
    photos: list[Path] | None = None,
    max_side: int = settings.LUT_MAX_SIDE,
    smoothness: float = settings.LUT_SMOOTHNESS,
    overwrite: bool = False,
) -> LutReport:
    """Fit a size^3 LUT to the model on photos and folders (the bundled photos by default) and write it as .cube."""
    if size not in settings.LUT_SIZES:
        raise PhotostyleError(f"--size {size} is not a LUT size tools read; use 17, 33 or 65")
    if not 0 < smoothness < math.inf:
        raise PhotostyleError(
            f"--smoothness {smoothness} must be a positive, finite number (for example {settings.LUT_SMOOTHNESS})"
        )
    check_output(output, overwrite)
    model = StyleModel(model_path)
    folders = photos or bundled_photos()
    paths = [path for path, _ in find_photos(folders)]
    if not paths:
        raise PhotostyleError(
            f"no photos found in {', '.join(map(str, folders))} (looked for {' '.join(IMAGE_EXTENSIONS)})"
        )
    skipped: list[Path] = []
    pairs = ((to_float(pixels), to_float(model.stylize(pixels)[0])) for pixels in read_photos(paths, max_side, skipped))
    merged, sampled = collect_pairs(pairs, SAMPLE_PER_PHOTO)
    if not len(merged.weights):
        raise PhotostyleError(f"none of the {len(paths)} photos could be read (see above)")
    start = time.perf_counter()
    lattice = fit_lattice(merged, size, smoothness)
    fit_seconds = time.perf_counter() - start
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_cube(output, lattice, f"photostyle {Path(model_path).stem}")
    except OSError as error:
        raise write_failure(output, error, fix="choose another -o") from None
    delta_e = srgb_difference(sampled.outputs, apply_lattice(lattice, sampled.inputs))
    return LutReport(
        int(merged.weights.sum()),
        len(merged.weights),
        fit_seconds,
        delta_e.mean(),
        np.percentile(delta_e, 95),
        len(skipped),
    )
