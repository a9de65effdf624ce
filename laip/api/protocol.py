"""The HTTP protocol ``laip serve`` runs: uvicorn's httptools protocol with bounds on what a client may hold.

uvicorn waits for a request's head (request line and headers) and for its body as long as the client likes, and
httptools takes headers of any size: a few clients sending one byte now and then, or megabytes of headers, tie up
a worker. Here a connection must deliver its request head within ``head_timeout_s`` of opening (or of its first
byte, on a kept-alive connection) and the head may be at most ``max_head_bytes``; the body must arrive within
``body_timeout_s`` after the head. Otherwise the client gets 408 or 431 and the connection is closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from laip.config import Settings


@dataclass(frozen=True)
class ConnectionLimits:
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_head_bytes: int = 16_384


RAW_SLACK = 65_536


class HeadTooLarge(Exception):
    """Raised from a parser callback: stops parsing; answered with 431."""


def connection_limits(settings: Settings) -> ConnectionLimits:
    """``laip.yaml`` ``api``: ``head_timeout_seconds``, ``body_timeout_seconds``, ``max_head_bytes``."""
    cfg = settings.raw.get("api", {}) or {}
    default = ConnectionLimits()
    return ConnectionLimits(
        float(cfg.get("head_timeout_seconds", default.head_timeout_s)),
        float(cfg.get("body_timeout_seconds", default.body_timeout_s)),
        int(cfg.get("max_head_bytes", default.max_head_bytes)),
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request head and the body, and a cap on the head."""

    limits = ConnectionLimits()  # set once per worker process by :func:`configure`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the request line and the complete headers so far
        self._in_head = False  # between a request's first byte (or the connection) and the end of its headers
        self._head_raw = 0  # bytes received while in a head: httptools buffers a header until it is complete
        self._head_too_large = False

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self._respond(408, f"{what} not received in time")
        self.transport.close()

    def _respond(self, status: int, message: str) -> None:
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 400: b"Bad Request"}[status]
        body = message.encode("ascii", "replace")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )

    # connection and parser events
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head, self._head_raw = True, 0
        self._arm(self.limits.head_timeout_s, "request head")

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        self._head_raw += len(data)  # a chunk may also hold the end of the previous request: allow slack for it
        if self._head_raw > self.limits.max_head_bytes + RAW_SLACK:
            self._head_too_large = True
            self.send_400_response("")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes, self._in_head, self._head_raw = 0, True, 0
        self._arm(self.limits.head_timeout_s, "request head")

    def _count(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self.limits.max_head_bytes:
            self._head_too_large = True
            raise HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.limits.body_timeout_s, "request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """The parser stopped: on a head over the limit that is a 431, otherwise uvicorn's 400."""
        if not self._head_too_large:
            return super().send_400_response(msg)
        self._respond(431, f"request head larger than {self.limits.max_head_bytes} bytes")
        self.transport.close()


def configure(limits: ConnectionLimits) -> None:
    """Set the limits of every connection this process serves (its uvicorn app factory calls this)."""
    BoundedHttpToolsProtocol.limits = limits
