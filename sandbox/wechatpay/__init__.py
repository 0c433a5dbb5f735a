"""A local stand-in for WeChat Pay API v3 in partner (服务商) mode."""
