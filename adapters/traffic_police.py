"""TrafficPoliceGateway adapters: a recording stand-in until a real interface is contracted."""

from __future__ import annotations

from core.handovers import HandoverBatch


class RecordingTrafficPolice:
    """Keeps what it is sent and answers a receipt; the batch files go by hand meanwhile."""

    def __init__(self) -> None:
        self.received: dict[str, HandoverBatch] = {}

    async def submit(self, batch: HandoverBatch) -> str:
        """Accept a batch once; the same batch again answers the same receipt."""
        self.received.setdefault(batch.ref, batch)
        return f"JJ-{batch.ref}"
