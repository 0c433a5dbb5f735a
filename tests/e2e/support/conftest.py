"""The support chat's end-to-end fixtures: the bot's app and the WeChat sandbox."""

from tests.bot_chat import bot, make_bot, oa_sandbox
from tests.wechat_sandbox import sandbox_keys

__all__ = ["bot", "make_bot", "oa_sandbox", "sandbox_keys"]
