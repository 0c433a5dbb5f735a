"""Carrying lane commands (open the gate, show the fee) to devices, from any adapter."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web
from pydantic import BaseModel

from core.lanes import LaneCommand, LaneCommandPublisher

log = logging.getLogger(__name__)


class CommandOut(BaseModel):
    """One command for the lane's devices, as HTTP answers carry it."""

    kind: str
    text: str = ""
    pay_url: str | None = None


# Set by the composition root when a publisher (MQTT) exists; HTTP answers carry commands too.
LANE_PUBLISHER_KEY: web.AppKey[LaneCommandPublisher] = web.AppKey("lane_publisher")


async def publish_lane_commands(request: web.Request, commands: Sequence[LaneCommand]) -> None:
    """Send commands through the configured publisher; a failure is logged, never raised."""
    await publish_commands(request.config_dict.get(LANE_PUBLISHER_KEY), commands)


async def publish_app_lane_commands(app: web.Application, commands: Sequence[LaneCommand]) -> None:
    """The same from a background task of the root application (the sweeps)."""
    await publish_commands(app.get(LANE_PUBLISHER_KEY), commands)


async def publish_commands(
    publisher: LaneCommandPublisher | None, commands: Sequence[LaneCommand]
) -> None:
    """The same from any task that holds the publisher (or None: nothing to publish to)."""
    if publisher is None or not commands:
        return
    try:
        await publisher.publish(list(commands))
    except Exception:  # the decision is stored; the lane's own HTTP poll or a human still acts
        log.exception("could not publish %d lane commands", len(commands))
