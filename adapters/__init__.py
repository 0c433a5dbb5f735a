"""Adapters that implement core's ports on real services (WeChat, WeChat Pay)."""
