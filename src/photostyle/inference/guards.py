"""ASGI middleware that guards `photostyle serve` before any route runs: which hosts and
origins may use it, and how many request bodies, of what size, may be in flight."""

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

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
        if scope["method"] in UNSAFE_METHODS and origin is not None and urlsplit(origin).netloc.lower() != host.lower():
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


class _BodyTooLarge(Exception):
    """Raised into the app from `receive` to stop it reading a body past the limit."""


class UploadLimits:
    """At most `uploads` requests with a body in flight, from their first byte to their answer
    (503 with Retry-After beyond that, before any of the body is read), each body at most
    `max_bytes` counted as it arrives, whatever Content-Length says (413 past it; the form
    parser closes, so deletes, what it spooled). So the temporary space of the uploads is at
    most uploads x max_bytes at any moment.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: int, retry_after_s: int = 1):
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads
        self.retry_after_s = retry_after_s
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
                {"Retry-After": str(self.retry_after_s)},
            )
            return
        received, over, started = 0, False, False

        async def counted_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:  # the app's answer to a body it could not finish (FastAPI: 400) is replaced
                return
            started = True
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over:
                raise
        finally:
            self.in_flight -= 1
        if over and not started:
            await refuse(scope, receive, send, 413, self._too_large())
