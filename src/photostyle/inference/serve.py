"""`photostyle serve`: a FastAPI app that stylizes uploaded photos with every ONNX model in a folder.

Each model gets one onnxruntime session, loaded at start and shared by all requests.
Inference runs in worker threads (at most `workers` at a time, at most `queue` requests
waiting), so the event loop only moves bytes: a slow upload or a stalled client holds no
worker, and a flood gets 503 answers instead of an ever longer queue.
"""

import importlib.resources
import io
import os
from pathlib import Path
from typing import Annotated, Literal

import anyio
import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from photostyle.errors import PhotostyleError
from photostyle.images import ImageTooLarge, decode_photo, save_photo
from photostyle.inference.runtime import StyleModel
from photostyle.settings import SERVE_MAX_PIXELS, SERVE_MAX_UPLOAD_MB, SERVE_QUEUE, SERVE_WORKERS

MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}


def load_models(folder: Path, threads: int) -> dict[str, StyleModel]:
    """Every .onnx file in the folder (not below it), by file stem; each checked before use."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PhotostyleError(f"{folder} is not a folder; pass the folder that holds your exported .onnx models")
    models = {path.stem: StyleModel(path, threads=threads) for path in sorted(folder.glob("*.onnx")) if path.is_file()}
    if not models:
        raise PhotostyleError(f"no .onnx models in {folder}; export one there with: python export.py ckpt=... out={folder}/NAME.onnx")
    return models


def encode(rgb: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    save_photo(buffer, image_format.upper(), rgb, quality=92, subsampling="4:2:0")  # answers are for screens, and fast
    return buffer.getvalue()


def create_app(models_dir: Path, workers: int = SERVE_WORKERS, queue: int = SERVE_QUEUE,
               max_upload_mb: float = SERVE_MAX_UPLOAD_MB, max_pixels: int = SERVE_MAX_PIXELS) -> FastAPI:
    threads = max(1, (os.cpu_count() or 1) // workers)  # the workers share the cores, not each take them all
    models = load_models(models_dir, threads)
    sample = decode_photo(importlib.resources.files("photostyle.inference").joinpath("static", "sample.jpg").open("rb"), "sample").rgb
    thumbnails = {name: encode(model(sample), "jpeg") for name, model in models.items()}
    page = importlib.resources.files("photostyle.inference").joinpath("static", "index.html").read_text()
    limiter = anyio.CapacityLimiter(workers)
    max_bytes = int(max_upload_mb * 1024 * 1024)
    waiting = 0

    app = FastAPI(title="photostyle", description="Photographic style transfer with exported photostyle models.")

    @app.middleware("http")
    async def refuse_oversized_uploads(request: Request, call_next):
        # Before the body is read: a declared size over the limit never reaches the parser.
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
            return JSONResponse({"detail": f"upload is over the limit of {max_upload_mb:g} MB; send a smaller photo"}, status_code=413)
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "models": len(models)}

    @app.get("/api/models")
    async def list_models() -> list[dict]:
        return [{"name": name, "thumbnail": f"/api/models/{name}/thumbnail.jpg", **model.metadata} for name, model in models.items()]

    @app.get("/api/models/{name}/thumbnail.jpg")
    async def thumbnail(name: str) -> Response:
        if name not in thumbnails:
            raise HTTPException(404, f"no model named {name!r}")
        return Response(thumbnails[name], media_type="image/jpeg")

    @app.post("/api/stylize", responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
    async def stylize(image: Annotated[UploadFile, File(description="the photo")],
                      model: Annotated[str, Form(description="a name from /api/models")],
                      strength: Annotated[float, Form(ge=0.0, le=1.0, description="0 = the photo, 1 = fully stylized")] = 1.0,
                      format: Annotated[Literal["jpeg", "png"], Form(description="of the answer")] = "jpeg") -> Response:
        nonlocal waiting
        if model not in models:  # only names from the folder: no path ever comes from the client
            raise HTTPException(404, f"no model named {model!r}; choose one of {sorted(models)}")
        if image.size is not None and image.size > max_bytes:
            raise HTTPException(413, f"upload is over the limit of {max_upload_mb:g} MB; send a smaller photo")
        data = await image.read()
        if waiting >= queue:
            raise HTTPException(503, "the server is busy; try again in a moment")
        waiting += 1
        try:
            return await anyio.to_thread.run_sync(_stylize, data, image.filename or "upload", models[model], strength, format,
                                                  limiter=limiter)
        finally:
            waiting -= 1

    def _stylize(data: bytes, name: str, model: StyleModel, strength: float, image_format: str) -> Response:
        try:  # decode_photo refuses an oversized photo from its header, before any pixel is decoded
            photo = decode_photo(io.BytesIO(data), name, max_pixels=max_pixels)
        except ImageTooLarge as error:
            raise HTTPException(413, str(error)) from None
        except PhotostyleError as error:
            raise HTTPException(422, str(error)) from None
        return Response(encode(model(photo.rgb, strength), image_format), media_type=MEDIA_TYPES[image_format])

    return app
