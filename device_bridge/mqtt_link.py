"""One outgoing MQTT connection, opened on first use and dropped after a failure."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiomqtt

log = logging.getLogger(__name__)


class MqttLink:
    """A lazily opened client for a broker URL and a client id of its own."""

    def __init__(self, url: str, identifier: str) -> None:
        self._url = urlsplit(url)
        self._identifier = identifier
        self._client: aiomqtt.Client | None = None

    async def client(self) -> aiomqtt.Client:
        """The open client, connecting first when there is none."""
        if self._client is None:
            client = aiomqtt.Client(
                self._url.hostname or "127.0.0.1",
                self._url.port or 1883,
                username=self._url.username,
                password=self._url.password,
                identifier=self._identifier,
            )
            await client.__aenter__()
            self._client = client
        return self._client

    async def drop(self) -> None:
        """Disconnect; the next use connects again."""
        client, self._client = self._client, None
        if client is not None:
            try:
                await client.__aexit__(None, None, None)
            except aiomqtt.MqttError as exc:
                log.info("MQTT connection %s closed uncleanly: %s", self._identifier, exc)
