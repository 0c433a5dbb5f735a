"""The WeChat sandbox fixtures for the payment tests."""

from tests.wechat_sandbox import (
    make_paying_client,
    paying_client,
    sandbox_keys,
    wechat_sandbox,
)

__all__ = ["make_paying_client", "paying_client", "sandbox_keys", "wechat_sandbox"]
