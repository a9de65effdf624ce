"""ASGI middleware of the API: the request id, the start time, the per-client rate limit and the body-size limit,
before anything parses."""

from __future__ import annotations

import math
import re
import time
import uuid

from fastapi.responses import JSONResponse

from laip.api.ratelimit import RateLimiter, rate_limit
from laip.api.state import PREDICT_PATHS, ApiState, rejection

DRAIN_CAP = 64_000_000  # a larger rejected body is not read: the connection is closed
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _client_request_id(scope: dict) -> str:
    for key, value in scope.get("headers", ()):
        if key == b"x-request-id":
            text = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


class RequestContext:
    """ASGI middleware: request id + start time in ``request.state``, ``X-Request-ID`` on every response, the
    per-client rate limit (429, logged) and the body size limit (413, logged) enforced while reading, before
    anything parses the body."""

    def __init__(self, app, state: ApiState):
        self.app = app
        self.state = state
        self.limiter = RateLimiter(rate_limit(state.settings))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        rid = _client_request_id(scope)
        scope.setdefault("state", {}).update(request_id=rid, start=start)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        if self.limiter.enabled:
            client = (scope.get("client") or ("unknown",))[0]
            wait = self.limiter.retry_after(client, start)
            if wait is not None:
                error = f"rate limit: at most {self.limiter.limit.per_second:g} requests per second per client"
                retry = {"retry-after": str(max(1, math.ceil(wait)))}
                return await self._reject(scope, send_with_id, rid, start, 429, error, retry)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send_with_id)
        limit = self.state.limits.max_body_bytes
        declared = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if declared is not None and not declared.isdigit():
            return await self._reject(scope, send_with_id, rid, start, 400, "invalid content-length")
        if declared is not None and int(declared) > limit:
            await _drain(receive, DRAIN_CAP)
            return await self._reject(
                scope, send_with_id, rid, start, 413, f"body of {int(declared)} bytes; at most {limit}"
            )
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            total += len(body)
            if total > limit:
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_CAP - total)
                return await self._reject(scope, send_with_id, rid, start, 413, f"body larger than {limit} bytes")
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send_with_id)

    async def _reject(
        self, scope, send, rid: str, start: float, status: int, error: str, headers: dict[str, str] | None = None
    ) -> None:
        if scope["path"] in PREDICT_PATHS:
            await self.state.predlog.append([rejection(rid, scope["path"], status, error, start)])
        response = JSONResponse(
            {"detail": error, "request_id": rid},
            status_code=status,
            headers={"connection": "close", **(headers or {})},
        )
        await response(scope, _drain_nothing, send)


async def _drain_nothing():  # the rejected body is not read
    return {"type": "http.disconnect"}


async def _drain(receive, cap: int) -> None:
    """Read and drop a rejected body (up to ``cap`` bytes) so the client gets the 413 instead of a reset."""
    seen = 0
    while seen < cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
