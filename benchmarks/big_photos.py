"""Peak memory and time of `photostyle stylize` on one big JPEG, against its megapixels.

    python -m benchmarks.big_photos [MODEL.onnx] [--megapixels 12 24 50 100]
        [--compare-src DIR --compare-model OTHER.onnx]

Each size is a 3:2 JPEG made from a bundled photo, stylized by the `photostyle stylize` command
in a fresh process of its own (so one size's memory never counts in another's), which reports
its peak resident memory (VmHWM) when it is done. The table gives that peak, the peak as a
multiple of the photo's decoded 8-bit size, and the seconds the command took.
--compare-src runs the same photos through another checkout's src/ folder too (an earlier
version, say, with --compare-model a model that version exported), side by side in the same
run. Without MODEL.onnx, the default network is exported untrained (memory and speed do not
depend on the weights).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from benchmarks.basics import benchmark_parser, with_memory_probes
from benchmarks.common import ROOT

# In the child (after with_memory_probes's definitions): the stylize command in this process, then its peak memory.
CHILD = """
import sys
from photostyle.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    if done.code:
        raise
print(proc_status_mib("VmHWM"))
"""


def make_photo(megapixels: float, path: Path) -> tuple[int, int]:
    """A 3:2 JPEG of about `megapixels`, a bundled photo enlarged; its (width, height)."""
    height = round((megapixels * 1e6 / 1.5) ** 0.5)
    width = round(height * 1.5)
    with Image.open(ROOT / "data" / "samples" / "china.jpg") as photo:
        photo.convert("RGB").resize((width, height), Image.Resampling.BILINEAR).save(path, quality=90)
    return width, height


def stylize(src: Path, model: Path, photo: Path, out: Path) -> tuple[float, float]:
    """(peak MiB, seconds) of `photostyle stylize` on one photo, with photostyle from `src`."""
    command = [sys.executable, "-c", with_memory_probes(CHILD), "stylize", str(model), str(photo), "-o", str(out)]
    command += ["--overwrite", "--max-pixels", str(10**9)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(src)})
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"stylize failed with {src}: {done.stderr.strip().splitlines()[-1]}")
    return float(done.stdout.strip().splitlines()[-1]), seconds


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument(
        "model", nargs="?", type=Path, help="an exported .onnx (default: the default network, untrained)"
    )
    parser.add_argument("--megapixels", nargs="+", type=float, default=[12, 24, 50, 100], help="one photo each")
    parser.add_argument("--compare-src", type=Path, help="another checkout's src/ folder to measure side by side")
    parser.add_argument("--compare-model", type=Path, help="with --compare-src: a model that version exported")
    args = parser.parse_args()
    if bool(args.compare_src) != bool(args.compare_model):
        parser.error("--compare-src and --compare-model go together")

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        model = args.model
        if model is None:
            from benchmarks.common import export_network

            model = export_network("bilateral", folder)
        runs = {"this": (ROOT / "src", model)}
        if args.compare_src:
            runs["compared"] = (args.compare_src.resolve(), args.compare_model.resolve())
        print("| src | megapixels | size | decoded 8-bit MiB | peak RSS MiB | peak / decoded | seconds |")
        print("|---|---|---|---|---|---|---|")
        for megapixels in args.megapixels:
            photo = folder / f"{megapixels:g}mp.jpg"
            width, height = make_photo(megapixels, photo)
            decoded = width * height * 3 / 2**20
            for name, (src, model_file) in runs.items():
                peak, seconds = stylize(src, model_file, photo, folder / "out")
                print(
                    f"| {name} | {width * height / 1e6:.1f} | {width}x{height} | {decoded:.1f} | {peak:.0f} | "
                    f"{peak / decoded:.1f} | {seconds:.1f} |"
                )


if __name__ == "__main__":
    main()
