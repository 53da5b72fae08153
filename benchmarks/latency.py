"""Latency of style networks at photo sizes, side by side in one run.

    python -m benchmarks.latency [MODEL.onnx ...] [--networks residual bilateral]
        [--sizes 512x512 1920x1080 3840x2160] [--runs 20] [--warmup 3] [--threads 2]
        [--provider cpu|cuda] [--torch-cuda [--cuda-graph]]

--networks exports each named network of conf/model/ with its default settings (untrained:
speed does not depend on the weights), or with some changed, NAME:KEY=VALUE[,KEY=VALUE...]
(train.py's config with the overrides model=NAME model.KEY=VALUE), into a temporary folder;
MODEL.onnx files are taken as they are. Each model runs in its own child process on the same
random images, with onnxruntime (--provider cuda needs an onnxruntime build with CUDA) or,
with --torch-cuda, as the PyTorch network on the GPU (for machines whose onnxruntime has no
CUDA); --cuda-graph then captures the network once per size as a CUDA graph and times its
replays, which leaves out the launch of each small kernel from Python (most of the bilateral
network's time). The table gives median and p90 milliseconds of --runs timed runs after
--warmup untimed ones, the peak memory while running that size (process RSS; GPU memory with
--torch-cuda), the peak memory added by the run as a multiple of the input image's bytes,
and, for every model after the first, the ratio first/this at each size.

With onnxruntime, the same run first times the floor at each size: one elementwise float32
pass over the image in onnxruntime (x * 2) and a uint8 copy of it in NumPy; each time is also
given in those float32 passes. Each model is timed twice: the model alone, fed what it takes
(uint8 or float32, and for a bilateral model all rows and no previous look: interface.py),
and photo to photo, a decoded uint8 (H, W, 3) photo to the uint8 result through the runtime
(StyleModel.stylize: conversions for a float32 model, bands for a big photo), what stylize and
serve pay between decoding and encoding.
"""

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.basics import benchmark_parser, frame_size, proc_status_mib, reset_peak_memory

MIB = 2**20


def _timed(run, image, runs: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        run(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(image)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), float(np.percentile(times, 90))


FLOAT_PASS, BYTE_COPY = "float32 pass (floor)", "uint8 copy (floor)"
PHOTO_TO_PHOTO = " (photo to photo)"


PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


def _float_pass_session(args: argparse.Namespace):
    """The floor model in a session set up as the runtime's (StyleModel) are."""
    import onnxruntime as ort

    from photostyle.inference.runtime import session_options

    return ort.InferenceSession(
        _float_pass_model(), session_options(args.threads), providers=[PROVIDERS[args.provider]]
    )


def _float_pass_model() -> bytes:
    """x * 2 over a float32 (N, H, W, 3) image: one elementwise pass, the floor of any model."""
    from onnx import TensorProto, helper

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", "h", "w", 3])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.FLOAT, ["n", "h", "w", 3])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "two"], ["doubled"])], "floor", [image], [doubled], [two]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]).SerializeToString()


def _runner(model: str, image: np.ndarray, args: argparse.Namespace):
    """(run, its input) for a float image (1, H, W, 3): a floor, or a model fed what it takes."""
    if model == BYTE_COPY:
        copy = np.empty(image.shape, np.uint8)
        return (lambda x: np.copyto(copy, x)), (image * 255).astype(np.uint8)
    if model == FLOAT_PASS:
        session = _float_pass_session(args)
        return (lambda x: session.run(None, {"image": x})), image
    from photostyle.inference.runtime import StyleModel

    styler = StyleModel(
        Path(model.removesuffix(PHOTO_TO_PHOTO)), threads=args.threads, providers=[PROVIDERS[args.provider]]
    )
    pixels = (image[0] * 255).astype(np.uint8)
    if model.endswith(PHOTO_TO_PHOTO):
        return styler.stylize, pixels
    feeds = styler.feeds(pixels[None] if styler.pixel_type == "uint8" else image, range(image.shape[1]))
    return (lambda x: styler.session.run(None, {**feeds, "image": x})), feeds["image"]


def _measure_onnxruntime(model: str, sizes: list[tuple[int, int]], args: argparse.Namespace, queue) -> None:
    results = []
    for height, width in sizes:
        run, image = _runner(model, np.random.default_rng(0).random((1, height, width, 3), dtype=np.float32), args)
        reset_peak_memory()
        before = proc_status_mib("VmRSS")
        median, p90 = _timed(run, image, args.runs, args.warmup)
        peak = proc_status_mib("VmHWM")
        results.append((median, p90, peak, (peak - before) * MIB / image.nbytes))
    queue.put(results)


def _measure_torch_cuda(model: str, sizes: list[tuple[int, int]], args: argparse.Namespace, queue) -> None:
    import torch

    from benchmarks.common import build_network
    from photostyle.training.onnx_export import Deployed

    net = Deployed(build_network(model)).cuda().eval()

    def run(image: torch.Tensor) -> None:
        with torch.no_grad():
            net(image)
        torch.cuda.synchronize()

    results = []
    for height, width in sizes:
        image = torch.rand(1, height, width, 3, generator=torch.Generator().manual_seed(0)).cuda()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        median, p90 = _timed(_graph_replay(net, image) if args.cuda_graph else run, image, args.runs, args.warmup)
        peak = torch.cuda.max_memory_allocated()
        results.append((median, p90, peak / MIB, (peak - before) / (image.numel() * 4)))
    queue.put(results)


def _graph_replay(net, example):
    """A run(image) that copies the image into a static input and replays net captured on it as one CUDA graph."""
    import torch

    static = example.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.no_grad(), torch.cuda.stream(side):
        for _ in range(3):  # capture needs the kernels chosen and the memory pool warm
            net(static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(graph):
        net(static)

    def run(image: torch.Tensor) -> None:
        static.copy_(image)
        graph.replay()
        torch.cuda.synchronize()

    return run


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("models", nargs="*", type=Path, help="exported .onnx files")
    parser.add_argument(
        "--networks",
        nargs="*",
        default=[],
        help="names in conf/model/ to export (or, with --torch-cuda, build) and measure, as NAME or NAME:KEY=VALUE,...",
    )
    parser.add_argument(
        # argparse converts a default that is a string, not a list: these are already (width, height).
        "--sizes",
        nargs="+",
        type=frame_size,
        default=[(512, 512), (1920, 1080), (3840, 2160)],
        help="WIDTHxHEIGHT",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each size")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before them")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--provider", choices=["cpu", "cuda"], default="cpu", help="onnxruntime execution provider")
    parser.add_argument(
        "--torch-cuda", action="store_true", help="time the PyTorch networks (--networks) on the GPU instead"
    )
    parser.add_argument(
        "--cuda-graph",
        action="store_true",
        help="with --torch-cuda: time replays of each network captured as a CUDA graph",
    )
    args = parser.parse_args()
    if args.cuda_graph and not args.torch_cuda:
        parser.error("--cuda-graph needs --torch-cuda")
    sizes = [(height, width) for width, height in args.sizes]

    workdir = tempfile.TemporaryDirectory()
    if args.torch_cuda:
        import torch

        models, measure = list(args.networks), _measure_torch_cuda
        engine = f"PyTorch on CUDA ({torch.cuda.get_device_name()})" + (
            ", replaying CUDA graphs" if args.cuda_graph else ""
        )
    else:
        # Imported here, not at the top: the onnxruntime children import this module,
        # and torch would count in their RSS.
        from benchmarks.common import export_network

        models = [str(m) for m in args.models] + [str(export_network(n, Path(workdir.name))) for n in args.networks]
        measure, engine = _measure_onnxruntime, f"onnxruntime {args.provider}, {args.threads} threads"
    if not models:
        parser.error("give MODEL.onnx files or --networks")
    floors = [] if args.torch_cuda else [FLOAT_PASS, BYTE_COPY]
    if not args.torch_cuda:
        models = [timed for model in models for timed in (model, model + PHOTO_TO_PHOTO)]

    context = multiprocessing.get_context("spawn")
    table = {}
    for model in floors + models:
        queue = context.Queue()
        child = context.Process(target=measure, args=(model, sizes, args, queue))
        child.start()
        table[model] = queue.get()
        child.join()

    memory = "peak GPU memory MiB" if args.torch_cuda else "peak RSS MiB"
    print(f"{engine}; {args.runs} timed runs after {args.warmup} warm-up runs")
    print(
        f"| model | size | median ms | p90 ms | {memory} | added memory / input bytes | "
        f"ratio {Path(models[0]).stem} / model (like with like) | float32 passes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for model, rows in table.items():
        photo = model.endswith(PHOTO_TO_PHOTO)
        first = models[1] if photo and not args.torch_cuda else models[0]  # like with like
        for index, ((height, width), (median, p90, peak, added)) in enumerate(zip(sizes, rows)):
            ratio = f"{table[first][index][0] / median:.1f}x" if model not in (first, *floors) else ""
            passes = f"{median / table[FLOAT_PASS][index][0]:.1f}" if floors else ""
            name = model if model in floors else Path(model.removesuffix(PHOTO_TO_PHOTO)).stem + PHOTO_TO_PHOTO * photo
            print(
                f"| {name} | {width}x{height} | {median:.2f} | {p90:.2f} | {peak:.0f} | "
                f"{added:.1f} | {ratio} | {passes} |"
            )


if __name__ == "__main__":
    main()
