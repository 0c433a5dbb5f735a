"""Pure rules of appeals: photos, decisions, limits, deadlines; the image check; local files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.local_files import LocalFileStore
from core.appeals import (
    Action,
    ApprovalLimits,
    CaseStatus,
    OwnActionError,
    TooManyPhotosError,
    check_approver,
    check_decision,
    check_photos,
    deadline,
    is_overdue,
    photo_prefix,
)
from core.errors import ValidationFailedError
from core.object_storage import ObjectTooLargeError, check_image

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0rest"
PNG = b"\x89PNG\r\n\x1a\nrest"


def test_photos_are_at_most_three_and_the_drivers_own() -> None:
    mine = [f"{photo_prefix(7)}{n}.jpg" for n in range(3)]
    check_photos(mine, 7)
    with pytest.raises(TooManyPhotosError):
        check_photos([*mine, f"{photo_prefix(7)}x.jpg"], 7)
    for bad in (f"{photo_prefix(8)}a.jpg", f"{photo_prefix(7)}../8/a.jpg", "elsewhere/a.jpg"):
        with pytest.raises(ValidationFailedError):
            check_photos([bad], 7)


def test_limits_per_role_and_action_and_none_means_approval() -> None:
    limits = ApprovalLimits({"support_agent": {"waive": 2000, "refund": 500}})
    assert not limits.needs_approval("support_agent", Action.WAIVE, 2000)
    assert limits.needs_approval("support_agent", Action.WAIVE, 2001)
    assert limits.needs_approval("support_agent", Action.REFUND, 501)
    assert limits.needs_approval("finance", Action.REFUND, 1)  # not configured: always waits
    assert not limits.needs_approval("viewer", Action.REJECT, 0)


def test_decisions_and_approvers() -> None:
    assert check_decision(Action.REJECT, None) == 0
    assert check_decision(Action.REFUND, 300) == 300
    for action, amount in ((Action.REJECT, 5), (Action.WAIVE, None), (Action.REFUND, 0)):
        with pytest.raises(ValidationFailedError):
            check_decision(action, amount)
    check_approver(1, 2)
    with pytest.raises(OwnActionError):
        check_approver(3, 3)


def test_deadline_and_overdue() -> None:
    due = deadline(NOW, 7)
    assert due == NOW + timedelta(days=7)
    assert not is_overdue(CaseStatus.OPEN, due, due)
    assert is_overdue(CaseStatus.AWAITING_APPROVAL, due, due + timedelta(seconds=1))
    assert not is_overdue(CaseStatus.RESOLVED, due, due + timedelta(days=1))


def test_image_check() -> None:
    assert check_image(JPEG, "image/jpeg", 100) == "jpg"
    assert check_image(PNG, "image/png", 100) == "png"
    with pytest.raises(ObjectTooLargeError):
        check_image(JPEG, "image/jpeg", 3)
    for data, kind in ((PNG, "image/jpeg"), (JPEG, "image/gif"), (b"", "image/png")):
        with pytest.raises(ValidationFailedError):
            check_image(data, kind, 100)


async def test_local_files_keep_and_confine(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    assert await store.put("appeals/1/a.jpg", JPEG, "image/jpeg") == "appeals/1/a.jpg"
    assert await store.get("appeals/1/a.jpg") == JPEG
    assert await store.get("appeals/1/none.jpg") is None
    with pytest.raises(ValueError):
        await store.put("../escape.jpg", JPEG, "image/jpeg")
