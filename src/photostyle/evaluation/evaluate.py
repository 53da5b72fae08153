"""`photostyle evaluate`: run methods on content photos for one style photo, measure, tabulate."""

import csv
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from photostyle.errors import PhotostyleError
from photostyle.evaluation.baselines import BASELINES
from photostyle.evaluation.metrics import StyleDistance, affine_residual, colour_distance, grey_ssim
from photostyle.evaluation.post import post_process
from photostyle.files import write_failure, write_file
from photostyle.images import write_photo
from photostyle.settings import OptimizeSettings
from photostyle.training.tensors import load, to_array, to_tensor

# (content photo's path, content, style) -> output, all (1, 3, H, W) in [0, 1]; any output size.
Runner = Callable[[Path, torch.Tensor, torch.Tensor], torch.Tensor]
METRICS = ("style_distance", "colour_distance", "ssim", "affine_residual", "seconds")


@dataclass
class Evaluation:
    table: str  # the means per method, as Markdown
    skipped: list[Path]  # content photos that could not be evaluated


@dataclass
class Method:
    name: str
    run: Runner
    timed: bool = True  # False for outputs read from files: their time is not ours to measure
    reads: Path | None = None  # the folder of outputs a method reads them from, which its own outputs must not replace


def resized(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """image at size (H, W): antialiased bilinear, or untouched when it already is."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def file_method(name: str, outputs: Path) -> Method:
    """Existing outputs, e.g. a paper's results: the file in `outputs` named like each content photo."""

    def run(path: Path, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        matches = sorted(p for p in outputs.glob(f"{path.stem}.*") if p.is_file())
        if not matches:
            raise PhotostyleError(
                f"{outputs} has no output for {path.name} (looked for {path.stem}.*); "
                f"name each output like its content photo"
            )
        return load(matches[0])

    return Method(name, run, timed=False, reads=outputs)


def onnx_method(name: str, model_path: Path) -> Method:
    from photostyle.inference.runtime import StyleModel

    model = StyleModel(model_path)
    return Method(name, lambda path, content, style: to_tensor(model(to_array(content))))


def optimize_method(name: str, settings: OptimizeSettings) -> Method:
    from photostyle.evaluation.optimize import optimize_photo
    from photostyle.training.loss import PhotorealStyleLoss

    loss = PhotorealStyleLoss(**settings.loss)  # one VGG for every photo; a bad weight is refused before any work
    return Method(name, lambda path, content, style: optimize_photo(content, style, loss, settings, progress=False)[0])


def parse_method(spec: str, optimize_settings: OptimizeSettings) -> Method:
    """NAME=WHAT or WHAT, where WHAT is a baseline, `optimize`, an .onnx file or a folder of outputs."""
    name, _, what = spec.rpartition("=")
    name = name or Path(what).stem or what
    if name in ("", ".", "..") or "/" in name or "\\" in name:  # each method's outputs go to out_dir/NAME
        raise PhotostyleError(f"method {spec!r}: its name {name!r} must be a plain folder name; name it with NAME=WHAT")
    if what in BASELINES:
        baseline = BASELINES[what]
        return Method(name, lambda path, content, style: baseline(content, style))
    if what == "optimize":
        return optimize_method(name, optimize_settings)
    target = Path(what)
    if target.suffix.lower() == ".onnx":
        return onnx_method(name, target)
    if target.is_dir():
        return file_method(name, target)
    raise PhotostyleError(
        f"method {spec!r} is neither {', '.join(BASELINES)}, optimize, an .onnx file nor a folder of outputs;"
        " check the path"
    )


def measure(
    output: torch.Tensor, content: torch.Tensor, style: torch.Tensor, distance: StyleDistance, seconds: float | None
) -> dict:
    return {
        "style_distance": distance(output),
        "colour_distance": colour_distance(output, style),
        "ssim": grey_ssim(output, content),
        "affine_residual": affine_residual(output, content),
        "seconds": seconds,
    }


def evaluate_photo(
    content_path: Path,
    style: torch.Tensor,
    methods: list[Method],
    out_dir: Path,
    max_side: int | None,
    post: bool = False,
    distance: StyleDistance | None = None,
) -> list[dict]:
    """Run every method on one content photo (longer side max_side, None: as it is), write each output to
    out_dir/METHOD/NAME.png and return one row of metrics per method (and per method+post)."""
    content = load(content_path, max_side)
    distance = distance or StyleDistance(style)
    rows = []
    for method in methods:
        start = time.perf_counter()
        with torch.no_grad():
            output = resized(method.run(content_path, content, style), content.shape[-2:])
        elapsed = time.perf_counter() - start
        variants = [(method.name, output, elapsed)]
        if post:
            start = time.perf_counter()
            smoothed = post_process(content, output)
            variants.append((f"{method.name}+post", smoothed, elapsed + time.perf_counter() - start))
        for name, image, seconds in variants:
            path = out_dir / name / f"{content_path.stem}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_photo(path, to_array(image))
            rows.append(
                {
                    "photo": content_path.name,
                    "method": name,
                    "output": str(path),
                    **measure(image, content, style, distance, seconds if method.timed else None),
                }
            )
    return rows


def mean_table(rows: list[dict]) -> list[dict]:
    """One row per method, in first-seen order: each metric's mean over the photos it has."""
    table = []
    for method in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == method]
        means = {}
        for metric in METRICS:
            values = [row[metric] for row in mine if row[metric] is not None]
            means[metric] = sum(values) / len(values) if values else None
        table.append({"method": method, "photos": len(mine), **means})
    return table


METRIC_COLUMNS = ("style distance", "colour distance", "SSIM", "affine residual", "s / photo")


def _metric_cells(row: dict) -> list[str]:
    """A row's metrics as Markdown cells, in METRIC_COLUMNS' order."""
    return [
        f"{row['style_distance']:.2f}",
        f"{row['colour_distance']:.1f}",
        f"{row['ssim']:.3f}",
        f"{row['affine_residual']:.4f}",
        "" if row["seconds"] is None else f"{row['seconds']:.2f}",
    ]


def metrics_markdown(rows: list[dict], keys: tuple[str, ...]) -> str:
    """A Markdown table of rows: the values of `keys`, then the metrics."""
    header = [*keys, *METRIC_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join([*(str(row[key]) for key in keys), *_metric_cells(row)]) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown(table: list[dict]) -> str:
    """mean_table's rows as Markdown."""
    return metrics_markdown(table, ("method", "photos"))


def _check_outputs(contents: list[Path], style_path: Path, methods: list[Method], out_dir: Path, post: bool) -> None:
    """Refuse, before any work, an out_dir that is a file or whose outputs would land on an input photo."""
    if out_dir.exists() and not out_dir.is_dir():
        raise PhotostyleError(f"-o {out_dir} is a file; give a folder for the outputs")
    names = [name for method in methods for name in (method.name, f"{method.name}+post")[: 2 if post else 1]]
    outputs = {out_dir / name / f"{path.stem}.png" for name in names for path in contents}
    outputs |= {out_dir / "metrics.csv", out_dir / "metrics.md", out_dir / "sheet.png"}
    inputs = {path.resolve(): path for path in [*contents, style_path]}
    if clash := next((inputs[o.resolve()] for o in outputs if o.resolve() in inputs), None):
        raise PhotostyleError(f"-o {out_dir} would overwrite the input {clash}; choose another -o folder")
    for method in methods:
        if method.reads is not None and (out_dir / method.name).resolve() == method.reads.resolve():
            raise PhotostyleError(
                f"-o {out_dir} would write {method.name}'s outputs over the ones it reads from {method.reads};"
                " choose another -o folder"
            )


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_file(path, buffer.getvalue().encode())


def evaluate(
    contents: list[Path],
    style_path: Path,
    methods: list[Method],
    out_dir: Path,
    max_side: int = 512,
    post: bool = False,
    overwrite: bool = False,
    sheet_height: int = 192,
) -> Evaluation:
    """Evaluate every method on every content photo; writes outputs, metrics.csv, metrics.md and
    sheet.png (content | style | each method) into out_dir. A photo that fails is skipped with one
    line on stderr."""
    from photostyle.evaluation.contact_sheet import contact_sheet

    stems = [path.stem for path in contents]
    if len(set(stems)) < len(stems):
        twice = next(stem for stem in stems if stems.count(stem) > 1)
        raise PhotostyleError(
            f"two content photos are named {twice}.*, so their outputs would collide; evaluate them separately"
        )
    if (out_dir / "metrics.csv").exists() and not overwrite:
        raise PhotostyleError(
            f"{out_dir} already holds an evaluation; pass --overwrite to replace it or choose another -o folder"
        )

    _check_outputs(contents, style_path, methods, out_dir, post)

    style = load(style_path, max_side)
    distance = StyleDistance(style)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_failure(out_dir, error, fix="choose another -o") from None
    rows, sheet, skipped = [], [], []
    for content_path in tqdm(contents, desc="evaluate", unit="photo"):
        try:
            photo_rows = evaluate_photo(content_path, style, methods, out_dir, max_side, post, distance)
        except PhotostyleError as error:  # one unreadable photo, or a method without its output: the rest go on
            skipped.append(content_path)
            tqdm.write(f"photostyle: skipped: {error}", file=sys.stderr)
            continue
        rows += photo_rows
        sheet.append([content_path, style_path, *(Path(row["output"]) for row in photo_rows)])
    if not rows:
        raise PhotostyleError(f"none of the {len(contents)} content photos could be evaluated (see above)")
    table = markdown(mean_table(rows))
    write_csv(out_dir / "metrics.csv", rows)
    write_file(out_dir / "metrics.md", table.encode())
    labels = ["content", "style", *dict.fromkeys(row["method"] for row in rows)]
    contact_sheet(sheet, labels, out_dir / "sheet.png", sheet_height)
    return Evaluation(table, skipped)
