"""Arrears ageing: the buckets unpaid stays fall into by days since they ended."""

from __future__ import annotations

# (lowest age in days, key, Chinese label); a stay is in the last bucket it reaches.
BUCKETS = (
    (0, "0-7", "7天以内"),
    (8, "8-30", "8至30天"),
    (31, "31-90", "31至90天"),
    (91, "91-180", "91至180天"),
    (181, "181+", "180天以上"),
)
BUCKET_ZH = {key: label for _, key, label in BUCKETS}


def bucket_of(age_days: int) -> str:
    """The bucket key of an arrear this many whole days old."""
    found = BUCKETS[0][1]
    for lowest, key, _ in BUCKETS:
        if age_days >= lowest:
            found = key
    return found
