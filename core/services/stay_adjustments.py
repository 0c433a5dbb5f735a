"""What staff and refunds changed on a stay's fee, kept in its quote across a re-price."""

from __future__ import annotations

from typing import Any

# Quote keys that outlive a re-price: the fen of each waiver and refund correction, and whether
# the stay was priced before (so a paid one gets back what a lower new price leaves over).
_KEPT = ("waivers", "refund_corrections", "taken_back")


def kept_adjustments(quote: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of a stay's quote that a new price must keep."""
    return {key: quote[key] for key in _KEPT if quote and key in quote}


def adjusted_fen(kept: dict[str, Any]) -> int:
    """Fen the waivers and refund corrections took off the fee."""
    return sum(
        int(entry["fen"])
        for key in ("waivers", "refund_corrections")
        for entry in kept.get(key, [])
    )
