"""`photostyle serve`'s HTTP API, through the framework's test client."""

import io
import os
import shutil
import socket
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from benchmarks.common import serve_process
from photostyle.errors import PhotostyleError
from photostyle.inference.serve import create_app
from photostyle.settings import SERVE_RESCAN_S

from conftest import PHOTOSTYLE, jpeg, live_server, moving_square, run, tiny_network


@pytest.fixture(scope="module")
def client(models_dir):
    # The test client sends "Host: testserver", which the default (loopback names only) refuses.
    with TestClient(
        create_app(models_dir, max_upload_mb=0.05, max_pixels=100_000, allowed_hosts=["testserver"])
    ) as test_client:
        yield test_client


def post(client, data: bytes, name: str = "photo.jpg", **form):
    return client.post("/api/stylize", files={"image": (name, data, "image/jpeg")}, data={"model": "warm", **form})


def test_health_models_thumbnails_page_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok", "models": 1}
    (model,) = client.get("/api/models").json()
    assert model["name"] == "warm" and model["network"] == "tiny" and model["photostyle_version"] == "test"
    thumbnail = client.get(model["thumbnail"])
    assert thumbnail.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(thumbnail.content)).width == 160
    page = client.get("/")
    assert page.status_code == 200 and 'id="webcam"' in page.text and 'id="strength"' in page.text
    assert "/api/stylize" in client.get("/openapi.json").json()["paths"]


def test_stylize_keeps_size_and_strength_blends(client):
    source = jpeg()
    original = np.asarray(Image.open(io.BytesIO(source)), np.float32)
    answer = post(client, source)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    stylized = np.asarray(Image.open(io.BytesIO(answer.content)), np.float32)
    assert stylized.shape == original.shape
    assert stylized[..., 0].mean() - original[..., 0].mean() > 4  # the tiny model's warm shift
    # Pixel by pixel, in PNG so that only the rounding to 8 bits separates the two.
    full, half = (
        np.asarray(Image.open(io.BytesIO(post(client, source, strength=s, format="png").content)), np.float32)
        for s in ("1", "0.5")
    )
    assert np.abs(full - original).max() > 8  # so a half blend is not the photo nor the full look
    assert np.abs(half - (original + 0.5 * (full - original))).max() <= 1
    none = post(client, source, strength="0", format="png")
    assert none.headers["content-type"] == "image/png"
    assert np.abs(np.asarray(Image.open(io.BytesIO(none.content)), np.float32) - original).max() <= 1


@pytest.mark.parametrize("model", ["cold", "../warm", "/etc/passwd", "warm.onnx", ""])
def test_only_models_in_the_folder_can_be_named(client, model):
    answer = client.post("/api/stylize", files={"image": ("p.jpg", jpeg(), "image/jpeg")}, data={"model": model})
    assert answer.status_code in (404, 422) and "detail" in answer.json()


def bomb() -> bytes:
    # A PNG that declares 20000 x 20000 pixels in a few hundred bytes.
    buffer = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "case, data, status",
    [
        ("text", b"this is not a photo", 422),
        ("empty", b"", 422),
        ("truncated", jpeg()[:300], 422),
        ("too many pixels", jpeg(400, 300), 413),
        ("declared huge", bomb(), 413),
        ("too many bytes", b"\xff" * 200_000, 413),
    ],
)
def test_bad_uploads_get_a_clear_answer(client, case, data, status):
    answer = post(client, data)
    assert answer.status_code == status, (case, answer.text)
    assert isinstance(answer.json()["detail"], str) and answer.json()["detail"]


@pytest.mark.parametrize("form", [{"strength": "2"}, {"strength": "strong"}, {"format": "gif"}])
def test_bad_parameters_are_422(client, form):
    assert post(client, jpeg(), **form).status_code == 422


def test_missing_image_is_422(client):
    assert client.post("/api/stylize", data={"model": "warm"}).status_code == 422


def test_an_empty_or_missing_folder_is_refused(tmp_path, capfd):
    with pytest.raises(PhotostyleError, match="no .onnx models"):
        create_app(tmp_path)
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(PhotostyleError, match="no usable model in .*broken.onnx"):
        create_app(tmp_path)
    assert "not serving broken.onnx" in capfd.readouterr().err
    result = run(PHOTOSTYLE, "serve", str(tmp_path / "nowhere"), timeout=60)  # were it to start after all
    assert result.returncode == 1 and "is not a folder" in result.stderr and "Traceback" not in result.stderr


def test_a_stalled_upload_holds_no_worker(models_dir):
    # One worker only: if reading an upload took a worker, the stalled client below would
    # block every other request until it gave up.
    import httpx

    with live_server(create_app(models_dir, workers=1)) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as stalled:
            stalled.sendall(
                b"POST /api/stylize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40000\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\nContent-Disposition: form-data; "
                b'name="image"; filename="a.jpg"\r\n\r\n' + jpeg()[:500]
            )  # ...and nothing more
            for _ in range(3):
                start = time.monotonic()
                answer = httpx.post(
                    f"{url}/api/stylize",
                    files={"image": ("p.jpg", jpeg(), "image/jpeg")},
                    data={"model": "warm"},
                    timeout=20,
                )
                assert answer.status_code == 200 and time.monotonic() - start < 5


def test_a_model_named_with_url_characters_has_working_links(tiny_model, tmp_path):
    shutil.copy(tiny_model, tmp_path / "a#b?c%d.onnx")
    with TestClient(create_app(tmp_path, allowed_hosts=["testserver"])) as client:
        (listed,) = client.get("/api/models").json()
        assert listed["name"] == "a#b?c%d" and listed["thumbnail"] == "/api/models/a%23b%3Fc%25d/thumbnail.jpg"
        assert client.get(listed["thumbnail"]).headers["content-type"] == "image/jpeg"
        assert post(client, jpeg(), model="a#b?c%d").status_code == 200


def test_a_broken_model_is_listed_as_unavailable_and_the_others_are_served(tiny_model, tmp_path, capfd):
    shutil.copy(tiny_model, tmp_path / "good.onnx")
    (tmp_path / "broken.onnx").write_bytes(tiny_model.read_bytes()[:3000])
    app = create_app(tmp_path, allowed_hosts=["testserver"])
    assert "not serving broken.onnx: broken.onnx is not a loadable" in capfd.readouterr().err
    with TestClient(app) as client:
        listed = {m["name"]: m for m in client.get("/api/models").json()}
        assert listed["good"]["available"] and listed["broken"] == {
            "name": "broken",
            "available": False,
            "problem": listed["broken"]["problem"],
        }
        assert (
            "broken.onnx is not a loadable ONNX model" in listed["broken"]["problem"]
            and str(tmp_path) not in listed["broken"]["problem"]
        )
        assert client.get("/healthz").json()["models"] == 1
        assert post(client, jpeg(), model="good").status_code == 200
        refused = post(client, jpeg(), model="broken")
        assert refused.status_code == 404 and "unavailable" in refused.json()["detail"]
        assert client.get("/api/models/broken/thumbnail.jpg").status_code == 404


def test_models_added_replaced_and_removed_are_noticed_without_a_restart(tiny_model, tmp_path):
    from photostyle.training.onnx_export import export_onnx

    shutil.copy(tiny_model, tmp_path / "warm.onnx")
    with TestClient(create_app(tmp_path, allowed_hosts=["testserver"])) as client:

        def listed() -> dict[str, dict]:
            time.sleep(SERVE_RESCAN_S + 0.1)  # the folder is looked at again at most this often
            return {m["name"]: m for m in client.get("/api/models").json()}

        first_thumbnail = client.get("/api/models/warm/thumbnail.jpg").content
        shutil.copy(tiny_model, tmp_path / "cold.onnx")
        assert set(listed()) == {"warm", "cold"} and post(client, jpeg(), model="cold").status_code == 200
        # Replaced the way a careful export does it: written aside, then renamed over the old file.
        export_onnx(tiny_network(seed=1), tmp_path / "next.part", {"photostyle_version": "test", "network": "tiny-2"})
        os.replace(tmp_path / "next.part", tmp_path / "warm.onnx")
        assert listed()["warm"]["network"] == "tiny-2"
        assert client.get("/api/models/warm/thumbnail.jpg").content != first_thumbnail
        (tmp_path / "cold.onnx").unlink()
        assert set(listed()) == {"warm"} and post(client, jpeg(), model="cold").status_code == 404


def test_the_command_passes_allowed_hosts_and_max_side_on(models_dir, tmp_path):
    import httpx

    command = [PHOTOSTYLE, "serve", str(models_dir), "--allowed-hosts", "studio.lan", "--max-side", "32"]
    with serve_process(command, tmp_path / "serve.log") as (url, _):
        studio = {"Host": "studio.lan"}
        assert httpx.get(f"{url}/healthz", headers=studio).status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 400  # Host: 127.0.0.1:PORT
        stylized = httpx.post(
            f"{url}/api/stylize", headers=studio, files={"image": ("p.jpg", jpeg(30, 44))}, data={"model": "warm"}
        )
        assert stylized.status_code == 200 and Image.open(io.BytesIO(stylized.content)).size == (32, 22)


@pytest.mark.slow  # tiny_look_model is an export
def test_webcam_frames_carry_the_look_through_the_client(tiny_look_model, tmp_path):
    """The server keeps nothing between frames: each answer's X-Photostyle-Clip header, sent back
    with the next frame, gives the same frames as one Clip run locally."""
    import base64

    from photostyle.inference.runtime import StyleModel
    from photostyle.inference.serve import encode_photo

    shutil.copy(tiny_look_model, tmp_path / "look.onnx")
    app = create_app(tmp_path, allowed_hosts=["testserver"])
    local = StyleModel(tiny_look_model).clip()  # the serve page's smoothing is the default
    state = "start"
    with TestClient(app) as test_client:
        for frame in moving_square(4):
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="PNG")
            answer = test_client.post(
                "/api/stylize",
                files={"image": ("frame.png", buffer.getvalue(), "image/png")},
                data={"model": "look", "clip": state},
            )
            assert answer.status_code == 200, answer.text
            assert answer.content == encode_photo(local(frame), "jpeg")
            state = answer.headers["X-Photostyle-Clip"]
        assert len(base64.b64decode(state)) > 0
        for bad in ["not base64!", base64.b64encode(b"1234").decode(), base64.b64encode(b"\xff" * 4000).decode()]:
            answer = test_client.post(
                "/api/stylize", files={"image": ("f.jpg", jpeg(), "image/jpeg")}, data={"model": "look", "clip": bad}
            )
            assert answer.status_code == 422 and "afresh" in answer.json()["detail"], answer.text
        photo = test_client.post(
            "/api/stylize", files={"image": ("f.jpg", jpeg(), "image/jpeg")}, data={"model": "look"}
        )
        assert photo.status_code == 200 and "X-Photostyle-Clip" not in photo.headers
