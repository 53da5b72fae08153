"""Peak memory of `photostyle serve` under large photos: N clients at once post one photo.

    python -m benchmarks.serve_memory [MODEL.onnx] [--network bilateral] [--size 7200x5000]
        [--formats png webp jpeg] [--clients 2] [--workers 2]

For each format, starts a fresh server (`python -m photostyle serve`, default limits) with the
model (default: the untrained default network of conf/model/NETWORK.yaml), makes a smooth
synthetic photo of --size in that format, posts it from --clients threads at once and prints
the answers, the server's RSS at rest, its peak (VmHWM) and its RSS afterwards.
"""

import io
import tempfile
import threading
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from benchmarks.basics import benchmark_parser, frame_size, proc_status_mib
from benchmarks.common import model_to_serve, serving


def synthetic_photo(width: int, height: int, image_format: str) -> bytes:
    """Smooth colour ramps and a box: decodes to the full size, compresses to little."""
    x, y = np.linspace(0, 1, width, dtype=np.float32), np.linspace(0, 1, height, dtype=np.float32)[:, None]
    rgb = np.stack(np.broadcast_arrays(x * 200 + 30, y * 180 + 40, (x + y) * 90 + 20), axis=-1).astype(
        np.uint8
    )  # (H, W, 3)
    rgb[height // 4 : height // 2, width // 4 : width // 2] = (200, 80, 40)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(
        buffer, format=image_format, **({"compress_level": 1} if image_format == "PNG" else {"quality": 85})
    )
    return buffer.getvalue()


def post(url: str, upload: dict, answers: list[httpx.Response]) -> None:
    answers.append(httpx.post(f"{url}/api/stylize", **upload))


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("model", nargs="?", type=Path, help="an exported .onnx model")
    parser.add_argument(
        "--network", default="bilateral", help="without a model: export this untrained network of conf/model/"
    )
    parser.add_argument("--size", type=frame_size, default="7200x5000", help="WIDTHxHEIGHT of the photo, 36 megapixels")
    parser.add_argument("--formats", nargs="+", default=["png", "webp", "jpeg"], help="one server and photo each")
    parser.add_argument("--clients", type=int, default=2, help="posting the photo at once")
    parser.add_argument("--workers", type=int, default=2, help="the server's --workers")
    args = parser.parse_args()
    width, height = args.size

    with tempfile.TemporaryDirectory() as folder:
        name = model_to_serve(args.model, args.network, Path(folder))
        print(
            f"model {name}, {width}x{height} photos, {args.clients} at once, server --workers {args.workers},"
            " default limits"
        )
        print("| format | file KiB | answers | answer size | RSS at rest MiB | peak RSS MiB | RSS after MiB |")
        print("|---|---|---|---|---|---|---|")
        for image_format in args.formats:
            photo = synthetic_photo(width, height, image_format.upper())
            with serving(Path(folder), args.workers) as (url, server):
                rest = proc_status_mib("VmRSS", server.pid)
                answers: list[httpx.Response] = []
                upload = {"files": {"image": (f"photo.{image_format}", photo)}, "data": {"model": name}, "timeout": 300}
                clients = [threading.Thread(target=post, args=(url, upload, answers)) for _ in range(args.clients)]
                for client in clients:
                    client.start()
                for client in clients:
                    client.join()
                sizes = {Image.open(io.BytesIO(a.content)).size for a in answers if a.status_code == 200}
                print(
                    f"| {image_format} | {len(photo) / 1024:.0f} | {' '.join(str(a.status_code) for a in answers)} | "
                    f"{' '.join(f'{w}x{h}' for w, h in sizes)} | {rest:.0f} | "
                    f"{proc_status_mib('VmHWM', server.pid):.0f} | {proc_status_mib('VmRSS', server.pid):.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
