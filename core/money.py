"""Money is integer fen; this formats it for people without ever passing through float."""

from __future__ import annotations


def format_yuan(fen: int) -> str:
    """Fen as yuan with two decimals, e.g. 150 -> '1.50', -5 -> '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
