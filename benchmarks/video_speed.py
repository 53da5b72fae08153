"""End-to-end video speed: decode + stylize + encode beside a plain decode + encode of the same clip.

    python -m benchmarks.video_speed [MODEL.onnx] [--clip static_camera] [--size 1920x1080] [--frames 90]
        [--fps 30] [--crf 18] [--preset medium] [--repeats 2]

Without MODEL.onnx the default network (conf/model/bilateral.yaml) is exported untrained, in a
child process so that torch stays out of this one (speed does not depend on the weights). The
clip comes from benchmarks/clips.py. The floor is what a user compares with: the clip decoded
and encoded again by ffmpeg's libraries (through PyAV) with the same x264 settings and no
stylizing, frames passed from decoder to encoder as they are. Both paths let x264 and the
decoder pick their threads from the cores, and onnxruntime uses every core, so neither is
handicapped. The two run alternately --repeats times; the best run of each is reported.

Where the time goes: each step timed alone, since x264's threads run beside the frame function
and on 2 cores each slows the other: decode (a decode-only pass), the steps stylize_video adds
between decoder and encoder (YUV -> RGB, the frame function, RGB -> YUV; one pass, each call
timed), and encode (x264 and the muxer: the floor's run less its decode). The peak memory of a
fresh process that stylizes the clip is printed beside the size of the clip decoded: it stops
growing once x264's look-ahead is full (about 40 frames at preset medium), however long the clip.
"""

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import av
from av.video.frame import PictureType

from benchmarks.basics import benchmark_parser, frame_size, proc_status_mib
from benchmarks.clips import CLIPS, write_clip
from photostyle.inference.runtime import StyleModel
from photostyle.inference.video import FrameFunction, encoded_as, stylize_video, to_encoder, to_rgb
from photostyle.settings import VIDEO_CRF, VIDEO_SMOOTHING

TARGET_RATIO = 0.5  # issue 22: the stylize path at least half the floor's frames per second


def _export_default(folder: Path) -> Path:
    from benchmarks.common import export_network

    return export_network("bilateral", folder)


def in_fresh_process(function, *args):
    """function(*args) in a new Python process (spawned, so nothing of this one is in it)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def export_default_network(folder: Path) -> Path:
    """The untrained default network as ONNX, exported in a child process (torch stays out of this one)."""
    return in_fresh_process(_export_default, folder)


def plain_transcode(source: Path, target: Path, crf: int, preset: str) -> None:
    """The floor: decode and re-encode as H.264 with the same x264 settings, frames passed on untouched."""
    with av.open(str(source)) as clip, av.open(str(target), "w") as output:
        video = clip.streams.video[0]
        video.codec_context.thread_type = "AUTO"
        encoder = output.add_stream("libx264", rate=video.average_rate)
        encoder.width, encoder.height, encoder.pix_fmt = video.width, video.height, "yuv420p"
        encoder.time_base = encoder.codec_context.time_base = video.time_base
        encoder.options = {"crf": str(crf), "preset": preset}
        for frame in clip.decode(video):
            frame.pict_type = PictureType.NONE  # as ffmpeg does: x264 would take the source's frame types as orders
            output.mux(encoder.encode(frame))
        output.mux(encoder.encode())


def decode_ms(source: Path) -> float:
    """Milliseconds a frame to decode the clip alone."""
    start, frames = time.perf_counter(), 0
    with av.open(str(source)) as clip:
        clip.streams.video[0].codec_context.thread_type = "AUTO"
        for _ in clip.decode(video=0):
            frames += 1
    return (time.perf_counter() - start) * 1000 / frames


def stylize_stage_ms(source: Path, stylize_frame: FrameFunction) -> dict[str, float]:
    """Milliseconds a frame of each step stylize_video adds between decoder and encoder, each timed alone."""
    totals, frames = {"to_rgb": 0.0, "stylize": 0.0, "to_yuv": 0.0}, 0

    def timed(name: str, step: Callable, *inputs):
        start = time.perf_counter()
        value = step(*inputs)
        totals[name] += time.perf_counter() - start
        return value

    formats = None  # the encoder's, as stylize_video picks them from the first frame
    with av.open(str(source)) as clip:
        for frame in clip.decode(video=0):
            formats = formats or encoded_as(frame)
            rgb = timed("to_rgb", to_rgb, frame)
            stylized = timed("stylize", stylize_frame, rgb)
            timed("to_yuv", to_encoder, stylized, frame, *formats)
            frames += 1
    return {name: seconds * 1000 / frames for name, seconds in totals.items()}


def best_runs(clip: Path, model: StyleModel, args: argparse.Namespace, folder: Path) -> tuple[float, float]:
    """Best of --repeats, in seconds: (floor, decode + stylize + encode), run alternately."""
    floors, stylize_runs = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        plain_transcode(clip, folder / "floor.mp4", args.crf, args.preset)
        floors.append(time.perf_counter() - start)
        start = time.perf_counter()
        stylize_video(clip, folder / "stylized.mp4", model.clip(VIDEO_SMOOTHING), args.crf, args.preset, progress=False)
        stylize_runs.append(time.perf_counter() - start)
    return min(floors), min(stylize_runs)


def _stylize_peak_mib(clip: Path, model: Path, target: Path, crf: int, preset: str) -> float:
    stylize_video(clip, target, StyleModel(model).clip(VIDEO_SMOOTHING), crf, preset, progress=False)
    return proc_status_mib("VmHWM")


def stylize_peak_mib(clip: Path, model: Path, target: Path, crf: int, preset: str) -> float:
    """Peak memory of a fresh process that loads the model and stylizes the clip, as `photostyle stylize` does."""
    return in_fresh_process(_stylize_peak_mib, clip, model, target, crf, preset)


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("model", nargs="?", type=Path, help="an exported .onnx (default: the untrained bilateral)")
    parser.add_argument("--clip", choices=list(CLIPS), default="static_camera", help="the clip to make and stylize")
    parser.add_argument("--size", type=frame_size, default="1920x1080", help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=90, help="frames of the clip")
    parser.add_argument("--fps", type=int, default=30, help="frames per second")
    parser.add_argument("--crf", type=int, default=VIDEO_CRF, help="x264's quality, for both paths")
    parser.add_argument("--preset", default="medium", help="x264's preset, for both paths")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each path; the best counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        model_path = args.model or export_default_network(folder)
        clip = write_clip(folder / f"{args.clip}.mp4", CLIPS[args.clip](args.size, args.frames), args.fps)
        model = StyleModel(model_path)
        floor, stylized = best_runs(clip, model, args, folder)
        peak_mib = stylize_peak_mib(clip, model_path, folder / "stylized.mp4", args.crf, args.preset)
        decode = decode_ms(clip)
        steps = stylize_stage_ms(clip, model.clip(VIDEO_SMOOTHING))

    frames = args.frames
    floor_ms, stylized_ms = floor * 1000 / frames, stylized * 1000 / frames
    encode = floor_ms - decode  # x264 and the muxer: the floor's run less its decoding
    print(
        f"{date.today()}: {args.size[0]}x{args.size[1]}, {frames} frames of {args.clip} at {args.fps} fps; "
        f"x264 preset {args.preset}, crf {args.crf}; "
        f"model {model_path.name if args.model else 'bilateral (untrained)'}; best of {args.repeats}"
    )
    print("| path | frames/s | ms/frame |")
    print("|---|---|---|")
    print(f"| floor: decode + encode | {1000 / floor_ms:.1f} | {floor_ms:.1f} |")
    print(f"| decode + stylize + encode | {1000 / stylized_ms:.1f} | {stylized_ms:.1f} |")
    ratio = floor_ms / stylized_ms
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    print(f"stylize path / floor: {ratio:.2f}x the floor's frames/s ({verdict} the target of {TARGET_RATIO}x)")
    print("\nWhere the time goes, each step timed alone (ms/frame):")
    print("| decode | YUV -> RGB | stylize | RGB -> YUV | encode | sum |")
    print("|---|---|---|---|---|---|")
    total = decode + sum(steps.values()) + encode
    print(
        f"| {decode:.1f} | {steps['to_rgb']:.1f} | {steps['stylize']:.1f} | {steps['to_yuv']:.1f} | {encode:.1f} | "
        f"{total:.1f} |"
    )
    decoded_mib = frames * args.size[0] * args.size[1] * 3 / 2**20
    print(
        f"\npeak RSS of a process that loads the model and stylizes the clip: {peak_mib:.0f} MiB "
        f"(the clip's frames, decoded to RGB: {decoded_mib:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
