"""`photostyle serve`'s server: create_app's app on uvicorn, on sockets bound here, with
GuardedH11Protocol's deadlines and connection bound, and a shutdown that answers the
photos still waiting for a worker at once (create_app keeps them in app.state for it)."""

import asyncio
import contextlib
import errno
import functools
import resource
import socket

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from photostyle.errors import PhotostyleError
from photostyle.inference.guards import RETRY_AFTER_S
from photostyle.settings import (
    SERVE_BACKLOG,
    SERVE_HEADER_TIMEOUT_S,
    SERVE_MIN_CONNECTIONS,
    SERVE_SHUTDOWN_S,
    SERVE_SPARE_FILES,
)


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to each address of `host` on `port`, bound here rather than by uvicorn so
    that a mistake is one line naming the flag to change, before the server claims to serve.
    As asyncio does, "" means every interface, and an address family this machine lacks (IPv6
    switched off) is left out if another address binds."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise PhotostyleError(
            f"cannot listen on --host {host} ({error.strerror}); pass an address of this machine: "
            "127.0.0.1 for this machine only, 0.0.0.0 for every network"
        ) from None
    sockets, unavailable = [], None
    for family, kind, proto, _, address in dict.fromkeys(addresses):  # "localhost" may be 127.0.0.1 and ::1
        try:
            listener = socket.socket(family, kind, proto)
        except OSError as error:
            unavailable = error
            continue
        sockets.append(listener)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio does: the IPv4 address gets its own socket
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind(address[:1] + (port,) + address[2:])
            port = port or listener.getsockname()[1]  # port 0: a free one, then the same one on every address
        except OSError as error:
            if error.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                sockets.pop().close()
                unavailable = error
                continue
            for opened in sockets:
                opened.close()
            if error.errno == errno.EADDRINUSE:
                raise PhotostyleError(
                    f"port {port} is in use, by another server or an earlier photostyle serve; "
                    "stop that one or pass another --port"
                ) from None
            raise PhotostyleError(
                f"cannot listen on {host} port {port} ({error.strerror}); pass another --host or --port"
            ) from None
    if not sockets:
        raise PhotostyleError(
            f"cannot listen on --host {host} ({unavailable.strerror if unavailable else 'no address'});"
            " pass an address of this machine: 127.0.0.1 for this machine only, 0.0.0.0 for every network"
        )
    return sockets


def raise_open_file_limit() -> None:
    """Raise the process's soft limit of open files to its hard limit, as servers do: each
    connection holds a file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 2**16)
        with contextlib.suppress(ValueError, OSError):  # a hard limit the kernel caps lower (fs.nr_open)
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def connection_bound(uploads: int, listeners: int) -> int:
    """The most connections the server may hold open without running out of file descriptors:
    the process's limit less the uploads' spooled files, three backlogs for each listening
    socket, and spares; on a limit too low for those, a few.

    Three backlogs, because a connection counts only once its protocol is made: each turn of
    asyncio's loop, each listening socket accepts up to a backlog of connections at one go;
    their protocols are made two turns later, and a refused one's descriptor is freed a turn
    after that. So beside the counted connections, one refused batch may be closing and two
    more not counted yet (a 512-descriptor server under 600 connections, reserving one
    backlog, peaked at 436 to 510 descriptors and once hit the limit).
    """
    limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if limit == resource.RLIM_INFINITY:
        limit = 2**20  # Linux's own ceiling on a process's descriptors (fs.nr_open)
    reserved = uploads + 3 * SERVE_BACKLOG * listeners + SERVE_SPARE_FILES
    return max(limit - reserved, SERVE_MIN_CONNECTIONS)


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


def build_server(
    app: FastAPI,
    uploads: int,
    listeners: int,
    header_timeout_s: float = SERVE_HEADER_TIMEOUT_S,
    shutdown_s: float = SERVE_SHUTDOWN_S,
) -> uvicorn.Server:
    """uvicorn for `app`, run with .run(sockets=listening_sockets(...)); `uploads` = workers +
    queue, `listeners` = how many sockets it listens on."""
    raise_open_file_limit()
    protocol = functools.partial(
        GuardedH11Protocol,
        header_timeout_s=header_timeout_s,
        max_connections=connection_bound(uploads, listeners),
        shutdown_s=shutdown_s,
    )
    config = uvicorn.Config(
        app,
        http=protocol,  # type: ignore[arg-type]  # uvicorn calls it as it would a protocol class
        log_level="warning",
        backlog=SERVE_BACKLOG,
        # Then uvicorn cancels the requests still at work (waiting for a worker, or stylizing),
        # whose connections the protocol has closed: a second after it closed them.
        timeout_graceful_shutdown=shutdown_s + 1,  # type: ignore[arg-type]  # a float works as well
    )
    return _StoppingServer(config)


class _StoppingServer(uvicorn.Server):
    """uvicorn's server, which tells a create_app app when it begins to shut down: photos still
    waiting for a worker then get 503 at once, so the server stops as soon as the photos being
    stylized are done, instead of starting the rest and cancelling them when its time is up."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = self.config.app.state
        state.stopping = True
        for waiting in list(state.waiting):
            waiting.cancel()
        await super().shutdown(sockets)
