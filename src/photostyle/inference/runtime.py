"""Running an exported style model with onnxruntime alone (no torch import on this path)."""

from pathlib import Path

import numpy as np
import onnxruntime as ort

from photostyle.errors import PhotostyleError, first_line
from photostyle.images import to_float, to_uint8
from photostyle.interface import IMAGE, KEEP, LOOK, PIXEL_TYPES, PREVIOUS_LOOK, ROWS, STYLIZED, VERSION_KEY
from photostyle.settings import VIDEO_SMOOTHING

# Photos of more pixels go through a look model in bands of about BAND_PIXELS each (the look is
# the whole photo's in every band): each pass then finds the one before's output still in the
# processor's cache, and the memory beyond the photo's own bytes stays that of one band.
BANDED_FROM_PIXELS = 3_000_000
BAND_PIXELS = 1_000_000
# A video frame whose colours differ from the previous frame's by more than this (half the L1
# distance of their colour histograms, 0..1) starts a new scene: its look starts afresh.
SCENE_CUT = 0.3
SAMPLE_SIDE = 64  # frames are compared on samples of about this many pixels along their longer side
_BIN_SHIFT = 4  # 16 bins a channel


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, then the CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def session_options(threads: int | None) -> ort.SessionOptions:
    """How StyleModel runs a model: on `threads` threads (None: onnxruntime's choice)."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # Idle worker threads wait asleep rather than spinning: the model shares the cores with
    # decoding, x264's encoder threads and other requests, which spinning threads slow down
    # (docs/benchmarks.md#video).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def unloadable_reason(error: Exception) -> str:
    """Why onnxruntime refused a model file, without its error code and the path the refusal names."""
    message = first_line(error)
    if "Protobuf parsing failed" in message:
        return "not an ONNX file, or one cut short"
    if "No graph was found" in message:
        return "the file is empty"
    return message


class StyleModel:
    """One onnxruntime session for a photostyle ONNX file, checked before first use.

    Models written by export.py take bytes or floats (`pixels`); a bilateral model also exposes
    its look (interface.py), which lets big photos go through in bands and videos carry the
    look from frame to frame (`clip`).
    """

    def __init__(self, path: Path, threads: int | None = None, providers: list[str] | None = None):
        path = Path(path)
        if path.is_dir():
            raise PhotostyleError(f"model {path} is a folder; give the .onnx file export.py wrote")
        if not path.is_file():
            raise PhotostyleError(
                f"model {path} does not exist;"
                f" export one with: python export.py ckpt=RUN/checkpoints/last.ckpt out={path}"
            )
        try:
            self.session = ort.InferenceSession(
                str(path), session_options(threads), providers=providers or default_providers()
            )
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files
            raise PhotostyleError(
                f"{path} is not a loadable ONNX model ({unloadable_reason(error)}); export it again with export.py"
            ) from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self._check(path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        self.pixel_type = "uint8" if inputs[IMAGE].type == PIXEL_TYPES["uint8"] else "float32"
        self.has_look = ROWS in inputs
        self.look_shape = tuple(inputs[PREVIOUS_LOOK].shape[1:]) if self.has_look else None

    def _check(self, path: Path) -> None:
        if VERSION_KEY not in self.metadata:
            raise PhotostyleError(
                f"{path} is an ONNX model but not a photostyle one (no {VERSION_KEY} metadata);"
                " export it with export.py"
            )
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        names = ([i.name for i in inputs], [o.name for o in outputs])
        if names not in (([IMAGE], [STYLIZED]), ([IMAGE, ROWS, PREVIOUS_LOOK, KEEP], [STYLIZED, LOOK])):
            raise PhotostyleError(
                f"{path} has inputs {names[0]} and outputs {names[1]}, not those of a model this version of"
                " photostyle writes; export it again with export.py"
            )
        shape, kind = inputs[0].shape, inputs[0].type
        # H and W must be free (named, not numbers): a photo of any size goes in.
        if (
            kind not in PIXEL_TYPES.values()
            or len(shape) != 4
            or shape[3] != 3
            or any(isinstance(d, int) for d in shape[1:3])
        ):
            raise PhotostyleError(
                f"{path} takes {kind} {shape}, expected uint8 or float (N, H, W, 3) of any H and W;"
                " export it again with export.py"
            )

    def feeds(self, image: np.ndarray, rows: range, look: np.ndarray | None = None, keep: float = 0.0) -> dict:
        """The session's inputs for a batch of one (1, H, W, 3) in the model's own pixel type
        (interface.py); a model without a look takes the image alone."""
        if not self.has_look:
            return {IMAGE: image}
        return {
            IMAGE: image,
            ROWS: np.arange(rows.start, rows.stop, dtype=np.int64),
            PREVIOUS_LOOK: np.zeros((1, *self.look_shape), np.float32) if look is None else look,
            KEEP: np.array(keep if look is not None else 0.0, np.float32),
        }

    def _run(self, image: np.ndarray, rows: range, look: np.ndarray | None, keep: float):
        """One session run: the rows' stylized bytes and the look used (None for a model without one)."""
        feeds = self.feeds(image, rows, look, keep)
        if not self.has_look:
            (stylized,), used = self.session.run([STYLIZED], feeds), None  # never in bands: rows are all of them
        else:
            stylized, used = self.session.run([STYLIZED, LOOK], feeds)
        return (stylized[0] if self.pixel_type == "uint8" else to_uint8(stylized[0])), used

    def stylize(
        self, pixels: np.ndarray, strength: float = 1.0, look: np.ndarray | None = None, keep: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(H, W, 3) uint8 RGB -> its stylized (H, W, 3) uint8 at `strength` (0 = the photo, 1 =
        the model's output; see blend), and the look used (None for a model without one).

        `look` and `keep` blend a given look with the photo's own (interface.py). A look model
        does photos of over BANDED_FROM_PIXELS in bands of rows.
        """
        height, width = pixels.shape[:2]
        if not self.has_look or height * width <= BANDED_FROM_PIXELS:
            bands = [range(height)]
        else:
            step = max(1, BAND_PIXELS // width)
            bands = [range(start, min(start + step, height)) for start in range(0, height, step)]
        image = pixels[None] if self.pixel_type == "uint8" else pixels[None].astype(np.float32) / 255
        out = np.empty_like(pixels) if len(bands) > 1 else None
        for rows in bands:
            stylized, used = self._run(image, rows, look, keep)
            if strength != 1:
                stylized = to_uint8(blend(pixels[rows.start : rows.stop] / 255.0, stylized / 255.0, strength))
            if out is None:
                return stylized, used
            out[rows.start : rows.stop] = stylized
        return out, used

    def __call__(self, rgb: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """(H, W, 3) float RGB in [0, 1] -> stylized (H, W, 3) float32 in [0, 1], at `strength`."""
        stylized, _ = self.stylize(to_uint8(rgb), strength)
        return to_float(stylized)

    def clip(self, smoothing: float = VIDEO_SMOOTHING, strength: float = 1.0, state: bytes = b"") -> "Clip":
        """A stylizer for the frames of one video, in order (see Clip), or going on from a Clip's `state()`."""
        return Clip(self, smoothing, strength, state)


class Clip:
    """Stylizes one video's frames, in order, with the look carried from frame to frame.

    Each frame's look is its own blended with the previous frame's: look = own + smoothing *
    (previous - own), an exponential moving average over about 1 / (1 - smoothing) frames. A
    person walking through the frame or a flickering light then no longer makes the whole
    picture's colours jump, while a slow change of light still comes through; a scene cut
    (the frame's colours unlike the last frame's) starts afresh. A model without a look
    stylizes each frame on its own.
    """

    def __init__(self, model: StyleModel, smoothing: float, strength: float = 1.0, state: bytes = b""):
        if not 0 <= smoothing < 1:
            raise PhotostyleError(f"smoothing={smoothing} must be in [0, 1): 0 is frame by frame, 0.9 the default")
        self.model, self.smoothing, self.strength = model, smoothing, strength
        self.look: np.ndarray | None = None
        self.histogram: np.ndarray | None = None
        self.cuts = 0  # scene cuts seen, the first frame included
        if state:
            self._restore(state)

    def state(self) -> bytes:
        """What the next frame needs of this clip, the last look and the last frame's colours, as
        bytes that StyleModel.clip takes back: a server can leave a clip's state with its client."""
        if self.look is None:
            return b""
        return self.look.astype(np.float32).tobytes() + self.histogram.astype(np.float32).tobytes()

    def _restore(self, state: bytes) -> None:
        sizes = (int(np.prod(self.model.look_shape or 0)), 3 << (8 - _BIN_SHIFT))
        values = np.frombuffer(state, np.float32) if len(state) % 4 == 0 else None
        if not self.model.has_look or values is None or len(values) != sum(sizes) or not np.isfinite(values).all():
            raise PhotostyleError("the clip state does not belong to this model; start the clip afresh")
        self.look = values[: sizes[0]].reshape(1, *self.model.look_shape).copy()
        self.histogram = values[sizes[0] :].reshape(3, -1).copy()

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> stylized (H, W, 3) uint8."""
        histogram = colour_histogram(frame)
        cut = self.histogram is None or histogram_distance(self.histogram, histogram) > SCENE_CUT
        self.histogram = histogram
        self.cuts += cut
        stylized, self.look = self.model.stylize(
            frame, self.strength, None if cut else self.look, 0.0 if cut else self.smoothing
        )
        return stylized


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """(3, 16) per-channel histograms, each summing to 1, of a sample of about SAMPLE_SIDE
    pixels along the frame's longer side."""
    step = max(1, max(frame.shape[:2]) // SAMPLE_SIDE)
    sample = frame[::step, ::step].reshape(-1, 3)
    counts = np.stack([np.bincount(sample[:, c] >> _BIN_SHIFT, minlength=256 >> _BIN_SHIFT) for c in range(3)])
    return counts / len(sample)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels whose colour changed bins, 0..1, averaged over the channels."""
    return float(np.abs(a - b).sum(axis=1).mean() / 2)


def blend(photo, stylized, strength: float):
    """photo + strength * (stylized - photo), for numpy arrays or torch tensors alike.

    For the bilateral network this is exactly its output with every affine colour transform
    blended with the identity (wherever the output needed no clipping), so any strength is
    still a photograph.
    """
    if strength == 1:
        return stylized
    return photo + strength * (stylized - photo)
