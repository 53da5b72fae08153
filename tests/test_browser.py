"""The web page of `photostyle serve` in a real headless Chromium (Debian's, driven by Playwright).

Set PHOTOSTYLE_SCREENSHOT=path.png to keep the screenshot, and PHOTOSTYLE_SCREENSHOT_MODEL=x.onnx
to serve that model instead of the tests' tiny one (README's picture is made so).
"""

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PROJECT_ROOT, live_server

CHROMIUM = Path("/usr/bin/chromium")
playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (Debian package chromium; .ci/run installs it)"
    ),
]
# As root in a container, with no network beyond loopback: no sandbox, no background traffic.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def server_url(tiny_model, tmp_path):
    from photostyle.inference.serve import create_app

    model = Path(os.environ.get("PHOTOSTYLE_SCREENSHOT_MODEL", tiny_model))
    shutil.copy(model, tmp_path / model.name)
    with live_server(create_app(tmp_path)) as url:
        yield url + "/"


def result_image(page) -> np.ndarray:
    data = page.evaluate(
        "async () => Array.from(new Uint8Array("
        "await (await fetch(document.getElementById('after').src)).arrayBuffer()))"
    )
    return np.asarray(Image.open(io.BytesIO(bytes(data))).convert("RGB"), np.float32)


def test_upload_shows_the_stylized_photo_and_the_strength_slider_works(server_url, tmp_path):
    photo = PROJECT_ROOT / "data" / "samples" / "china.jpg"
    original = np.asarray(Image.open(photo).convert("RGB"), np.float32)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server_url)
        page.wait_for_selector('.model[aria-pressed="true"]')
        page.set_input_files("#file", str(photo))
        page.wait_for_function("document.getElementById('after').naturalWidth > 0", timeout=30_000)
        stylized = result_image(page)
        assert stylized.shape == original.shape
        assert np.abs(stylized - original).mean() > 4  # stylized, not the photo sent back
        assert page.is_visible("#download")
        page.screenshot(path=str(tmp_path / "page.png"))
        if os.environ.get("PHOTOSTYLE_SCREENSHOT"):
            shutil.copy(tmp_path / "page.png", os.environ["PHOTOSTYLE_SCREENSHOT"])

        first = page.get_attribute("#after", "src")
        page.eval_on_selector("#strength", "slider => { slider.value = 0; slider.dispatchEvent(new Event('input')); }")
        page.wait_for_function(
            f"document.getElementById('after').src !== {first!r} && document.getElementById('after').complete",
            timeout=30_000,
        )
        assert np.abs(result_image(page) - original).mean() < 3  # strength 0: the photo itself (JPEG round trip)
        assert page.text_content("#status") == ""
        browser.close()
