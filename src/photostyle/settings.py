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
# An upload must arrive whole within this many seconds of its headers, or it gets 408 and
# frees its place: 25 MB in 60 s needs about 3.5 Mbit/s.
SERVE_UPLOAD_TIMEOUT_S = 60.0
# A connection must send a request's headers within this many seconds, or it is closed.
SERVE_HEADER_TIMEOUT_S = 10.0
# Ctrl-C lets answers being computed finish for at most this many seconds, then stops.
SERVE_SHUTDOWN_S = 3.0
SERVE_BACKLOG = 128  # connections waiting to be accepted; also the most accepted at one go
# File descriptors kept free, beyond the connections and uploads, for the server's own
# files, pipes and threads (about 30 at rest with one model).
SERVE_SPARE_FILES = 64
# Connections served at least, however low the open-file limit (256 on macOS by default, as low
# as the uploads, backlogs and spares above need): a small server, as before the bound.
SERVE_MIN_CONNECTIONS = 32
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
        # Luan et al.'s term sees the saved, clipped photo; training's sees the network's output (conf/loss/).
        photoreal_clipped=True,
    )


def look_loss() -> dict:
    """`optimize --grid`'s loss: training's (conf/loss/photoreal.yaml) with the content anchor a
    quarter as strong and a structure term. Fitted to the photo itself, a look of the network's
    form then ends closer to the style than with training's weights and keeps more of the
    photo's structure (docs/results.md, the ceiling)."""
    return dict(
        content_layers=["relu2_1", "relu4_1"],
        style_layers={f"relu{i}_1": 1.0 for i in range(1, 5)},
        content_weight=2.0,
        style_weight=1.0,
        photoreal_weight=1e4,
        photoreal_clipped=False,
        structure_weight=10.0,
        content_colours=0.9,
        colour_weight=10.0,
    )


# The optimisers `optimize` knows: Adam's steps, or L-BFGS with a line search.
OPTIMIZERS = ("adam", "lbfgs")
# `--grid`'s budget for each, in passes of the loss forward and back: L-BFGS's 30 end where
# Adam's 60 do (0.754x and 0.746x the global map's style distance on the eight bench pairs,
# 0.58x on the sixteen), in half the time, so L-BFGS is the grid's optimiser; below about
# ten passes Adam's steps end closer (docs/results.md).
GRID_STEPS = {"lbfgs": 30, "adam": 60}


@dataclass
class OptimizeSettings:
    """How `optimize` runs: its optimiser, and its loss as PhotorealStyleLoss's arguments (checked there)."""

    steps: int = 200
    # The start: "reinhard", a closed-form colour transfer, so the optimisation starts from the
    # right palette and adds the local look (pixels: the content with the style's CIELAB mean
    # and spread; grid: the bilateral network's untrained global map), or "content" as in DPST,
    # which needs far more steps to move the colours.
    init: str = "reinhard"
    optimizer: str = "adam"  # one of OPTIMIZERS
    lr: float = 0.02  # Adam's step on [0, 1] pixels; L-BFGS uses its own line search
    seed: int = 0
    loss: dict = field(default_factory=optimize_loss)
    # 0: optimise the pixels. N: fit an NxN grid of affine colour maps (the bilateral network's
    # look) instead, so the result is a local affine colour map of the photo at any size.
    grid: int = 0

    @classmethod
    def of_grid(cls, knots: int = 9, optimizer: str = "lbfgs") -> "OptimizeSettings":
        """`--grid`'s defaults: the 9x9 grid of the default network, its loss (look_loss), and the
        optimiser's budget (GRID_STEPS; lr is Adam's)."""
        return cls(grid=knots, steps=GRID_STEPS[optimizer], lr=0.015, optimizer=optimizer, loss=look_loss())

    def check(self) -> None:
        if self.init not in ("content", "reinhard"):
            raise PhotostyleError(f"init {self.init!r} is unknown; use content or reinhard")
        if self.optimizer not in OPTIMIZERS:
            raise PhotostyleError(f"optimizer {self.optimizer!r} is unknown; use {' or '.join(OPTIMIZERS)}")
        for name in ("steps", "lr"):
            if not getattr(self, name) > 0:
                raise PhotostyleError(f"{name}={getattr(self, name)} must be > 0")
        if self.grid == 1 or self.grid < 0:
            raise PhotostyleError(f"grid={self.grid} must be 0 (the pixels) or at least 2 knots a side, e.g. 9")
