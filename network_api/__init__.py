"""The lot networking API (/network/v1/...): other vendors' lot systems push and ask."""
