"""Defaults of `photostyle optimize`, `serve`, `stylize`'s video options and `lut`, in a module
without heavy imports so the CLI can show them cheaply."""

from dataclasses import dataclass, field

from photostyle.errors import PhotostyleError

SERVE_WORKERS = 2
# Uploads being received or waiting for a worker, beyond the ones being stylized; each holds
# at most --max-upload-mb of temporary space (docs/serve.md).
SERVE_QUEUE = 64
SERVE_MAX_UPLOAD_MB = 25.0
SERVE_MAX_PIXELS = 40_000_000  # a 40-megapixel photo: a phone's full resolution fits
# Answers are for screens: photos are shrunk to this longer side before the model, which
# bounds the memory a request needs whatever the photo's size (docs/serve.md).
SERVE_MAX_SIDE = 2048
SERVE_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
SERVE_RESCAN_S = 1.0  # the models folder is looked at again at most this often
VIDEO_CRF = 18  # x264's quality scale (0 lossless .. 51); 18 is about visually lossless
# How much of the previous frame's look each frame of a clip keeps (0: every frame on its own):
# the look then follows over about 1 / (1 - 0.9) = 10 frames (benchmarks/flicker.py, docs/benchmarks.md).
VIDEO_SMOOTHING = 0.9

LUT_SIZES = (17, 33, 65)  # points per axis: the sizes colour tools read
LUT_SIZE = 33
LUT_MAX_SIDE = 512  # photos are shrunk to this longer side: plenty of colours, quick to stylize
# Weight of the thin-plate energy against the mean squared error (inference/lattice_fit.py).
# Smaller follows the fitting photos more closely; larger carries over better to other photos,
# which is what a LUT fitted on the bundled photos is for (docs/results.md, Looks as a LUT).
LUT_SMOOTHNESS = 1e-3


def optimize_loss() -> dict:
    """The per-image method's loss, as PhotorealStyleLoss's arguments (training's are in conf/loss/):
    Luan et al.'s layers, content relu4_1 and style relu1_1..relu5_1, and a photorealism weight
    strong enough that the result stays a locally affine colour map of the photo."""
    return dict(
        content_layers=["relu4_1"],
        style_layers={f"relu{i}_1": 1.0 for i in range(1, 6)},
        content_weight=1.0,
        style_weight=1.0,
        photoreal_weight=1e4,
    )


@dataclass
class OptimizeSettings:
    """How `optimize` runs: its optimiser, and its loss as PhotorealStyleLoss's arguments (checked there)."""

    steps: int = 200
    # The starting image: "reinhard" (the content with the style's CIELAB mean and spread,
    # so the optimisation starts from the right palette and adds the local look), or
    # "content" as in DPST, which needs far more steps to move the colours.
    init: str = "reinhard"
    optimizer: str = "adam"  # or "lbfgs"
    lr: float = 0.02  # Adam's step on [0, 1] pixels; L-BFGS uses its own line search
    seed: int = 0
    loss: dict = field(default_factory=optimize_loss)

    def check(self) -> None:
        if self.init not in ("content", "reinhard"):
            raise PhotostyleError(f"init {self.init!r} is unknown; use content or reinhard")
        if self.optimizer not in ("adam", "lbfgs"):
            raise PhotostyleError(f"optimizer {self.optimizer!r} is unknown; use adam or lbfgs")
        for name in ("steps", "lr"):
            if not getattr(self, name) > 0:
                raise PhotostyleError(f"{name}={getattr(self, name)} must be > 0")
