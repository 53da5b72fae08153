"""The `photostyle` command's arguments: a parser per command, and the checks of their values."""

import argparse
import dataclasses
import math
import os
from pathlib import Path

from photostyle import settings
from photostyle.images import DEFAULT_MAX_PIXELS


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


# Each onnxruntime thread has its own stack and scratch memory: 100000 of them take the machine's memory.
THREADS_PER_CORE = 4


def _thread_count(text: str) -> int:
    value, limit = _positive_int(text), THREADS_PER_CORE * (os.cpu_count() or 1)
    if value > limit:
        raise argparse.ArgumentTypeError(
            f"{value} is more than {THREADS_PER_CORE} threads for each of this machine's cores (at most"
            f" {limit}); leave --threads out to use every core"
        )
    return value


def _positive_number(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{value} is not a positive, finite number")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1 to 65535, or 0 for a free one)")
    return value


def _strength(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 (the photo) and 1 (fully stylized)")
    return value


def _smoothing(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not in [0, 1): 0 = every frame on its own, 0.9 = very steady")
    return value


def _grid_knots(text: str) -> int:
    try:
        value = int(text)
    except ValueError:  # `--grid photo.jpg ...`: the photo was taken for the knots
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of knots; write --grid after the photos, or give it one (--grid 9)"
        ) from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value} knots a side cannot make a grid; give at least 2, e.g. 9")
    return value


def _add_optimize_options(parser: argparse.ArgumentParser) -> None:
    pixels, grid = settings.OptimizeSettings(), settings.OptimizeSettings.of_grid()
    loss = pixels.loss
    parser.add_argument(
        "--max-side", type=_positive_int, default=512, help="work at this longer side (default: %(default)s)"
    )
    parser.add_argument(
        "--grid",
        type=_grid_knots,
        nargs="?",
        const=grid.grid,
        default=0,
        metavar="KNOTS",
        help=f"fit a KNOTSxKNOTS grid of affine colour maps (default {grid.grid}), the trained network's kind of look, "
        "instead of the pixels: a local affine colour map of the photo by construction, written at the photo's "
        "full size, closer to the style and faster (docs/results.md)",
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        help=f"optimisation steps, each one pass of the loss forward and back; L-BFGS's line searches count "
        f"(default: {pixels.steps}; with --grid, {grid.steps}, or {settings.GRID_STEPS['adam']} with --optimizer adam)",
    )
    parser.add_argument(
        "--init",
        choices=["reinhard", "content"],
        default=pixels.init,
        help="start from a closed-form colour transfer of the content (Reinhard's; with --grid, the network's "
        "global colour map) or from the content itself (default: %(default)s)",
    )
    parser.add_argument(
        "--optimizer",
        choices=settings.OPTIMIZERS,
        help=f"(default: {pixels.optimizer}; with --grid, {grid.optimizer}, which ends where Adam's "
        f"{settings.GRID_STEPS['adam']} steps do in half the time; Adam ends closer below about ten steps)",
    )
    parser.add_argument(
        "--lr", type=_positive_number, help=f"Adam step size (default: {pixels.lr}, or {grid.lr} with --grid)"
    )
    parser.add_argument("--style-weight", type=float, default=loss["style_weight"], help="(default: %(default)s)")
    parser.add_argument(
        "--photoreal-weight",
        type=float,
        default=loss["photoreal_weight"],
        help="matting-Laplacian weight: higher keeps a cleaner photograph (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=pixels.seed)


def optimize_settings(args: argparse.Namespace) -> settings.OptimizeSettings:
    # A model to start from (optimize's --model) means a grid, of the default's knots unless told.
    grid = settings.OptimizeSettings.of_grid()
    knots = args.grid or (grid.grid if getattr(args, "start_model", None) else 0)
    # The grid's budget depends on its optimiser.
    base = (
        settings.OptimizeSettings.of_grid(knots, args.optimizer or grid.optimizer)
        if knots
        else settings.OptimizeSettings()
    )
    return dataclasses.replace(
        base,
        steps=base.steps if args.steps is None else args.steps,
        lr=base.lr if args.lr is None else args.lr,
        init=args.init,
        optimizer=args.optimizer or base.optimizer,
        seed=args.seed,
        loss=base.loss | {"style_weight": args.style_weight, "photoreal_weight": args.photoreal_weight},
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photostyle", description="Photographic style transfer: stylize photos with a trained ONNX style model."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_stylize(commands)
    _add_optimize(commands)
    _add_evaluate(commands)
    _add_serve(commands)
    _add_lut(commands)
    _add_compare(commands)
    return parser


def _add_stylize(commands: argparse._SubParsersAction) -> None:
    stylize = commands.add_parser(
        "stylize", help="stylize photos and folders of photos with an ONNX model (onnxruntime only)"
    )
    stylize.add_argument("model", type=Path, help="the .onnx file written by export.py")
    stylize.add_argument(
        "inputs", type=Path, nargs="+", help="photos, video clips and folders of them (searched recursively)"
    )
    stylize.add_argument("-o", "--output", type=Path, required=True, help="folder for the results (created if missing)")
    stylize.add_argument(
        "--max-side", type=_positive_int, help="shrink each photo so its longer side is at most this many pixels"
    )
    stylize.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_PIXELS,
        help="refuse images larger than this (default: %(default)s)",
    )
    stylize.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs (inputs are never overwritten)"
    )
    stylize.add_argument(
        "--quality",
        type=int,
        default=95,
        choices=range(1, 101),
        metavar="1..100",
        help="JPEG/WebP quality (default: %(default)s)",
    )
    stylize.add_argument("--threads", type=_thread_count, help="onnxruntime threads (default: all cores)")
    stylize.add_argument(
        "--strength",
        type=_strength,
        default=1.0,
        help="how much of the look: 0 = the photo, 1 = the model's output (default: %(default)s)",
    )
    stylize.add_argument(
        "--post", action="store_true", help="clean each result up with the guided filter (removes halos; needs torch)"
    )
    stylize.add_argument(
        "--crf",
        type=int,
        default=settings.VIDEO_CRF,
        choices=range(0, 52),
        metavar="0..51",
        help="video quality, x264's constant rate factor: lower is better and bigger (default: %(default)s)",
    )
    stylize.add_argument(
        "--smoothing",
        type=_smoothing,
        default=settings.VIDEO_SMOOTHING,
        help="video: how much of the previous frame's look each frame keeps, in [0, 1); 0 = every frame on its own "
        "(default: %(default)s)",
    )


def _add_optimize(commands: argparse._SubParsersAction) -> None:
    optimize = commands.add_parser(
        "optimize",
        help="stylize one photo by per-image optimisation (Gatys et al. + Luan et al.'s photorealism term; "
        "slow, the quality reference)",
    )
    optimize.add_argument("content", type=Path, help="the photo to stylize")
    optimize.add_argument("style", type=Path, help="the style photo")
    optimize.add_argument("-o", "--output", type=Path, required=True, help="the image to write (.png, .jpg, ...)")
    _add_optimize_options(optimize)
    optimize.add_argument(
        "--content-mask", type=Path, help="colour label image of the content (DPST palette); needs --style-mask"
    )
    optimize.add_argument(
        "--style-mask", type=Path, help="colour label image of the style; regions are matched by colour"
    )
    optimize.add_argument(
        "--model",
        dest="start_model",
        type=Path,
        metavar="MODEL",
        help="start the --grid fit (implied) from this trained bilateral model's (.onnx) look of the photo instead "
        "of the global colour map: closer after about 15 Adam steps, not after 3 or after 30 L-BFGS passes "
        "(docs/results.md)",
    )
    optimize.add_argument("--post", action="store_true", help="finish with the guided-filter smoothing step")
    optimize.add_argument("--overwrite", action="store_true", help="replace an existing output")


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate", help="run methods on photos for one style photo; metrics table, outputs and a contact sheet"
    )
    evaluate.add_argument("contents", type=Path, nargs="+", help="content photos and folders")
    evaluate.add_argument("--style", type=Path, required=True, help="the style photo")
    evaluate.add_argument(
        "-m",
        "--method",
        action="append",
        required=True,
        metavar="[NAME=]WHAT",
        help="identity, reinhard, histogram, optimize, a model .onnx, or a folder of existing outputs "
        "named like the content photos (repeatable)",
    )
    evaluate.add_argument(
        "-o", "--output", type=Path, required=True, help="folder for outputs, metrics.csv, metrics.md and sheet.png"
    )
    evaluate.add_argument(
        "--post", action="store_true", help="also measure every method followed by the guided-filter smoothing step"
    )
    evaluate.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation in the -o folder")
    _add_optimize_options(evaluate)


def _add_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser(
        "serve", help="a web page and HTTP API that stylize uploads and webcam frames with every model in a folder"
    )
    serve.add_argument(
        "models", type=Path, help="folder of exported .onnx models (each is offered under its file name)"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)"
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="(default: %(default)s; 0 takes a free one, named in the first line)"
    )
    serve.add_argument(
        "--workers",
        type=_positive_int,
        default=settings.SERVE_WORKERS,
        help="photos stylized at the same time (default: %(default)s)",
    )
    serve.add_argument(
        "--queue",
        type=_positive_int,
        default=settings.SERVE_QUEUE,
        help="uploads that may be received or wait for a worker beyond the ones being stylized; one more gets 503 "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--max-upload-mb",
        type=_positive_number,
        default=settings.SERVE_MAX_UPLOAD_MB,
        help="largest upload accepted, counted as it arrives (default: %(default)s)",
    )
    serve.add_argument(
        "--upload-timeout",
        type=_positive_number,
        default=settings.SERVE_UPLOAD_TIMEOUT_S,
        metavar="SECONDS",
        help="an upload must arrive whole within this time of its headers, or it gets 408 and frees its place "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=settings.SERVE_MAX_PIXELS,
        help="largest photo accepted, in pixels (default: %(default)s)",
    )
    serve.add_argument(
        "--max-side",
        type=_positive_int,
        default=settings.SERVE_MAX_SIDE,
        help="larger photos are shrunk to this longer side before stylizing, which bounds each request's memory "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--allowed-hosts",
        nargs="+",
        default=list(settings.SERVE_ALLOWED_HOSTS),
        metavar="NAME",
        help="host names the server answers to (the Host header), * for any (default: %(default)s)",
    )


def _add_lut(commands: argparse._SubParsersAction) -> None:
    lut = commands.add_parser(
        "lut", help="the model's look as a 3D LUT (.cube) for Resolve, Premiere, Final Cut, Photoshop, OBS, ffmpeg"
    )
    lut.add_argument("model", type=Path, help="the .onnx file written by export.py")
    lut.add_argument("-o", "--output", type=Path, required=True, help="the .cube file to write")
    lut.add_argument(
        "--size", type=int, default=settings.LUT_SIZE, help="points per axis: 17, 33 or 65 (default: %(default)s)"
    )
    lut.add_argument(
        "--photos",
        type=Path,
        nargs="+",
        help="photos and folders to fit the LUT on (default: the bundled photos in data/content and data/samples)",
    )
    lut.add_argument(
        "--max-side",
        type=_positive_int,
        default=settings.LUT_MAX_SIDE,
        help="shrink each photo to this longer side first (default: %(default)s)",
    )
    lut.add_argument(
        "--smoothness",
        type=float,
        default=settings.LUT_SMOOTHNESS,
        help="how smooth the LUT is: lower follows the fitting photos more closely, higher carries over better "
        "to other photos and colours (default: %(default)s)",
    )
    lut.add_argument("--overwrite", action="store_true", help="replace an existing .cube file")


def _add_compare(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare", help="a before | after contact sheet of photos and their stylized versions"
    )
    compare.add_argument("before", type=Path, help="folder of original photos")
    compare.add_argument("after", type=Path, help="folder that `photostyle stylize` wrote for them")
    compare.add_argument("-o", "--output", type=Path, required=True, help="the sheet to write (.jpg or .png)")
    compare.add_argument(
        "--height", type=_positive_int, default=256, help="height of each photo on the sheet (default: %(default)s)"
    )
