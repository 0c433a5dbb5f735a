"""The lane agent: journal each read, forward it online, decide it offline, resend in order."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from core.billing import DayCalendar
from core.clock import Clock
from core.lane_agent import (
    LotSnapshot,
    OfflineDecision,
    OfflineRead,
    SnapshotFormatError,
    decide_offline,
    snapshot_from_dict,
)
from core.lane_events import LaneRead
from core.lanes import Decision, Direction, LaneAction, commands_for, vehicle_class
from device_bridge.agent.centre import CentreClient, CentreRejectedError, CentreUnavailableError
from device_bridge.agent.journal import Journal, JournalEvent
from device_bridge.formats import lane_json
from server.http import parse_model

log = logging.getLogger(__name__)


class LaneAgent:
    """One lot's agent. One read at a time, so the journal's order is the order things happened."""

    def __init__(
        self, lot: str, journal: Journal, centre: CentreClient, clock: Clock, calendar: DayCalendar
    ) -> None:
        self.lot = lot
        self._journal = journal
        self._centre = centre
        self._clock = clock
        self._calendar = calendar
        self._lock = asyncio.Lock()
        self.online = True
        self.snapshot: LotSnapshot | None = None
        stored = journal.load_snapshot()
        if stored is not None:
            try:
                self.snapshot = snapshot_from_dict(stored)
            except SnapshotFormatError:
                log.warning("stored snapshot of %s unreadable; waiting for a fresh one", lot)

    async def handle(self, payload: Any) -> dict[str, Any]:
        """Answer a camera's read (own lane JSON): the centre's decision, or the agent's own."""
        body = parse_model(lane_json.LaneReadPayload, payload)
        read = lane_json.to_read(body)
        wire = body.model_dump(mode="json", exclude_none=True)
        async with self._lock:
            event = self._journal.record(read.dedupe_key, wire, self._clock.now())
            if event.told is not None:
                return {**event.told, "outcome": "duplicate"}  # a camera's retry
            if self._journal.pending_before(event.seq) == 0:
                try:
                    answer = await self._centre.post_read(wire)
                except CentreUnavailableError as exc:
                    if self.online:
                        log.warning("centre unreachable, lot %s goes offline: %s", self.lot, exc)
                    self.online = False
                except CentreRejectedError as exc:
                    self._journal.delivered(
                        event.seq, exc.body, self._clock.now(), state="rejected"
                    )
                    return {**exc.body, "outcome": "rejected", "gate": "closed", "mode": "online"}
                else:
                    self.online = True
                    self._journal.delivered(event.seq, answer, self._clock.now(), state="sent")
                    self._note_presence(read, LaneAction(answer.get("action") or "hold"))
                    return {**answer, "mode": "online"}
            return self._decide_alone(event, read, wire)

    def _decide_alone(
        self, event: JournalEvent, read: LaneRead, wire: dict[str, Any]
    ) -> dict[str, Any]:
        decision = self._offline_decision(read)
        body = {**wire, "offline": True, "offline_decision": decision.to_dict()}
        found = self.snapshot.devices.get(read.device_code) if self.snapshot else None
        told = answer_of(f"{self.lot}/{found[0] if found else read.device_code}", decision)
        self._journal.decide(event.seq, body, told)
        self._note_presence(read, decision.action)
        return told

    def _offline_decision(self, read: LaneRead) -> OfflineDecision:
        lane = self.snapshot.devices.get(read.device_code) if self.snapshot else None
        if self.snapshot is None or lane is None:
            # Without a snapshot the agent knows no lane, pass or tariff: a human decides.
            return OfflineDecision(
                LaneAction.HOLD, "offline_no_snapshot", "请按对讲呼叫工作人员", ""
            )
        plate = read.plate.number if read.plate else None
        entry = self._journal.entry_of(plate) if plate else None
        facts = OfflineRead(
            Direction(lane[1]),
            plate,
            read.device_time,
            entered_at=entry[0] if entry else None,
            vehicle_class=entry[1] if entry else "small",
        )
        return decide_offline(self.snapshot, facts, self._calendar)

    def _note_presence(self, read: LaneRead, action: LaneAction) -> None:
        """Keep who is inside, to price exits offline; the centre's stays stay the truth."""
        lane = self.snapshot.devices.get(read.device_code) if self.snapshot else None
        if read.plate is None or lane is None:
            return
        plate = read.plate.number
        if lane[1] == Direction.ENTRY.value and action is LaneAction.OPEN:
            klass = vehicle_class(read.plate, read.plate_colour, read.vehicle_type)
            self._journal.entered(plate, read.device_time, klass)
        elif lane[1] == Direction.EXIT.value and action in (LaneAction.OPEN, LaneAction.PAY):
            self._journal.left(plate)

    async def resend(self, limit: int | None = None) -> int:
        """Send what the centre has not got, oldest first; stop at the first failure."""
        sent = 0
        while limit is None or sent < limit:
            async with self._lock:
                batch = self._journal.pending(limit=1)
                if not batch:
                    self.online = True
                    return sent
                event = batch[0]
                try:
                    answer = await self._centre.post_read(event.body)
                except CentreUnavailableError:
                    self.online = False
                    return sent
                except CentreRejectedError as exc:
                    log.error("centre refused journalled read %s: %s", event.key, exc.body)
                    self._journal.delivered(
                        event.seq, exc.body, self._clock.now(), state="rejected"
                    )
                else:
                    self._journal.delivered(event.seq, answer, self._clock.now(), state="sent")
                sent += 1
        return sent

    async def refresh(self) -> bool:
        """Fetch the lot snapshot; on any failure keep the last one."""
        try:
            data = await self._centre.snapshot(self.lot)
            snapshot = snapshot_from_dict(data)
        except (CentreUnavailableError, CentreRejectedError, SnapshotFormatError) as exc:
            log.warning("snapshot of %s not refreshed: %s", self.lot, exc)
            return False
        self._journal.save_snapshot(data)
        self.snapshot = snapshot
        return True

    def prune(self, keep_days: int) -> int:
        """Forget delivered reads older than the retention (undelivered ones are never dropped)."""
        return self._journal.prune(self._clock.now() - timedelta(days=keep_days))

    def status(self) -> dict[str, Any]:
        """Mode, backlog and snapshot age, for health checks."""
        taken = self.snapshot.taken_at.isoformat() if self.snapshot else None
        return {
            "lot": self.lot,
            "mode": "online" if self.online and self._journal.backlog() == 0 else "offline",
            "backlog": self._journal.backlog(),
            "events": self._journal.counts(),
            "snapshot_taken_at": taken,
            "tariff_version": self.snapshot.tariff_version if self.snapshot else None,
        }


def answer_of(lane: str, decision: OfflineDecision) -> dict[str, Any]:
    """The lane's answer for an offline decision, shaped like the centre's."""
    verdict = Decision(decision.action, decision.reason, decision.display_zh)
    commands = commands_for(lane, verdict)
    return {
        "outcome": "offline",
        "mode": "offline",
        "action": decision.action.value,
        "gate": "open" if decision.opens else "closed",
        "reason": decision.reason,
        "display": decision.display_zh,
        "fee_fen": decision.fee_fen,
        "tariff_version": decision.tariff_version,
        "commands": [{"kind": c.kind.value, "text": c.text, "pay_url": None} for c in commands],
    }
