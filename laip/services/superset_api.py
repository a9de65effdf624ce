"""A small REST client of Superset (standard library only): JWT login, JSON calls, the status kept for the caller.
The tests, the benchmark and the production profile's checks drive a running Superset through it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

from laip.services.superset import SupersetError


class SupersetAPI:
    """A small REST client (standard library only): JWT login, JSON calls, status kept for the caller."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        status, body = self.request(
            "POST",
            "/api/v1/security/login",
            {"username": username, "password": password, "provider": "db", "refresh": False},
            auth=False,
        )
        if status != 200:
            raise SupersetError(f"login as {username} failed: {status} {body}")
        self.token = body["access_token"]

    def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        auth: bool = True,
        timeout: float = 120,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        if auth:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, payload: Any, csrf: bool = False) -> tuple[int, Any]:
        """POST ``payload``; with ``csrf``, first fetch a CSRF token (SQL Lab and the database API want one)."""
        headers = None
        if csrf:
            status, body = self.get("/api/v1/security/csrf_token/")
            if status != 200:
                raise SupersetError(f"no CSRF token: {status} {body}")
            headers = {"X-CSRFToken": body["result"], "Referer": self.base_url}
        return self.request("POST", path, payload, headers=headers)
