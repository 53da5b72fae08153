"""`photostyle stylize`: files and folders through an ONNX style model, written atomically."""

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from photostyle.errors import PhotostyleError
from photostyle.images import DEFAULT_MAX_PIXELS, find_photos, output_suffix, read_photo, write_photo
from photostyle.inference.runtime import StyleModel

# (photo, stylized) -> cleaned-up stylized, each (H, W, 3) float RGB
PostProcess = Callable[[np.ndarray, np.ndarray], np.ndarray]


def plan_outputs(inputs: list[Path], output_dir: Path, overwrite: bool) -> list[tuple[Path, Path]]:
    """(photo, output file) pairs, refusing collisions, overwriting inputs and (unless asked) outputs."""
    pairs = find_photos(inputs)
    if not pairs:
        raise PhotostyleError(
            f"no photos found in {', '.join(map(str, inputs))} (looked for .jpg .png .webp .bmp .tiff)"
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise PhotostyleError(f"output {output_dir} is a file, not a folder; pass a folder with -o")
    sources = {photo.resolve() for photo, _ in pairs}
    plan, targets = [], {}
    for photo, relative in pairs:
        target = output_dir / relative.with_suffix(output_suffix(photo))
        if target.resolve() in sources:
            raise PhotostyleError(f"writing {target} would overwrite the input photo {photo}; choose another -o folder")
        if target.resolve() in targets:
            raise PhotostyleError(
                f"{photo} and {targets[target.resolve()]} would both be written to {target}; stylize them separately"
            )
        targets[target.resolve()] = photo
        plan.append((photo, target))
    existing = [target for _, target in plan if target.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise PhotostyleError(
            f"{existing[0]}{more} already exist; pass --overwrite to replace them or choose another -o folder"
        )
    return plan


def stylize_paths(
    model_path: Path,
    inputs: list[Path],
    output_dir: Path,
    max_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    overwrite: bool = False,
    quality: int = 95,
    threads: int | None = None,
    post: PostProcess | None = None,
    strength: float = 1.0,
) -> list[str]:
    """Stylize every photo; returns one message per photo that could not be done.

    `strength` blends each result with its photo (0 = the photo, 1 = the model's output).
    `post(photo, stylized)` cleans each result up (the CLI's --post passes the guided filter).
    """
    model = StyleModel(model_path, threads=threads)
    plan = plan_outputs(inputs, output_dir, overwrite)
    failures = []
    for photo, target in tqdm(plan, desc="stylize", unit="photo"):
        try:
            image = read_photo(photo, max_side=max_side, max_pixels=max_pixels)
            if image.frames > 1:
                tqdm.write(f"photostyle: note: {photo} is animated; only its first frame is stylized", file=sys.stderr)
            target.parent.mkdir(parents=True, exist_ok=True)
            stylized, _ = model.stylize(image.pixels, strength)
            if post is not None:
                stylized = post(image.rgb, stylized.astype(np.float32) / 255)
            write_photo(target, stylized, image.alpha, image.exif, quality)
        except PhotostyleError as error:
            failures.append(str(error))
            tqdm.write(f"photostyle: skipped: {error}", file=sys.stderr)
        except OSError as error:
            failures.append(f"{target}: {error.strerror or error}")
            tqdm.write(
                f"photostyle: skipped: cannot write {target} ({error.strerror or error});"
                " check the folder permissions and free space",
                file=sys.stderr,
            )
    return failures
