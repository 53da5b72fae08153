"""onnxruntime latency of exported style models, side by side in one run.

    python benchmarks/latency.py MODEL.onnx [MODEL.onnx ...] [--sizes 512x512 1920x1080 3840x2160]

Each model runs in its own child process (so its peak memory is its own) on the same
random images; the table gives median and p90 milliseconds over --runs timed runs after
--warmup untimed ones, the process's peak RSS, the peak RSS added while running that size
against the input image's own float32 bytes, and, for every model after the first, the
ratio first/that model at each size.
"""

import argparse
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _measure(model: str, sizes: list[tuple[int, int]], runs: int, warmup: int, threads: int, queue) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    results = []
    for height, width in sizes:
        image = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
        before = _peak_rss_mb()
        for _ in range(warmup):
            session.run(None, {name: image})
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(None, {name: image})
            times.append((time.perf_counter() - start) * 1000)
        extra = _peak_rss_mb() - before
        results.append((float(np.median(times)), float(np.percentile(times, 90)), _peak_rss_mb(), extra / (image.nbytes / 2**20)))
    queue.put(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--sizes", nargs="+", default=["512x512", "1920x1080", "3840x2160"], help="WIDTHxHEIGHT")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x"))[::-1] for size in args.sizes]  # (height, width)

    context = multiprocessing.get_context("spawn")
    table = {}
    for model in args.models:
        queue = context.Queue()
        child = context.Process(target=_measure, args=(str(model), sizes, args.runs, args.warmup, args.threads, queue))
        child.start()
        table[model] = queue.get()
        child.join()

    print(f"onnxruntime, {args.threads} threads, {args.runs} timed runs after {args.warmup} warm-up runs")
    print(f"| model | size | median ms | p90 ms | peak RSS MiB | extra RSS / input bytes |{' ratio |' if len(args.models) > 1 else ''}")
    print(f"|---|---|---|---|---|---|{'---|' if len(args.models) > 1 else ''}")
    first = table[args.models[0]]
    for model, rows in table.items():
        for (height, width), (median, p90, peak, extra), baseline in zip(sizes, rows, first):
            ratio = f" {baseline[0] / median:.1f}x |" if len(args.models) > 1 and model != args.models[0] else (" |" if len(args.models) > 1 else "")
            print(f"| {model.name} | {width}x{height} | {median:.1f} | {p90:.1f} | {peak:.0f} | {extra:.1f} |{ratio}")


if __name__ == "__main__":
    main()
