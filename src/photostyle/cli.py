"""The `photostyle` command: each subcommand's work, on the arguments that photostyle.arguments parses.

Each command imports what it needs when it runs: stylizing needs onnxruntime alone, never torch,
and `--help` or a mistyped argument answers at once.
"""

import argparse
import sys
import warnings
from collections.abc import Callable

from photostyle import arguments, settings
from photostyle.errors import PhotostyleError, PhotostyleWarning, exit_on_user_error
from photostyle.files import check_output_file, write_failure


def _stylize(args: argparse.Namespace) -> None:
    from photostyle.inference.stylize import stylize_paths

    post = None
    if args.post:  # the guided filter needs torch, which stylize alone never imports
        from photostyle.evaluation.post import post_process_rgb as post

    failures = stylize_paths(
        args.model,
        args.inputs,
        args.output,
        max_side=args.max_side,
        max_pixels=args.max_pixels,
        overwrite=args.overwrite,
        quality=args.quality,
        threads=args.threads,
        post=post,
        strength=args.strength,
        crf=args.crf,
        smoothing=args.smoothing,
    )
    if failures:
        print(f"photostyle: {len(failures)} file(s) could not be stylized (see above)", file=sys.stderr)
        sys.exit(1)
    print(f"stylized files are in {args.output}")


def _compare(args: argparse.Namespace) -> None:
    from photostyle.evaluation.contact_sheet import contact_sheet
    from photostyle.images import output_suffix, photo_format
    from photostyle.photo_folders import find_photos

    before, after = args.before, args.after
    if not before.is_dir():
        raise PhotostyleError(f"{before} is not a folder; give the folder of originals and the folder stylize wrote")
    photo_format(args.output)  # the sheet's suffix checked before every photo is read, not after
    rows = []
    for photo, relative in find_photos([before]):
        stylized = after / relative.relative_to(relative.parts[0]).with_suffix(output_suffix(photo))
        if not stylized.is_file():
            raise PhotostyleError(
                f"{stylized} is missing: {after} should hold the stylized versions of the photos in {before}"
            )
        rows.append([photo, stylized])
    if not rows:
        raise PhotostyleError(f"no photos in {before}")
    if args.output.resolve() in {photo.resolve() for row in rows for photo in row}:
        raise PhotostyleError(f"-o {args.output} would overwrite one of the photos it shows; choose another file")
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_failure(args.output, error, fix="choose another -o") from None
    contact_sheet(rows, ["before", "after"], args.output, args.height)
    print(f"wrote {args.output}")


def _optimize(args: argparse.Namespace) -> None:
    from photostyle.evaluation.masks import read_labels, shared_masks
    from photostyle.evaluation.optimize import model_look, optimize_look, optimize_photo
    from photostyle.evaluation.post import post_process
    from photostyle.images import photo_format, read_photo, write_photo
    from photostyle.training.loss import PhotorealStyleLoss
    from photostyle.training.tensors import load, to_array

    if (args.content_mask is None) != (args.style_mask is None):
        raise PhotostyleError("give both --content-mask and --style-mask, or neither")
    if args.output.resolve() in (args.content.resolve(), args.style.resolve()):
        raise PhotostyleError(f"-o {args.output} would overwrite an input; choose another output file")
    check_output_file(args.output, args.overwrite)
    photo_format(args.output)  # a suffix photostyle cannot write, known before minutes of work, not after
    optimize_settings = arguments.optimize_settings(args)
    optimize_settings.check()
    if args.post and optimize_settings.grid:
        raise PhotostyleError("--post smooths the pixels' result; a --grid result needs none, drop one of the two")
    loss = PhotorealStyleLoss(**optimize_settings.loss)
    content, style = load(args.content, args.max_side), load(args.style, args.max_side)
    masks = (None, None)
    if args.content_mask:
        masks = shared_masks(
            read_labels(args.content_mask, content.shape[-2:]), read_labels(args.style_mask, style.shape[-2:])
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if optimize_settings.grid:
        # Fitted at --max-side, the look applies to the photo as it is, at its full size.
        start = model_look(args.start_model, content) if args.start_model else None
        look, losses = optimize_look(content, style, loss, optimize_settings, *masks, start=start)
        photo = read_photo(args.content)
        write_photo(args.output, look.stylize_bytes(photo.pixels), photo.alpha, photo.exif)
    else:
        result, losses = optimize_photo(content, style, loss, optimize_settings, *masks)
        write_photo(args.output, to_array(post_process(content, result) if args.post else result))
    steps = f"{optimize_settings.steps} step" + ("s" if optimize_settings.steps != 1 else "")
    print(f"loss {losses[0]:.4g} -> {losses[-1]:.4g} in {steps}; wrote {args.output}")


def _evaluate(args: argparse.Namespace) -> None:
    from photostyle.evaluation.evaluate import evaluate, parse_method
    from photostyle.photo_folders import find_photos

    contents = [photo for photo, _ in find_photos(args.contents)]
    if not contents:
        raise PhotostyleError(f"no photos found in {', '.join(map(str, args.contents))}")
    optimize_settings = arguments.optimize_settings(args)
    optimize_settings.check()
    methods = [parse_method(spec, optimize_settings) for spec in args.method]
    if len({m.name for m in methods}) < len(methods):
        raise PhotostyleError("two methods have the same name; name them with NAME=WHAT")
    evaluation = evaluate(
        contents, args.style, methods, args.output, max_side=args.max_side, post=args.post, overwrite=args.overwrite
    )
    print(evaluation.table, end="")
    print(f"outputs, metrics.csv, metrics.md and sheet.png are in {args.output}")
    if evaluation.skipped:
        print(f"photostyle: {len(evaluation.skipped)} photo(s) could not be evaluated (see above)", file=sys.stderr)
        sys.exit(1)


def _lut(args: argparse.Namespace) -> None:
    from photostyle.inference.lut import make_lut

    report = make_lut(
        args.model,
        args.output,
        size=args.size,
        photos=args.photos,
        max_side=args.max_side,
        smoothness=args.smoothness,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {args.output}: a {args.size}^3 LUT fitted to {report.pixels:,} pixels ({report.colours:,} colours)"
        f" in {report.fit_seconds:.1f} s; CIEDE2000 to the model on those photos: mean {report.delta_e_mean:.2f},"
        f" 95th percentile {report.delta_e_p95:.2f}"
    )
    if report.skipped:
        print(
            f"photostyle: {report.skipped} photo(s) could not be read (see above); the LUT fits the others",
            file=sys.stderr,
        )
        sys.exit(1)


def _serve(args: argparse.Namespace) -> None:
    from photostyle.inference.serve import create_app
    from photostyle.inference.server import build_server, listening_sockets

    app = create_app(
        args.models,
        workers=args.workers,
        queue=args.queue,
        max_upload_mb=args.max_upload_mb,
        max_pixels=args.max_pixels,
        max_side=args.max_side,
        allowed_hosts=args.allowed_hosts,
        upload_timeout_s=args.upload_timeout,
    )
    sockets = listening_sockets(args.host, args.port)
    server = build_server(app, uploads=args.workers + args.queue, listeners=len(sockets))
    host = f"[{args.host}]" if ":" in args.host else args.host or "0.0.0.0"
    port = sockets[0].getsockname()[1]  # --port 0 takes a free one
    print(
        f"photostyle: serving {args.models} on http://{host}:{port}/ (API docs at /docs); Ctrl-C stops it", flush=True
    )
    if args.allowed_hosts == list(settings.SERVE_ALLOWED_HOSTS) and args.host not in settings.SERVE_ALLOWED_HOSTS:
        print(
            "photostyle: note: only requests addressed to this machine's loopback names are answered; "
            "name the host others use with --allowed-hosts",
            flush=True,
        )
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:  # uvicorn stops on Ctrl-C, then raises it again: stopping is the normal end
        pass


COMMANDS = {
    "stylize": _stylize,
    "optimize": _optimize,
    "evaluate": _evaluate,
    "serve": _serve,
    "lut": _lut,
    "compare": _compare,
}


def main(argv: list[str] | None = None) -> None:
    # A file name that is not valid UTF-8 is printed escaped, not a UnicodeEncodeError after the work is done.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    args = arguments.build_parser().parse_args(argv)
    with warnings.catch_warnings(), exit_on_user_error("photostyle"):
        warnings.showwarning = _one_line_for_the_user(warnings.showwarning)
        COMMANDS[args.command](args)


def _one_line_for_the_user(show: Callable) -> Callable:
    """warnings.showwarning that prints photostyle's own warnings (a folder or photo skipped) as
    one line, not Python's two with a source line, and passes other libraries' to `show`."""

    def show_warning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, PhotostyleWarning):
            print(f"photostyle: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return show_warning
