"""What guards `photostyle serve` before any route runs: ASGI middleware for which hosts and
origins may use it and how many request bodies, of what size and speed, may be in flight; and
uvicorn's h11 protocol with the deadlines and the connection bound that uvicorn lacks."""

import asyncio
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import anyio
import h11
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

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
            # Only uvicorn's shutdown cancels a request, once its time is up; GuardedH11Protocol has
            # closed the connection by then, so there is no one to answer and nothing to report.
            return
        except Exception:
            if not refusal:
                raise
        finally:
            self.in_flight -= 1
        if refusal and not started:
            await refuse(scope, receive, send, *refusal)


# Written straight to a connection over the bound, before any of its request is read.
_BUSY = (
    "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
    f"Retry-After: {RETRY_AFTER_S}\r\nContent-Length: 0\r\n\r\n"
).encode()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with what uvicorn (0.54) leaves out:

    - a request's headers must be complete within `header_timeout_s` of the connection or of
      their first byte, or the connection is closed: uvicorn times out a connection only
      between requests, so one that sends nothing, or half a header, stays open for ever;
    - at most `max_connections` open at once; one more gets 503 and is closed at once, so idle
      connections cannot use up the process's file descriptors (asyncio logs a traceback for
      each refused accept, thousands a second);
    - at shutdown, a connection whose request body is still arriving is closed at once (its
      request can no longer be answered, and uvicorn would wait for it), and any other still
      open after `shutdown_s` (an answer nobody reads) is closed then.
    """

    def __init__(self, *args, header_timeout_s: float, max_connections: int, shutdown_s: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.max_connections = max_connections
        self.shutdown_s = shutdown_s
        self._headers_overdue: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(_BUSY)
            transport.close()
            return
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._expect_headers()  # a request's first bytes, after a keep-alive pause
        else:
            self._stop_expecting_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_expecting_headers()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if self.conn.their_state is h11.SEND_BODY and not (self.cycle and self.cycle.response_started):
            self.transport.close()
        else:
            super().shutdown()
            self.loop.call_later(self.shutdown_s, self.transport.close)

    def _expect_headers(self) -> None:
        if self._headers_overdue is None:
            self._headers_overdue = self.loop.call_later(self.header_timeout_s, self.transport.close)

    def _stop_expecting_headers(self) -> None:
        if self._headers_overdue is not None:
            self._headers_overdue.cancel()
            self._headers_overdue = None
