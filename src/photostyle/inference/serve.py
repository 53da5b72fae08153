"""`photostyle serve`: a FastAPI app that stylizes uploaded photos with every ONNX model in a folder.

Each model gets one onnxruntime session, shared by all requests; the folder is rescanned at
most once a second, so models added, replaced or removed are served without a restart.
Inference runs in worker threads (at most `workers` at a time), so the event loop only
moves bytes: a slow upload or a stalled client holds no worker. At most `workers + queue`
uploads are in flight (guards.UploadLimits), so a flood gets 503 answers instead of an ever
longer queue, and the disk and memory they use are bounded (docs/serve.md has the figures).
server.py puts the app on uvicorn, with deadlines for slow clients and a bounded shutdown.
"""

import base64
import importlib.resources
import io
import os
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO, Literal
from urllib.parse import quote

import anyio
import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import HTMLResponse, Response

from photostyle.errors import PhotostyleError
from photostyle.images import ImageTooLarge, decode_photo, save_photo
from photostyle.inference.guards import HostCheck, UploadLimits
from photostyle.inference.runtime import StyleModel
from photostyle.settings import (
    SERVE_ALLOWED_HOSTS,
    SERVE_MAX_PIXELS,
    SERVE_MAX_SIDE,
    SERVE_MAX_UPLOAD_MB,
    SERVE_QUEUE,
    SERVE_RESCAN_S,
    SERVE_UPLOAD_TIMEOUT_S,
    SERVE_WORKERS,
    VIDEO_SMOOTHING,
)

MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
CLIP_HEADER = "X-Photostyle-Clip"
# The state of a clip is a look and a frame's colours: a few KB for the default network.
CLIP_STATE_MAX_CHARS = 1_000_000
FIRST_FRAME = "start"  # the `clip` value of a video's first frame


def decode_clip_state(text: str) -> bytes:
    """The clip state a client sent back (base64), or b"" for FIRST_FRAME."""
    if text == FIRST_FRAME:
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise PhotostyleError(
            f"clip is not a state this server gave; send {FIRST_FRAME!r} to start a clip afresh"
        ) from None


def encode_photo(rgb: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    save_photo(buffer, image_format.upper(), rgb, quality=92, subsampling="4:2:0")  # answers are for screens, and fast
    return buffer.getvalue()


@dataclass(frozen=True)
class Entry:
    """One .onnx file as last seen: its model and thumbnail, or why it cannot be used."""

    signature: tuple[int, int, int]  # (mtime ns, size, inode): a change means the file was replaced
    model: StyleModel | None
    thumbnail: bytes | None
    problem: str | None


class ModelFolder:
    """The .onnx files in a folder (not below it), by file stem, each loaded and checked once per version."""

    def __init__(self, folder: Path, threads: int, sample: np.ndarray, rescan_s: float = SERVE_RESCAN_S):
        self.folder, self.threads, self.sample, self.rescan_s = Path(folder), threads, sample, rescan_s
        self.entries: dict[str, Entry] = {}
        self._scanned = -float("inf")
        self._lock = threading.Lock()
        if not self.folder.is_dir():
            raise PhotostyleError(f"{folder} is not a folder; pass the folder that holds your exported .onnx models")
        self.refresh()
        if not self.entries:
            raise PhotostyleError(
                f"no .onnx models in {folder}; export one there with: python export.py ckpt=... out={folder}/NAME.onnx"
            )
        if not self.usable():
            raise PhotostyleError(
                f"no usable model in {folder}: " + "; ".join(e.problem for e in self.entries.values())
            )

    def usable(self) -> dict[str, StyleModel]:
        return {name: entry.model for name, entry in self.entries.items() if entry.model is not None}

    def due(self) -> bool:
        return time.monotonic() - self._scanned >= self.rescan_s

    def refresh(self) -> None:
        """Rescan if due: a stat per file, and a load only for files that are new or changed."""
        # While one request rescans (loading a new model may take seconds), the others go on with what is known.
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self.due():
                self.entries = self._scan()  # one assignment: requests see the old set or the new one, never a mix
                self._scanned = time.monotonic()
        finally:
            self._lock.release()

    def _scan(self) -> dict[str, Entry]:
        entries = {}
        for path in sorted(self.folder.glob("*.onnx")):
            try:
                info = path.stat()
            except OSError:  # removed between the listing and now
                continue
            if stat.S_ISREG(info.st_mode):
                signature = (info.st_mtime_ns, info.st_size, info.st_ino)
                known = self.entries.get(path.stem)
                entries[path.stem] = known if known and known.signature == signature else self._load(path, signature)
        return entries

    def _load(self, path: Path, signature: tuple[int, int, int]) -> Entry:
        try:
            model = StyleModel(path, threads=self.threads)
            return Entry(signature, model, encode_photo(model.stylize(self.sample)[0], "jpeg"), None)
        except Exception as error:  # onnxruntime raises untyped errors for a model that loads but cannot run
            # Named by file alone: clients see the reason, and the server's folder is none of their business.
            reason = str(error).replace(str(path), path.name)
            problem = reason if isinstance(error, PhotostyleError) else f"{path.name} cannot run ({reason[:200]})"
            print(f"photostyle serve: not serving {path.name}: {problem}", file=sys.stderr, flush=True)
            return Entry(signature, None, None, problem)


def create_app(
    models_dir: Path,
    workers: int = SERVE_WORKERS,
    queue: int = SERVE_QUEUE,
    max_upload_mb: float = SERVE_MAX_UPLOAD_MB,
    max_pixels: int = SERVE_MAX_PIXELS,
    max_side: int | None = SERVE_MAX_SIDE,
    allowed_hosts: tuple[str, ...] | list[str] = SERVE_ALLOWED_HOSTS,
    upload_timeout_s: float = SERVE_UPLOAD_TIMEOUT_S,
) -> FastAPI:
    threads = max(1, (os.cpu_count() or 1) // workers)  # the workers share the cores, not each take them all
    sample = decode_photo(
        importlib.resources.files("photostyle.inference").joinpath("static", "sample.jpg").open("rb"), "sample"
    ).pixels
    folder = ModelFolder(models_dir, threads, sample)
    page = importlib.resources.files("photostyle.inference").joinpath("static", "index.html").read_text()
    worker_slots = anyio.CapacityLimiter(workers)  # photos being stylized at once; the rest wait for a slot
    worker_threads = anyio.CapacityLimiter(workers)  # anyio's shared pool has 40 threads, fewer than --workers may be

    app = FastAPI(title="photostyle", description="Photographic style transfer with exported photostyle models.")
    # Set and cancelled by server.build_server's server when it begins to shut down: a photo still
    # waiting for a worker then gets 503 at once, so the server stops once the photos at work are done.
    app.state.stopping = False
    app.state.waiting = set()  # the cancel scopes of the requests waiting for a worker
    # The last added runs first: a foreign host or origin is refused before it can take an upload's place.
    app.add_middleware(
        UploadLimits, max_bytes=int(max_upload_mb * 2**20), uploads=workers + queue, timeout_s=upload_timeout_s
    )
    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts)

    async def entries() -> dict[str, Entry]:
        if folder.due():  # checked here first, so most requests skip the hop to a thread
            await anyio.to_thread.run_sync(folder.refresh)
        return folder.entries

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/healthz")
    async def healthz() -> dict:
        await entries()
        return {"status": "ok", "models": len(folder.usable())}

    @app.get("/api/models")
    async def list_models() -> list[dict]:
        return [
            {
                **entry.model.metadata,
                "name": name,
                "available": True,
                "thumbnail": f"/api/models/{quote(name, safe='')}/thumbnail.jpg",
            }
            if entry.model
            else {"name": name, "available": False, "problem": entry.problem}
            for name, entry in (await entries()).items()
        ]

    @app.get("/api/models/{name}/thumbnail.jpg")
    async def thumbnail(name: str) -> Response:
        entry = (await entries()).get(name)
        if entry is None or entry.thumbnail is None:
            raise HTTPException(404, f"no usable model named {name!r}")
        return Response(entry.thumbnail, media_type="image/jpeg")

    @app.post("/api/stylize", responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
    async def stylize(
        image: Annotated[UploadFile, File(description="the photo")],
        model: Annotated[str, Form(description="a name from /api/models")],
        strength: Annotated[float, Form(ge=0.0, le=1.0, description="0 = the photo, 1 = fully stylized")] = 1.0,
        format: Annotated[Literal["jpeg", "png"], Form(description="of the answer")] = "jpeg",
        clip: Annotated[
            str,
            Form(
                max_length=CLIP_STATE_MAX_CHARS,
                description=f"a video frame's: the {CLIP_HEADER} header of the answer for the frame before",
            ),
        ] = "",
    ) -> Response:
        entry = (await entries()).get(model)  # only names from the folder: no path ever comes from the client
        if entry is None:
            raise HTTPException(404, f"no model named {model!r}; choose one of {sorted(folder.usable())}")
        if entry.model is None:
            raise HTTPException(404, f"model {model!r} is unavailable: {entry.problem}")
        # The upload stays in its spooled file (on disk past 1 MB) until a worker decodes it.
        with anyio.CancelScope() as waiting:
            app.state.waiting.add(waiting)
            try:
                await worker_slots.acquire()
            finally:
                app.state.waiting.discard(waiting)
        if waiting.cancelled_caught or app.state.stopping:
            if not waiting.cancelled_caught:
                worker_slots.release()
            raise HTTPException(503, "the server is stopping; send the photo again once it is back")
        try:
            return await anyio.to_thread.run_sync(
                _stylize,
                image.file,
                image.filename or "upload",
                entry.model,
                strength,
                format,
                clip,
                limiter=worker_threads,
            )
        finally:
            worker_slots.release()

    def _stylize(
        source: BinaryIO, name: str, model: StyleModel, strength: float, image_format: str, clip: str
    ) -> Response:
        try:  # decode_photo refuses an oversized photo from its header, before any pixel is decoded
            photo = decode_photo(source, name, max_side=max_side, max_pixels=max_pixels)
            frame_stylizer = model.clip(VIDEO_SMOOTHING, strength, decode_clip_state(clip)) if clip else None
        except ImageTooLarge as error:
            raise HTTPException(413, str(error)) from None
        except PhotostyleError as error:
            raise HTTPException(422, str(error)) from None
        if frame_stylizer is None:
            stylized = model.stylize(photo.pixels, strength)[0]
            return Response(encode_photo(stylized, image_format), media_type=MEDIA_TYPES[image_format])
        # A frame of a video (the webcam): the look carried over from the frame before, whose
        # state the client keeps, so the server keeps nothing between requests.
        stylized = frame_stylizer(photo.pixels)
        headers = {CLIP_HEADER: base64.b64encode(frame_stylizer.state()).decode()}
        return Response(encode_photo(stylized, image_format), media_type=MEDIA_TYPES[image_format], headers=headers)

    return app
