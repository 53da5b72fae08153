import io
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# In CI the property tests draw the same examples every run (sizes up to 2000x2000 set their
# time), so a commit is judged on its own code; locally each run explores new ones.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


def smooth_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth colour gradients, a few edges, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack(
        [np.sin(3 * x + rng.uniform(0, 6)), np.cos(2 * y + rng.uniform(0, 6)), np.sin(2 * (x + y))], axis=-1
    )
    image = 0.5 + 0.35 * base
    image[height // 3 : 2 * height // 3, width // 4 : width // 2] *= rng.uniform(0.3, 0.8, size=3)  # a box with edges
    image += rng.normal(0, 0.02, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def save_photo(path: Path, height: int, width: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_photo(height, width, seed)).save(path)
    return path


# photo_folder's photos, below the folder, in the order a search of the folder lists them.
PHOTO_FOLDER_PHOTOS = ["a.jpg", "b.png", "f.JPG", "sub/c.webp", "sub/d.bmp", "sub/deeper/e.tiff"]


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Six small photos in nested folders, of mixed formats and odd sizes."""
    root = tmp_path / "photos"
    for seed, name in enumerate(["a.jpg", "b.png", "sub/c.webp", "sub/d.bmp", "sub/deeper/e.tiff", "f.JPG"]):
        save_photo(root / name, 40 + 3 * seed, 52 - 2 * seed, seed)
    return root


@pytest.fixture
def style_photo(tmp_path: Path) -> Path:
    """A warm, high-contrast 'style' photo, different from the contents."""
    image = smooth_photo(48, 64, seed=99).astype(np.float32)
    image = np.clip(image * [1.3, 0.9, 0.5] + [30, 0, 0], 0, 255).astype(np.uint8)
    path = tmp_path / "style.jpg"
    Image.fromarray(image).save(path)
    return path


def run(
    *args: str,
    cwd: Path = PROJECT_ROOT,
    env: dict | None = None,
    limit: Callable[[], None] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run a command (our real entry points) and capture its text output; `limit` runs in the child
    before the command (a resource limit)."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout, preexec_fn=limit)


PYTHON = sys.executable


def photostyle_status(*argv) -> int:
    """`photostyle ARGV` in this process (seconds of imports cheaper than run()): its exit status."""
    from photostyle.cli import main

    try:
        main([str(arg) for arg in argv])
    except SystemExit as stopped:
        return stopped.code
    return 0


# train.py overrides for runs of a few seconds: a tiny network, tiny crops, two shallow VGG layers
# (a dict override merges into the default's layers: the deep ones are deleted).
TINY = [
    "model=residual",
    "model.base_channels=4",
    "model.num_residual_blocks=1",
    "data.crop_size=32",
    "data.batch_size=2",
    "data.num_workers=0",
    "style.size=64",
    "loss.content_layers=[relu2_1]",
    "~loss.style_layers.relu3_1",
    "~loss.style_layers.relu4_1",
    "trainer.val_check_interval=2",
    "trainer.log_every_n_steps=1",
]
PHOTOSTYLE = str(Path(sys.executable).parent / "photostyle")  # the installed console script


def tiny_network(seed: int = 0):
    """A small residual network moved away from its identity start, so outputs differ from inputs."""
    import torch

    from photostyle.networks.residual import ResidualNet

    torch.manual_seed(seed)
    net = ResidualNet(base_channels=4, num_residual_blocks=1)
    with torch.no_grad():
        net.to_rgb[1].weight.normal_(0, 0.05)
        net.to_rgb[1].bias.copy_(torch.tensor([0.4, 0.0, -0.4]))  # a visible warm shift
    return net.eval()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny photostyle ONNX model, exported once for the whole session."""
    from photostyle.training.onnx_export import export_onnx

    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    export_onnx(
        tiny_network(),
        path,
        {"photostyle_version": "test", "style_image": "test.jpg", "network": "tiny", "training_steps": 0},
    )
    return path


def perturbed_bilateral(seed: int = 0, **settings):
    """A small bilateral network (BilateralNet(channels=4, **settings)) with a style's colours if
    `style_colours` asks for them, and every weight moved away from the identity start, so that its
    look depends on the photo."""
    import torch

    from photostyle.networks.bilateral import BilateralNet

    torch.manual_seed(seed)
    net = BilateralNet(channels=4, **settings)
    if settings.get("style_colours"):
        net.set_style(torch.rand(1, 3, 30, 40) * torch.tensor([0.9, 0.6, 0.3]).view(1, 3, 1, 1))
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return net.eval()


def tiny_look_network():
    """The bilateral network of tiny_look_model: 2x2 knots, one bin, a style's global map."""
    return perturbed_bilateral(thumbnail_size=32, style_colours=0.8)


@pytest.fixture(scope="session")
def tiny_look_model(tmp_path_factory) -> Path:
    """tiny_look_network exported once for the session (an export takes seconds: slow tests only)."""
    from photostyle.training.onnx_export import export_onnx

    path = tmp_path_factory.mktemp("model") / "tiny_look.onnx"
    export_onnx(tiny_look_network(), path, {"photostyle_version": "test", "network": "tiny-look"})
    return path


@pytest.fixture(scope="module")
def models_dir(tiny_model, tmp_path_factory) -> Path:
    """A models folder for `photostyle serve` holding tiny_model as warm.onnx."""
    folder = tmp_path_factory.mktemp("models")
    shutil.copy(tiny_model, folder / "warm.onnx")
    return folder


def jpeg(height: int = 30, width: int = 44) -> bytes:
    """A smooth photo as JPEG bytes, as a client uploads it."""
    buffer = io.BytesIO()
    Image.fromarray(smooth_photo(height, width)).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def moving_square(frames: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """A still photo with a bright square crossing it: a static camera, something moving through."""
    background = smooth_photo(height, width)
    clip = []
    for index in range(frames):
        frame = background.copy()
        left = index * (width - 16) // max(1, frames - 1)
        frame[16:32, left : left + 16] = (250, 240, 40)
        clip.append(frame)
    return clip


@contextmanager
def live_server(app, uploads: int = 66, **deadlines: float) -> Iterator[str]:
    """The server `photostyle serve` runs (server.build_server) for an app, on a free loopback port
    in a thread; yields its base URL. `uploads` is the app's workers + queue (the default's 2 + 64);
    `deadlines` are build_server's."""
    from photostyle.inference.server import build_server, listening_sockets

    sockets = listening_sockets("127.0.0.1", 0)
    server = build_server(app, uploads=uploads, listeners=len(sockets), **deadlines)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the server did not start"
    host, port = sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def pytest_terminal_summary(terminalreporter) -> None:
    """Say how many bad-input cases tests/test_bad_*inputs.py tried (a test may try several)."""
    reports = [
        r
        for r in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
        if r.when == "call" and "test_bad_" in r.nodeid
    ]
    if reports:
        cases = sum(dict(r.user_properties).get("cases", 1) for r in reports)
        terminalreporter.write_line(f"bad-input matrix: {cases} cases tried in {len(reports)} tests")
