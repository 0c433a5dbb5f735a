"""The bot's end-to-end fixtures: the app, the WeChat sandbox and its Official Account."""

from tests.bot_chat import bot, make_bot, oa_sandbox
from tests.wechat_sandbox import sandbox_keys

__all__ = ["bot", "make_bot", "oa_sandbox", "sandbox_keys"]
