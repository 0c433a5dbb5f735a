"""The WeChat sandbox fixtures, with an entry-notice template and no background sender."""

from __future__ import annotations

import pytest

from config.settings import Settings
from tests.wechat_sandbox import (
    make_paying_client,
    paying_client,
    sandbox_keys,
    wechat_sandbox,
)

__all__ = ["make_paying_client", "paying_client", "sandbox_keys", "wechat_sandbox"]

ENTRY_TEMPLATE = "tpl-entry-notice"


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Test settings; notices are sent by the tests, not by the background loop."""
    return Settings(
        database_url=db_url,
        redis_url=None,
        mqtt_url=None,
        entry_template_id=ENTRY_TEMPLATE,
        notices_send_seconds=0,
        max_plates_per_driver=3,
    )
