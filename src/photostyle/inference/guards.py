"""What guards `photostyle serve` before any route runs: ASGI middleware for which hosts and
origins may use it and how many request bodies, of what size and speed, may be in flight.
(server.GuardedH11Protocol guards the connections themselves.)"""

import asyncio
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A Host header is NAME, NAME:PORT, [IPV6] or [IPV6]:PORT (RFC 9110).
_HOST = re.compile(r"(\[[^\]]*\]|[^:\[\]]*)(?::\d*)?")


def host_name(host: str) -> str:
    """'Example.com:8000' -> 'example.com', '[::1]:80' -> '[::1]'; anything else (a bare '::1') whole."""
    match = _HOST.fullmatch(host)
    return (match.group(1) if match else host).lower()


def same_origin(origin: str, host: str) -> bool:
    """Whether an Origin header names the host (and port) of the Host header."""
    try:
        return urlsplit(origin).netloc.lower() == host.lower()
    except ValueError:  # "http://[::1": no browser sends it, so no page of ours either
        return False


async def refuse(
    scope: Scope, receive: Receive, send: Send, status: int, detail: str, headers: dict[str, str] | None = None
) -> None:
    """Answer {"detail": ...} as FastAPI does, and close the connection: the body, if any, stays unread."""
    await JSONResponse({"detail": detail}, status, headers={"Connection": "close", **(headers or {})})(
        scope, receive, send
    )


class HostCheck:
    """400 for a Host header not in `allowed_hosts` ("*" allows any), 403 for an unsafe method
    sent by a page of another origin: requests without an Origin header (curl, scripts) and
    the server's own page pass. Together they keep other web pages, DNS rebinding included,
    from using the API through a visitor's browser, as Django's ALLOWED_HOSTS and CSRF
    origin check do. (Starlette's TrustedHostMiddleware cuts "[::1]:8000" at the first colon.)
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]):
        self.app = app
        self.allowed = {host.lower() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if "*" not in self.allowed and host_name(host) not in self.allowed:
            await refuse(
                scope,
                receive,
                send,
                400,
                f"host {host!r} is not served here; "
                f"start the server with --allowed-hosts {host_name(host) or 'NAME'} to allow it",
            )
            return
        origin = headers.get("origin")
        # "null" (a sandboxed frame, a file: page) has no network location, so it never matches.
        if scope["method"] in UNSAFE_METHODS and origin is not None and not same_origin(origin, host):
            await refuse(
                scope,
                receive,
                send,
                403,
                f"requests from pages of other sites ({origin}) are refused; "
                f"use this server's own page, or send no Origin header",
            )
            return
        await self.app(scope, receive, send)


# The seconds a client told 503 (too many uploads or connections) is asked to wait before it tries again.
RETRY_AFTER_S = 1


class _BodyRefused(Exception):
    """Raised into the app from `receive` to stop it reading a body that is too large or too slow."""


class UploadLimits:
    """At most `uploads` requests with a body in flight, from their first byte to their answer
    (503 with Retry-After beyond that, before any of the body is read), each body at most
    `max_bytes` counted as it arrives, whatever Content-Length says (413 past it; the form
    parser closes, so deletes, what it spooled), and complete within `timeout_s` of its headers
    (408 past it), so a client that stops sending holds its place for a bounded time. So the
    temporary space of the uploads is at most uploads x max_bytes at any moment.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: int, timeout_s: float):
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads
        self.timeout_s = timeout_s
        self.in_flight = 0

    def _too_large(self) -> str:
        return f"upload is over the limit of {self.max_bytes / 2**20:.3g} MB; send a smaller photo"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else Headers()
        declared = headers.get("content-length")
        if "transfer-encoding" not in headers and declared in (None, "0"):  # no body (or not HTTP): nothing to bound
            await self.app(scope, receive, send)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await refuse(scope, receive, send, 413, self._too_large())
            return
        if self.in_flight >= self.uploads:
            await refuse(
                scope,
                receive,
                send,
                503,
                "the server is busy; try again in a moment",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
            return
        deadline = anyio.current_time() + self.timeout_s
        received, body_complete, started = 0, False, False
        refusal: tuple[int, str] | None = None  # (status, detail) once the body is refused

        async def counted_receive() -> Message:
            nonlocal received, body_complete, refusal
            if body_complete:  # what comes next is the disconnect, whenever it comes
                return await receive()
            try:
                with anyio.fail_after(deadline - anyio.current_time()):
                    message = await receive()
            except TimeoutError:
                refusal = (
                    408,
                    f"the upload did not arrive within {self.timeout_s:g} s; "
                    "send it again, on a faster connection or as a smaller photo",
                )
                raise _BodyRefused from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    refusal = (413, self._too_large())
                    raise _BodyRefused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refusal and not started:  # the app's answer to a body it could not finish (FastAPI: 400) is replaced
                return
            started = True
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, counted_receive, guarded_send)
        except asyncio.CancelledError:
            # Only uvicorn's shutdown cancels a request, once its time is up; server.GuardedH11Protocol
            # has closed the connection by then, so there is no one to answer and nothing to report.
            return
        except Exception:
            if not refusal:
                raise
        finally:
            self.in_flight -= 1
        if refusal and not started:
            await refuse(scope, receive, send, *refusal)
