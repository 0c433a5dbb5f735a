"""A local stand-in for the WeChat APIs the platform calls (mini-program and Official Account)."""
