"""Load on `photostyle serve`: N concurrent clients on loopback, each posting photos back to back.

    python -m benchmarks.serve_load [MODEL.onnx] [--network bilateral] [--clients 1 8 32]
        [--seconds 20] [--photo data/samples/china.jpg] [--workers 2]

Starts the real server (`python -m photostyle serve`) in its own process with the given
model (default: the untrained default network of conf/model/NETWORK.yaml; speed does not
depend on the weights), then for each client count runs that many threads, each with its
own HTTP connection, posting the photo to /api/stylize for --seconds. Prints per client
count: requests/s, p50 and p99 latency, errors (any answer but 200, or a failed request)
and the server's peak RSS so far.
"""

import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.basics import benchmark_parser, proc_status_mib
from benchmarks.common import ROOT, model_to_serve, serving


def load(url: str, photo: bytes, model: str, clients: int, seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        nonlocal errors
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    ok = (
                        http.post(
                            f"{url}/api/stylize",
                            files={"image": ("photo.jpg", photo, "image/jpeg")},
                            data={"model": model},
                        ).status_code
                        == 200
                    )
                except httpx.HTTPError:
                    ok = False
                with lock:
                    if ok:
                        latencies.append(time.perf_counter() - start)
                    else:
                        errors += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("model", nargs="?", type=Path, help="an exported .onnx model")
    parser.add_argument(
        "--network", default="bilateral", help="without a model: export this untrained network of conf/model/"
    )
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--photo", type=Path, default=ROOT / "data" / "samples" / "china.jpg")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        name = model_to_serve(args.model, args.network, Path(folder))
        with serving(Path(folder), args.workers) as (url, server):
            photo = args.photo.read_bytes()
            print(
                f"model {name}, photo {args.photo.name} ({len(photo) / 1024:.0f} KiB), "
                f"server --workers {args.workers}, "
                f"{args.seconds:g} s per row, loopback"
            )
            print("| clients | requests/s | p50 ms | p99 ms | errors | server peak RSS MiB |")
            print("|---|---|---|---|---|---|")
            for clients in args.clients:
                latencies, errors = load(url, photo, name, clients, args.seconds)
                ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
                print(
                    f"| {clients} | {len(latencies) / args.seconds:.1f} | {np.percentile(ms, 50):.1f} | "
                    f"{np.percentile(ms, 99):.1f} | {errors} | {proc_status_mib('VmHWM', server.pid):.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
