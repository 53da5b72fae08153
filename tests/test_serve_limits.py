"""`photostyle serve`'s guards on a real uvicorn on 127.0.0.1: request bodies counted as they
stream, uploads in flight bounded before any body is read, the temporary space they use
measured; and the Host and Origin checks."""

import os
import select
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from photostyle.arguments import build_parser
from photostyle.inference.serve import create_app

from conftest import jpeg, live_server

MIB = 2**20


def spooled_bytes(folder: Path) -> int:
    """Bytes in files under `folder` held open by this process (the spooled uploads are unlinked at once)."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
                total += os.stat(f"/proc/self/fd/{fd}").st_size
        except OSError:  # closed meanwhile
            continue
    return total + sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def chunked_upload(url: str, total: int, chunk: int = 64 * 1024) -> tuple[int, str]:
    """POST a multipart photo of `total` bytes with chunked encoding (no Content-Length) on a raw
    socket, stopping when the server answers; returns the status and the raw answer."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwarm\r\n'
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="big.jpg"\r\n\r\n'
    )
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            b"POST /api/stylize HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        )
        body, sent = head, 0
        try:
            while sent < total and not select.select([connection], [], [], 0)[0]:  # stop once answered
                connection.sendall(b"%x\r\n%s\r\n" % (len(body), body))
                sent += len(body)
                body = b"\xff" * chunk
                time.sleep(0.002)  # slow enough that the uploads overlap
            connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):  # closed by the server after its answer
            pass
        answer = connection.recv(65536).decode("latin-1")
    return int(answer.split()[1]), answer


def test_chunked_uploads_over_the_limit_never_use_more_temp_space_than_in_flight_x_limit(
    models_dir, tmp_path, monkeypatch
):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where Starlette's spooled files go past 1 MB
    workers, queue, limit_mb, clients = 1, 2, 3, 6
    peak, stop = 0, threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, spooled_bytes(spool))
            time.sleep(0.003)

    with live_server(create_app(models_dir, workers=workers, queue=queue, max_upload_mb=limit_mb)) as url:
        watcher = threading.Thread(target=watch)
        watcher.start()
        answers: list[tuple[int, str]] = []
        uploads = [
            threading.Thread(target=lambda: answers.append(chunked_upload(url, 8 * MIB))) for _ in range(clients)
        ]
        for upload in uploads:
            upload.start()
        for upload in uploads:
            upload.join(timeout=60)
        time.sleep(0.1)
        stop.set()
        watcher.join()
        left = spooled_bytes(spool)
    statuses = sorted(status for status, _ in answers)
    assert len(statuses) == clients and set(statuses) <= {413, 503}, statuses
    assert statuses.count(413) >= 1 and all(
        "Retry-After: 1" in a or "retry-after: 1" in a for s, a in answers if s == 503
    )
    # The measurement sees the spooled files (they reached the disk), and they never exceed the bound.
    assert 1 * MIB < peak <= (workers + queue) * limit_mb * MIB, (peak, statuses)
    assert left == 0


def test_a_full_server_answers_503_with_retry_after_before_reading_the_body(models_dir):
    with live_server(create_app(models_dir, workers=1, queue=1)) as url:
        host, port = url.removeprefix("http://").split(":")
        stalled = [socket.create_connection((host, int(port))) for _ in range(2)]  # workers + queue uploads in flight
        for connection in stalled:
            connection.sendall(
                b"POST /api/stylize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40000\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n"
            )
        time.sleep(0.3)
        busy = httpx.post(
            f"{url}/api/stylize", files={"image": ("p.jpg", jpeg(), "image/jpeg")}, data={"model": "warm"}
        )
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert httpx.get(f"{url}/healthz").status_code == 200  # requests without a body are not uploads
        for connection in stalled:
            connection.close()
        deadline = time.monotonic() + 10
        while (
            answer := httpx.post(
                f"{url}/api/stylize", files={"image": ("p.jpg", jpeg(), "image/jpeg")}, data={"model": "warm"}
            )
        ).status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.1)  # the server notices the closed connections and frees their places
        assert answer.status_code == 200


def test_a_declared_size_over_the_limit_is_413_at_once(models_dir):
    with TestClient(create_app(models_dir, max_upload_mb=0.05, allowed_hosts=["testserver"])) as client:
        answer = client.post(
            "/api/stylize", files={"image": ("p.jpg", b"\xff" * 60_000, "image/jpeg")}, data={"model": "warm"}
        )
    assert answer.status_code == 413 and "0.05 MB" in answer.json()["detail"]


@pytest.mark.parametrize(
    "host, status",
    [
        ("127.0.0.1:8000", 200),
        ("localhost", 200),
        ("LOCALHOST:80", 200),
        ("[::1]:8000", 200),
        ("evil.example", 400),
        ("evil.example:8000", 400),
        ("127.0.0.1.evil.example", 400),
        ("", 400),
    ],
)
def test_only_allowed_hosts_are_answered(models_dir, host, status):
    with TestClient(create_app(models_dir)) as client:  # the default: loopback names only
        answer = client.get("/api/models", headers={"Host": host})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert "--allowed-hosts" in answer.json()["detail"]


def test_allowed_hosts_can_name_others_or_any(models_dir):
    with TestClient(create_app(models_dir, allowed_hosts=["studio.lan"])) as client:
        assert client.get("/healthz", headers={"Host": "studio.lan:8000"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 400
    with TestClient(create_app(models_dir, allowed_hosts=["*"])) as client:
        assert client.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


@pytest.mark.parametrize(
    "origin, status",
    [
        (None, 200),
        ("http://127.0.0.1:8000", 200),
        ("https://127.0.0.1:8000", 200),
        ("http://evil.example", 403),
        ("http://127.0.0.1:9999", 403),
        ("null", 403),
    ],
)
def test_posts_from_other_origins_are_refused(models_dir, origin, status):
    headers = {"Host": "127.0.0.1:8000", **({"Origin": origin} if origin else {})}
    with TestClient(create_app(models_dir)) as client:
        answer = client.post(
            "/api/stylize", files={"image": ("p.jpg", jpeg(), "image/jpeg")}, data={"model": "warm"}, headers=headers
        )
        assert answer.status_code == status, answer.text
        assert (
            client.get("/api/models", headers=headers).status_code == 200
        )  # reading is left to the browser's CORS rules


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--max-upload-mb", "nan", "not a positive, finite number"),
        ("--max-upload-mb", "inf", "not a positive, finite number"),
        ("--max-upload-mb", "-1", "not a positive, finite number"),
        ("--port", "70000", "not a port number"),
        ("--port", "-1", "not a port number"),
    ],
)
def test_serve_refuses_a_bad_limit_or_port_before_it_starts(tmp_path, capsys, option, value, expected):
    """Once a traceback (nan, inf, a port over 65535) or a server that refused every upload (-1)."""
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["serve", str(tmp_path), option, value])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 2 and option in error and expected in error, error
