"""The `photostyle` command."""

import argparse
import sys
from pathlib import Path

from photostyle.errors import exit_on_user_error
from photostyle.images import DEFAULT_MAX_PIXELS


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photostyle", description="Photographic style transfer: stylize photos with a trained ONNX style model.")
    commands = parser.add_subparsers(dest="command", required=True)
    stylize = commands.add_parser("stylize", help="stylize photos and folders of photos with an ONNX model (onnxruntime only)")
    stylize.add_argument("model", type=Path, help="the .onnx file written by export.py")
    stylize.add_argument("inputs", type=Path, nargs="+", help="photos and folders (searched recursively)")
    stylize.add_argument("-o", "--output", type=Path, required=True, help="folder for the results (created if missing)")
    stylize.add_argument("--max-side", type=_positive_int, help="shrink each photo so its longer side is at most this many pixels")
    stylize.add_argument("--max-pixels", type=_positive_int, default=DEFAULT_MAX_PIXELS, help="refuse images larger than this (default: %(default)s)")
    stylize.add_argument("--overwrite", action="store_true", help="replace existing outputs (inputs are never overwritten)")
    stylize.add_argument("--quality", type=int, default=95, choices=range(1, 101), metavar="1..100", help="JPEG/WebP quality (default: %(default)s)")
    stylize.add_argument("--threads", type=_positive_int, help="onnxruntime threads (default: all cores)")

    compare = commands.add_parser("compare", help="a before | after contact sheet of photos and their stylized versions")
    compare.add_argument("before", type=Path, help="folder of original photos")
    compare.add_argument("after", type=Path, help="folder that `photostyle stylize` wrote for them")
    compare.add_argument("-o", "--output", type=Path, required=True, help="the sheet to write (.jpg or .png)")
    compare.add_argument("--height", type=_positive_int, default=256, help="height of each photo on the sheet (default: %(default)s)")
    return parser


def _compare(before: Path, after: Path, output: Path, height: int) -> None:
    from photostyle.contact_sheet import contact_sheet
    from photostyle.errors import PhotostyleError
    from photostyle.images import find_photos, output_suffix

    rows = []
    for photo, relative in find_photos([before]):
        stylized = after / relative.relative_to(relative.parts[0]).with_suffix(output_suffix(photo))
        if not stylized.is_file():
            raise PhotostyleError(f"{stylized} is missing: {after} should hold the stylized versions of the photos in {before}")
        rows.append([photo, stylized])
    if not rows:
        raise PhotostyleError(f"no photos in {before}")
    contact_sheet(rows, ["before", "after"], output, height)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    with exit_on_user_error("photostyle"):
        if args.command == "stylize":
            from photostyle.stylize import stylize_paths

            failures = stylize_paths(args.model, args.inputs, args.output, args.max_side, args.max_pixels,
                                     args.overwrite, args.quality, args.threads)
            if failures:
                print(f"photostyle: {len(failures)} photo(s) could not be stylized (see above)", file=sys.stderr)
                sys.exit(1)
            print(f"stylized photos are in {args.output}")
        elif args.command == "compare":
            _compare(args.before, args.after, args.output, args.height)
            print(f"wrote {args.output}")
