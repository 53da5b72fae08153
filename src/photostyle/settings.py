"""Defaults of `photostyle optimize` and `serve`, in a module without heavy imports so the CLI can show them cheaply."""

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


@dataclass
class OptimizeSettings:
    steps: int = 200
    # The starting image: "reinhard" (the content with the style's CIELAB mean and spread,
    # so the optimisation starts from the right palette and adds the local look), or
    # "content" as in DPST, which needs far more steps to move the colours.
    init: str = "reinhard"
    optimizer: str = "adam"  # or "lbfgs"
    lr: float = 0.02  # Adam's step on [0, 1] pixels; L-BFGS uses its own line search
    content_weight: float = 1.0
    style_weight: float = 1.0
    photoreal_weight: float = 1e4
    matting_eps: float = 1e-7
    tv_weight: float = 0.0
    content_layers: list[str] = field(default_factory=lambda: ["relu4_1"])
    style_layers: dict[str, float] = field(default_factory=lambda: {f"relu{i}_1": 1.0 for i in range(1, 6)})
    seed: int = 0

    def check(self) -> None:
        if self.init not in ("content", "reinhard"):
            raise PhotostyleError(f"init {self.init!r} is unknown; use content or reinhard")
        if self.optimizer not in ("adam", "lbfgs"):
            raise PhotostyleError(f"optimizer {self.optimizer!r} is unknown; use adam or lbfgs")
        for name in ("steps", "lr"):
            if not getattr(self, name) > 0:
                raise PhotostyleError(f"{name}={getattr(self, name)} must be > 0")
        for name in ("content_weight", "style_weight", "photoreal_weight", "matting_eps", "tv_weight"):
            if not getattr(self, name) >= 0:
                raise PhotostyleError(f"{name}={getattr(self, name)} must be >= 0")
