"""The lane agent's HTTP client of the centre: forward reads, fetch the lot snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp


class CentreUnavailableError(Exception):
    """The centre did not answer in time, or answered 5xx: try again later."""


class CentreRejectedError(Exception):
    """The centre refused the request for good (4xx): resending it unchanged will not help."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"centre answered {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class CentreAccount:
    """The staff account (permission lane_control) the agent fetches snapshots with."""

    username: str
    password: str


class CentreClient:
    """Talks to one centre; a failure of any kind short of a 4xx is 'unavailable'."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        account: CentreAccount | None,
        timeout_seconds: float,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._account = account
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._token: str | None = None

    async def post_read(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send a lane read; the answer is the centre's decision."""
        return await self._call("POST", "/devices/lanes/reads", json=body)

    async def snapshot(self, lot: str) -> dict[str, Any]:
        """The lot's snapshot (passes, residents, block list, tariff version)."""
        for attempt in range(2):
            if self._token is None:
                self._token = await self._login()
            try:
                headers = {"Authorization": f"Bearer {self._token}"}
                return await self._call("GET", f"/ops/lanes/{lot}/snapshot", headers=headers)
            except CentreRejectedError as exc:
                if exc.status != 401 or attempt:
                    raise
                self._token = None  # expired: log in again once
        raise AssertionError("unreachable")

    async def _login(self) -> str:
        if self._account is None:
            raise CentreRejectedError(401, {"code": "no_account", "message": "no agent account"})
        body = {"username": self._account.username, "password": self._account.password}
        answer = await self._call("POST", "/ops/login", json=body)
        return str(answer["token"])

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._session.request(
                method, self._base + path, timeout=self._timeout, **kwargs
            ) as response:
                if response.status >= 500:
                    raise CentreUnavailableError(f"{method} {path}: {response.status}")
                answer = await response.json(content_type=None)
                if response.status >= 400:
                    raise CentreRejectedError(response.status, dict(answer or {}))
                return dict(answer)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise CentreUnavailableError(f"{method} {path}: {exc!r}") from exc
