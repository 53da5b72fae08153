"""The memory a request needs is bounded by design: photos are shrunk to --max-side as they are
decoded, so a 36-megapixel PNG never reaches float32 or the model at full size.

The bound (docs/serve.md), in bytes over the server at rest, for one request:
    max(DECODE_BYTES x decoded pixels + TO_FLOAT_BYTES x pixels reaching the model,
        (FLOAT_BYTES + the model's bytes per pixel) x pixels reaching the model)
and the server's total is at most workers times that.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from benchmarks.basics import with_memory_probes
from photostyle.settings import SERVE_MAX_SIDE

DECODE_BYTES = 16  # Pillow's full-size image and the copies it makes while shrinking (WebP's worst, 14; RGB PNG 3.5)
PNG_DECODE_BYTES = 5  # the same for the RGB PNG sent here; decoding it whole as float32 first took 28
TO_FLOAT_BYTES = 24  # the shrunk photo as float32, and the copy that scales it to [0, 1]
FLOAT_BYTES = 60  # the float32 photo, the clipped output and the JPEG encoder's temporaries

# Run after the definitions with_memory_probes puts ahead of it.
MEASURE = """
import io, json, sys, threading
from pathlib import Path
import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from photostyle.images import decode_photo
from photostyle.inference.serve import create_app
from photostyle.inference.runtime import StyleModel
from photostyle.settings import SERVE_MAX_SIDE

def peak_of(work):
    reset_peak_memory()
    base = proc_status_mib("VmRSS")
    work()
    return (proc_status_mib("VmHWM") - base) * 2**20  # bytes

folder, photo, workers = Path(sys.argv[1]), Path(sys.argv[2]).read_bytes(), int(sys.argv[3])
side = int(sys.argv[4]), int(sys.argv[5])
model = StyleModel(folder / "m.onnx", threads=1)
shrunk = np.random.default_rng(0).random((*side, 3), dtype=np.float32)  # the size the photo reaches the model at
model(shrunk[:16, :16])  # loaded, but its memory arena still small: the first large call shows what the model takes
model_bytes = peak_of(lambda: model(shrunk)) / shrunk[..., 0].size
# The decoding alone (its peak is hidden under the model's in the whole request's).
decode_peak = peak_of(lambda: decode_photo(io.BytesIO(photo), "big.png", max_side=SERVE_MAX_SIDE))
answers = []
with TestClient(create_app(folder, workers=workers, allowed_hosts=["testserver"])) as client:
    small = io.BytesIO()
    Image.new("RGB", (16, 16)).save(small, format="PNG")
    # The worker threads started before anything is measured.
    client.post("/api/stylize", files={"image": ("small.png", small.getvalue())}, data={"model": "m"})
    post = lambda: answers.append(client.post("/api/stylize", files={"image": ("big.png", photo)}, data={"model": "m"}))
    def together():
        threads = [threading.Thread(target=post) for _ in range(workers)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    peak = peak_of(together)
size = Image.open(io.BytesIO(answers[-1].content)).size if answers[-1].status_code == 200 else None
statuses = [a.status_code for a in answers]
measured = dict(model_bytes=model_bytes, decode_peak=decode_peak, peak=peak, statuses=statuses, size=size)
print(json.dumps(measured))
"""


@pytest.mark.slow  # two 36-megapixel decodes, ~25 s and 1.6 GB
def test_two_36_megapixel_pngs_at_once_stay_within_workers_x_the_bound(tiny_model, tmp_path, record_property):
    width, height = 7200, 5000  # 36 megapixels, under the 40 of --max-pixels
    x = np.linspace(0, 255, width, dtype=np.float32)
    rgb = np.stack(np.broadcast_arrays(x, x[::-1], np.full((height, 1), 128.0, np.float32)), axis=-1).astype(
        np.uint8
    )  # (H, W, 3)
    Image.fromarray(rgb).save(tmp_path / "big.png", compress_level=1)
    del rgb
    shutil.copy(tiny_model, tmp_path / "m.onnx")
    workers = 2
    shrunk = (round(height * SERVE_MAX_SIDE / width), SERVE_MAX_SIDE)  # (H, W) after --max-side
    arguments = [str(tmp_path), str(tmp_path / "big.png"), str(workers), *map(str, shrunk)]
    result = subprocess.run(
        [sys.executable, "-c", with_memory_probes(MEASURE), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.splitlines()[-1])
    assert measured["statuses"] == [200] * workers and tuple(measured["size"]) == shrunk[::-1]
    model_pixels = shrunk[0] * shrunk[1]
    bound = max(
        DECODE_BYTES * width * height + TO_FLOAT_BYTES * model_pixels,
        (FLOAT_BYTES + measured["model_bytes"]) * model_pixels,
    )
    assert measured["decode_peak"] <= PNG_DECODE_BYTES * width * height + TO_FLOAT_BYTES * model_pixels, measured
    record_property("peak_mib", round(measured["peak"] / 2**20))
    record_property("bound_mib", round(workers * bound / 2**20))
    assert measured["peak"] <= workers * bound, (measured, bound)
