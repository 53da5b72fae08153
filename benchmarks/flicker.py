"""Flicker: how much a stylized clip changes from frame to frame, against how much its input does.

    python -m benchmarks.flicker [MODEL.onnx] [--size 960x540] [--frames 90] [--smoothing 0.9] [--threads 2]

On the three clips of benchmarks/clips.py (a static camera with an object crossing, a slow
change of light, a scene cut), side by side in one run: the input, the model frame by frame
(smoothing 0) and the model with the look carried from frame to frame (--smoothing). For each:
- change: the mean absolute difference of consecutive frames, in 8-bit levels;
- still change: the same over the pixels that stay still in the input (all channels within
  STILL levels from one frame to the next). With a static camera this is the motion-compensated
  (warped) error: the flow is zero wherever nothing moves, so any change there is flicker;
- shift: how far the still pixels' mean colour moves from one frame to the next (the largest
  of the three channels, in levels, averaged over the frames): grain averages out of it, a
  change of look that moves the whole picture does not.
Ratios are to the input's, and to those of the clip under one fixed look (the first frame's,
for every frame): a look that raises contrast raises every change of the input with it, grain
included, and only what comes on top of the fixed look's changes is flicker. For the scene
cut, the table also gives how many frames after the cut the smoothed output takes to come
within 1 level (mean) of the new scene's own look.
Without MODEL.onnx, the default network is exported untrained with the bundled style photo's
colours: its look is then the per-photo global colour map, the part that flickers most.
"""

import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchmarks.basics import benchmark_parser, frame_size
from benchmarks.clips import CLIPS
from benchmarks.common import build_network, compose_config
from photostyle import __version__
from photostyle.inference.runtime import StyleModel
from photostyle.interface import VERSION_KEY
from photostyle.settings import VIDEO_SMOOTHING
from photostyle.training.onnx_export import export_onnx
from photostyle.training.tensors import load

STILL = 6  # levels: above the clips' grain (1.5 levels a frame, about 2 between two frames)


def changes(frames: Iterable[np.ndarray], inputs: list[np.ndarray]) -> tuple[float, float, float]:
    """(mean |frame - previous|, the same over the pixels still in the input, shift), in 8-bit levels."""
    total, still_total, still_count, shift, previous = 0.0, 0.0, 0, 0.0, None
    for index, frame in enumerate(frames):
        frame = frame.astype(np.int16)
        if previous is not None:
            difference = frame - previous
            still = (np.abs(inputs[index].astype(np.int16) - inputs[index - 1]) <= STILL).all(axis=2)
            total += np.abs(difference).mean()
            still_total += np.abs(difference[still]).sum()
            still_count += still.sum() * 3
            shift += np.abs(difference[still].mean(axis=0)).max() if still.any() else 0.0
        previous = frame
    pairs = len(inputs) - 1
    return total / pairs, still_total / max(still_count, 1), shift / pairs


def frames_to_settle(smoothed: list[np.ndarray], own: list[np.ndarray], cut: int) -> int:
    """Frames after `cut` until the smoothed output is within 1 level (mean) of the frame-by-frame one."""
    for after in range(len(own) - cut):
        if np.abs(smoothed[cut + after].astype(np.int16) - own[cut + after]).mean() < 1:
            return after
    return len(own) - cut


def default_model(folder: Path) -> Path:
    """The default network, untrained, with the bundled style photo's colours, exported."""
    net = build_network("bilateral")
    net.set_style(load(Path(compose_config().style.image), max_side=512))
    path = folder / "bilateral_styled.onnx"
    export_onnx(net, path, {VERSION_KEY: __version__, "network": "bilateral"})
    return path


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("model", nargs="?", type=Path, help="an exported .onnx (default: see above)")
    parser.add_argument("--size", type=frame_size, default="960x540", help="WIDTHxHEIGHT of the clips")
    parser.add_argument("--frames", type=int, default=90, help="frames of each clip")
    parser.add_argument("--smoothing", type=float, default=VIDEO_SMOOTHING, help="of the smoothed output")
    parser.add_argument("--threads", type=int, default=2, help="the model's threads")
    args = parser.parse_args()
    width, height = args.size

    with tempfile.TemporaryDirectory() as folder:
        model = StyleModel(args.model or default_model(Path(folder)), threads=args.threads)
        name = Path(args.model).name if args.model else "default network, untrained"
        print(f"{name}; {width}x{height}, {args.frames} frames")
        print(
            "| clip | output | change | still change | still change / input's | still change / fixed look's | "
            "shift | frames to settle after the cut |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for name, make in CLIPS.items():
            inputs = list(make(args.size, args.frames))
            first_look = model.stylize(inputs[0])[1]
            outputs = {
                "input": inputs,
                "one fixed look": [model.stylize(frame, look=first_look, keep=1.0)[0] for frame in inputs],
                "frame by frame": [model.clip(0.0)(frame) for frame in inputs],  # a fresh clip a frame
            }
            clip = model.clip(args.smoothing)
            outputs[f"smoothed {args.smoothing}"] = [clip(frame) for frame in inputs]
            measured = {label: changes(frames, inputs) for label, frames in outputs.items()}
            for label, (change, still, shift) in measured.items():
                settle = ""
                if name == "scene_cut" and label.startswith("smoothed"):
                    settle = str(frames_to_settle(outputs[label], outputs["frame by frame"], args.frames // 2))
                print(
                    f"| {name} | {label} | {change:.2f} | {still:.2f} | {still / measured['input'][1]:.2f}x | "
                    f"{still / measured['one fixed look'][1]:.2f}x | {shift:.3f} | {settle} |"
                )


if __name__ == "__main__":
    main()
